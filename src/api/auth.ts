/**
 * Who is calling: the admin bearer token for /admin, and for /api/v2/partners/{partner_id} a
 * partner's `X-API-Key` or `Authorization: Bearer <access token from POST /api/v2/token>`, or a
 * channel API key (`wbc_…`, in X-API-Key or in D360-API-KEY, where partner code keeps channel keys).
 *
 * A channel key authenticates as its partner but only reads its own channel's usage: GET on
 * `…/clients/{client_id}/channels/{channel_id}` and below, with its own client and channel in
 * the path. Anything else is a 403 (fresh credentials of the same kind would not help).
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
import { CHANNEL_KEY_PREFIX } from '../auth/channel-keys.ts';
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

function refused(r: Rejected, what: 'API key' | 'Channel API key' | 'Access token'): AppError {
  if (what === 'Channel API key') {
    return unauthorized(r.rejected === 'revoked' ? 'Channel API key revoked: ask the partner for a new key of this channel' : 'Channel API key unknown: check the key sent',
      ['Partners create channel keys with POST /api/v2/partners/{partner_id}/channels/{channel_id}/api_keys']);
  }
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

async function channelKeyCaller(key: string, auth: AuthService): Promise<Authenticated> {
  const who = await auth.checkChannelKey(key);
  if ('rejected' in who) throw refused(who, 'Channel API key');
  return who;
}

/**
 * The partner the request's credentials belong to (with the channel scope of a channel key);
 * throws the 401 that says what to send.
 */
export async function authenticatePartner(request: FastifyRequest, auth: AuthService): Promise<Authenticated> {
  const key = headerValue(request, 'x-api-key');
  if (key) {
    if (key.startsWith(ACCESS_TOKEN_PREFIX)) {
      throw unauthorized('Wrong header: send the access token as Authorization: Bearer, not in X-API-Key', [SEND_TOKEN]);
    }
    if (key.startsWith(CHANNEL_KEY_PREFIX)) return channelKeyCaller(key, auth);
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
  const channelHeader = headerValue(request, 'd360-api-key');
  if (channelHeader.startsWith(CHANNEL_KEY_PREFIX)) return channelKeyCaller(channelHeader, auth);
  if (channelHeader) {
    throw unauthorized('Wrong header: send the partner API key in X-API-Key', [
      'D360-API-KEY is the channel header of the Messaging API; the Partner API expects X-API-Key (D360-API-KEY takes only channel API keys, wbc_…)',
      SEND_KEY,
    ]);
  }
  if (authorization) {
    throw unauthorized('Unsupported Authorization header: send Authorization: Bearer <access token>, or the API key in X-API-Key', [SEND_KEY, SEND_TOKEN]);
  }
  throw unauthorized('Credentials missing: send the partner API key in X-API-Key, or an access token as Authorization: Bearer', [SEND_KEY, SEND_TOKEN]);
}

const CHANNEL_ROUTE = '/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id';

/** A channel key's whole permission: GET on its own channel's route or one below it. */
function withinChannelScope(request: FastifyRequest, who: Authenticated): boolean {
  const route = request.routeOptions.url ?? '';
  const params = request.params as { client_id?: string; channel_id?: string };
  return request.method === 'GET'
    && (route === CHANNEL_ROUTE || route.startsWith(`${CHANNEL_ROUTE}/`))
    && params.channel_id === who.channelId && params.client_id === who.clientId;
}

/**
 * Authenticates the request and checks that its credentials belong to `partnerId` (404
 * otherwise), and that a channel key stays within its channel (403 otherwise).
 */
export async function requirePartner(request: FastifyRequest, partnerId: string, auth: AuthService): Promise<Authenticated> {
  const who = await authenticatePartner(request, auth);
  if (who.partnerId !== partnerId) throw new AppError(404, 'not_found', 'Partner not found');
  if (who.channelId !== undefined && !withinChannelScope(request, who)) {
    const channel = `/api/v2/partners/${partnerId}/clients/${who.clientId}/channels/${who.channelId}`;
    throw new AppError(403, 'forbidden',
      `This channel API key is scoped to channel ${who.channelId}: it reads only that channel's usage (GET ${channel}/info/balance, …/info/usage, …/info/charges)`,
      [`Allowed: GET ${channel}, ${channel}/info/balance, ${channel}/info/usage, ${channel}/info/charges`,
        'Everything else (clients, other channels, creating or revoking keys) takes the partner API key in X-API-Key or a Bearer access token']);
  }
  return who;
}
