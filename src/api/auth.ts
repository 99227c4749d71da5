/**
 * Who is calling: the admin bearer token for /admin, and for /api/v2/partners/{partner_id} a
 * partner's `X-API-Key` or `Authorization: Bearer <access token from POST /api/v2/token>`.
 *
 * 401 only when fresh credentials would help (a typed client re-logins on every 401): missing,
 * unknown, revoked or expired credentials, and the known wrong headers (`D360-API-KEY`, the API
 * key sent as Bearer, a token in X-API-Key), each saying what to send instead. Credentials that
 * belong to another partner than the path names get a 404, never a 403, so the existence of other
 * partners' resources does not leak.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ACCESS_TOKEN_PREFIX, API_KEY_PREFIX, REFRESH_TOKEN_PREFIX, type AuthService, type Authenticated, type Rejected } from '../auth/auth-service.ts';
import { AppError, unauthorized } from '../errors.ts';

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

const SEND_KEY = 'X-API-Key: <partner API key>';
const SEND_TOKEN = 'Authorization: Bearer <access_token from POST /api/v2/token>';

function refused(r: Rejected, what: 'API key' | 'Access token'): AppError {
  if (what === 'API key') {
    return unauthorized(r.rejected === 'revoked' ? 'API key revoked: use another key of this partner' : 'API key unknown: check the key sent in X-API-Key',
      ['Partners create keys with POST /api/v2/partners/{partner_id}/api_keys; an administrator with POST /admin/partners/{partner_id}/api_keys']);
  }
  const message = r.rejected === 'expired' ? 'Access token expired: request a new one with POST /api/v2/token'
    : r.rejected === 'revoked' ? 'Access token revoked: log in again with POST /api/v2/token'
      : 'Access token unknown: request one with POST /api/v2/token';
  return unauthorized(message, ['POST /api/v2/token {"username","password"} (or {"refresh_token"}) answers {"access_token"}', SEND_TOKEN]);
}

function headerValue(request: FastifyRequest, name: string): string {
  const v = request.headers[name];
  return (Array.isArray(v) ? v[0] : v ?? '').trim();
}

/** The partner the request's credentials belong to; throws the 401 that says what to send. */
export async function authenticatePartner(request: FastifyRequest, auth: AuthService): Promise<Authenticated> {
  const key = headerValue(request, 'x-api-key');
  if (key) {
    if (key.startsWith(ACCESS_TOKEN_PREFIX)) {
      throw unauthorized('Wrong header: send the access token as Authorization: Bearer, not in X-API-Key', [SEND_TOKEN]);
    }
    const who = await auth.checkApiKey(key);
    if ('rejected' in who) throw refused(who, 'API key');
    return who;
  }
  const authorization = headerValue(request, 'authorization');
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  if (bearer) {
    if (bearer.startsWith(API_KEY_PREFIX)) {
      throw unauthorized('Wrong header: send the partner API key in X-API-Key, not as a Bearer token', [SEND_KEY, `Bearer tokens are access tokens: ${SEND_TOKEN}`]);
    }
    if (bearer.startsWith(REFRESH_TOKEN_PREFIX)) {
      throw unauthorized('This is a refresh token: exchange it for an access token with POST /api/v2/token {"refresh_token"}', [SEND_TOKEN]);
    }
    const who = await auth.checkAccessToken(bearer);
    if ('rejected' in who) throw refused(who, 'Access token');
    return who;
  }
  if (headerValue(request, 'd360-api-key')) {
    throw unauthorized('Wrong header: send the partner API key in X-API-Key', ['D360-API-KEY is the channel header of the Messaging API; the Partner API expects X-API-Key', SEND_KEY]);
  }
  if (authorization) {
    throw unauthorized('Unsupported Authorization header: send Authorization: Bearer <access token>, or the API key in X-API-Key', [SEND_KEY, SEND_TOKEN]);
  }
  throw unauthorized('Credentials missing: send the partner API key in X-API-Key, or an access token as Authorization: Bearer', [SEND_KEY, SEND_TOKEN]);
}

/** Authenticates the request and checks that its credentials belong to `partnerId`. */
export async function requirePartner(request: FastifyRequest, partnerId: string, auth: AuthService): Promise<Authenticated> {
  const who = await authenticatePartner(request, auth);
  if (who.partnerId !== partnerId) throw new AppError(404, 'not_found', 'Partner not found');
  return who;
}
