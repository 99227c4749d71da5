/**
 * Named API keys, on SQLite and PostgreSQL: created (shown once, only a hash stored), listed
 * (never the key or its hash), revoked (refused with 401 from then on), each key good only for
 * its own partner, and an administrator's recovery key.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MAX_ACTIVE_KEYS } from '../../src/auth/auth-service.ts';
import { DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { adminHeaders, assertEnvelope, login, newPartner, newUser, type TestPartner } from './auth-helpers.ts';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

for (const dialect of DIALECTS) {
  describe(`API keys [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    const keysUrl = (p: { id: string }) => `/api/v2/partners/${p.id}/api_keys`;
    const create = (p: TestPartner, name: unknown, headers = p.headers) =>
      t.app.inject({ method: 'POST', url: keysUrl(p), headers, payload: { name } as object });
    const list = (p: TestPartner, headers = p.headers) => t.app.inject({ method: 'GET', url: keysUrl(p), headers });
    const revoke = (p: TestPartner, keyId: string, headers = p.headers) => t.app.inject({ method: 'DELETE', url: `${keysUrl(p)}/${keyId}`, headers });
    const clients = (p: { id: string }, headers: Record<string, string>) => t.app.inject({ method: 'GET', url: `/api/v2/partners/${p.id}/clients`, headers });

    test('POST …/api_keys → 201 {id, name, api_key, created_at}; the key works at once and only its hash is stored', async () => {
      const p = await newPartner(t.app);
      const res = await create(p, 'production');
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const key = res.json();
      assert.deepEqual(Object.keys(key), ['id', 'name', 'api_key', 'created_at']);
      assert.match(key.id, /^[A-Za-z0-9]+AK$/);
      assert.equal(key.name, 'production');
      assert.match(key.api_key, /^wbm_[A-Za-z0-9_-]{32}$/);
      assert.match(key.created_at, ISO_INSTANT);
      assert.equal((await clients(p, { 'x-api-key': key.api_key })).statusCode, 200);
      // The partner's first key still works too: keys are independent.
      assert.equal((await clients(p, p.headers)).statusCode, 200);

      const rows = await t.services.store.db.selectFrom('api_keys').selectAll().where('partner_id', '=', p.id).execute();
      assert.equal(rows.length, 2);
      const stored = rows.find((r) => r.id === key.id)!;
      assert.equal(stored.key_hash, sha256(key.api_key));
      assert.equal(stored.last4, key.api_key.slice(-4));
      assert.ok(!JSON.stringify(rows).includes(key.api_key), 'the key itself is stored nowhere');
    });

    test('GET …/api_keys lists every key with id, name, created_at, revoked_at, last4: never the key or its hash', async () => {
      const p = await newPartner(t.app);
      const a = (await create(p, 'ci')).json();
      const b = (await create(p, 'ci')).json(); // names need not be unique (rotation keeps the name)
      assert.equal((await revoke(p, a.id)).statusCode, 204);
      const res = await list(p);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['count', 'api_keys']);
      assert.equal(body.count, 3);
      assert.equal(body.api_keys.length, 3);
      for (const k of body.api_keys) assert.deepEqual(Object.keys(k), ['id', 'name', 'created_at', 'revoked_at', 'last4']);
      const [first, ka, kb] = body.api_keys;
      assert.equal(first.name, 'default'); // the key made with the partner
      assert.equal(first.revoked_at, null);
      assert.deepEqual({ ...ka, revoked_at: 'x' }, { id: a.id, name: 'ci', created_at: a.created_at, revoked_at: 'x', last4: a.api_key.slice(-4) });
      assert.match(ka.revoked_at, ISO_INSTANT);
      assert.deepEqual(kb, { id: b.id, name: 'ci', created_at: b.created_at, revoked_at: null, last4: b.api_key.slice(-4) });
      for (const secret of [p.api_key, a.api_key, b.api_key]) {
        assert.ok(!res.body.includes(secret), 'no key in the list');
        assert.ok(!res.body.includes(sha256(secret)), 'no hash in the list');
      }
    });

    test('DELETE …/api_keys/{key_id} → 204; the revoked key gets 401 afterwards, others keep working; repeating is harmless', async () => {
      const p = await newPartner(t.app);
      const k = (await create(p, 'old')).json();
      const headers = { 'x-api-key': k.api_key };
      assert.equal((await clients(p, headers)).statusCode, 200);
      const res = await revoke(p, k.id);
      assert.equal(res.statusCode, 204);
      assert.equal(res.body, '');
      const meta = assertEnvelope(await clients(p, headers), 401, 'unauthorized');
      assert.match(meta.developer_message, /revoked/i);
      // Every partner route refuses it, including key management.
      assertEnvelope(await list(p, headers), 401, 'unauthorized');
      assertEnvelope(await create(p, 'x', headers), 401, 'unauthorized');
      assert.equal((await clients(p, p.headers)).statusCode, 200);
      // Revoking again: still 204, the first revocation time kept.
      const before = (await list(p)).json().api_keys.find((x: { id: string }) => x.id === k.id).revoked_at;
      assert.equal((await revoke(p, k.id)).statusCode, 204);
      assert.equal((await list(p)).json().api_keys.find((x: { id: string }) => x.id === k.id).revoked_at, before);
    });

    test('DELETE with Content-Type: application/json and no body (some clients send it on every request) → 204', async () => {
      const p = await newPartner(t.app);
      const k = (await create(p, 'x')).json();
      const res = await t.app.inject({ method: 'DELETE', url: `${keysUrl(p)}/${k.id}`, headers: { ...p.headers, 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 204, res.body);
      // An empty JSON body where a body belongs is still a 400.
      assertEnvelope(await t.app.inject({ method: 'POST', url: keysUrl(p), headers: { ...p.headers, 'content-type': 'application/json' }, payload: '' }), 400, 'invalid_json');
      assertEnvelope(await t.app.inject({ method: 'POST', url: keysUrl(p), headers: { ...p.headers, 'content-type': 'application/json' }, payload: '{"name":' }), 400, 'invalid_json');
      assertEnvelope(await t.app.inject({ method: 'POST', url: keysUrl(p), headers: { ...p.headers, 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1},"name":"a"}' }), 400);
    });

    test('a partner may revoke the key it is calling with', async () => {
      const p = await newPartner(t.app);
      const own = (await list(p)).json().api_keys[0];
      assert.equal((await revoke(p, own.id)).statusCode, 204);
      assertEnvelope(await clients(p, p.headers), 401, 'unauthorized');
    });

    test("keys authenticate only their own partner: another partner's key, key ids and paths → 404", async () => {
      const p = await newPartner(t.app);
      const q = await newPartner(t.app);
      const pk = (await create(p, 'p-key')).json();
      // q's key on p's paths: 404 for every key route, and nothing changes.
      assertEnvelope(await list(p, q.headers), 404, 'not_found');
      assertEnvelope(await create(p, 'intruder', q.headers), 404, 'not_found');
      assertEnvelope(await revoke(p, pk.id, q.headers), 404, 'not_found');
      // q naming p's key id under its own path: 404, the key stays live.
      assertEnvelope(await revoke(q, pk.id), 404, 'not_found');
      assert.equal((await clients(p, { 'x-api-key': pk.api_key })).statusCode, 200);
      assert.equal((await list(p)).json().count, 2);
      // A key id that does not exist.
      assertEnvelope(await revoke(p, 'nosuchAK'), 404, 'not_found');
      // Ids that cannot be ids → 400.
      assertEnvelope(await revoke(p, 'not%20an%20id'), 400, 'invalid_parameter');
    });

    test('no credentials or a wrong key → 401 on every key route', async () => {
      const p = await newPartner(t.app);
      const k = (await create(p, 'x')).json();
      for (const headers of [{}, { 'x-api-key': 'wbm_nope' }] as Record<string, string>[]) {
        assertEnvelope(await list(p, headers), 401, 'unauthorized');
        assertEnvelope(await create(p, 'y', headers), 401, 'unauthorized');
        assertEnvelope(await revoke(p, k.id, headers), 401, 'unauthorized');
      }
      assert.equal((await list(p)).json().count, 2);
    });

    test('a bearer access token of a partner user manages its partner\'s keys', async () => {
      const p = await newPartner(t.app);
      const u = await newUser(t.app, p.id);
      const { access_token } = await login(t.app, u.username, u.password);
      const bearer = { authorization: `Bearer ${access_token}` };
      const res = await create(p, 'from-token', bearer);
      assert.equal(res.statusCode, 201, res.body);
      assert.equal((await list(p, bearer)).json().count, 2);
    });

    test('POST …/api_keys validates the name', async () => {
      const p = await newPartner(t.app);
      for (const name of [undefined, '', 'x'.repeat(101)]) {
        const meta = assertEnvelope(await create(p, name), 400, 'invalid_parameter');
        assert.ok(meta.details.some((d) => d.startsWith('name:')), JSON.stringify(meta.details));
      }
      assert.equal((await list(p)).json().count, 1);
    });

    test(`at most ${MAX_ACTIVE_KEYS} active keys; revoking one makes room`, async () => {
      const p = await newPartner(t.app);
      const made = [];
      for (let i = 1; i < MAX_ACTIVE_KEYS; i++) made.push((await create(p, `k${i}`)).json());
      assertEnvelope(await create(p, 'one too many'), 409, 'conflict');
      assert.equal((await revoke(p, made[0].id)).statusCode, 204);
      assert.equal((await create(p, 'fits again')).statusCode, 201);
    });

    test('the administrator can give a partner a new key (recovery), 404 for an unknown partner', async () => {
      const p = await newPartner(t.app);
      const own = (await list(p)).json().api_keys[0];
      await revoke(p, own.id); // locked out
      const res = await t.app.inject({ method: 'POST', url: `/admin/partners/${p.id}/api_keys`, headers: adminHeaders, payload: { name: 'recovery' } });
      assert.equal(res.statusCode, 201, res.body);
      assert.deepEqual(Object.keys(res.json()), ['id', 'name', 'api_key', 'created_at']);
      assert.equal((await clients(p, { 'x-api-key': res.json().api_key })).statusCode, 200);
      assertEnvelope(await t.app.inject({ method: 'POST', url: '/admin/partners/nosuchPA/api_keys', headers: adminHeaders, payload: { name: 'x' } }), 404, 'not_found');
      // Not with a partner key.
      assertEnvelope(await t.app.inject({ method: 'POST', url: `/admin/partners/${p.id}/api_keys`, headers: { 'x-api-key': res.json().api_key }, payload: { name: 'x' } }), 401, 'unauthorized');
    });
  });
}
