/**
 * What real 360dialog Partner API client libraries (a typed C# client, a Python integration, a
 * PHP plugin) broke on, each as the request such a library sends and the response it needs,
 * over real HTTP on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryRateLimitStore, type RateLimitDecision, type RateLimitRule } from '../../src/api/rate-limit.ts';
import { ADMIN_TOKEN, assertEnvelope, DIALECTS, startApp, type TestApp } from '../helpers.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** A real in-memory store that remembers every bucket a request opened. */
class RecordingRateLimitStore extends MemoryRateLimitStore {
  readonly keys: string[] = [];
  override async hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision> {
    this.keys.push(key);
    return super.hit(key, rule, nowMs);
  }
}

for (const dialect of DIALECTS) {
  describe(`drop-in for partner client libraries [${dialect}]`, () => {
    let t: TestApp;
    const buckets = new RecordingRateLimitStore();
    let P: { id: string; headers: Record<string, string> };
    let Q: { id: string; headers: Record<string, string> };

    const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers = P.headers) =>
      t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    const ok = async (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, headers = P.headers, status = 200) => {
      const res = await req(method, url, payload, headers);
      assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
      return res.json();
    };
    async function partner(name: string) {
      const res = await t.app.inject({ method: 'POST', url: '/admin/partners', headers: admin, payload: { name } });
      assert.equal(res.statusCode, 201, res.body);
      const p = res.json();
      return { id: p.id as string, headers: { 'x-api-key': p.api_key as string } };
    }
    const newClient = (p: typeof P, body: Record<string, unknown>) =>
      ok('POST', `/api/v2/partners/${p.id}/clients`, { currency: 'EUR', country: 'DE', payment_mode: 'direct', ...body }, p.headers, 201);
    const newChannel = (p: typeof P, clientId: string, body: Record<string, unknown>) =>
      ok('POST', `/api/v2/partners/${p.id}/clients/${clientId}/channels`, { app_id: '214', waba_id: '900', ...body }, p.headers, 201);

    before(async () => {
      // The service's real limit (5 per 30 s), on a store the test can look into.
      t = await startApp(dialect, { balanceRateLimit: { limit: 5, windowMs: 30_000 }, rateLimitStore: buckets });
      P = await partner('Acme');
      Q = await partner('Other');
    });
    after(() => t.close());

    describe('info/balance', () => {
      test('balance is always a number (0 while nothing is booked), never null: the typed client reads it as a decimal', async () => {
        const c = await newClient(P, { name: 'Balance Shop' });
        const ch = await newChannel(P, c.id, { phone_number: '+49 30 5550001', phone_number_id: `bal-${dialect}` });
        for (const url of [`/api/v2/partners/${P.id}/clients/${c.id}/info/balance`, `/api/v2/partners/${P.id}/clients/${c.id}/channels/${ch.id}/info/balance`]) {
          const body = await ok('GET', url);
          assert.equal(typeof body.balance, 'number', url);
          assert.equal(body.balance, 0);
          assert.equal(body.last_renewal, null);
        }
      });

      test('a request for an unknown client is a 404 that opens no rate-limit bucket for that id, however often it is sent', async () => {
        const before = buckets.keys.length;
        for (let i = 0; i < 8; i++) {
          assertEnvelope(await req('GET', `/api/v2/partners/${P.id}/clients/nosuchCL/info/balance`), 404, 'not_found');
        }
        const c = await newClient(P, { name: 'Channel probe' });
        for (let i = 0; i < 8; i++) {
          assertEnvelope(await req('GET', `/api/v2/partners/${P.id}/clients/${c.id}/channels/nosuchCH/info/balance`), 404, 'not_found');
        }
        // Another partner naming a real client of P: 404 too, and P's client keeps its quota.
        for (let i = 0; i < 8; i++) {
          assertEnvelope(await req('GET', `/api/v2/partners/${Q.id}/clients/${c.id}/info/balance`, undefined, Q.headers), 404);
        }
        assert.deepEqual(buckets.keys.slice(before), []);
        const res = await req('GET', `/api/v2/partners/${P.id}/clients/${c.id}/info/balance`);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-ratelimit-remaining'], '4');
      });
    });

    describe('client attributes that partner code sets and filters on', () => {
      test('organisation, contact_info, partner_payload and max_channels are stored on create and returned everywhere', async () => {
        const created = await newClient(P, {
          name: 'Attr Shop', organisation: 'Attr GmbH', partner_payload: 'crm-4711', max_channels: 3,
          contact_info: { email: 'Ops@Attr.example', full_name: 'Ana Ops', phone: '+49 30 1234' },
        });
        assert.equal(created.organisation, 'Attr GmbH');
        assert.equal(created.partner_payload, 'crm-4711');
        assert.equal(created.max_channels, 3);
        assert.deepEqual(created.contact_info, { email: 'Ops@Attr.example', full_name: 'Ana Ops', phone: '+49 30 1234' });
        assert.equal(created.modified_at, created.created_at);
        const read = await ok('GET', `/api/v2/partners/${P.id}/clients/${created.id}`);
        assert.deepEqual(read, created);
        const listed = (await ok('GET', `/api/v2/partners/${P.id}/clients?${new URLSearchParams({ filters: JSON.stringify({ id: created.id }) })}`)).clients;
        assert.deepEqual(listed, [created]);
      });

      test('a client created without them has contact_info {} and the default max_channels: never null where a typed client reads an int', async () => {
        const c = await newClient(P, { name: 'Plain' });
        assert.deepEqual(c.contact_info, {});
        assert.equal(c.organisation, null);
        assert.equal(c.partner_payload, null);
        assert.equal(Number.isInteger(c.max_channels), true);
      });

      test('PATCH as the typed client sends it ({"partner_payload", "max_channels": null}): null leaves a field unchanged', async () => {
        const c = await newClient(P, { name: 'Patch Shop', organisation: 'Keep Ltd', max_channels: 7 });
        const patched = await ok('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { partner_payload: 'ref-1', max_channels: null });
        assert.equal(patched.partner_payload, 'ref-1');
        assert.equal(patched.max_channels, 7, 'null = unchanged');
        assert.equal(patched.organisation, 'Keep Ltd');
        assert.equal(patched.name, 'Patch Shop');
        assert.ok(patched.modified_at >= patched.created_at);
        const again = await ok('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { organisation: null, partner_payload: null, name: null, contact_info: null, max_channels: 9 });
        assert.equal(again.max_channels, 9);
        assert.equal(again.organisation, 'Keep Ltd');
        assert.equal(again.partner_payload, 'ref-1');
      });

      test('PATCH: "" clears a text field; contact_info merges key by key and null or "" removes a key', async () => {
        const c = await newClient(P, { name: 'Merge Shop', organisation: 'Org', contact_info: { email: 'a@merge.example', phone: '+1 555 0100' } });
        const patched = await ok('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { organisation: '', contact_info: { full_name: 'Bo', phone: null } });
        assert.equal(patched.organisation, null);
        assert.deepEqual(patched.contact_info, { email: 'a@merge.example', full_name: 'Bo' });
        const cleared = await ok('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { contact_info: { email: '', full_name: null } });
        assert.deepEqual(cleared.contact_info, {});
      });

      test('bad attribute values and unknown contact keys are 400s naming the field, and change nothing', async () => {
        const c = await newClient(P, { name: 'Strict Shop', max_channels: 2 });
        const res = await req('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { max_channels: 0, contact_info: { shoe_size: '44' }, organisation: 'x'.repeat(201) });
        const meta = assertEnvelope(res, 400, 'invalid_parameter');
        for (const f of ['max_channels', 'contact_info', 'organisation']) assert.ok(meta.details.some((d) => d.startsWith(f)), `${f}: ${meta.details}`);
        assert.equal((await ok('GET', `/api/v2/partners/${P.id}/clients/${c.id}`)).max_channels, 2);
        assertEnvelope(await req('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { status: 'inactive' }), 400, 'invalid_parameter', { details: [/^status: cannot be changed/] });
      });

      test('the C# library\'s client filters: organisation, contact_info.email, partner_payload, status (and every other client field)', async () => {
        const p = await partner('Filter partner');
        const a = await newClient(p, { name: 'Alpha', organisation: 'Alpha Holding', partner_payload: 'A-1', contact_info: { email: 'alpha@example.com' }, max_channels: 5, timezone: 'Europe/Berlin' });
        const b = await newClient(p, { name: 'Beta', organisation: 'Beta AG', partner_payload: 'B-1', contact_info: { email: 'beta@example.com' } });
        const ids = async (filters: Record<string, unknown>) =>
          (await ok('GET', `/api/v2/partners/${p.id}/clients?${new URLSearchParams({ filters: JSON.stringify(filters) })}`, undefined, p.headers)).clients.map((c: { id: string }) => c.id);
        assert.deepEqual(await ids({ organisation: 'holding' }), [a.id]);
        assert.deepEqual(await ids({ 'contact_info.email': 'BETA@example.com' }), [b.id]);
        assert.deepEqual(await ids({ contact_info: { email: 'alpha@example.com' } }), [a.id]);
        assert.deepEqual(await ids({ partner_payload: 'B-1' }), [b.id]);
        assert.deepEqual(await ids({ status: 'active' }), [a.id, b.id]);
        assert.deepEqual(await ids({ max_channels: 5 }), [a.id]);
        assert.deepEqual(await ids({ timezone: 'Europe/Berlin' }), [a.id]);
        assert.deepEqual(await ids({ partner_id: p.id, created_at: b.created_at }), [b.id]);
        assert.deepEqual(await ids({ modified_at: a.modified_at }), [a.id]);
      });
    });

    describe('channel objects and channel filters', () => {
      let client: any;
      let channel: any;
      before(async () => {
        client = await newClient(P, { name: 'Channel Shop', partner_payload: 'ch-ref', contact_info: { email: 'owner@channel.example', full_name: 'Owner' } });
        channel = await newChannel(P, client.id, { phone_number: '+49 30 7770001', phone_number_id: `chan-${dialect}`, waba_id: 'W-77' });
      });

      test('every channel carries client: {id, name, partner_payload, contact_info} (code reads channel.client.name)', async () => {
        const expected = { id: client.id, name: 'Channel Shop', partner_payload: 'ch-ref', contact_info: { email: 'owner@channel.example', full_name: 'Owner' } };
        assert.deepEqual(channel.client, expected);
        assert.deepEqual((await ok('GET', `/api/v2/partners/${P.id}/clients/${client.id}/channels/${channel.id}`)).client, expected);
        const listed = (await ok('GET', `/api/v2/partners/${P.id}/channels?${new URLSearchParams({ filters: JSON.stringify({ id: channel.id }) })}`)).partner_channels;
        assert.deepEqual(listed[0].client, expected);
        // A change of the client shows in its channels.
        await ok('PATCH', `/api/v2/partners/${P.id}/clients/${client.id}`, { name: 'Renamed Shop' });
        assert.equal((await ok('GET', `/api/v2/partners/${P.id}/clients/${client.id}/channels`)).partner_channels[0].client.name, 'Renamed Shop');
      });

      test('enum values are the real API\'s: channel status "ready", account_mode "live", fb_account_status "verified"', async () => {
        assert.equal(channel.status, 'ready');
        assert.equal(channel.account_mode, 'live');
        assert.equal(channel.waba_account.fb_account_status, 'verified');
      });

      test('filters account_mode, waba_account.fb_account_status, client.contact_info.email, setup_info.phone_number are accepted', async () => {
        const ids = async (filters: string) =>
          (await ok('GET', `/api/v2/partners/${P.id}/channels?${new URLSearchParams({ filters })}`)).partner_channels.map((c: { id: string }) => c.id);
        // The C# library serialises its filter object with these keys.
        assert.deepEqual(await ids(JSON.stringify({ account_mode: 'live', 'waba_account.fb_account_status': 'verified', 'client.contact_info.email': 'owner@channel.example' })), [channel.id]);
        assert.deepEqual(await ids(JSON.stringify({ 'setup_info.phone_number': '+49 30 7770001', status: 'ready' })), [channel.id]);
        assert.deepEqual(await ids(JSON.stringify({ account_mode: 'sandbox' })), []);
        assert.deepEqual(await ids(JSON.stringify({ 'waba_account.fb_account_status': 'pending' })), []);
        assert.deepEqual(await ids(JSON.stringify({ 'client.partner_payload': 'ch-ref', 'client.id': client.id })), [channel.id]);
        assert.deepEqual(await ids(JSON.stringify({ client: { name: 'renamed' } })), [channel.id]);
        assert.deepEqual(await ids(JSON.stringify({ partner_id: P.id, timezone: 'UTC', created_at: channel.created_at })), [channel.id]);
      });

      test('sort=- (what one library sends by default) is the default order, not a 400', async () => {
        await newChannel(P, client.id, { phone_number: '+49 30 7770002', phone_number_id: `chan2-${dialect}` });
        const byDefault = await ok('GET', `/api/v2/partners/${P.id}/channels`);
        for (const sort of ['-', '+', '-,', ' - ']) {
          const body = await ok('GET', `/api/v2/partners/${P.id}/channels?${new URLSearchParams({ sort, limit: '20', offset: '0' })}`);
          assert.deepEqual(body.sort, ['created_at'], sort);
          assert.deepEqual(body.partner_channels.map((c: { id: string }) => c.id), byDefault.partner_channels.map((c: { id: string }) => c.id));
        }
        assert.deepEqual((await ok('GET', `/api/v2/partners/${P.id}/clients?sort=-`)).sort, ['created_at']);
        // A named field next to a bare '-' still sorts by it.
        assert.deepEqual((await ok('GET', `/api/v2/partners/${P.id}/clients?sort=-,-name`)).sort, ['-name']);
      });
    });

    describe("the partner's own record", () => {
      test('GET /api/v2/partners/{id} answers the partner; another partner\'s id is a 404', async () => {
        const p = await ok('GET', `/api/v2/partners/${P.id}`);
        assert.equal(p.id, P.id);
        assert.equal(p.name, 'Acme');
        assert.equal(p.brand_name, 'Acme');
        assert.equal(p.webhook_url, null);
        assertEnvelope(await req('GET', `/api/v2/partners/${Q.id}`), 404);
      });

      test('webhook_url: POST stores it (answering the record), GET reads it, PATCH changes it, "" removes it', async () => {
        const p = await partner('Hooks');
        const set = await ok('POST', `/api/v2/partners/${p.id}/webhook_url`, { webhook_url: 'https://hooks.example/wabameter' }, p.headers);
        assert.equal(set.webhook_url, 'https://hooks.example/wabameter');
        assert.equal(set.id, p.id);
        assert.deepEqual(await ok('GET', `/api/v2/partners/${p.id}/webhook_url`, undefined, p.headers), { webhook_url: 'https://hooks.example/wabameter' });
        // The C# client's PATCH sends both URLs, null for the one its caller left out.
        const patched = await ok('PATCH', `/api/v2/partners/${p.id}`, { webhook_url: null, partner_redirect_url: 'https://acme.example/done' }, p.headers);
        assert.equal(patched.webhook_url, 'https://hooks.example/wabameter');
        assert.equal(patched.partner_redirect_url, 'https://acme.example/done');
        assert.equal((await ok('PATCH', `/api/v2/partners/${p.id}`, { name: 'Hooks & Co' }, p.headers)).name, 'Hooks & Co');
        await ok('POST', `/api/v2/partners/${p.id}/webhook_url`, { webhook_url: '' }, p.headers);
        assert.deepEqual(await ok('GET', `/api/v2/partners/${p.id}/webhook_url`, undefined, p.headers), { webhook_url: null });
      });

      test('a webhook_url that is not an absolute http(s) URL is a 400 and changes nothing', async () => {
        const p = await partner('Bad hooks');
        await ok('POST', `/api/v2/partners/${p.id}/webhook_url`, { webhook_url: 'https://ok.example/' }, p.headers);
        for (const bad of ['ftp://x.example/', 'not a url', '/relative', 'javascript:alert(1)']) {
          assertEnvelope(await req('POST', `/api/v2/partners/${p.id}/webhook_url`, { webhook_url: bad }, p.headers), 400, 'invalid_parameter', { details: [/^webhook_url/] });
          assertEnvelope(await req('PATCH', `/api/v2/partners/${p.id}`, { webhook_url: bad }, p.headers), 400, 'invalid_parameter');
        }
        assertEnvelope(await req('PATCH', `/api/v2/partners/${p.id}`, { payment_plan: 'gold' }, p.headers), 400, 'invalid_parameter', { details: [/^payment_plan: cannot be changed/] });
        assert.equal((await ok('GET', `/api/v2/partners/${p.id}/webhook_url`, undefined, p.headers)).webhook_url, 'https://ok.example/');
      });
    });

    describe('operations only a messaging provider serves', () => {
      let own: { client: string; channel: string };
      before(async () => {
        const c = await newClient(P, { name: 'Cancel Shop' });
        own = { client: c.id, channel: (await newChannel(P, c.id, { phone_number: '+49 30 6660001', phone_number_id: `cancel-${dialect}` })).id };
      });
      const cases: [string, 'GET' | 'POST' | 'DELETE', () => string, unknown?][] = [
        ['templates list', 'GET', () => '/waba_accounts/W1/waba_templates'],
        ['template create', 'POST', () => '/waba_accounts/W1/waba_templates', { name: 'hello', category: 'MARKETING' }],
        ['template delete', 'DELETE', () => '/waba_accounts/W1/waba_templates/T1'],
        ['cancellation request', 'POST', () => `/clients/${own.client}/channels/${own.channel}/control/cancellation_request`, { enabled: true }],
      ];
      for (const [what, method, pathOf, body] of cases) {
        test(`${what}: 501 in the envelope saying this service meters usage and which provider serves the call`, async () => {
          const path = pathOf();
          const meta = assertEnvelope(await req(method, `/api/v2/partners/${P.id}${path}`, body), 501, 'not_implemented');
          assert.match(meta.developer_message, /meters usage/);
          assert.ok(meta.details.some((d) => /360dialog/.test(d)), meta.details.join(' | '));
          // Still behind partner credentials.
          assertEnvelope(await req(method, `/api/v2/partners/${P.id}${path}`, body, {}), 401);
        });
      }
      test("a cancellation request for a channel that is not the partner's is a 404, as everywhere", async () => {
        assertEnvelope(await req('POST', `/api/v2/partners/${P.id}/clients/${own.client}/channels/nosuchCH/control/cancellation_request`, { enabled: true }), 404, 'not_found');
      });
      test('the messaging API (POST /messages, /v1/messages, /v1/configs/templates) answers 501, not a bare 404', async () => {
        for (const url of ['/messages', '/v1/messages', '/v1/configs/templates', '/media']) {
          const meta = assertEnvelope(await t.app.inject({ method: 'POST', url, payload: { to: '49301234' } }), 501, 'not_implemented');
          assert.match(meta.developer_message, /messaging API/);
        }
      });
    });

    describe('phone numbers another partner holds', () => {
      test("registering another partner's phone_number_id is refused without saying whose or that it exists elsewhere; the operator sees the conflict", async () => {
        const pnid = `held-${dialect}`;
        const ownerClient = await newClient(P, { name: 'Holder' });
        const held = await newChannel(P, ownerClient.id, { phone_number: '+49 30 9990001', phone_number_id: pnid });
        const other = await newClient(Q, { name: 'Claimant' });
        const body = { phone_number: '+49 30 9990001', phone_number_id: pnid, waba_id: '901', app_id: '214' };
        for (let i = 0; i < 2; i++) {
          const res = await req('POST', `/api/v2/partners/${Q.id}/clients/${other.id}/channels`, body, Q.headers);
          assertEnvelope(res, 409, 'phone_number_unavailable');
          assert.doesNotMatch(res.body, new RegExp(`${P.id}|${held.id}|${ownerClient.id}|already registered|another partner`));
        }
        // The same partner registering its own number twice is told where it is.
        const own = assertEnvelope(await req('POST', `/api/v2/partners/${P.id}/clients/${ownerClient.id}/channels`, body), 409, 'conflict');
        assert.match(own.developer_message, new RegExp(held.id));
        // Nothing was created for Q.
        assert.equal((await ok('GET', `/api/v2/partners/${Q.id}/channels`, undefined, Q.headers)).total, 0);
        const seen = await t.app.inject({ method: 'GET', url: '/admin/registration-conflicts', headers: admin });
        assert.equal(seen.statusCode, 200, seen.body);
        const conflict = seen.json().conflicts.find((c: { phone_number_id: string }) => c.phone_number_id === pnid);
        assert.deepEqual({ ...conflict, first_at: undefined, last_at: undefined }, {
          phone_number_id: pnid, partner_id: Q.id, client_id: other.id, holder_partner_id: P.id, holder_client_id: ownerClient.id, holder_channel_id: held.id,
          attempts: 2, first_at: undefined, last_at: undefined,
        });
        assertEnvelope(await t.app.inject({ method: 'GET', url: '/admin/registration-conflicts', headers: P.headers }), 401);
      });

      test('max_channels is a limit: a channel beyond it is a 409 that says how to raise it', async () => {
        const c = await newClient(P, { name: 'Small', max_channels: 1 });
        await newChannel(P, c.id, { phone_number: '+49 30 8880001', phone_number_id: `max1-${dialect}` });
        const meta = assertEnvelope(await req('POST', `/api/v2/partners/${P.id}/clients/${c.id}/channels`, { phone_number: '+49 30 8880002', phone_number_id: `max2-${dialect}`, waba_id: '1', app_id: '214' }), 409, 'conflict');
        assert.match(meta.developer_message, /max_channels/);
        await ok('PATCH', `/api/v2/partners/${P.id}/clients/${c.id}`, { max_channels: 2 });
        await newChannel(P, c.id, { phone_number: '+49 30 8880002', phone_number_id: `max2-${dialect}` });
      });
    });
  });
}
