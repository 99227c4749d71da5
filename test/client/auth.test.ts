/**
 * The client's legacy token mode against the real server: a partner user (created with the admin
 * token) logs in at `POST /api/v2/token` on first use; the token is reused, renewed before it
 * expires, and on a 401 renewed once (refresh, else password login) and the request sent again;
 * a refused login ends in one clear error, never a loop.
 *
 * The server's clock (token expiry) is a virtual clock the test moves; the client's is its own,
 * so "the token expired while the client thought it fresh" is a clock the test can turn.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VirtualClock, WabameterApiError, WabameterClient, type FetchLike, type WabameterClientOptions } from '../../client/src/index.ts';
import { admin, serve, type Served } from './support.ts';

describe('client token auth (username/password) against the server', () => {
  const serverClock = new VirtualClock(Date.now());
  let s: Served;
  let n = 0;

  before(async () => {
    s = await serve({ nowMs: () => serverClock.now(), auth: { accessTokenTtl: 600, refreshTokenTtl: 3600 } });
  });
  after(async () => { await s.close(); });

  /** A fresh partner user, and a client logging in as it that records every request it sends. */
  async function user(opts: WabameterClientOptions = {}) {
    const username = `user${++n}@partner.example`;
    const password = `secret-password-${n}`;
    const created = await admin(s.baseUrl, 'POST', `/admin/partners/${s.partner.id}/users`, { username, password }) as { id: string };
    const sent: { method: string; path: string; body: string | undefined; auth: string | undefined }[] = [];
    const recording: FetchLike = (url, init) => {
      sent.push({ method: init.method, path: new URL(url).pathname, body: init.body, auth: init.headers.authorization });
      return fetch(url, init);
    };
    const api = new WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, username, password }, { fetch: recording, ...opts });
    const tokenCalls = () => sent.filter((r) => r.path === '/api/v2/token');
    const dataCalls = () => sent.filter((r) => r.path !== '/api/v2/token');
    return { api, username, password, userId: created.id, sent, tokenCalls, dataCalls };
  }

  test('logs in on first use, once for concurrent calls, and reuses the token', async () => {
    const u = await user();
    assert.equal(u.api.authMode, 'token');
    await Promise.all([u.api.listClients(), u.api.listClients(), u.api.listPartnerChannels()]);
    await u.api.createClient({ name: 'Token client', currency: 'EUR', country: 'FR', payment_mode: 'partner' });
    assert.equal(u.tokenCalls().length, 1);
    assert.deepEqual(JSON.parse(u.tokenCalls()[0].body!), { username: u.username, password: u.password });
    assert.equal(u.tokenCalls()[0].auth, undefined, 'the token endpoint gets no credentials header');
    const bearers = new Set(u.dataCalls().map((r) => r.auth));
    assert.equal(bearers.size, 1);
    assert.match([...bearers][0]!, /^Bearer wbt_/);
    assert.equal(u.dataCalls().length, 4);
  });

  test('login() and refresh(): the token pair; a spent refresh token is refused with the OAuth error', async () => {
    const u = await user();
    const pair = await u.api.login();
    assert.equal(pair.token_type, 'Bearer');
    assert.equal(pair.expires_in, 600);
    assert.match(pair.access_token, /^wbt_/);
    assert.match(pair.refresh_token!, /^wbr_/);
    const next = await u.api.refresh();
    assert.notEqual(next.access_token, pair.access_token);
    assert.notEqual(next.refresh_token, pair.refresh_token);
    const err = await u.api.refresh(pair.refresh_token).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_grant');
    assert.match(err.developerMessage, /refresh token/i);
    // The client holds the newest pair and keeps working.
    await u.api.listClients();
    assert.equal(u.dataCalls().at(-1)!.auth, `Bearer ${next.access_token}`);
  });

  test('a token that expired on the server (client clock behind): 401 → refresh → the request succeeds', async () => {
    const u = await user();
    await u.api.listClients();
    serverClock.advance(601_000); // past the access token's 600 s; the refresh token (3600 s) lives
    const list = await u.api.listClients();
    assert.ok(Array.isArray(list.clients));
    assert.deepEqual(u.sent.map((r) => [r.method, r.path === '/api/v2/token' ? 'token' : 'data']), [
      ['POST', 'token'], ['GET', 'data'], ['GET', 'data'], ['POST', 'token'], ['GET', 'data'],
    ]);
    assert.ok('refresh_token' in JSON.parse(u.tokenCalls()[1].body!), 'renewed with the refresh token');
    const [, , refused, , retried] = u.sent;
    assert.notEqual(refused.auth, retried.auth, 'the retry carries the new token');
  });

  test('access and refresh token both expired: the refresh is refused, the client logs in again and retries', async () => {
    const u = await user();
    await u.api.listClients();
    serverClock.advance(3601_000);
    await u.api.createClient({ name: 'After re-login', currency: 'USD', country: 'US', payment_mode: 'direct' });
    const tokens = u.tokenCalls().map((r) => Object.keys(JSON.parse(r.body!)).sort().join('+'));
    assert.deepEqual(tokens, ['password+username', 'refresh_token', 'password+username']);
    const posts = u.dataCalls().filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2, 'the POST refused with 401 was sent again once');
  });

  test('a revoked user: tokens refused, one re-login attempt, then the 401 is thrown (no loop)', async () => {
    const u = await user();
    await u.api.listClients();
    await admin(s.baseUrl, 'DELETE', `/admin/partners/${s.partner.id}/users/${u.userId}`);
    const err = await u.api.listClients().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_grant');
    assert.equal(u.dataCalls().length, 2, 'the first call, then the refused one: not retried again');
    assert.equal(u.tokenCalls().length, 3, 'login, then on the 401: refresh (refused), login (refused)');
  });

  test('a wrong password fails the first call with one token request', async () => {
    const u = await user();
    const wrong = new WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, username: u.username, password: 'not-the-password' }, {
      fetch: (url, init) => { u.sent.push({ method: init.method, path: new URL(url).pathname, body: init.body, auth: undefined }); return fetch(url, init); },
    });
    const err = await wrong.listClients().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_grant');
    assert.equal(err.developerMessage, 'Username or password is wrong');
    assert.equal(u.sent.length, 1);
  });

  test('renewal before expiry: with a shared clock the client refreshes ahead and never sees a 401', async () => {
    const u = await user({ clock: serverClock, tokenRenewBeforeMs: 30_000 });
    await u.api.listClients();
    serverClock.advance(575_000); // 25 s left: inside the 30 s renewal margin
    await u.api.listClients();
    assert.deepEqual(u.sent.map((r) => (r.path === '/api/v2/token' ? Object.keys(JSON.parse(r.body!))[0] : 'data')), [
      'username', 'data', 'refresh_token', 'data',
    ]);
  });

  test('balance calls in token mode go through the limiter like any other', async () => {
    const u = await user({ clock: serverClock });
    const c = await u.api.createClient({ name: 'Token balance', currency: 'USD', country: 'DE', payment_mode: 'direct' });
    const results = await Promise.all(Array.from({ length: 3 }, () => u.api.balance(c.id)));
    assert.equal(results.length, 3);
    assert.equal(u.api.limiter?.used(`${s.partner.id}/${c.id}`), 3);
  });
});
