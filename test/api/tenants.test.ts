/**
 * Tenants over HTTP (Fastify `inject`), on SQLite and PostgreSQL: partners (admin token),
 * clients and channels (partner key), the list envelope, validation naming each bad field, and
 * the auth rules of the Partner API contract (another partner's key → 404, wrong header → a 401 that says
 * which header to send, the key never read back).
 */
import { DEFAULT_MAX_CHANNELS } from '../../src/tenants/client-attributes.ts';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp, assertEnvelope } from '../helpers.ts';


/** A 400 whose details name each of `fields` (a detail starts with `<field>:`). */
function assertNamesFields(res: LightMyRequestResponse, fields: string[]) {
  const meta = assertEnvelope(res, 400, 'invalid_parameter');
  for (const f of fields) {
    assert.ok(meta.details.some((d) => d.startsWith(`${f}:`)), `details name ${f}: ${JSON.stringify(meta.details)}`);
  }
  return meta;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const CLIENT_KEYS = ['id', 'partner_id', 'name', 'currency', 'country', 'payment_mode', 'timezone', 'created_at', 'status', 'modified_at', 'organisation', 'contact_info', 'partner_payload', 'max_channels', 'business_portfolio_id', 'auth_international_eligibility'];
const CHANNEL_KEYS = ['id', 'partner_id', 'client_id', 'phone_number', 'phone_number_id', 'waba_id', 'app_id', 'timezone', 'created_at', 'status', 'account_mode', 'setup_info', 'waba_account', 'integration', 'client'];

for (const dialect of DIALECTS) {
  describe(`tenants API [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    const admin = (payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` }) =>
      t.app.inject({ method: 'POST', url: '/admin/partners', headers, payload: payload as object });
    const req = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: unknown) =>
      t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

    async function newPartner(name = 'Partner') {
      const res = await admin({ name });
      assert.equal(res.statusCode, 201, res.body);
      const p = res.json() as { id: string; name: string; api_key: string };
      return { ...p, headers: { 'x-api-key': p.api_key } };
    }
    type Partner = Awaited<ReturnType<typeof newPartner>>;
    const validClient = { name: 'Acme GmbH', currency: 'EUR', country: 'DE', payment_mode: 'direct', timezone: 'Europe/Berlin' };
    async function newClient(p: Partner, body: Record<string, unknown> = validClient) {
      const res = await req('POST', `/api/v2/partners/${p.id}/clients`, p.headers, body);
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }
    let pn = 0;
    const channelBody = (over: Record<string, unknown> = {}) => ({ phone_number: '+49 30 1234567', phone_number_id: `${dialect}-tn-${++pn}`, waba_id: '102290129340398', app_id: '214', ...over });
    async function newChannel(p: Partner, clientId: string, over: Record<string, unknown> = {}) {
      const res = await req('POST', `/api/v2/partners/${p.id}/clients/${clientId}/channels`, p.headers, channelBody(over));
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }

    // ---- partners ---------------------------------------------------------------------------

    test('POST /admin/partners without the admin token → 401 envelope', async () => {
      for (const headers of [{}, { authorization: '' }, { authorization: ADMIN_TOKEN }, { authorization: `Basic ${ADMIN_TOKEN}` }, { 'x-api-key': ADMIN_TOKEN }] as Record<string, string>[]) {
        const meta = assertEnvelope(await admin({ name: 'x' }, headers), 401, 'unauthorized');
        assert.match(meta.developer_message, /admin token/i);
      }
    });

    test('POST /admin/partners with a wrong admin token → 401 envelope', async () => {
      for (const token of ['wrong', `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), ADMIN_TOKEN.toUpperCase()]) {
        assertEnvelope(await admin({ name: 'x' }, { authorization: `Bearer ${token}` }), 401, 'unauthorized');
      }
    });

    test('POST /admin/partners creates a partner: {id, name, api_key}', async () => {
      const res = await admin({ name: 'Umbrella Partners' });
      assert.equal(res.statusCode, 201, res.body);
      const p = res.json();
      assert.deepEqual(Object.keys(p), ['id', 'name', 'api_key']);
      assert.equal(p.name, 'Umbrella Partners');
      assert.match(p.id, /^[A-Za-z0-9]+PA$/);
      assert.equal(typeof p.api_key, 'string');
      assert.ok(p.api_key.length >= 24);
      // The key works right away.
      const list = await req('GET', `/api/v2/partners/${p.id}/clients`, { 'x-api-key': p.api_key });
      assert.equal(list.statusCode, 200, list.body);
      // Two partners never share an id or a key.
      const q = (await admin({ name: 'Umbrella Partners' })).json();
      assert.notEqual(q.id, p.id);
      assert.notEqual(q.api_key, p.api_key);
    });

    test('POST /admin/partners without a name → 400 naming name', async () => {
      assertNamesFields(await admin({}), ['name']);
      assertNamesFields(await admin({ name: '' }), ['name']);
      assertNamesFields(await admin({ title: 'x' }), ['name']);
      assertEnvelope(await admin(undefined), 400, 'invalid_parameter');
    });

    test('bodies that are not a JSON object → 400 envelope, never a 500', async () => {
      const raw = (payload: string, contentType = 'application/json') =>
        t.app.inject({ method: 'POST', url: '/admin/partners', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': contentType }, payload });
      assertEnvelope(await raw('{"name":'), 400, 'invalid_json');
      assertEnvelope(await raw(''), 400, 'invalid_json');
      for (const body of ['null', '[]', '42', '"P"']) assertEnvelope(await raw(body), 400, 'invalid_parameter');
      const plain = await raw('{"name":"P"}', 'text/plain');
      assert.ok(plain.statusCode >= 400 && plain.statusCode < 500, plain.body);
      assert.ok(plain.json().meta, 'error envelope');
    });

    // ---- clients ----------------------------------------------------------------------------

    test('clients are created and read back, one and as a list', async () => {
      const p = await newPartner();
      const a = await newClient(p, { name: 'A', currency: 'eur', country: 'de', payment_mode: 'direct', timezone: 'Europe/Berlin' });
      assert.deepEqual(Object.keys(a), CLIENT_KEYS);
      assert.match(a.id, /^[A-Za-z0-9]+CL$/);
      assert.deepEqual({ ...a, id: 'x', created_at: 'x', modified_at: 'x' }, {
        id: 'x', partner_id: p.id, name: 'A', currency: 'EUR', country: 'DE', payment_mode: 'direct', timezone: 'Europe/Berlin', created_at: 'x', status: 'active',
        modified_at: 'x', organisation: null, contact_info: {}, partner_payload: null, max_channels: DEFAULT_MAX_CHANNELS, business_portfolio_id: null, auth_international_eligibility: null,
      });
      assert.match(a.created_at, ISO_INSTANT);
      // Time zone defaults to UTC.
      const b = await newClient(p, { name: 'B', currency: 'USD', country: 'US', payment_mode: 'partner' });
      assert.equal(b.timezone, 'UTC');
      assert.equal(b.payment_mode, 'partner');

      const one = await req('GET', `/api/v2/partners/${p.id}/clients/${a.id}`, p.headers);
      assert.equal(one.statusCode, 200);
      assert.deepEqual(one.json(), a);

      const list = await req('GET', `/api/v2/partners/${p.id}/clients`, p.headers);
      assert.equal(list.statusCode, 200);
      const body = list.json();
      assert.deepEqual(Object.keys(body), ['count', 'filters', 'sort', 'limit', 'offset', 'total', 'clients']);
      assert.deepEqual(body, { count: 2, filters: {}, sort: ['created_at'], limit: 100, offset: 0, total: 2, clients: [a, b] });

      const page = (await req('GET', `/api/v2/partners/${p.id}/clients?limit=1&offset=1`, p.headers)).json();
      assert.deepEqual(page, { count: 1, filters: {}, sort: ['created_at'], limit: 1, offset: 1, total: 2, clients: [b] });
      const past = (await req('GET', `/api/v2/partners/${p.id}/clients?offset=5`, p.headers)).json();
      assert.deepEqual(past, { count: 0, filters: {}, sort: ['created_at'], limit: 100, offset: 5, total: 2, clients: [] });
      assertNamesFields(await req('GET', `/api/v2/partners/${p.id}/clients?limit=0`, p.headers), ['limit']);
      assertNamesFields(await req('GET', `/api/v2/partners/${p.id}/clients?offset=-1`, p.headers), ['offset']);

      // Another partner's list does not show them.
      const other = await newPartner();
      const theirs = (await req('GET', `/api/v2/partners/${other.id}/clients`, other.headers)).json();
      assert.equal(theirs.total, 0);
      assert.deepEqual(theirs.clients, []);
    });

    test('each bad client field → 400 naming it', async () => {
      const p = await newPartner();
      const post = (body: Record<string, unknown>) => req('POST', `/api/v2/partners/${p.id}/clients`, p.headers, body);
      assertNamesFields(await post({ ...validClient, currency: 'EURO' }), ['currency']);
      assertNamesFields(await post({ ...validClient, country: 'Germany' }), ['country']);
      assertNamesFields(await post({ ...validClient, payment_mode: 'x' }), ['payment_mode']);
      assertNamesFields(await post({ ...validClient, timezone: 'Mars/Base' }), ['timezone']);
      assertNamesFields(await post({ ...validClient, name: '' }), ['name']);
      const { currency: _c, ...noCurrency } = validClient;
      assertNamesFields(await post(noCurrency), ['currency']);
      // Nothing was created.
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients`, p.headers)).json().total, 0);
    });

    test('several bad client fields at once → one 400 naming every one of them', async () => {
      const p = await newPartner();
      const res = await req('POST', `/api/v2/partners/${p.id}/clients`, p.headers, { name: 'x', currency: 'EURO', country: 'Germany', payment_mode: 'x', timezone: 'Mars/Base' });
      assertNamesFields(res, ['currency', 'country', 'payment_mode', 'timezone']);
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients`, p.headers)).json().total, 0);
    });

    // ---- channels ---------------------------------------------------------------------------

    test('channels are created and read back, one and as a list, in 360dialog\'s nested shape too', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const res = await req('POST', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers, { phone_number: '+49 30 1234567', phone_number_id: `${dialect}-ch-a`, waba_id: '102290129340398', app_id: '214' });
      assert.equal(res.statusCode, 201, res.body);
      const created = res.json();
      assert.deepEqual(Object.keys(created), [...CHANNEL_KEYS, 'replayed_statuses']);
      assert.equal(created.replayed_statuses, 0);
      const { replayed_statuses: _r, ...a } = created;
      assert.match(a.id, /^[A-Za-z0-9]+CH$/);
      assert.match(a.created_at, ISO_INSTANT);
      assert.deepEqual({ ...a, id: 'x', created_at: 'x' }, {
        id: 'x', partner_id: p.id, client_id: c.id, phone_number: '+49 30 1234567', phone_number_id: `${dialect}-ch-a`,
        waba_id: '102290129340398', app_id: '214',
        timezone: 'Europe/Berlin', // the client's, when the channel names none
        created_at: 'x', status: 'ready', account_mode: 'live',
        setup_info: { phone_number: '+49 30 1234567' }, waba_account: { id: '102290129340398', fb_account_status: 'verified' }, integration: { app_id: '214' },
        client: { id: c.id, name: c.name, partner_payload: null, contact_info: {} },
      });
      const b = await newChannel(p, c.id, { timezone: 'Asia/Kolkata', app_id: '231' });
      assert.equal(b.timezone, 'Asia/Kolkata');
      delete b.replayed_statuses;

      const one = await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels/${a.id}`, p.headers);
      assert.equal(one.statusCode, 200);
      assert.deepEqual(one.json(), a);

      const list = await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers);
      assert.equal(list.statusCode, 200);
      const body = list.json();
      assert.deepEqual(Object.keys(body), ['count', 'filters', 'sort', 'limit', 'offset', 'total', 'partner_channels']);
      assert.deepEqual(body, { count: 2, filters: {}, sort: ['created_at'], limit: 100, offset: 0, total: 2, partner_channels: [a, b] });
      assert.equal(body.partner_channels[0].waba_account.id, '102290129340398');
      const page = (await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels?limit=1`, p.headers)).json();
      assert.deepEqual(page, { count: 1, filters: {}, sort: ['created_at'], limit: 1, offset: 0, total: 2, partner_channels: [a] });

      // Another client of the same partner has its own (empty) list.
      const c2 = await newClient(p);
      assert.deepEqual((await req('GET', `/api/v2/partners/${p.id}/clients/${c2.id}/channels`, p.headers)).json().partner_channels, []);
    });

    test('each bad channel field → 400 naming it', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const post = (body: Record<string, unknown>) => req('POST', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers, body);
      assertNamesFields(await post(channelBody({ phone_number: 'call me' })), ['phone_number']);
      assertNamesFields(await post(channelBody({ phone_number_id: 'has space' })), ['phone_number_id']);
      assertNamesFields(await post(channelBody({ waba_id: '' })), ['waba_id']);
      assertNamesFields(await post(channelBody({ app_id: 'a/b' })), ['app_id']);
      assertNamesFields(await post(channelBody({ timezone: 'Mars/Base' })), ['timezone']);
      const { app_id: _a, ...noApp } = channelBody();
      assertNamesFields(await post(noApp), ['app_id']);
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers)).json().total, 0);
    });

    test('a phone_number_id already registered → 409, for this partner and for any other (which is not told whose it is)', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const ch = await newChannel(p, c.id);
      const again = await req('POST', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers, channelBody({ phone_number_id: ch.phone_number_id }));
      const meta = assertEnvelope(again, 409, 'conflict');
      assert.match(meta.developer_message, new RegExp(ch.phone_number_id));
      const c2 = await newClient(p);
      assertEnvelope(await req('POST', `/api/v2/partners/${p.id}/clients/${c2.id}/channels`, p.headers, channelBody({ phone_number_id: ch.phone_number_id })), 409, 'conflict');
      const other = await newPartner();
      const oc = await newClient(other);
      assertEnvelope(await req('POST', `/api/v2/partners/${other.id}/clients/${oc.id}/channels`, other.headers, channelBody({ phone_number_id: ch.phone_number_id })), 409, 'phone_number_unavailable');
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers)).json().total, 1);
    });

    test('concurrent registrations of one phone_number_id → one 201, the others 409 (never a 500)', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const body = channelBody();
      // A webhook flush holding the meter's write slot (as under steady webhook traffic) lets every
      // request pass its "already registered?" read before any of them inserts: the loser of the
      // insert race must still get a 409, not a unique-constraint 500.
      const flush = t.services.queue.exclusive(() => new Promise((resolve) => setTimeout(resolve, 300)));
      const results = await Promise.all(Array.from({ length: 8 }, () => req('POST', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers, body)));
      await flush;
      const codes = results.map((r) => r.statusCode).sort();
      assert.deepEqual(codes, [201, 409, 409, 409, 409, 409, 409, 409], results.map((r) => `${r.statusCode} ${r.body.slice(0, 120)}`).join('\n'));
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers)).json().total, 1);
    });

    // ---- auth -------------------------------------------------------------------------------

    /** Every partner route, for partner `p` with client `c` and channel `ch`. */
    function routes(p: { id: string }, c: { id: string }, ch: { id: string }) {
      return [
        ['GET', `/api/v2/partners/${p.id}/clients`, undefined],
        ['POST', `/api/v2/partners/${p.id}/clients`, validClient],
        ['GET', `/api/v2/partners/${p.id}/clients/${c.id}`, undefined],
        ['GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, undefined],
        ['POST', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, channelBody()],
        ['GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels/${ch.id}`, undefined],
        ['GET', `/api/v2/partners/${p.id}/clients/${c.id}/info/balance`, undefined],
        ['GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels/${ch.id}/info/balance`, undefined],
      ] as const;
    }

    test("another partner's key on this partner's paths → 404, never 403, and nothing is created", async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const ch = await newChannel(p, c.id);
      const other = await newPartner();
      for (const [method, url, body] of routes(p, c, ch)) {
        const res = await req(method, url, other.headers, body);
        const meta = assertEnvelope(res, 404, 'not_found');
        assert.ok(!JSON.stringify(meta).includes(p.id), `${method} ${url}: the other partner's id does not leak`);
      }
      // An id no partner has → the same 404.
      assertEnvelope(await req('GET', '/api/v2/partners/nosuchPA/clients', other.headers), 404, 'not_found');
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients`, p.headers)).json().total, 1);
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients/${c.id}/channels`, p.headers)).json().total, 1);
    });

    test('no key, an empty key or an unknown key → 401 on every partner route', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const ch = await newChannel(p, c.id);
      for (const [method, url, body] of routes(p, c, ch)) {
        for (const headers of [{}, { 'x-api-key': '' }, { 'x-api-key': 'wbm_not-a-key' }, { 'x-api-key': p.api_key.slice(0, -1) }] as Record<string, string>[]) {
          const meta = assertEnvelope(await req(method, url, headers, body), 401, 'unauthorized');
          assert.ok(meta.developer_message.length > 0);
        }
      }
      const meta = assertEnvelope(await req('GET', `/api/v2/partners/${p.id}/clients`, {}), 401, 'unauthorized');
      assert.match(meta.developer_message, /X-API-Key/);
    });

    test('the key in D360-API-KEY or as a Bearer token → 401 whose developer_message names X-API-Key', async () => {
      const p = await newPartner();
      const url = `/api/v2/partners/${p.id}/clients`;
      const d360 = assertEnvelope(await req('GET', url, { 'd360-api-key': p.api_key }), 401, 'unauthorized');
      assert.match(d360.developer_message, /X-API-Key/);
      const D360 = assertEnvelope(await req('GET', url, { 'D360-API-KEY': p.api_key }), 401, 'unauthorized');
      assert.match(D360.developer_message, /X-API-Key/);
      const bearer = assertEnvelope(await req('GET', url, { authorization: `Bearer ${p.api_key}` }), 401, 'unauthorized');
      assert.match(bearer.developer_message, /X-API-Key/);
    });

    test('unknown client and channel ids → 404', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const ch = await newChannel(p, c.id);
      const c2 = await newClient(p);
      const base = `/api/v2/partners/${p.id}/clients`;
      const cases: [string, string, unknown][] = [
        ['GET', `${base}/nosuchCL`, undefined],
        ['GET', `${base}/nosuchCL/channels`, undefined],
        ['POST', `${base}/nosuchCL/channels`, channelBody()],
        ['GET', `${base}/nosuchCL/channels/${ch.id}`, undefined],
        ['GET', `${base}/nosuchCL/info/balance`, undefined],
        ['GET', `${base}/${c.id}/channels/nosuchCH`, undefined],
        ['GET', `${base}/${c.id}/channels/nosuchCH/info/balance`, undefined],
        // A real channel under the wrong client of the same partner.
        ['GET', `${base}/${c2.id}/channels/${ch.id}`, undefined],
        ['GET', `${base}/${c2.id}/channels/${ch.id}/info/balance`, undefined],
      ];
      for (const [method, url, body] of cases) {
        assertEnvelope(await req(method as 'GET' | 'POST', url, p.headers, body), 404, 'not_found');
      }
      // Ids that cannot be ids → 400, not a lookup.
      assertEnvelope(await req('GET', `${base}/not%20an%20id`, p.headers), 400, 'invalid_parameter');
    });

    test('the API key is never returned by GET routes', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const ch = await newChannel(p, c.id);
      const hash = createHash('sha256').update(p.api_key).digest('hex');
      const base = `/api/v2/partners/${p.id}/clients`;
      for (const url of [base, `${base}/${c.id}`, `${base}/${c.id}/channels`, `${base}/${c.id}/channels/${ch.id}`, `${base}/${c.id}/info/balance`, `${base}/${c.id}/channels/${ch.id}/info/balance`]) {
        const res = await req('GET', url, p.headers);
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        assert.ok(!res.body.includes(p.api_key), `${url} returns the key`);
        assert.ok(!res.body.includes(hash), `${url} returns the key's hash`);
        assert.ok(!/api_key|key_hash/.test(res.body), `${url} has a key field`);
        for (const [name, value] of Object.entries(res.headers)) assert.ok(!String(value).includes(p.api_key), `header ${name}`);
      }
    });
  });
}
