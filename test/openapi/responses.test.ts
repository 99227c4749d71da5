/**
 * Real responses against the document, on SQLite and PostgreSQL: a scenario drives every
 * operation of /openapi.json over the real app (partner, clients, channels, keys, users and
 * tokens; every webhook fixture; balance, charges, tiers, usage, lists; rate cards and volume
 * tiers; 400/401/403/404/413/415/429 errors), and each response is validated with Ajv
 * (JSON Schema 2020-12) against the schema the document gives for its operation, status and
 * media type, with every field it carries documented.
 *
 * Then, over the document itself: every operation documents a body schema for its 2xx status
 * (or is a 204), every operation was exercised with a 2xx, and every secured operation refuses a
 * request without credentials with a 401 while public ones do not. A route added later without
 * response schemas, or without a step here, fails these tests by name.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { INDIA_UTILITY_TIERS, META_CARD_USD } from '../rates/fixtures.ts';
import { checkResponse, fetchDocument, hasBodySchema, is2xx, operationsOf, schemaValidator, type Checked, type OpenApiDocument } from './support.ts';

const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const VERIFY_TOKEN = 'openapi-verify-token';
const BALANCE_LIMIT = 10;
const FIXTURES = new URL('../fixtures/', import.meta.url);

/** Every webhook body of test/fixtures/webhooks and test/fixtures/account-update, as bytes. */
function webhookFixtures(): { name: string; raw: Buffer }[] {
  const out: { name: string; raw: Buffer }[] = [];
  for (const dir of ['webhooks', 'account-update']) {
    const root = new URL(`${dir}/`, FIXTURES);
    for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.json')) continue;
      const path = `${entry.parentPath ?? (entry as unknown as { path: string }).path}/${entry.name}`;
      out.push({ name: path.slice(path.indexOf('fixtures/')), raw: readFileSync(path) });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The (phone_number_id, WABA) pairs the fixtures post to, so their statuses land on channels. */
function fixtureChannels(fixtures: { raw: Buffer }[]): { phoneNumberId: string; wabaId: string }[] {
  const pairs = new Map<string, string>();
  for (const f of fixtures) {
    let body: { entry?: { id?: unknown; changes?: { value?: { metadata?: { phone_number_id?: unknown } } }[] }[] };
    try {
      body = JSON.parse(f.raw.toString('utf8'));
    } catch {
      continue;
    }
    for (const e of body.entry ?? []) {
      for (const c of e.changes ?? []) {
        const id = c.value?.metadata?.phone_number_id;
        if (typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) && !pairs.has(id)) pairs.set(id, String(e.id));
      }
    }
  }
  return [...pairs].map(([phoneNumberId, wabaId]) => ({ phoneNumberId, wabaId: /^[A-Za-z0-9_-]{1,64}$/.test(wabaId) ? wabaId : 'WABA' }));
}

for (const dialect of DIALECTS) {
  describe(`real responses validate against /openapi.json [${dialect}]`, () => {
    let t: TestApp;
    let doc: OpenApiDocument;
    let v: ReturnType<typeof schemaValidator>;
    const checked: Checked[] = [];

    before(async () => {
      // A balance limit the scenario's own reads stay under, reached on purpose by a client of its own.
      t = await startApp(dialect, { verifyToken: VERIFY_TOKEN, balanceRateLimit: { limit: BALANCE_LIMIT, windowMs: 60_000 } });
      doc = await fetchDocument(t.app);
      v = schemaValidator();
    });
    after(async () => { await t.close(); });

    /** One request; its response is checked against the document, and its status returned for the scenario to assert. */
    async function call(method: string, url: string, opts: { headers?: Record<string, string>; payload?: unknown } = {}): Promise<LightMyRequestResponse> {
      const payload = opts.payload === undefined || typeof opts.payload === 'string' || Buffer.isBuffer(opts.payload) ? opts.payload : JSON.stringify(opts.payload);
      const headers = { ...(opts.payload !== undefined && typeof opts.payload === 'object' && !Buffer.isBuffer(opts.payload) ? { 'content-type': 'application/json' } : {}), ...opts.headers };
      const res = await t.app.inject({ method: method as 'GET', url, headers, payload: payload as string | Buffer | undefined });
      checked.push(checkResponse(doc, v, method, url, res));
      return res;
    }
    const expect = (res: LightMyRequestResponse, status: number) => {
      assert.equal(res.statusCode, status, `${res.statusCode}: ${res.body.slice(0, 400)}`);
      return res.json();
    };

    let partner: { id: string; api_key: string };
    let key: Record<string, string>;
    let P: string;
    let client: { id: string };
    let channel: { id: string };

    test('service routes', async () => {
      expect(await call('GET', '/healthz'), 200);
      expect(await call('GET', '/openapi.json'), 200);
    });

    test('partners, clients, channels and the lists', async () => {
      partner = expect(await call('POST', '/admin/partners', { headers: ADMIN, payload: { name: 'OpenAPI partner' } }), 201);
      key = { 'x-api-key': partner.api_key };
      P = `/api/v2/partners/${partner.id}`;
      client = expect(await call('POST', `${P}/clients`, { headers: key, payload: { name: 'Shop', currency: 'USD', country: 'IN', payment_mode: 'direct', timezone: 'Asia/Kolkata' } }), 201);
      expect(await call('POST', `${P}/clients`, {
        headers: key,
        payload: { name: 'Other', currency: 'eur', country: 'DE', payment_mode: 'partner', business_portfolio_id: 'BP1', auth_international_eligibility: { start_time: 1719792000, exception_countries: [{ country_code: 'ID', start_time: 1717200000 }] } },
      }), 201);
      expect(await call('PATCH', `${P}/clients/${client.id}`, { headers: key, payload: { name: 'Shop renamed', business_portfolio_id: 'BP-OPENAPI' } }), 200);
      expect(await call('GET', `${P}/clients/${client.id}`, { headers: key }), 200);
      for (const { phoneNumberId, wabaId } of fixtureChannels(webhookFixtures())) {
        const created = expect(await call('POST', `${P}/clients/${client.id}/channels`, {
          headers: key, payload: { phone_number: '+91 98765 43210', phone_number_id: phoneNumberId, waba_id: wabaId, app_id: '214', timezone: 'Asia/Kolkata' },
        }), 201);
        channel ??= created;
      }
      expect(await call('GET', `${P}/clients/${client.id}/channels/${channel.id}`, { headers: key }), 200);
      expect(await call('GET', `${P}/clients?limit=1&offset=0&sort=-created_at`, { headers: key }), 200);
      expect(await call('GET', `${P}/clients?filters=${encodeURIComponent("{'name': 'Other'}")}`, { headers: key }), 200);
      expect(await call('GET', `${P}/clients/${client.id}/channels?sort=-created_at`, { headers: key }), 200);
      expect(await call('GET', `${P}/channels?limit=2`, { headers: key }), 200);
    });

    test("the partner's own record, registration conflicts, and the operations not served here", async () => {
      expect(await call('GET', P, { headers: key }), 200);
      expect(await call('PATCH', P, { headers: key, payload: { partner_redirect_url: 'https://partner.example/back', webhook_url: null } }), 200);
      expect(await call('POST', `${P}/webhook_url`, { headers: key, payload: { webhook_url: 'https://partner.example/hooks' } }), 200);
      expect(await call('GET', `${P}/webhook_url`, { headers: key }), 200);
      expect(await call('POST', `${P}/webhook_url`, { headers: key, payload: { webhook_url: 'ftp://x' } }), 400);
      // Another partner claims a number this partner holds: refused, and listed for the operator.
      const other = expect(await call('POST', '/admin/partners', { headers: ADMIN, payload: { name: 'Claimant' } }), 201);
      const otherKey = { 'x-api-key': other.api_key };
      const theirs = expect(await call('POST', `/api/v2/partners/${other.id}/clients`, { headers: otherKey, payload: { name: 'C', currency: 'USD', country: 'US', payment_mode: 'direct' } }), 201);
      const held = expect(await call('GET', `${P}/clients/${client.id}/channels/${channel.id}`, { headers: key }), 200);
      expect(await call('POST', `/api/v2/partners/${other.id}/clients/${theirs.id}/channels`, {
        headers: otherKey, payload: { phone_number: '+1 202 555 0100', phone_number_id: held.phone_number_id, waba_id: 'W', app_id: '1' },
      }), 409);
      expect(await call('GET', '/admin/registration-conflicts', { headers: ADMIN }), 200);
      // Every 501 operation in the document, called as partner code would.
      for (const { method, path } of operationsOf(doc).filter(({ op }) => op.responses['501'])) {
        const url = path.replace('{partner_id}', partner.id).replace('{client_id}', client.id).replace('{channel_id}', channel.id).replace(/\{[^}]+\}/g, 'X1');
        expect(await call(method, url, { headers: key, ...(method === 'POST' ? { payload: {} } : {}) }), 501);
      }
    });

    test('webhooks: the handshake, every fixture, an On-Premises body, bad bodies', async () => {
      const ok = await call('GET', `/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${VERIFY_TOKEN}`);
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.body, '1158201444');
      expect(await call('GET', '/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong'), 403);
      let accepted = 0;
      for (const f of webhookFixtures()) {
        const res = await call('POST', '/webhooks/whatsapp', { headers: { 'content-type': 'application/json' }, payload: f.raw });
        assert.ok(res.statusCode === 200 || res.statusCode === 400, `${f.name}: ${res.statusCode} ${res.body.slice(0, 300)}`);
        if (res.statusCode === 200) accepted++;
      }
      assert.ok(accepted > 20, `${accepted} fixtures accepted`);
      const onPrem = { statuses: [{ id: 'gBEGkYiEB1VXAglK1ZEqA1YKPrU', status: 'delivered', timestamp: '1762419990', recipient_id: '919876543210', pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' } }] };
      expect(await call('POST', '/webhooks/whatsapp/106540352242922', { payload: onPrem }), 200);
      expect(await call('POST', '/webhooks/whatsapp', { headers: { 'content-type': 'application/json' }, payload: '{"object":' }), 400);
      expect(await call('POST', '/webhooks/whatsapp'), 400);
      expect(await call('POST', '/webhooks/whatsapp/not%20an%20id', { payload: onPrem }), 400);
    });

    test('balance, charges, tiers and usage', async () => {
      const C = `${P}/clients/${client.id}`;
      const month = expect(await call('GET', `${C}/info/balance`, { headers: key }), 200);
      assert.ok(month.usage.length > 0, 'the fixtures made usage');
      expect(await call('GET', `${C}/info/balance?start_date=1640995200&end_date=1798761600&granularity=DAY&app_ids=214,231`, { headers: key }), 200);
      expect(await call('GET', `${C}/channels/${channel.id}/info/balance?granularity=month&app_id=214`, { headers: key }), 200);
      const charges = expect(await call('GET', `${C}/info/charges`, { headers: key }), 200);
      assert.ok(charges.charges.length > 0, 'the fixtures made charges');
      expect(await call('GET', `${C}/channels/${channel.id}/info/charges?start_date=0&end_date=4102358400`, { headers: key }), 200);
      const tiers = expect(await call('GET', `${C}/info/tiers`, { headers: key }), 200);
      assert.ok(tiers.tiers.length > 0, 'the account_update fixtures announced tiers');
      expect(await call('GET', `${C}/info/tiers?month=2025-11`, { headers: key }), 200);
      expect(await call('GET', `${C}/channels/${channel.id}/info/usage?granularity=month&country_codes=IN,DE`, { headers: key }), 200);
      expect(await call('GET', `${C}/channels/${channel.id}/info/usage?granularity=half_hour&start_date=1762387200&end_date=1762473600`, { headers: key }), 200);
    });

    test('rate cards and volume tiers', async () => {
      const csv = { ...ADMIN, 'content-type': 'text/csv' };
      expect(await call('POST', '/admin/rate-cards?effective_from=2026-10-01&unit=message&filename=usd.csv', { headers: csv, payload: META_CARD_USD }), 201);
      expect(await call('POST', '/admin/volume-tiers?effective_from=2026-10-01', { headers: csv, payload: INDIA_UTILITY_TIERS }), 201);
      expect(await call('GET', '/admin/rate-cards', { headers: ADMIN }), 200);
      expect(await call('GET', '/admin/rate-cards?market=India&currency=usd&unit=message', { headers: ADMIN }), 200);
      expect(await call('GET', '/admin/volume-tiers', { headers: ADMIN }), 200);
      expect(await call('GET', '/admin/volume-tiers?market=India&category=utility', { headers: ADMIN }), 200);
      expect(await call('POST', '/admin/rate-cards?effective_from=2026-10-01&unit=message', { headers: csv, payload: 'foo,bar\n1,2\n' }), 400);
      expect(await call('POST', '/admin/rate-cards?effective_from=2026-10-01&unit=message', { headers: ADMIN, payload: { a: 1 } }), 415);
    });

    test('API keys, partner users and tokens', async () => {
      const created = expect(await call('POST', `${P}/api_keys`, { headers: key, payload: { name: 'ci' } }), 201);
      expect(await call('GET', `${P}/api_keys`, { headers: key }), 200);
      const res = await call('DELETE', `${P}/api_keys/${created.id}`, { headers: key });
      assert.equal(res.statusCode, 204, res.body);
      expect(await call('GET', `${P}/api_keys`, { headers: { 'x-api-key': created.api_key } }), 401);
      expect(await call('POST', `/admin/partners/${partner.id}/api_keys`, { headers: ADMIN, payload: { name: 'recovery' } }), 201);
      const user = expect(await call('POST', `/admin/partners/${partner.id}/users`, { headers: ADMIN, payload: { username: 'openapi-user', password: 'correct horse battery' } }), 201);
      expect(await call('GET', `/admin/partners/${partner.id}/users`, { headers: ADMIN }), 200);
      const pair = expect(await call('POST', '/api/v2/token', { payload: { username: 'openapi-user', password: 'correct horse battery' } }), 200);
      expect(await call('GET', `${P}/clients/${client.id}`, { headers: { authorization: `Bearer ${pair.access_token}` } }), 200);
      expect(await call('POST', '/api/v2/token', { payload: { refresh_token: pair.refresh_token } }), 200);
      expect(await call('POST', '/api/v2/token', { payload: { username: 'openapi-user', password: 'wrong password' } }), 401);
      expect(await call('POST', '/api/v2/token', { payload: {} }), 400);
      // Channel API keys: created, listed, used on their channel (403 beyond it), revoked.
      const CK = `${P}/channels/${channel.id}/api_keys`;
      const ck = expect(await call('POST', CK, { headers: key, payload: { name: 'reporting' } }), 201);
      expect(await call('GET', CK, { headers: key }), 200);
      expect(await call('GET', `${P}/clients/${client.id}/channels/${channel.id}/info/balance`, { headers: { 'd360-api-key': ck.api_key } }), 200);
      expect(await call('GET', `${P}/clients/${client.id}/info/balance`, { headers: { 'x-api-key': ck.api_key } }), 403);
      expect(await call('DELETE', `${CK}/${ck.id}`, { headers: key }), 200);
      expect(await call('DELETE', CK, { headers: key }), 200);
      const revoked = await call('DELETE', `/admin/partners/${partner.id}/users/${user.id}`, { headers: ADMIN });
      assert.equal(revoked.statusCode, 204, revoked.body);
    });

    test('errors: 400, 401, 404, 413, 415, 429 in the envelope', async () => {
      const C = `${P}/clients/${client.id}`;
      expect(await call('GET', `${C}/info/balance?start_date=abc&granularity=week`, { headers: key }), 400);
      expect(await call('GET', `${C}/info/balance?start_date=2000&end_date=1000`, { headers: key }), 400);
      expect(await call('GET', `${C}/info/charges?end_date=-1`, { headers: key }), 400);
      expect(await call('GET', `${C}/info/tiers?month=2025-13`, { headers: key }), 400);
      expect(await call('POST', `${P}/clients`, { headers: key, payload: { name: '', currency: 'XXX1', country: 'ZZ', payment_mode: 'cash' } }), 400);
      expect(await call('GET', `${C}/info/balance`), 401);
      expect(await call('GET', `${C}/info/balance`, { headers: { 'd360-api-key': 'x' } }), 401);
      expect(await call('GET', '/admin/rate-cards'), 401);
      expect(await call('GET', `${P}/clients/nope`, { headers: key }), 404);
      expect(await call('GET', `${C}/channels/nope/info/balance`, { headers: key }), 404);
      expect(await call('POST', '/admin/partners', { headers: { ...ADMIN, 'content-type': 'application/xml' }, payload: '<name>x</name>' }), 415);
      expect(await call('POST', '/admin/partners', { headers: ADMIN, payload: { name: 'x'.repeat(2 * 1024 * 1024) } }), 413);
      // The balance limit, on a client of its own.
      const fresh = expect(await call('POST', `${P}/clients`, { headers: key, payload: { name: 'Limited', currency: 'USD', country: 'US', payment_mode: 'direct' } }), 201);
      let limited: LightMyRequestResponse | undefined;
      for (let i = 0; i <= BALANCE_LIMIT && !limited; i++) {
        const res = await call('GET', `${P}/clients/${fresh.id}/info/balance`, { headers: key });
        if (res.statusCode === 429) limited = res;
        else expect(res, 200);
      }
      assert.ok(limited, `no 429 within ${BALANCE_LIMIT + 1} requests`);
      assert.ok(Number(limited.headers['retry-after']) >= 1);
    });

    /** Operations of a messaging provider: documented with their 501, and no 2xx. */
    const notServed = (op: { responses: Record<string, unknown> }) => op.responses['501'] !== undefined && !Object.keys(op.responses).some(is2xx);

    test('every operation documents a body schema for its 2xx status (or is a 204), or is one not served here (501)', () => {
      const missing: string[] = [];
      for (const { method, path, op } of operationsOf(doc)) {
        if (notServed(op)) continue;
        const success = Object.entries(op.responses).filter(([k]) => is2xx(k));
        const ok = success.length > 0 && success.every(([k, r]) => k === '204' || hasBodySchema(r));
        if (!ok) missing.push(`${method} ${path} (${success.map(([k]) => k).join(', ') || 'no 2xx'})`);
      }
      assert.deepEqual(missing, [], `operations without a 2xx response schema:\n${missing.join('\n')}`);
    });

    test('every operation was exercised with a 2xx response, and checked', () => {
      const seen = new Set(checked.filter((c) => (c.status >= 200 && c.status < 300) || c.status === 501).map((c) => `${c.method} ${c.path}`));
      const notExercised = operationsOf(doc).map((o) => `${o.method} ${o.path}`).filter((k) => !seen.has(k));
      assert.deepEqual(notExercised, [], `add a step to this scenario for:\n${notExercised.join('\n')}`);
      const statuses = new Set(checked.map((c) => c.status));
      for (const s of [200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 429, 501]) assert.ok(statuses.has(s), `status ${s} exercised`);
    });

    test('secured operations answer 401 without credentials; public ones do not', async () => {
      const ids: Record<string, string> = { partner_id: partner.id, client_id: client.id, channel_id: channel.id };
      for (const { method, path, op } of operationsOf(doc)) {
        const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => ids[name] ?? 'unknown');
        const res = await call(method, url);
        if ((op.security ?? []).length > 0) assert.equal(res.statusCode, 401, `${method} ${path}: ${res.body.slice(0, 200)}`);
        else assert.notEqual(res.statusCode, 401, `${method} ${path} is documented as public`);
      }
    });
  });
}
