/**
 * Shared pieces of the auth tests: the envelope check, partners with clients and channels, users
 * and tokens, all created through the API.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN } from '../helpers.ts';
import type { RateLimitRule, RateLimitStore } from '../../src/api/rate-limit.ts';

export { assertEnvelope } from '../helpers.ts';

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };


/** A token-endpoint error: OAuth's `{error, error_description}` first, the envelope's `meta` alongside. */
export function assertOAuthError(res: LightMyRequestResponse, status: number, error: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error', 'error_description', 'meta'], res.body);
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  assert.ok(body.error_description.length > 0);
  assert.equal(body.meta.http_code, status);
  assert.equal(body.meta.success, false);
  return body as { error: string; error_description: string };
}

export interface TestPartner {
  id: string;
  api_key: string;
  headers: Record<string, string>;
}

export async function newPartner(app: FastifyInstance, name = 'P'): Promise<TestPartner> {
  const res = await app.inject({ method: 'POST', url: '/admin/partners', headers: adminHeaders, payload: { name } });
  assert.equal(res.statusCode, 201, res.body);
  const p = res.json();
  return { id: p.id, api_key: p.api_key, headers: { 'x-api-key': p.api_key } };
}

let phone = 0;

/** A partner with one client and one channel. */
export async function newTenant(app: FastifyInstance, name = 'P') {
  const partner = await newPartner(app, name);
  const client = await newClient(app, partner);
  const channel = await newChannel(app, partner, client.id);
  return { partner, client, channel };
}

export async function newClient(app: FastifyInstance, partner: TestPartner): Promise<{ id: string }> {
  const res = await app.inject({
    method: 'POST', url: `/api/v2/partners/${partner.id}/clients`, headers: partner.headers,
    payload: { name: 'C', currency: 'USD', country: 'DE', payment_mode: 'direct' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

export async function newChannel(app: FastifyInstance, partner: TestPartner, clientId: string): Promise<{ id: string }> {
  const res = await app.inject({
    method: 'POST', url: `/api/v2/partners/${partner.id}/clients/${clientId}/channels`, headers: partner.headers,
    payload: { phone_number: '+4930123456', phone_number_id: `auth-${process.pid}-${++phone}`, waba_id: '102290129340398', app_id: '214' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

let userCounter = 0;

/** A partner user created by the admin; returns its credentials. */
export async function newUser(app: FastifyInstance, partnerId: string, password = 'correct horse battery') {
  const username = `user${++userCounter}.${process.pid}@example.com`;
  const res = await app.inject({ method: 'POST', url: `/admin/partners/${partnerId}/users`, headers: adminHeaders, payload: { username, password } });
  assert.equal(res.statusCode, 201, res.body);
  return { ...(res.json() as { id: string; username: string }), password };
}

export type TokenPair = { access_token: string; token_type: string; expires_in: number; refresh_token: string };

export async function login(app: FastifyInstance, username: string, password: string): Promise<TokenPair> {
  const res = await app.inject({ method: 'POST', url: '/api/v2/token', payload: { username, password } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2026-03-01T12:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; }, set: (ms: number) => { now = ms; } };
}

/**
 * The sliding-window rule every rate-limit store keeps, request by request, with a limit of 3 per
 * 10 s: refused requests are not counted, a request leaves the window exactly `windowMs` after it
 * came (no calendar slots), and keys are independent.
 */
export async function assertSlidingWindow(store: RateLimitStore, rule: RateLimitRule, key: string, otherKey: string): Promise<void> {
  assert.deepEqual(rule, { limit: 3, windowMs: 10_000 }, 'the sequence below is written for 3 per 10 s');
  const at = async (ms: number) => store.hit(key, rule, ms);
  assert.deepEqual(await at(0), { allowed: true, remaining: 2, resetMs: 10_000, retryAfterMs: 0 });
  assert.deepEqual(await at(4_000), { allowed: true, remaining: 1, resetMs: 10_000, retryAfterMs: 0 });
  assert.deepEqual(await at(5_000), { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
  assert.deepEqual(await at(6_000), { allowed: false, remaining: 0, resetMs: 9_000, retryAfterMs: 4_000 });
  assert.deepEqual(await at(9_999), { allowed: false, remaining: 0, resetMs: 5_001, retryAfterMs: 1 });
  // The first request leaves the window at 10 000: one slot, not three (no calendar slots).
  assert.deepEqual(await at(10_000), { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
  assert.equal((await at(10_001)).allowed, false);
  assert.deepEqual(await at(14_000), { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
  assert.equal((await store.hit(otherKey, rule, 14_000)).remaining, 2, 'keys are independent');
}
