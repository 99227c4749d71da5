/**
 * Who is calling: the admin bearer token for /admin, a partner's `X-API-Key` for /api/v2.
 * A key that belongs to another partner than the path names gets a 404, never a 403, so the
 * existence of other partners' resources does not leak.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError, unauthorized } from '../errors.ts';
import type { TenantsService } from '../tenants/tenants-service.ts';

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function requireAdmin(request: FastifyRequest, adminToken: string): void {
  const header = request.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (!token || !safeEqual(token, adminToken)) {
    throw unauthorized('Admin token missing or wrong', ['Send Authorization: Bearer <WABAMETER_ADMIN_TOKEN>']);
  }
}

/** Checks the partner key and that it owns `partnerId`. */
export async function requirePartner(request: FastifyRequest, partnerId: string, tenants: TenantsService): Promise<void> {
  const key = request.headers['x-api-key'];
  if (typeof key !== 'string' || key.trim() === '') {
    if (request.headers['d360-api-key']) {
      throw unauthorized('Wrong header: send the partner API key in X-API-Key', ['D360-API-KEY is the channel header of the Messaging API; the Partner API expects X-API-Key']);
    }
    if (request.headers.authorization?.startsWith('Bearer wbm_')) {
      throw unauthorized('Wrong header: send the partner API key in X-API-Key, not as a Bearer token', ['X-API-Key: <partner API key>']);
    }
    throw unauthorized('API key missing: send it in the X-API-Key header', ['X-API-Key: <partner API key>']);
  }
  const owner = await tenants.partnerOfApiKey(key.trim());
  if (!owner) throw unauthorized('API key unknown or revoked', ['Create a key with POST /admin/partners or ask your administrator']);
  if (owner !== partnerId) throw new AppError(404, 'not_found', 'Partner not found');
}
