/**
 * The client against the real server over HTTP (SQLite store, the app listening on a free port):
 * clients and channels created, listed, read and updated through the client; statuses posted as
 * a webhook; balance, charges, tiers and per-message usage read back; API keys created, listed
 * and revoked; errors surfacing as `WabameterApiError` with the envelope's fields.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { at, envelope, postWebhook, status, type StatusSpec } from '../helpers.ts';
import { VirtualClock, WabameterApiError, WabameterClient, type Client } from '../../client/src/index.ts';
import { admin, serve, type Served } from './support.ts';

describe('client ↔ server: Partner API over HTTP', () => {
  let s: Served;
  let baseUrl: string;
  let partner: Served['partner'];
  let api: WabameterClient;

  before(async () => {
    s = await serve();
    ({ baseUrl, partner } = s);
    api = new WabameterClient({ baseUrl, partnerId: partner.id, apiKey: partner.api_key });
  });
  after(async () => { await s.close(); });

  let m = 0;
  const delivered = (ts: number, count: number, category: string, recipient = '4915112345678'): StatusSpec[] =>
    Array.from({ length: count }, (_, i) => ({ id: `wamid.client-${++m}`, status: 'delivered', ts: ts + i, recipient, pricing: { model: 'PMP', type: 'regular', category } }));
  async function send(phoneNumberId: string, specs: StatusSpec[]) {
    const res = await postWebhook(s.t.app, envelope(specs.map(status), { phoneNumberId }));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().stored, specs.length);
  }

  test('clients: create, get, update, list with limit/offset/sort/filters, iterate', async () => {
    const created: Client[] = [];
    for (const name of ['Charlie', 'Alpha', 'Bravo']) {
      created.push(await api.createClient({ name, currency: 'EUR', country: 'DE', payment_mode: 'direct', timezone: 'Europe/Berlin' }));
    }
    const c = created[0];
    assert.match(c.id, /CL$/);
    assert.equal(c.partner_id, partner.id);
    assert.equal(c.currency, 'EUR');
    assert.equal(c.timezone, 'Europe/Berlin');
    assert.deepEqual(await api.getClient(c.id), c);

    const patched = await api.updateClient(c.id, { name: 'Charlie GmbH', business_portfolio_id: 'bp-1' });
    assert.equal(patched.name, 'Charlie GmbH');
    assert.equal(patched.business_portfolio_id, 'bp-1');
    assert.equal((await api.getClient(c.id)).name, 'Charlie GmbH');

    const all = await api.listClients({ sort: 'name' });
    assert.equal(all.total, 3);
    assert.deepEqual(all.clients.map((x) => x.name), ['Alpha', 'Bravo', 'Charlie GmbH']);
    assert.deepEqual(all.sort, ['name']);

    const page = await api.listClients({ sort: ['-name'], limit: 1, offset: 1 });
    assert.deepEqual([page.count, page.limit, page.offset, page.total], [1, 1, 1, 3]);
    assert.equal(page.clients[0].name, 'Bravo');

    const filtered = await api.listClients({ filters: { name: 'Alpha' } });
    assert.deepEqual(filtered.clients.map((x) => x.name), ['Alpha']);
    assert.deepEqual(filtered.filters, { name: 'Alpha' });

    const names: string[] = [];
    for await (const x of api.allClients({ limit: 2, sort: 'name' })) names.push(x.name);
    assert.deepEqual(names, ['Alpha', 'Bravo', 'Charlie GmbH']);
  });

  test('channels: create, get, list per client and per partner, filter by WABA', async () => {
    const c1 = await api.createClient({ name: 'Channels 1', currency: 'USD', country: 'US', payment_mode: 'partner' });
    const c2 = await api.createClient({ name: 'Channels 2', currency: 'USD', country: 'US', payment_mode: 'partner' });
    const a = await api.createChannel(c1.id, { phone_number: '+1 555 0100', phone_number_id: 'pn-ch-a', waba_id: 'waba-ch-1', app_id: '214' });
    const b = await api.createChannel(c1.id, { phone_number: '+1 555 0101', phone_number_id: 'pn-ch-b', waba_id: 'waba-ch-1', app_id: '231' });
    const z = await api.createChannel(c2.id, { phone_number: '+1 555 0102', phone_number_id: 'pn-ch-z', waba_id: 'waba-ch-2', app_id: '214' });
    assert.match(a.id, /CH$/);
    assert.equal(a.replayed_statuses, 0);
    assert.equal(a.waba_account.id, 'waba-ch-1');
    assert.equal(a.integration.app_id, '214');
    const { replayed_statuses: _, ...view } = a;
    assert.deepEqual(await api.getChannel(c1.id, a.id), view);

    const own = await api.listChannels(c1.id);
    assert.deepEqual(own.partner_channels.map((x) => x.id).sort(), [a.id, b.id].sort());
    assert.equal(own.total, 2);

    const everywhere = await api.listPartnerChannels({ limit: 1000 });
    for (const id of [a.id, b.id, z.id]) assert.ok(everywhere.partner_channels.some((x) => x.id === id), `${id} listed partner-wide`);

    const byWaba = await api.listPartnerChannels({ filters: { 'waba_account.id': 'waba-ch-2' } });
    assert.deepEqual(byWaba.partner_channels.map((x) => x.id), [z.id]);
    assert.equal(byWaba.partner_channels[0].waba_account.id, 'waba-ch-2');

    const ids: string[] = [];
    for await (const ch of api.allPartnerChannels({ limit: 1, filters: { 'waba_account.id': 'waba-ch-1' } })) ids.push(ch.id);
    assert.deepEqual(ids.sort(), [a.id, b.id].sort());
  });

  test('webhook → balance, channel balance, charges, tiers and per-message usage through the client', async () => {
    const c = await api.createClient({ name: 'Usage', currency: 'USD', country: 'DE', payment_mode: 'direct' });
    const ch = await api.createChannel(c.id, { phone_number: '+49 30 901820', phone_number_id: 'pn-usage', waba_id: 'waba-usage', app_id: '214' });
    await send('pn-usage', [
      ...delivered(at('2026-02-10T10:00:00'), 2, 'utility'),
      ...delivered(at('2026-02-11T10:00:00'), 3, 'marketing'),
      ...delivered(at('2026-03-01T10:00:00'), 1, 'marketing', '14155550123'),
    ]);

    const monthly = await api.balance(c.id);
    assert.equal(monthly.granularity, 'month');
    assert.equal(monthly.currency, 'USD');
    assert.deepEqual(monthly.usage.map((r) => [r.period_date, r.quantity, r.marketing_quantity, r.utility_quantity]), [
      ['2026-02-01T00:00:00Z', 5, 3, 2],
      ['2026-03-01T00:00:00Z', 1, 1, 0],
    ]);

    const daily = await api.balance(c.id, { start_date: new Date('2026-02-11T00:00:00Z'), end_date: at('2026-03-31T23:59:59'), granularity: 'day', app_ids: ['214', '999'] });
    assert.deepEqual(daily.usage.map((r) => [r.period_date, r.quantity]), [['2026-02-11T00:00:00Z', 3], ['2026-03-01T00:00:00Z', 1]]);
    const otherApp = await api.balance(c.id, { app_ids: '999' });
    assert.deepEqual(otherApp.usage, []);

    const channel = await api.channelBalance(c.id, ch.id, { granularity: 'month' });
    assert.deepEqual(channel.usage, monthly.usage);

    const charges = await api.charges(c.id, { start_date: at('2026-02-01'), end_date: at('2026-02-28T23:59:59') });
    assert.equal(charges.currency, 'USD');
    assert.equal(charges.paid_quantity, 5);
    assert.ok(charges.charges.every((x) => x.channel_id === ch.id));
    assert.equal(charges.total_price, monthly.usage[0].total_price);
    const channelCharges = await api.channelCharges(c.id, ch.id, { start_date: at('2026-02-01'), end_date: at('2026-02-28T23:59:59') });
    assert.deepEqual(channelCharges, charges);

    const tiers = await api.tiers(c.id, { month: '2026-02' });
    assert.equal(tiers.client_id, c.id);
    assert.equal(tiers.month, '2026-02');
    assert.ok(Array.isArray(tiers.tiers));

    const usage = await api.usage(c.id, ch.id, { start_date: at('2026-02-01'), end_date: at('2026-03-31T23:59:59'), granularity: 'month' });
    assert.equal(usage.currency, 'USD');
    assert.equal(usage.granularity, 'month');
    assert.equal(usage.id, 'waba-usage');
    const points = usage.pricing_analytics.data.flatMap((d) => d.data_points);
    const volume = (pred: (p: (typeof points)[number]) => boolean) => points.filter(pred).reduce((s, p) => s + p.volume, 0);
    assert.equal(volume(() => true), 6);
    assert.equal(volume((p) => p.pricing_category === 'MARKETING'), 4);
    assert.equal(volume((p) => p.pricing_category === 'UTILITY'), 2);
    assert.equal(volume((p) => p.start === at('2026-03-01')), 1);
    const us = await api.usage(c.id, ch.id, { country_codes: ['US'], granularity: 'day' });
    const usPoints = us.pricing_analytics.data.flatMap((d) => d.data_points);
    assert.deepEqual(usPoints.map((p) => [p.country, p.volume, p.start]), [['US', 1, at('2026-03-01')]]);
  });

  test('balanceRange walks windows through the limiter and merges rows into what one call returns', async () => {
    const c = await api.createClient({ name: 'Range', currency: 'USD', country: 'DE', payment_mode: 'direct' });
    await api.createChannel(c.id, { phone_number: '+49 30 111', phone_number_id: 'pn-range', waba_id: 'waba-range', app_id: '214' });
    await send('pn-range', [
      ...delivered(at('2026-01-31T23:59:00'), 1, 'utility'),
      ...delivered(at('2026-02-01T00:00:00'), 2, 'utility'),
      ...delivered(at('2026-02-14T12:00:00'), 1, 'marketing'),
      ...delivered(at('2026-04-02T08:00:00'), 4, 'marketing'),
    ]);
    const start = at('2026-01-15T09:00:00');
    const end = at('2026-04-30T18:00:00');
    // The client's own limiter at its default (5 per 30 s per client) on a virtual clock: the
    // 16 windows wait their turn without the test waiting (this suite's server allows plenty).
    const clock = new VirtualClock(Date.now());
    const limited = new WabameterClient({ baseUrl, partnerId: partner.id, apiKey: partner.api_key }, { clock });
    const seen: number[] = [];
    const ranged = await limited.balanceRange(c.id, { start, end, granularity: 'day', maxDays: 7, onWindow: (_w, _r, i) => seen.push(i) });
    assert.equal(ranged.windows.length, Math.ceil(106 / 7));
    assert.deepEqual(seen, ranged.windows.map((_, i) => i));
    // 16 starts at 5 per window: three waits of one window (+ margin) each.
    assert.deepEqual(clock.sleeps, [30_250, 30_250, 30_250]);
    const single = await api.balance(c.id, { start_date: start, end_date: end, granularity: 'day' });
    assert.deepEqual(ranged.usage, single.usage);
    assert.deepEqual(ranged.usage.map((r) => [r.period_date, r.quantity]), [
      ['2026-01-31T00:00:00Z', 1], ['2026-02-01T00:00:00Z', 2], ['2026-02-14T00:00:00Z', 1], ['2026-04-02T00:00:00Z', 4],
    ]);
    const months = await limited.balanceRange(c.id, { start, end, granularity: 'month', maxDays: 31 });
    assert.equal(months.windows.length, 4);
    assert.deepEqual(months.usage.map((r) => [r.period_date, r.quantity]), [['2026-01-01T00:00:00Z', 1], ['2026-02-01T00:00:00Z', 3], ['2026-04-01T00:00:00Z', 4]]);
  });

  test('errors: 404 for unknown ids, 400 naming each bad parameter, as WabameterApiError', async () => {
    const err404 = await api.getClient('doesnotexistCL').then(() => null, (e: unknown) => e);
    assert.ok(err404 instanceof WabameterApiError);
    assert.equal(err404.status, 404);
    assert.equal(err404.code, 'not_found');
    assert.match(err404.developerMessage, /not found/i);

    const c = await api.createClient({ name: 'Errors', currency: 'USD', country: 'DE', payment_mode: 'direct' });
    const err400 = await api.balance(c.id, { start_date: 200, end_date: 100 }).then(() => null, (e: unknown) => e);
    assert.ok(err400 instanceof WabameterApiError);
    assert.equal(err400.status, 400);
    assert.ok(err400.details.some((d) => d.includes('start_date')), JSON.stringify(err400.details));

    const bad = await api.createClient({ name: '', currency: 'XXQ', country: 'ZZ', payment_mode: 'cash' as 'direct' }).then(() => null, (e: unknown) => e);
    assert.ok(bad instanceof WabameterApiError);
    assert.equal(bad.status, 400);
    assert.equal(bad.code, 'invalid_parameter');
    for (const field of ['name', 'currency', 'country', 'payment_mode']) {
      assert.ok(bad.details.some((d) => d.startsWith(field)), `${field} named in ${JSON.stringify(bad.details)}`);
    }

    const sort = await api.listClients({ sort: 'no_such_field' }).then(() => null, (e: unknown) => e);
    assert.ok(sort instanceof WabameterApiError && sort.status === 400 && sort.details.some((d) => d.startsWith('sort')));

    // Another partner's client is a 404 for this partner, not a 403.
    const other = await admin(baseUrl, 'POST', '/admin/partners', { name: 'Other' }) as { id: string; api_key: string };
    const theirs = new WabameterClient({ baseUrl, partnerId: other.id, apiKey: other.api_key });
    await assert.rejects(theirs.getClient(c.id), (e: unknown) => e instanceof WabameterApiError && e.status === 404);
    // This partner's key on the other partner's path: 404 as well.
    const crossed = new WabameterClient({ baseUrl, partnerId: other.id, apiKey: partner.api_key });
    await assert.rejects(crossed.listClients(), (e: unknown) => e instanceof WabameterApiError && e.status === 404);
  });

  test('API keys: create (shown once), use, list (never the secret), revoke → 401 for that key only', async () => {
    const created = await api.createApiKey({ name: 'ci' });
    assert.match(created.id, /AK$/);
    assert.equal(created.name, 'ci');
    assert.match(created.api_key, /^wbm_/);

    const withNewKey = new WabameterClient({ baseUrl, partnerId: partner.id, apiKey: created.api_key });
    assert.ok((await withNewKey.listClients()).total >= 0);

    const listed = await api.listApiKeys();
    assert.equal(listed.count, listed.api_keys.length);
    const mine = listed.api_keys.find((k) => k.id === created.id);
    assert.ok(mine);
    assert.equal(mine.revoked_at, null);
    assert.equal(mine.last4, created.api_key.slice(-4));
    assert.ok(!JSON.stringify(listed).includes(created.api_key), 'the secret is never listed');

    await api.revokeApiKey(created.id);
    const err = await withNewKey.listClients().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.status, 401);
    assert.match(err.developerMessage, /revoked/i);
    assert.ok((await api.listApiKeys()).api_keys.find((k) => k.id === created.id)?.revoked_at, 'listed as revoked');
    assert.ok((await api.listClients()).total >= 0, 'the other key still works');

    await assert.rejects(api.revokeApiKey('unknownAK'), (e: unknown) => e instanceof WabameterApiError && e.status === 404);
  });
});
