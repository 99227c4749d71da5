/**
 * The 401 rules of the Partner API contract and the other statuses of the envelope, on SQLite and
 * PostgreSQL: 401 only when fresh credentials would help, each 401 saying what to send; a request
 * wrong for another reason keeps its own status (400, 404); 405 with `Allow` for a known path, 413,
 * 415 and 500 (no internals) in the envelope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { assertEnvelope, login, newTenant, newUser } from './auth-helpers.ts';

for (const dialect of DIALECTS) {
  describe(`401 rules and error statuses [${dialect}]`, () => {
    let t: TestApp;
    let a: Awaited<ReturnType<typeof newTenant>>;
    let url: string;
    before(async () => {
      t = await startApp(dialect);
      a = await newTenant(t.app, 'A');
      url = `/api/v2/partners/${a.partner.id}/clients/${a.client.id}`;
    });
    after(async () => { await t.close(); });

    const get = (path: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url: path, headers });

    // ---- 401: what to send ------------------------------------------------------------------

    test('no credentials → 401 naming both ways to authenticate', async () => {
      const meta = assertEnvelope(await get(url, {}), 401, 'unauthorized');
      assert.match(meta.developer_message, /X-API-Key/);
      assert.match(meta.developer_message, /Bearer/);
      assert.ok(meta.details.some((d) => d.includes('POST /api/v2/token')), JSON.stringify(meta.details));
    });

    test('known wrong headers → 401 naming the expected header', async () => {
      const u = await newUser(t.app, a.partner.id);
      const pair = await login(t.app, u.username, u.password);
      const cases: [Record<string, string>, RegExp][] = [
        [{ 'D360-API-KEY': a.partner.api_key }, /X-API-Key/],
        [{ authorization: `Bearer ${a.partner.api_key}` }, /X-API-Key/],
        [{ authorization: `bearer ${a.partner.api_key}` }, /X-API-Key/],
        [{ 'x-api-key': pair.access_token }, /Authorization: Bearer/],
        [{ authorization: `Bearer ${pair.refresh_token}` }, /refresh token.*POST \/api\/v2\/token/],
        [{ authorization: `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}` }, /Bearer/],
        [{ authorization: pair.access_token }, /Bearer/],
      ];
      for (const [headers, expected] of cases) {
        const meta = assertEnvelope(await get(url, headers), 401, 'unauthorized');
        assert.match(meta.developer_message, expected, JSON.stringify(headers));
      }
    });

    test('unknown credentials of every shape → 401 in the envelope (revoked and expired ones: api-keys and token tests)', async () => {
      for (const headers of [{ 'x-api-key': 'wbm_unknown' }, { 'x-api-key': 'garbage' }, { authorization: 'Bearer wbt_unknown' }, { authorization: 'Bearer x' }, { authorization: `Bearer ${ADMIN_TOKEN}` }] as Record<string, string>[]) {
        assertEnvelope(await get(url, headers), 401, 'unauthorized');
      }
    });

    test('with valid credentials, a request wrong for another reason keeps its own status', async () => {
      const b = await newTenant(t.app, 'B');
      // Another partner's resources, or none: 404.
      assertEnvelope(await get(`/api/v2/partners/${b.partner.id}/clients/${b.client.id}`, a.partner.headers), 404, 'not_found');
      assertEnvelope(await get(`/api/v2/partners/${a.partner.id}/clients/${b.client.id}`, a.partner.headers), 404, 'not_found');
      // Bad parameters: 400 naming them.
      const meta = assertEnvelope(await get(`${url}/info/balance?start_date=-1&granularity=week`, a.partner.headers), 400, 'invalid_parameter');
      assert.ok(meta.details.some((d) => d.startsWith('start_date:')));
      assert.ok(meta.details.some((d) => d.startsWith('granularity:')));
      // Even with a bearer token.
      const u = await newUser(t.app, a.partner.id);
      const { access_token } = await login(t.app, u.username, u.password);
      assertEnvelope(await get(`${url}/info/balance?end_date=x`, { authorization: `Bearer ${access_token}` }), 400, 'invalid_parameter');
      assertEnvelope(await get(`/api/v2/partners/${b.partner.id}/clients`, { authorization: `Bearer ${access_token}` }), 404, 'not_found');
    });

    // ---- 405 --------------------------------------------------------------------------------

    test('a known path with a wrong method → 405 with Allow, in the envelope', async () => {
      const cases: [string, string, string[]][] = [
        ['DELETE', `/api/v2/partners/${a.partner.id}/clients`, ['GET', 'POST']],
        ['PUT', `${url}/info/balance`, ['GET']],
        ['GET', '/api/v2/token', ['POST']],
        ['PATCH', `/api/v2/partners/${a.partner.id}/api_keys`, ['GET', 'POST']],
        ['POST', `/api/v2/partners/${a.partner.id}/api_keys/someAK`, ['DELETE']],
        ['DELETE', '/admin/partners', ['POST']],
      ];
      for (const [method, path, expected] of cases) {
        const res = await t.app.inject({ method: method as 'GET', url: path, headers: a.partner.headers });
        const meta = assertEnvelope(res, 405, 'method_not_allowed');
        const allow = String(res.headers.allow).split(', ');
        for (const m of expected) assert.ok(allow.includes(m), `${method} ${path}: Allow ${res.headers.allow} lacks ${m}`);
        assert.ok(!allow.includes(method), `${method} ${path}: Allow ${res.headers.allow}`);
        assert.match(meta.developer_message, new RegExp(method));
      }
      // Without credentials too: the method is wrong whoever asks.
      assertEnvelope(await t.app.inject({ method: 'DELETE', url: `/api/v2/partners/${a.partner.id}/clients` }), 405, 'method_not_allowed');
      // A path no route has stays a 404.
      assertEnvelope(await t.app.inject({ method: 'GET', url: `/api/v2/partners/${a.partner.id}/nothing`, headers: a.partner.headers }), 404, 'not_found');
      assertEnvelope(await t.app.inject({ method: 'DELETE', url: '/api/v2/nothing' }), 404, 'not_found');
    });

    // ---- 413, 415 ---------------------------------------------------------------------------

    test('a body over the limit → 413; a body of another type → 415 (after authentication)', async () => {
      const keys = `/api/v2/partners/${a.partner.id}/api_keys`;
      const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
      assertEnvelope(await t.app.inject({ method: 'POST', url: keys, headers: { ...a.partner.headers, 'content-type': 'application/json' }, payload: big }), 413, 'payload_too_large');
      assertEnvelope(await t.app.inject({ method: 'POST', url: `/api/v2/partners/${a.partner.id}/clients`, headers: { ...a.partner.headers, 'content-type': 'application/json' }, payload: big }), 413, 'payload_too_large');
      for (const type of ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const meta = assertEnvelope(await t.app.inject({ method: 'POST', url: keys, headers: { ...a.partner.headers, 'content-type': type }, payload: 'name=x' }), 415, 'unsupported_media_type');
        assert.match(meta.developer_message, /application\/json/);
      }
      // Without credentials, the caller learns nothing about bodies: 401 first.
      assertEnvelope(await t.app.inject({ method: 'POST', url: keys, headers: { 'content-type': 'application/xml' }, payload: '<x/>' }), 401, 'unauthorized');
    });

    // ---- 500 --------------------------------------------------------------------------------

    test('an unexpected failure → 500 in the envelope, with no internals', async () => {
      const usage = t.services.usage as { balance: (...args: unknown[]) => unknown };
      const original = usage.balance;
      usage.balance = async () => { throw new Error('SQLITE_CORRUPT: database disk image is malformed at /var/lib/wabameter/data.db (select * from usage_daily)'); };
      try {
        const res = await get(`${url}/info/balance`, a.partner.headers);
        const meta = assertEnvelope(res, 500, 'internal_error');
        for (const leak of ['SQLITE', 'malformed', '/var/lib', 'select', 'usage_daily', 'at ', 'Error:']) assert.ok(!res.body.includes(leak), `500 body leaks "${leak}": ${res.body}`);
        assert.deepEqual(meta.details, []);
      } finally {
        usage.balance = original;
      }
      assert.equal((await get(`${url}/info/balance`, a.partner.headers)).statusCode, 200);
    });
  });
}
