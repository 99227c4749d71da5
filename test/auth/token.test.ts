/**
 * Partner users and the legacy token flow, on SQLite and PostgreSQL: the administrator creates
 * users (scrypt hash, never the password), `POST /api/v2/token` answers exactly 200 with the
 * pair, OAuth-style errors, `Authorization: Bearer` on partner routes, expiry on an injected
 * clock, single-use refresh tokens, revocation, a new pair for every login (two processes of one
 * partner never share a refresh token), and the endpoint staying cheap when a client asks for a
 * token before every call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyPassword } from '../../src/auth/passwords.ts';
import { DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { adminHeaders, assertEnvelope, assertOAuthError, login, manualClock, newPartner, newTenant, newUser } from './auth-helpers.ts';

const TTL = 3600;

for (const dialect of DIALECTS) {
  describe(`partner users and POST /api/v2/token [${dialect}]`, () => {
    let t: TestApp;
    const clock = manualClock();
    before(async () => { t = await startApp(dialect, { nowMs: clock.now, auth: { accessTokenTtl: TTL, refreshTokenTtl: 7 * 86400 } }); });
    after(async () => { await t.close(); });

    const token = (payload: unknown, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url: '/api/v2/token', headers, payload: payload as string });
    const clients = (partnerId: string, headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url: `/api/v2/partners/${partnerId}/clients`, headers });
    const bearer = (access: string) => ({ authorization: `Bearer ${access}` });

    // ---- users ------------------------------------------------------------------------------

    test('POST /admin/partners/{id}/users → 201 {id, partner_id, username, created_at, revoked_at}; a scrypt hash is stored, never the password', async () => {
      const p = await newPartner(t.app);
      const res = await t.app.inject({ method: 'POST', url: `/admin/partners/${p.id}/users`, headers: adminHeaders, payload: { username: `ops-${dialect}@acme.example`, password: 's3cret-passw0rd' } });
      assert.equal(res.statusCode, 201, res.body);
      const u = res.json();
      assert.deepEqual(Object.keys(u), ['id', 'partner_id', 'username', 'created_at', 'revoked_at']);
      assert.match(u.id, /^[A-Za-z0-9]+PU$/);
      assert.equal(u.partner_id, p.id);
      assert.equal(u.revoked_at, null);
      assert.ok(!res.body.includes('s3cret-passw0rd'));
      const row = await t.services.store.db.selectFrom('partner_users').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      assert.ok(!row.password_hash.includes('s3cret'));
      assert.equal(await verifyPassword('s3cret-passw0rd', row.password_hash), true);
      assert.equal(await verifyPassword('s3cret-passw0rd ', row.password_hash), false);
      // Two users with one password get different hashes (per-user salt).
      clock.advance(1000);
      const v = await newUser(t.app, p.id, 's3cret-passw0rd');
      const row2 = await t.services.store.db.selectFrom('partner_users').select('password_hash').where('id', '=', v.id).executeTakeFirstOrThrow();
      assert.notEqual(row2.password_hash, row.password_hash);
      // Listed without the hash.
      const list = await t.app.inject({ method: 'GET', url: `/admin/partners/${p.id}/users`, headers: adminHeaders });
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(list.json(), { count: 2, users: [u, { id: v.id, partner_id: p.id, username: v.username, created_at: list.json().users[1].created_at, revoked_at: null }] });
      assert.ok(!list.body.includes('scrypt'));
    });

    test('user creation: 409 for a taken username (across partners), 404 for an unknown partner, 400 naming bad fields, 401 without the admin token', async () => {
      const p = await newPartner(t.app);
      const q = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const post = (partnerId: string, payload: unknown, headers = adminHeaders) =>
        t.app.inject({ method: 'POST', url: `/admin/partners/${partnerId}/users`, headers, payload: payload as object });
      assertEnvelope(await post(q.id, { username: u.username, password: 'another-password' }), 409, 'conflict');
      assertEnvelope(await post('nosuchPA', { username: 'x1', password: 'long enough' }), 404, 'not_found');
      const meta = assertEnvelope(await post(p.id, { username: 'has space', password: 'short' }), 400, 'invalid_parameter');
      assert.ok(meta.details.some((d) => d.startsWith('username:')), JSON.stringify(meta.details));
      assert.ok(meta.details.some((d) => d.startsWith('password:')), JSON.stringify(meta.details));
      assertEnvelope(await post(p.id, { username: 'x2', password: 'long enough' }, { 'x-api-key': p.api_key } as never), 401, 'unauthorized');
      assertEnvelope(await t.app.inject({ method: 'GET', url: '/admin/partners/nosuchPA/users', headers: adminHeaders }), 404, 'not_found');
    });

    // ---- the token endpoint -----------------------------------------------------------------

    test('{"username","password"} → exactly 200 {access_token, token_type: "Bearer", expires_in, refresh_token}, no-store', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const res = await token({ username: u.username, password: u.password });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['access_token', 'token_type', 'expires_in', 'refresh_token']);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(typeof body.access_token, 'string');
      assert.match(body.access_token, /^wbt_[A-Za-z0-9_-]{43}$/);
      assert.match(body.refresh_token, /^wbr_[A-Za-z0-9_-]{43}$/);
      assert.equal(body.expires_in, TTL);
      // The bearer token authenticates the partner's routes like its key.
      assert.equal((await clients(p.id, bearer(body.access_token))).statusCode, 200);
      // Stored as hashes only.
      const rows = await t.services.store.db.selectFrom('partner_tokens').selectAll().where('user_id', '=', u.id).execute();
      assert.equal(rows.length, 1);
      assert.ok(!JSON.stringify(rows).includes(body.access_token));
      assert.ok(!JSON.stringify(rows).includes(body.refresh_token));
    });

    test('grant_type and form-encoded bodies (OAuth clients) are accepted', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const json = await token({ grant_type: 'password', username: u.username, password: u.password, client_id: 'ignored', scope: '' });
      assert.equal(json.statusCode, 200, json.body);
      const form = await token(new URLSearchParams({ grant_type: 'password', username: u.username, password: u.password }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(form.statusCode, 200, form.body);
      assert.equal((await clients(p.id, bearer(form.json().access_token))).statusCode, 200);
      const refreshed = await token(`grant_type=refresh_token&refresh_token=${form.json().refresh_token}`, { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
    });

    test('wrong password, unknown user, revoked user → 401 {"error":"invalid_grant"}', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      assertOAuthError(await token({ username: u.username, password: `${u.password}x` }), 401, 'invalid_grant');
      assertOAuthError(await token({ username: u.username.toUpperCase(), password: u.password }), 401, 'invalid_grant');
      assertOAuthError(await token({ username: 'nobody@example.com', password: u.password }), 401, 'invalid_grant');
      // A right password after a wrong one still works (failures are not cached).
      await login(t.app, u.username, u.password);
      const del = await t.app.inject({ method: 'DELETE', url: `/admin/partners/${p.id}/users/${u.id}`, headers: adminHeaders });
      assert.equal(del.statusCode, 204);
      const body = assertOAuthError(await token({ username: u.username, password: u.password }), 401, 'invalid_grant');
      assert.match(body.error_description, /username or password/i);
    });

    test('malformed requests → 400 {"error":"invalid_request"} (or unsupported_grant_type); 415 for other bodies', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const raw = (payload: string, contentType = 'application/json') => token(payload, { 'content-type': contentType });
      assertOAuthError(await raw('{"username":'), 400, 'invalid_request');
      assertOAuthError(await raw(''), 400, 'invalid_request');
      for (const body of ['null', '[]', '42', '"x"']) assertOAuthError(await raw(body), 400, 'invalid_request');
      assertOAuthError(await token({}), 400, 'invalid_request');
      const missing = assertOAuthError(await token({ username: u.username }), 400, 'invalid_request');
      assert.match(missing.error_description, /password/);
      assertOAuthError(await token({ password: u.password }), 400, 'invalid_request');
      assertOAuthError(await token({ grant_type: 'refresh_token' }), 400, 'invalid_request');
      assertOAuthError(await token({ username: '', password: '' }), 400, 'invalid_request');
      assertOAuthError(await token({ username: 'x'.repeat(300), password: 'y' }), 400, 'invalid_request');
      assertOAuthError(await token({ grant_type: 'client_credentials', username: u.username, password: u.password }), 400, 'unsupported_grant_type');
      assertOAuthError(await raw(`<username>${u.username}</username>`, 'application/xml'), 415, 'invalid_request');
      // The parser's message quotes the body: the token endpoint does not echo it (it holds a password).
      const echoed = await raw(`{"username":"${u.username}","password":${u.password}}`);
      assertOAuthError(echoed, 400, 'invalid_request');
      assert.ok(!echoed.body.includes(u.password), echoed.body);
    });

    test('refresh: {"refresh_token"} → a new pair; the refresh token is single-use; the old access token lives to its expiry', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const first = await login(t.app, u.username, u.password);
      const res = await token({ refresh_token: first.refresh_token });
      assert.equal(res.statusCode, 200, res.body);
      const second = res.json();
      assert.deepEqual(Object.keys(second), ['access_token', 'token_type', 'expires_in', 'refresh_token']);
      assert.notEqual(second.access_token, first.access_token);
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.equal((await clients(p.id, bearer(second.access_token))).statusCode, 200);
      assert.equal((await clients(p.id, bearer(first.access_token))).statusCode, 200);
      // Spent.
      assertOAuthError(await token({ refresh_token: first.refresh_token }), 401, 'invalid_grant');
      assertOAuthError(await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }), 401, 'invalid_grant');
      // Unknown, or an access token where a refresh token belongs.
      assertOAuthError(await token({ refresh_token: 'wbr_nope' }), 401, 'invalid_grant');
      assertOAuthError(await token({ refresh_token: second.access_token }), 401, 'invalid_grant');
      // The new one works once.
      assert.equal((await token({ refresh_token: second.refresh_token })).statusCode, 200);
    });

    test('two concurrent refreshes with one token: exactly one wins', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const pair = await login(t.app, u.username, u.password);
      const results = await Promise.all(Array.from({ length: 5 }, () => token({ refresh_token: pair.refresh_token })));
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 401, 401, 401, 401]);
    });

    test('expiry on the clock: the access token → 401 "expired" after expires_in; the refresh token still gives a new pair, until its own expiry', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const pair = await login(t.app, u.username, u.password);
      clock.advance((TTL - 1) * 1000);
      assert.equal((await clients(p.id, bearer(pair.access_token))).statusCode, 200);
      clock.advance(1000);
      const meta = assertEnvelope(await clients(p.id, bearer(pair.access_token)), 401, 'unauthorized');
      assert.match(meta.developer_message, /expired/i);
      assert.match(meta.developer_message, /POST \/api\/v2\/token/);
      const next = (await token({ refresh_token: pair.refresh_token })).json();
      assert.equal((await clients(p.id, bearer(next.access_token))).statusCode, 200);
      clock.advance(7 * 86400 * 1000);
      assertOAuthError(await token({ refresh_token: next.refresh_token }), 401, 'invalid_grant');
      // A fresh login still works (and the cache of a verification long past is not trusted).
      const again = await login(t.app, u.username, u.password);
      assert.equal((await clients(p.id, bearer(again.access_token))).statusCode, 200);
    });

    test('revoking the user → its access and refresh tokens are refused at once', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const pair = await login(t.app, u.username, u.password);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/admin/partners/${p.id}/users/${u.id}`, headers: adminHeaders })).statusCode, 204);
      const meta = assertEnvelope(await clients(p.id, bearer(pair.access_token)), 401, 'unauthorized');
      assert.match(meta.developer_message, /revoked/i);
      assertOAuthError(await token({ refresh_token: pair.refresh_token }), 401, 'invalid_grant');
      const listed = (await t.app.inject({ method: 'GET', url: `/admin/partners/${p.id}/users`, headers: adminHeaders })).json();
      assert.ok(listed.users[0].revoked_at);
      // 404 for a user of another partner or none.
      const q = await newPartner(t.app);
      const v = await newUser(t.app, q.id);
      assertEnvelope(await t.app.inject({ method: 'DELETE', url: `/admin/partners/${p.id}/users/${v.id}`, headers: adminHeaders }), 404, 'not_found');
      assertEnvelope(await t.app.inject({ method: 'DELETE', url: `/admin/partners/${p.id}/users/nosuchPU`, headers: adminHeaders }), 404, 'not_found');
      assert.equal((await login(t.app, v.username, v.password)).token_type, 'Bearer');
    });

    test("a token authenticates only its own partner: another partner's paths → 404", async () => {
      const a = await newTenant(t.app, 'A');
      const b = await newTenant(t.app, 'B');
      const u = await newUser(t.app, a.partner.id);
      const { access_token } = await login(t.app, u.username, u.password);
      const base = `/api/v2/partners/${b.partner.id}/clients`;
      for (const url of [base, `${base}/${b.client.id}`, `${base}/${b.client.id}/channels/${b.channel.id}`, `${base}/${b.client.id}/info/balance`, `/api/v2/partners/${b.partner.id}/api_keys`]) {
        assertEnvelope(await t.app.inject({ method: 'GET', url, headers: bearer(access_token) }), 404, 'not_found');
      }
      const own = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${a.partner.id}/clients/${a.client.id}/info/balance`, headers: bearer(access_token) });
      assert.equal(own.statusCode, 200, own.body);
    });

    test('every login issues a new pair: two processes logging in together never share (and spend) one refresh token', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const a = await login(t.app, u.username, u.password);
      const b = await login(t.app, u.username, u.password);
      assert.equal((await clients(p.id, bearer(a.access_token))).statusCode, 200);
      assert.equal((await clients(p.id, bearer(b.access_token))).statusCode, 200);
      // Process A refreshes; process B's refresh token is its own and still good.
      const a2 = await token({ refresh_token: a.refresh_token });
      assert.equal(a2.statusCode, 200, a2.body);
      const b2 = await token({ refresh_token: b.refresh_token });
      assert.equal(b2.statusCode, 200, b2.body);
      assert.equal((await clients(p.id, bearer(b2.json().access_token))).statusCode, 200);
      assert.notEqual(a.access_token, b.access_token);
      assert.notEqual(a.refresh_token, b.refresh_token);
      // Concurrent logins too.
      const together = await Promise.all([login(t.app, u.username, u.password), login(t.app, u.username, u.password)]);
      assert.notEqual(together[0].refresh_token, together[1].refresh_token);
      for (const pair of together) assert.equal((await token({ refresh_token: pair.refresh_token })).statusCode, 200);
    });

    test('cheap when called before every request: the password is verified once, and every login still gets a fresh pair of full lifetime', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const verifications = t.services.auth.stats.passwordVerifications;
      const first = await login(t.app, u.username, u.password);
      const pairs = [first];
      for (let i = 0; i < 30; i++) {
        clock.advance(1000);
        pairs.push(await login(t.app, u.username, u.password));
      }
      assert.equal(t.services.auth.stats.passwordVerifications - verifications, 1, 'scrypt ran once');
      assert.equal(new Set(pairs.map((x) => x.access_token)).size, 31, 'a new access token per login');
      assert.equal(new Set(pairs.map((x) => x.refresh_token)).size, 31, 'a new refresh token per login');
      for (const x of pairs) assert.equal(x.expires_in, TTL);
      const rows = await t.services.store.db.selectFrom('partner_tokens').select('id').where('user_id', '=', u.id).execute();
      assert.equal(rows.length, 31);
      assert.equal((await clients(p.id, bearer(pairs[pairs.length - 1].access_token))).statusCode, 200);
      assert.equal((await clients(p.id, bearer(first.access_token))).statusCode, 200);
      // A wrong password is never served from the cache.
      assertOAuthError(await token({ username: u.username, password: 'wrong password' }), 401, 'invalid_grant');
      // After the cache window, the password is checked again.
      clock.advance(120_000);
      await login(t.app, u.username, u.password);
      assert.equal(t.services.auth.stats.passwordVerifications - verifications, 3);
    });

    test('a spent refresh token is not handed out again by the login cache', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const first = await login(t.app, u.username, u.password);
      assert.equal((await token({ refresh_token: first.refresh_token })).statusCode, 200);
      const again = await login(t.app, u.username, u.password);
      assert.notEqual(again.refresh_token, first.refresh_token);
      assert.equal((await token({ refresh_token: again.refresh_token })).statusCode, 200);
    });

    test('expired pairs are purged from the store', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      await login(t.app, u.username, u.password);
      clock.advance(8 * 86400 * 1000);
      const v = await newUser(t.app, p.id);
      await login(t.app, v.username, v.password);
      const rows = await t.services.store.db.selectFrom('partner_tokens').select('id').where('user_id', '=', u.id).execute();
      assert.equal(rows.length, 0);
    });
  });
}
