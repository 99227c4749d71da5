/**
 * Channel API keys, on SQLite and PostgreSQL, over HTTP: created on 360dialog's path (shown
 * once, only a hash stored), listed (never the secret), revoked one by one or all at once with a
 * JSON answer; and the key's scope: it reads its own channel's usage (in X-API-Key or
 * D360-API-KEY) and nothing else (403), another partner's paths are 404, a revoked key 401.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { MAX_ACTIVE_CHANNEL_KEYS } from '../../src/auth/channel-keys.ts';
import { addChannel, DIALECTS, seedTenant, startApp, type TestApp } from '../helpers.ts';
import { assertEnvelope, login, newUser } from './auth-helpers.ts';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A channel key is accepted in X-API-Key and in D360-API-KEY; tests send it in each. */
const inBothHeaders = (key: string): Record<string, string>[] => [{ 'x-api-key': key }, { 'd360-api-key': key }];

let phone = 0;
const nextPhoneNumberId = () => `ck-${process.pid}-${++phone}`;

for (const dialect of DIALECTS) {
  describe(`channel API keys [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    type Tenant = Awaited<ReturnType<typeof seedTenant>>;
    const tenant = () => seedTenant(t.app, { phoneNumberId: nextPhoneNumberId(), appId: '231' });
    const keysUrl = (x: Tenant, channelId = x.channel.id) => `/api/v2/partners/${x.partner.id}/channels/${channelId}/api_keys`;
    const channelUrl = (x: Tenant, channelId = x.channel.id) => `/api/v2/partners/${x.partner.id}/clients/${x.client.id}/channels/${channelId}`;
    const create = (x: Tenant, payload?: object, headers: Record<string, string> = x.headers, channelId?: string) =>
      t.app.inject({ method: 'POST', url: keysUrl(x, channelId), headers, ...(payload ? { payload } : {}) });
    const list = (x: Tenant, headers: Record<string, string> = x.headers) => t.app.inject({ method: 'GET', url: keysUrl(x), headers });
    const revokeAll = (x: Tenant, headers: Record<string, string> = x.headers) => t.app.inject({ method: 'DELETE', url: keysUrl(x), headers });
    const revokeOne = (x: Tenant, keyId: string, headers: Record<string, string> = x.headers, channelId?: string) =>
      t.app.inject({ method: 'DELETE', url: `${keysUrl(x, channelId)}/${keyId}`, headers });
    const get = (url: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url, headers });
    const newKey = async (x: Tenant) => {
      const res = await create(x);
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { id: string; api_key: string; created_at: string };
    };
    const assertJson = (res: LightMyRequestResponse, status: number, body: unknown) => {
      assert.equal(res.statusCode, status, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(res.json(), body);
    };
    const assertForbidden = (res: LightMyRequestResponse, channelId: string) => {
      const meta = assertEnvelope(res, 403, 'forbidden');
      assert.match(meta.developer_message, new RegExp(`scoped to channel ${channelId}`));
      assert.match(meta.developer_message, /channels\/[A-Za-z0-9]+CH\/info\/balance/);
    };

    test('POST …/channels/{channel_id}/api_keys → 201 {id, address, api_key, app_id, channel_id, client_id, name, created_at}, no-store; only a hash is stored', async () => {
      const x = await tenant();
      const res = await create(x, { name: 'reporting' });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const key = res.json();
      assert.deepEqual(Object.keys(key), ['id', 'address', 'api_key', 'app_id', 'channel_id', 'client_id', 'name', 'created_at']);
      assert.match(key.id, /^[A-Za-z0-9]+CK$/);
      assert.equal(key.address, 'http://localhost:80');
      assert.match(key.api_key, /^wbc_[A-Za-z0-9_-]{32}$/);
      assert.deepEqual({ app_id: key.app_id, channel_id: key.channel_id, client_id: key.client_id, name: key.name }, { app_id: '231', channel_id: x.channel.id, client_id: x.client.id, name: 'reporting' });
      assert.match(key.created_at, ISO_INSTANT);

      const rows = await t.services.store.db.selectFrom('channel_api_keys').selectAll().where('channel_id', '=', x.channel.id).execute();
      assert.deepEqual(rows.map((r) => ({ ...r })), [{
        id: key.id, partner_id: x.partner.id, client_id: x.client.id, channel_id: x.channel.id,
        name: 'reporting', key_hash: sha256(key.api_key), last4: key.api_key.slice(-4), created_at: key.created_at, revoked_at: null,
      }]);

      // The address is the host the request reached.
      const other = await t.app.inject({ method: 'POST', url: keysUrl(x), headers: { ...x.headers, host: 'meter.example.com:8443' } });
      assert.equal(other.json().address, 'http://meter.example.com:8443');
    });

    test('POST without a body, or with {} → 201 with name null; an empty JSON body, null or a bad name → 400', async () => {
      const x = await tenant();
      const bare = await create(x);
      assert.equal(bare.statusCode, 201, bare.body);
      assert.equal(bare.json().name, null);
      const empty = await t.app.inject({ method: 'POST', url: keysUrl(x), headers: { ...x.headers, 'content-type': 'application/json' }, payload: '' });
      assertEnvelope(empty, 400, 'invalid_json');
      const nothing = await t.app.inject({ method: 'POST', url: keysUrl(x), headers: { ...x.headers, 'content-type': 'application/json' }, payload: 'null' });
      assertEnvelope(nothing, 400, 'invalid_parameter');
      assert.equal((await create(x, {})).statusCode, 201);
      const meta = assertEnvelope(await create(x, { name: '' }), 400, 'invalid_parameter');
      assert.ok(meta.details.some((d) => d.startsWith('name:')), JSON.stringify(meta.details));
      assertEnvelope(await t.app.inject({ method: 'POST', url: keysUrl(x), headers: { ...x.headers, 'content-type': 'application/json' }, payload: '{"name":' }), 400, 'invalid_json');
    });

    test('GET …/api_keys → {count, api_keys:[{id, address, app_id, channel_id, client_id, name, created_at, revoked_at, last4}]}, oldest first, revoked ones too, never the secret', async () => {
      const x = await tenant();
      const a = (await create(x, { name: 'a' })).json();
      const b = (await create(x, { name: 'b' })).json();
      assertJson(await revokeOne(x, a.id), 200, { revoked: 1 });
      const res = await list(x);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['count', 'api_keys']);
      assert.equal(body.count, 2);
      for (const k of body.api_keys) assert.deepEqual(Object.keys(k), ['id', 'address', 'app_id', 'channel_id', 'client_id', 'name', 'created_at', 'revoked_at', 'last4']);
      const [ka, kb] = body.api_keys;
      const common = { address: 'http://localhost:80', app_id: '231', channel_id: x.channel.id, client_id: x.client.id };
      assert.deepEqual({ ...ka, revoked_at: 'x' }, { id: a.id, ...common, name: 'a', created_at: a.created_at, revoked_at: 'x', last4: a.api_key.slice(-4) });
      assert.match(ka.revoked_at, ISO_INSTANT);
      assert.deepEqual(kb, { id: b.id, ...common, name: 'b', created_at: b.created_at, revoked_at: null, last4: b.api_key.slice(-4) });
      for (const secret of [a.api_key, b.api_key]) {
        assert.ok(!res.body.includes(secret), 'no secret in the list');
        assert.ok(!res.body.includes(sha256(secret)), 'no hash in the list');
      }
      // A channel without keys.
      const y = await tenant();
      assertJson(await list(y), 200, { count: 0, api_keys: [] });
    });

    test("the key reads its channel, its balance, usage and charges (200), in X-API-Key and in D360-API-KEY", async () => {
      const x = await tenant();
      const key = await newKey(x);
      const base = channelUrl(x);
      for (const headers of inBothHeaders(key.api_key)) {
        for (const url of [base, `${base}/info/balance`, `${base}/info/balance?granularity=day&start_date=0`, `${base}/info/usage?granularity=month`, `${base}/info/charges`]) {
          const res = await get(url, headers);
          assert.equal(res.statusCode, 200, `${Object.keys(headers)[0]} ${url}: ${res.body}`);
        }
        // The same answer the partner's own key gets.
        assert.deepEqual((await get(`${base}/info/balance`, headers)).json(), (await get(`${base}/info/balance`, x.headers)).json());
      }
    });

    test('everything else → 403 forbidden naming the channel: the client, its balance, another channel, the lists, POST routes, the key routes', async () => {
      const x = await tenant();
      const sibling = await addChannel(t.app, x.partner, x.client.id, { phoneNumberId: nextPhoneNumberId() });
      const key = await newKey(x);
      const P = `/api/v2/partners/${x.partner.id}`;
      const C = `${P}/clients/${x.client.id}`;
      for (const headers of inBothHeaders(key.api_key)) {
        for (const url of [`${C}/info/balance`, `${C}/info/charges`, `${C}/info/tiers`, C, `${P}/clients`, `${C}/channels`, `${P}/channels`,
          channelUrl(x, sibling.id), `${channelUrl(x, sibling.id)}/info/balance`, `${channelUrl(x, sibling.id)}/info/usage`, `${P}/api_keys`, keysUrl(x)]) {
          assertForbidden(await get(url, headers), x.channel.id);
        }
        assertForbidden(await t.app.inject({ method: 'POST', url: `${P}/clients`, headers, payload: { name: 'C2', currency: 'USD', country: 'DE', payment_mode: 'direct' } }), x.channel.id);
        assertForbidden(await t.app.inject({ method: 'POST', url: `${C}/channels`, headers, payload: { phone_number: '+4930123', phone_number_id: nextPhoneNumberId(), waba_id: '1', app_id: '1' } }), x.channel.id);
        assertForbidden(await t.app.inject({ method: 'PATCH', url: C, headers, payload: { name: 'renamed' } }), x.channel.id);
        assertForbidden(await t.app.inject({ method: 'POST', url: `${P}/api_keys`, headers, payload: { name: 'escalate' } }), x.channel.id);
        assertForbidden(await create(x, { name: 'more' }, headers), x.channel.id);
        assertForbidden(await revokeOne(x, key.id, headers), x.channel.id);
        assertForbidden(await revokeAll(x, headers), x.channel.id);
        // The channel's own path, with another client id in it.
        const other = await t.app.inject({ method: 'POST', url: `${P}/clients`, headers: x.headers, payload: { name: 'C3', currency: 'USD', country: 'DE', payment_mode: 'direct' } });
        assertForbidden(await get(`${P}/clients/${other.json().id}/channels/${x.channel.id}/info/balance`, headers), x.channel.id);
      }
      // Nothing was created or revoked by the refused calls.
      assert.equal((await list(x)).json().api_keys.filter((k: { revoked_at: string | null }) => k.revoked_at === null).length, 1);
      assert.equal((await get(`${channelUrl(x)}/info/balance`, { 'x-api-key': key.api_key })).statusCode, 200);
    });

    test("another partner's channel → 404 Channel not found; another partner's paths for a channel key → 404", async () => {
      const x = await tenant();
      const y = await tenant();
      const asX = (url: string, method: 'GET' | 'POST' | 'DELETE' = 'GET') => t.app.inject({ method, url, headers: x.headers });
      // x's credentials naming y's channel under x's own path.
      const foreign = `/api/v2/partners/${x.partner.id}/channels/${y.channel.id}/api_keys`;
      for (const method of ['GET', 'POST', 'DELETE'] as const) assertEnvelope(await asX(foreign, method), 404, 'not_found', { message: 'Channel not found' });
      assertEnvelope(await asX(`${foreign}/nosuchCK`, 'DELETE'), 404, 'not_found', { message: 'Channel not found' });
      assertEnvelope(await asX(`/api/v2/partners/${x.partner.id}/channels/nosuchCH/api_keys`), 404, 'not_found', { message: 'Channel not found' });
      // x's key on y's paths.
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        assertEnvelope(await t.app.inject({ method, url: keysUrl(y), headers: x.headers }), 404, 'not_found');
      }
      // A channel key of x on y's channel paths.
      const key = await newKey(x);
      for (const headers of inBothHeaders(key.api_key)) {
        assertEnvelope(await get(`${channelUrl(y)}/info/balance`, headers), 404, 'not_found');
        assertEnvelope(await get(keysUrl(y), headers), 404, 'not_found');
      }
      assert.equal((await list(y)).json().count, 0);
    });

    test('DELETE …/api_keys/{channel_key_id} → 200 {"revoked":1} (JSON); the key gets 401 at once; repeating → {"revoked":0}; unknown id → 404', async () => {
      const x = await tenant();
      const key = await newKey(x);
      const keep = await newKey(x);
      const balanceUrl = `${channelUrl(x)}/info/balance`;
      assert.equal((await get(balanceUrl, { 'x-api-key': key.api_key })).statusCode, 200);
      const res = await revokeOne(x, key.id, { ...x.headers, 'content-type': 'application/json' });
      assertJson(res, 200, { revoked: 1 });
      for (const headers of inBothHeaders(key.api_key)) {
        const meta = assertEnvelope(await get(balanceUrl, headers), 401, 'unauthorized');
        assert.match(meta.developer_message, /revoked/i);
      }
      assert.equal((await get(balanceUrl, { 'd360-api-key': keep.api_key })).statusCode, 200);
      assertJson(await revokeOne(x, key.id), 200, { revoked: 0 });
      assertEnvelope(await revokeOne(x, 'nosuchCK'), 404, 'not_found');
      // A key of another channel of the same partner is not this channel's.
      const sibling = await addChannel(t.app, x.partner, x.client.id, { phoneNumberId: nextPhoneNumberId() });
      assertEnvelope(await revokeOne(x, keep.id, x.headers, sibling.id), 404, 'not_found');
      assert.equal((await get(balanceUrl, { 'x-api-key': keep.api_key })).statusCode, 200);
      assertEnvelope(await revokeOne(x, 'not%20an%20id'), 400, 'invalid_parameter');
    });

    test('DELETE …/api_keys → 200 {"revoked": n} (JSON) for every active key of the channel; each gets 401; other channels\' keys keep working', async () => {
      const x = await tenant();
      const sibling = await addChannel(t.app, x.partner, x.client.id, { phoneNumberId: nextPhoneNumberId() });
      const keys = [await newKey(x), await newKey(x), await newKey(x)];
      assertJson(await revokeOne(x, keys[0].id), 200, { revoked: 1 });
      const siblingKey = (await create(x, undefined, x.headers, sibling.id)).json();
      const res = await revokeAll(x);
      assertJson(res, 200, { revoked: 2 });
      for (const k of keys) assertEnvelope(await get(`${channelUrl(x)}/info/balance`, { 'x-api-key': k.api_key }), 401, 'unauthorized');
      assert.equal((await get(`${channelUrl(x, sibling.id)}/info/balance`, { 'x-api-key': siblingKey.api_key })).statusCode, 200);
      assertJson(await revokeAll(x, { ...x.headers, 'content-type': 'application/json' }), 200, { revoked: 0 });
      assert.ok((await list(x)).json().api_keys.every((k: { revoked_at: string | null }) => k.revoked_at !== null));
    });

    test('unknown channel keys → 401; a partner key or anything else in D360-API-KEY → the 401 that names X-API-Key', async () => {
      const x = await tenant();
      const balanceUrl = `${channelUrl(x)}/info/balance`;
      for (const headers of inBothHeaders('wbc_nope')) {
        const meta = assertEnvelope(await get(balanceUrl, headers), 401, 'unauthorized');
        assert.match(meta.developer_message, /channel API key unknown/i);
      }
      for (const value of [x.partner.api_key, 'some-messaging-key']) {
        const meta = assertEnvelope(await get(balanceUrl, { 'd360-api-key': value }), 401, 'unauthorized');
        assert.match(meta.developer_message, /X-API-Key/);
      }
      // A channel key is not a bearer token.
      const key = await newKey(x);
      assertEnvelope(await get(balanceUrl, { authorization: `Bearer ${key.api_key}` }), 401, 'unauthorized');
    });

    test(`at most ${MAX_ACTIVE_CHANNEL_KEYS} active keys per channel (409 saying how to revoke); revoking one makes room`, async () => {
      const x = await tenant();
      const made = [];
      for (let i = 0; i < MAX_ACTIVE_CHANNEL_KEYS; i++) made.push(await newKey(x));
      const meta = assertEnvelope(await create(x), 409, 'conflict');
      assert.match(meta.developer_message, /DELETE \/api\/v2\/partners\/.+\/channels\/.+\/api_keys/);
      assertJson(await revokeOne(x, made[0].id), 200, { revoked: 1 });
      assert.equal((await create(x)).statusCode, 201);
    });

    test("a partner user's bearer token manages channel keys too; no credentials → 401", async () => {
      const x = await tenant();
      const u = await newUser(t.app, x.partner.id);
      const { access_token } = await login(t.app, u.username, u.password);
      const bearer = { authorization: `Bearer ${access_token}` };
      const key = await create(x, { name: 'via token' }, bearer);
      assert.equal(key.statusCode, 201, key.body);
      assert.equal((await list(x, bearer)).json().count, 1);
      assertJson(await revokeAll(x, bearer), 200, { revoked: 1 });
      for (const res of [await create(x, undefined, {}), await list(x, {}), await revokeAll(x, {}), await revokeOne(x, key.json().id, {})]) {
        assertEnvelope(res, 401, 'unauthorized');
      }
    });
  });
}
