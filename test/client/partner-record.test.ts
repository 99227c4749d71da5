/**
 * The client's newer methods and fields against the real server over HTTP, on SQLite and on the
 * local PostgreSQL: the partner's own record and webhook URL; the client attributes 360dialog's
 * objects carry (organisation, contact_info, partner_payload, max_channels, modified_at) with
 * their PATCH semantics; the client summary inside channel objects; balances that are numbers;
 * channel API keys created, listed and revoked, and used as a client's credential (its own
 * channel's reads work, anything else is a 403 thrown once, never retried).
 *
 * Expected values are written as the client's own types (`const x: Partner = …`), so the root
 * typecheck fails when a type and the server's answer drift apart, and `deepEqual` fails when the
 * server sends a field more or less than the type lists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../helpers.ts';
import {
  WabameterApiError, WabameterClient,
  type Channel, type ChannelApiKey, type Client, type CreatedChannelApiKey, type FetchLike, type Partner, type RetryEvent,
} from '../../client/src/index.ts';
import { admin, serve, type Served } from './support.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Resolves to the error a promise rejects with (fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<WabameterApiError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof WabameterApiError, `expected a WabameterApiError, got ${String(err)}`);
  return err;
}

for (const dialect of DIALECTS) {
  describe(`client ↔ server (${dialect}): partner record, client attributes, channel API keys`, () => {
    let s: Served;
    let api: WabameterClient;
    let n = 0;

    before(async () => {
      s = await serve({}, dialect);
      api = new WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, apiKey: s.partner.api_key });
    });
    after(async () => { await s.close(); });

    const newChannel = (clientId: string, appId = '214') => {
      const k = ++n;
      return api.createChannel(clientId, { phone_number: `+49 30 55${k}`, phone_number_id: `pn-rec-${k}`, waba_id: `waba-rec-${k}`, app_id: appId });
    };

    test("partner record: getPartner, updatePartner (null keeps, \"\" clears), getWebhookUrl, setWebhookUrl", async () => {
      const first = await api.getPartner();
      const expected: Partner = {
        id: s.partner.id, name: 'Client tests', brand_name: 'Client tests', created_at: first.created_at, modified_at: first.created_at,
        webhook_url: null, partner_redirect_url: null, logo_url: null,
      };
      assert.deepEqual(first, expected);
      assert.match(first.created_at, ISO);
      assert.deepEqual(await api.getWebhookUrl(), { webhook_url: null });

      const withHook = await api.setWebhookUrl('https://hooks.partner.example/wa?x=1');
      assert.deepEqual(withHook, { ...expected, webhook_url: 'https://hooks.partner.example/wa?x=1', modified_at: withHook.modified_at });
      assert.match(withHook.modified_at, ISO);
      assert.ok(withHook.modified_at >= first.created_at);
      assert.deepEqual(await api.getWebhookUrl(), { webhook_url: 'https://hooks.partner.example/wa?x=1' });

      // Typed clients send every property: null leaves webhook_url as it was.
      const patched = await api.updatePartner({ name: 'Partner GmbH', webhook_url: null, partner_redirect_url: 'https://partner.example/back', logo_url: 'https://partner.example/logo.png' });
      const expectedPatched: Partner = {
        id: s.partner.id, name: 'Partner GmbH', brand_name: 'Partner GmbH', created_at: first.created_at, modified_at: patched.modified_at,
        webhook_url: 'https://hooks.partner.example/wa?x=1', partner_redirect_url: 'https://partner.example/back', logo_url: 'https://partner.example/logo.png',
      };
      assert.deepEqual(patched, expectedPatched);
      assert.ok(patched.modified_at >= withHook.modified_at);
      assert.deepEqual(await api.getPartner(), patched);

      const cleared = await api.updatePartner({ logo_url: '', name: null });
      assert.deepEqual(cleared, { ...expectedPatched, logo_url: null, modified_at: cleared.modified_at });
      const unhooked = await api.setWebhookUrl('');
      assert.deepEqual(unhooked, { ...expectedPatched, logo_url: null, webhook_url: null, modified_at: unhooked.modified_at });
      assert.deepEqual(await api.getWebhookUrl(), { webhook_url: null });

      const badUrl = await failure(api.updatePartner({ webhook_url: 'ftp://files.example/x' }));
      assert.equal(badUrl.status, 400);
      assert.ok(badUrl.details.some((d) => d.startsWith('webhook_url')), JSON.stringify(badUrl.details));
      assert.equal((await failure(api.updatePartner({}))).status, 400);
      assert.equal((await failure(api.setWebhookUrl('not a url'))).status, 400);
      const notMine = await failure(new WabameterClient({ baseUrl: s.baseUrl, partnerId: 'someoneElsePA', apiKey: s.partner.api_key }).getPartner());
      assert.equal(notMine.status, 404);
    });

    test('client attributes: create with and without them, PATCH semantics, modified_at', async () => {
      const plain = await api.createClient({ name: 'Plain', currency: 'USD', country: 'DE', payment_mode: 'direct' });
      const expectedPlain: Client = {
        id: plain.id, partner_id: s.partner.id, name: 'Plain', currency: 'USD', country: 'DE', payment_mode: 'direct', timezone: 'UTC',
        created_at: plain.created_at, status: 'active', modified_at: plain.created_at,
        organisation: null, contact_info: {}, partner_payload: null, max_channels: 1000,
        business_portfolio_id: null, auth_international_eligibility: null,
      };
      assert.deepEqual(plain, expectedPlain);
      assert.deepEqual(await api.getClient(plain.id), expectedPlain);

      const rich = await api.createClient({
        name: 'Rich', currency: 'EUR', country: 'FR', payment_mode: 'partner', timezone: 'Europe/Paris',
        organisation: 'Rich SAS', partner_payload: 'crm-42', max_channels: 3,
        contact_info: { email: 'ops@rich.example', full_name: 'Ana Rich', phone: null, city: '' },
      });
      const expectedRich: Client = {
        id: rich.id, partner_id: s.partner.id, name: 'Rich', currency: 'EUR', country: 'FR', payment_mode: 'partner', timezone: 'Europe/Paris',
        created_at: rich.created_at, status: 'active', modified_at: rich.created_at,
        organisation: 'Rich SAS', contact_info: { email: 'ops@rich.example', full_name: 'Ana Rich' }, partner_payload: 'crm-42', max_channels: 3,
        business_portfolio_id: null, auth_international_eligibility: null,
      };
      assert.deepEqual(rich, expectedRich);

      // null = unchanged for name/organisation/max_channels; contact_info merges key by key.
      const p1 = await api.updateClient(rich.id, {
        name: null, organisation: null, max_channels: null, partner_payload: 'crm-43',
        contact_info: { email: null, phone: '+33 1 23 45', city: '', zip_code: '75001' },
      });
      assert.deepEqual(p1, { ...expectedRich, modified_at: p1.modified_at, partner_payload: 'crm-43', contact_info: { full_name: 'Ana Rich', phone: '+33 1 23 45', zip_code: '75001' } });
      assert.match(p1.modified_at, ISO);
      assert.ok(p1.modified_at >= rich.created_at);

      // "" clears text; max_channels and name change; null clears business_portfolio_id and eligibility.
      const p2 = await api.updateClient(rich.id, {
        name: 'Rich Group', organisation: '', partner_payload: '', max_channels: 5,
        business_portfolio_id: 'bp-rich', auth_international_eligibility: { start_time: 1767225600 },
      });
      const expectedP2: Client = {
        ...expectedRich, name: 'Rich Group', organisation: null, partner_payload: null, max_channels: 5, modified_at: p2.modified_at,
        contact_info: { full_name: 'Ana Rich', phone: '+33 1 23 45', zip_code: '75001' },
        business_portfolio_id: 'bp-rich', auth_international_eligibility: { start_time: 1767225600, exception_countries: [] },
      };
      assert.deepEqual(p2, expectedP2);
      const p3 = await api.updateClient(rich.id, { business_portfolio_id: null, auth_international_eligibility: null, organisation: 'Rich Holding' });
      assert.deepEqual(p3, { ...expectedP2, business_portfolio_id: null, auth_international_eligibility: null, organisation: 'Rich Holding', modified_at: p3.modified_at });
      assert.deepEqual(await api.getClient(rich.id), p3);
      assert.deepEqual((await api.listClients({ filters: { name: 'Rich Group' } })).clients, [p3]);

      // Refused: empty patch, unknown contact key, max_channels below 1.
      assert.equal((await failure(api.updateClient(rich.id, {}))).status, 400);
      const badKey = await failure(api.updateClient(rich.id, { contact_info: { fax: '123' } as never }));
      assert.equal(badKey.status, 400);
      assert.ok(badKey.details.some((d) => d.startsWith('contact_info')), JSON.stringify(badKey.details));
      assert.equal((await failure(api.updateClient(rich.id, { max_channels: 0 }))).status, 400);
    });

    test('max_channels caps registrations (409 beyond it)', async () => {
      const c = await api.createClient({ name: 'Capped', currency: 'USD', country: 'US', payment_mode: 'direct', max_channels: 1 });
      await newChannel(c.id);
      const err = await failure(newChannel(c.id));
      assert.equal(err.status, 409);
      assert.equal(err.code, 'conflict');
      await api.updateClient(c.id, { max_channels: 2 });
      await newChannel(c.id);
      assert.equal((await api.listChannels(c.id)).total, 2);
    });

    test("channel objects: the client summary, status ready, fb_account_status verified; balances are numbers", async () => {
      const c = await api.createClient({ name: 'With channel', currency: 'USD', country: 'DE', payment_mode: 'direct', partner_payload: 'ref-7', contact_info: { email: 'a@b.example' } });
      const created = await newChannel(c.id, '231');
      const { replayed_statuses, ...view } = created;
      assert.equal(replayed_statuses, 0);
      const expected: Channel = {
        id: created.id, partner_id: s.partner.id, client_id: c.id, phone_number: created.phone_number, phone_number_id: created.phone_number_id,
        waba_id: created.waba_id, app_id: '231', timezone: 'UTC', created_at: created.created_at,
        status: 'ready', account_mode: 'live',
        setup_info: { phone_number: created.phone_number },
        waba_account: { id: created.waba_id, fb_account_status: 'verified' },
        integration: { app_id: '231' },
        client: { id: c.id, name: 'With channel', partner_payload: 'ref-7', contact_info: { email: 'a@b.example' } },
      };
      assert.deepEqual(view, expected);
      assert.deepEqual(await api.getChannel(c.id, created.id), expected);

      // The summary follows the client.
      await api.updateClient(c.id, { name: 'Renamed', partner_payload: '', contact_info: { email: '', phone: '+49 1' } });
      const after = await api.getChannel(c.id, created.id);
      assert.deepEqual(after.client, { id: c.id, name: 'Renamed', partner_payload: null, contact_info: { phone: '+49 1' } });
      assert.deepEqual((await api.listChannels(c.id)).partner_channels, [after]);

      const balance = await api.balance(c.id);
      assert.equal(balance.balance, 0);
      const channelBalance = await api.channelBalance(c.id, created.id);
      assert.equal(channelBalance.balance, 0);
    });

    test('channel API keys: create (shown once), list, revoke one, revoke all', async () => {
      const c = await api.createClient({ name: 'Keys', currency: 'USD', country: 'DE', payment_mode: 'direct' });
      const ch = await newChannel(c.id, '214');

      const named = await api.createChannelApiKey(ch.id, { name: 'reporting' });
      const expectedNamed: CreatedChannelApiKey = {
        id: named.id, address: s.baseUrl, api_key: named.api_key, app_id: '214', channel_id: ch.id, client_id: c.id, name: 'reporting', created_at: named.created_at,
      };
      assert.deepEqual(named, expectedNamed);
      assert.match(named.id, /CK$/);
      assert.match(named.api_key, /^wbc_/);
      assert.match(named.created_at, ISO);
      const bare = await api.createChannelApiKey(ch.id);
      assert.equal(bare.name, null);
      assert.match(bare.api_key, /^wbc_/);
      assert.notEqual(bare.api_key, named.api_key);

      const listed = await api.listChannelApiKeys(ch.id);
      const row = (k: CreatedChannelApiKey, revoked_at: string | null = null): ChannelApiKey => ({
        id: k.id, address: s.baseUrl, app_id: '214', channel_id: ch.id, client_id: c.id, name: k.name, created_at: k.created_at, revoked_at, last4: k.api_key.slice(-4),
      });
      assert.deepEqual(listed, { count: 2, api_keys: [row(named), row(bare)] });
      assert.ok(!JSON.stringify(listed).includes(named.api_key) && !JSON.stringify(listed).includes(bare.api_key), 'never a secret');

      assert.deepEqual(await api.revokeChannelApiKey(ch.id, named.id), { revoked: 1 });
      assert.deepEqual(await api.revokeChannelApiKey(ch.id, named.id), { revoked: 0 }, 'repeating is harmless');
      const third = await api.createChannelApiKey(ch.id, { name: 'third' });
      assert.deepEqual(await api.revokeChannelApiKeys(ch.id), { revoked: 2 });
      assert.deepEqual(await api.revokeChannelApiKeys(ch.id), { revoked: 0 });
      const afterRevoke = await api.listChannelApiKeys(ch.id);
      assert.equal(afterRevoke.count, 3);
      for (const k of afterRevoke.api_keys) assert.match(k.revoked_at ?? '', ISO, `${k.id} revoked`);
      assert.deepEqual(afterRevoke.api_keys.map((k) => k.id), [named.id, bare.id, third.id]);

      assert.equal((await failure(api.revokeChannelApiKey(ch.id, 'unknownCK'))).status, 404);
      assert.equal((await failure(api.listChannelApiKeys('unknownCH'))).status, 404);
      // Another partner's channel is "not found" for this partner.
      const other = await admin(s.baseUrl, 'POST', '/admin/partners', { name: 'Other' }) as { id: string; api_key: string };
      const theirs = new WabameterClient({ baseUrl: s.baseUrl, partnerId: other.id, apiKey: other.api_key });
      assert.equal((await failure(theirs.createChannelApiKey(ch.id))).status, 404);
      assert.equal((await failure(theirs.revokeChannelApiKeys(ch.id))).status, 404);
    });

    test("a channel key as the client's credential: its channel's reads work; anything else is one 403, not retried", async () => {
      const c = await api.createClient({ name: 'Scoped', currency: 'USD', country: 'DE', payment_mode: 'direct' });
      const ch = await newChannel(c.id);
      const sibling = await newChannel(c.id);
      const key = await api.createChannelApiKey(ch.id, { name: 'viewer' });

      const sent: { method: string; path: string; apiKey: string | undefined; auth: string | undefined }[] = [];
      const recording: FetchLike = (url, init) => {
        sent.push({ method: init.method, path: new URL(url).pathname, apiKey: init.headers['x-api-key'], auth: init.headers.authorization });
        return fetch(url, init);
      };
      const retries: RetryEvent[] = [];
      const viewer = new WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, apiKey: key.api_key }, { fetch: recording, onRetry: (e) => retries.push(e) });
      assert.equal(viewer.authMode, 'apiKey');

      assert.deepEqual(await viewer.getChannel(c.id, ch.id), await api.getChannel(c.id, ch.id));
      assert.equal((await viewer.channelBalance(c.id, ch.id, { granularity: 'day' })).balance, 0);
      assert.equal((await viewer.channelCharges(c.id, ch.id)).paid_quantity, 0);
      assert.equal((await viewer.usage(c.id, ch.id)).id, ch.waba_id);
      assert.ok(sent.every((r) => r.apiKey === key.api_key && r.auth === undefined), 'sent as X-API-Key');

      const forbidden: [string, () => Promise<unknown>][] = [
        ['listClients', () => viewer.listClients()],
        ['getClient', () => viewer.getClient(c.id)],
        ['balance', () => viewer.balance(c.id)],
        ['getChannel (sibling)', () => viewer.getChannel(c.id, sibling.id)],
        ['channelBalance (sibling)', () => viewer.channelBalance(c.id, sibling.id)],
        ['getPartner', () => viewer.getPartner()],
        ['createChannelApiKey', () => viewer.createChannelApiKey(ch.id, { name: 'escalate' })],
        ['listChannelApiKeys', () => viewer.listChannelApiKeys(ch.id)],
        ['revokeChannelApiKeys', () => viewer.revokeChannelApiKeys(ch.id)],
        ['updateClient', () => viewer.updateClient(c.id, { name: 'nope' })],
      ];
      for (const [name, call] of forbidden) {
        const before = sent.length;
        const err = await failure(call());
        assert.equal(err.status, 403, `${name}: ${err.message}`);
        assert.equal(err.code, 'forbidden', name);
        assert.match(err.developerMessage, new RegExp(`scoped to channel ${ch.id}`), name);
        assert.equal(sent.length - before, 1, `${name}: sent once`);
      }
      assert.deepEqual(retries, [], 'no retry, no re-login');
      assert.equal((await api.getClient(c.id)).name, 'Scoped', 'nothing changed');

      // Revoked: 401, thrown at once as well.
      await api.revokeChannelApiKey(ch.id, key.id);
      const before = sent.length;
      const revoked = await failure(viewer.getChannel(c.id, ch.id));
      assert.equal(revoked.status, 401);
      assert.match(revoked.developerMessage, /revoked/i);
      assert.equal(sent.length - before, 1);
      assert.deepEqual(retries, []);
    });
  });
}
