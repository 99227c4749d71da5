/**
 * `GET …/channels/{channel_id}/info/usage` on SQLite and PostgreSQL: a small posted traffic read
 * back as Meta's `pricing_analytics` data points with exact volumes and costs — charged and free
 * messages, a volume tier crossed, an unknown category kept and reported unpriced — by half hour,
 * day and month, filtered by country, with bad parameters named and other tenants' ids → 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { addChannel, at, DIALECTS, seedTenant, type StatusSpec, type TestApp } from '../helpers.ts';
import { startUsageFixture } from './support.ts';

const GERMANY = '4915112345678';
const INDIA = '919876543210';
const US = '12025550123';

const D1 = at('2026-10-05T00:00:00');
const D2 = at('2026-10-06T00:00:00');
const OCT = at('2026-10-01T00:00:00');
const NOV = at('2026-11-01T00:00:00');
const DAY = 86_400;

const pmp = (id: string, iso: string, recipient: string, category: string, type: string): StatusSpec =>
  ({ id, status: 'delivered', ts: at(iso), recipient, pricing: { model: 'PMP', type, category } });

/** The traffic: delivered PMP messages of 5 and 6 October 2026 (USD client, UTC). */
const TRAFFIC: StatusSpec[] = [
  pmp('m1', '2026-10-05T10:05:00', GERMANY, 'marketing', 'regular'), // 0.1365
  pmp('m2', '2026-10-05T10:40:00', GERMANY, 'marketing', 'regular'), // 0.1365
  pmp('m3', '2026-10-05T10:10:00', GERMANY, 'utility', 'free_customer_service'), // free: no tier
  pmp('m4', '2026-10-05T12:00:00', INDIA, 'service', 'free_customer_service'),
  pmp('m5', '2026-10-05T12:31:00', US, 'marketing', 'free_entry_point'),
  // Utility in India with the test schedule: tier 0:2 at the card's 0.0014, then 3:MAX at 0.0010.
  pmp('u1', '2026-10-05T11:00:00', INDIA, 'utility', 'regular'),
  pmp('u2', '2026-10-05T11:10:00', INDIA, 'utility', 'regular'),
  pmp('u3', '2026-10-05T11:20:00', INDIA, 'utility', 'regular'),
  pmp('m6', '2026-10-06T09:00:00', INDIA, 'marketing', 'regular'), // 0.0118
  pmp('u4', '2026-10-06T09:30:00', INDIA, 'utility', 'regular'), // 4th of the month: 0.0010
  // A category Meta added later: kept, charged, but no card prices it.
  pmp('g1', '2026-10-06T09:40:00', GERMANY, 'group_marketing', 'regular'),
  // Not usage: only sent, and a failed one.
  { id: 's1', status: 'sent', ts: at('2026-10-05T10:00:00'), recipient: GERMANY, pricing: { model: 'PMP', type: 'regular', category: 'marketing' } },
  { id: 'f1', status: 'failed', ts: at('2026-10-05T10:00:00'), recipient: GERMANY },
  // A CBP-era conversation (September 2024): counted by …/info/balance, never here.
  { id: 'c1', status: 'delivered', ts: at('2024-09-10T10:00:00'), recipient: GERMANY, conv: { id: 'conv-1', exp: at('2024-09-11T10:00:00'), origin: 'marketing' }, pricing: { model: 'CBP', category: 'marketing' } },
];

const PHONE = '4930123456'; // the seeded channel's '+4930123456', digits only

for (const dialect of DIALECTS) {
  describe(`channel info/usage (pricing_analytics) [${dialect}]`, () => {
    let t: TestApp;
    let tn: Awaited<ReturnType<typeof seedTenant>>;
    let base: string;
    const phoneNumberId = `${dialect}-usage-1`;
    const wabaId = `${dialect}-usage-waba`;

    before(async () => {
      ({ t, tn, base } = await startUsageFixture(dialect, { phoneNumberId, wabaId }, TRAFFIC));
    });
    after(async () => { await t.close(); });

    const get = (query = '', headers: Record<string, string> = tn.headers, url = base) => t.app.inject({ method: 'GET', url: `${url}${query ? `?${query}` : ''}`, headers });
    async function usage(query = '') {
      const res = await get(query);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['pricing_analytics', 'id', 'currency', 'granularity']);
      assert.equal(body.pricing_analytics.data.length, 1);
      return body;
    }
    const points = async (query = '') => (await usage(query)).pricing_analytics.data[0].data_points;
    const p = (start: number, end: number, volume: number, cost: number, country: string, category: string, type: string, tier?: string, extra: Record<string, unknown> = {}) => ({
      start, end, volume, cost, country, pricing_category: category, pricing_type: type, ...(tier ? { tier } : {}), phone_number: PHONE, ...extra,
    });

    test('day buckets: exact volumes and costs per country × category × type × tier', async () => {
      const body = await usage('granularity=day');
      assert.equal(body.id, wabaId);
      assert.equal(body.currency, 'USD');
      assert.equal(body.granularity, 'day');
      const E1 = D1 + DAY;
      const E2 = D2 + DAY;
      assert.deepEqual(body.pricing_analytics.data[0].data_points, [
        p(D1, E1, 2, 0.273, 'DE', 'MARKETING', 'REGULAR', '0:MAX'),
        p(D1, E1, 1, 0, 'DE', 'UTILITY', 'FREE_CUSTOMER_SERVICE'),
        p(D1, E1, 1, 0, 'IN', 'SERVICE', 'FREE_CUSTOMER_SERVICE'),
        p(D1, E1, 2, 0.0028, 'IN', 'UTILITY', 'REGULAR', '0:2'),
        p(D1, E1, 1, 0.001, 'IN', 'UTILITY', 'REGULAR', '3:MAX'),
        p(D1, E1, 1, 0, 'US', 'MARKETING', 'FREE_ENTRY_POINT'),
        p(D2, E2, 1, 0, 'DE', 'GROUP_MARKETING', 'REGULAR', '0:MAX', { unpriced_volume: 1 }),
        p(D2, E2, 1, 0.0118, 'IN', 'MARKETING', 'REGULAR', '0:MAX'),
        p(D2, E2, 1, 0.001, 'IN', 'UTILITY', 'REGULAR', '3:MAX'),
      ]);
      // Free messages carry no tier, like Meta's.
      for (const dp of body.pricing_analytics.data[0].data_points) assert.equal('tier' in dp, dp.pricing_type === 'REGULAR');
    });

    test('the costs agree with the charge groups of …/info/charges', async () => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/channels/${tn.channel.id}/info/charges?start_date=${OCT}&end_date=${NOV - 1}`, headers: tn.headers });
      assert.equal(res.statusCode, 200, res.body);
      const charges = res.json();
      const dps = await points('granularity=month');
      const micros = (n: number) => Math.round(n * 1e6);
      assert.equal(dps.reduce((s: number, d: { cost: number }) => s + micros(d.cost), 0), micros(charges.total_price));
      assert.equal(dps.filter((d: { pricing_type: string }) => d.pricing_type === 'REGULAR').reduce((s: number, d: { volume: number }) => s + d.volume, 0), charges.paid_quantity);
    });

    test('month buckets sum the days; MONTHLY and DAILY (Meta spellings) are accepted in any case', async () => {
      const month = await points('granularity=month');
      assert.deepEqual(month, [
        p(OCT, NOV, 1, 0, 'DE', 'GROUP_MARKETING', 'REGULAR', '0:MAX', { unpriced_volume: 1 }),
        p(OCT, NOV, 2, 0.273, 'DE', 'MARKETING', 'REGULAR', '0:MAX'),
        p(OCT, NOV, 1, 0, 'DE', 'UTILITY', 'FREE_CUSTOMER_SERVICE'),
        p(OCT, NOV, 1, 0.0118, 'IN', 'MARKETING', 'REGULAR', '0:MAX'),
        p(OCT, NOV, 1, 0, 'IN', 'SERVICE', 'FREE_CUSTOMER_SERVICE'),
        p(OCT, NOV, 2, 0.0028, 'IN', 'UTILITY', 'REGULAR', '0:2'),
        p(OCT, NOV, 2, 0.002, 'IN', 'UTILITY', 'REGULAR', '3:MAX'),
        p(OCT, NOV, 1, 0, 'US', 'MARKETING', 'FREE_ENTRY_POINT'),
      ]);
      assert.deepEqual(await points('granularity=MONTHLY'), month);
      assert.deepEqual(await points('granularity=Month'), month);
      assert.equal((await usage('granularity=MONTHLY')).granularity, 'month');
      assert.deepEqual(await points('granularity=DAILY'), await points('granularity=day'));
      // Default: day.
      assert.deepEqual(await points(), await points('granularity=day'));
      // The total volume is the delivered PMP messages: not the sent-only, failed or CBP ones.
      assert.equal(month.reduce((s: number, d: { volume: number }) => s + d.volume, 0), 11);
    });

    test('half-hour buckets', async () => {
      const dps = await points(`granularity=HALF_HOUR&start_date=${D1}&end_date=${D1 + DAY - 1}`);
      const hh = (iso: string) => at(iso);
      const got = dps.map((d: any) => [d.start, d.end - d.start, d.country, d.pricing_category, d.pricing_type, d.tier ?? null, d.volume, d.cost]);
      assert.deepEqual(got, [
        [hh('2026-10-05T10:00:00'), 1800, 'DE', 'MARKETING', 'REGULAR', '0:MAX', 1, 0.1365],
        [hh('2026-10-05T10:00:00'), 1800, 'DE', 'UTILITY', 'FREE_CUSTOMER_SERVICE', null, 1, 0],
        [hh('2026-10-05T10:30:00'), 1800, 'DE', 'MARKETING', 'REGULAR', '0:MAX', 1, 0.1365],
        [hh('2026-10-05T11:00:00'), 1800, 'IN', 'UTILITY', 'REGULAR', '0:2', 2, 0.0028],
        [hh('2026-10-05T11:00:00'), 1800, 'IN', 'UTILITY', 'REGULAR', '3:MAX', 1, 0.001],
        [hh('2026-10-05T12:00:00'), 1800, 'IN', 'SERVICE', 'FREE_CUSTOMER_SERVICE', null, 1, 0],
        [hh('2026-10-05T12:30:00'), 1800, 'US', 'MARKETING', 'FREE_ENTRY_POINT', null, 1, 0],
      ]);
      // A half-hour range holds only its bucket.
      const one = await points(`granularity=half_hour&start_date=${hh('2026-10-05T10:31:00')}&end_date=${hh('2026-10-05T10:59:59')}`);
      assert.deepEqual(one.map((d: any) => [d.start, d.volume]), [[hh('2026-10-05T10:30:00'), 1]]);
    });

    test('country_codes: comma-separated, any case, repeated, bracketed', async () => {
      const india = await points('granularity=month&country_codes=IN');
      assert.deepEqual(india.map((d: any) => d.country), ['IN', 'IN', 'IN', 'IN']);
      assert.deepEqual(india.map((d: any) => [d.pricing_category, d.tier ?? null, d.volume, d.cost]), [
        ['MARKETING', '0:MAX', 1, 0.0118], ['SERVICE', null, 1, 0], ['UTILITY', '0:2', 2, 0.0028], ['UTILITY', '3:MAX', 2, 0.002],
      ]);
      const deUs = await points('granularity=month&country_codes=de,us');
      assert.deepEqual([...new Set(deUs.map((d: any) => d.country))], ['DE', 'US']);
      assert.deepEqual(await points('granularity=month&country_codes=DE&country_codes=US'), deUs);
      assert.deepEqual(await points(`granularity=month&country_codes=${encodeURIComponent('["DE","US"]')}`), deUs);
      assert.deepEqual(await points('granularity=month&country_codes=FR'), []);
    });

    test('start_date and end_date select whole buckets that overlap them', async () => {
      const day2 = await points(`granularity=day&start_date=${D2 + 3600}`);
      assert.deepEqual([...new Set(day2.map((d: any) => d.start))], [D2]);
      const day1 = await points(`granularity=day&end_date=${D1 + 60}`);
      assert.deepEqual([...new Set(day1.map((d: any) => d.start))], [D1]);
      // The month overlapping 6 October is the whole month.
      const month = await points(`granularity=month&start_date=${D2}&end_date=${D2}`);
      assert.equal(month.reduce((s: number, d: { volume: number }) => s + d.volume, 0), 11);
      // The CBP era is never in this endpoint.
      assert.deepEqual(await points(`granularity=month&start_date=${at('2024-09-01T00:00:00')}&end_date=${at('2024-09-30T23:59:59')}`), []);
      assert.deepEqual(await points(`start_date=${NOV}`), []);
    });

    test('bad parameters → 400 naming each', async () => {
      const bad = async (query: string, fields: string[]) => {
        const res: LightMyRequestResponse = await get(query);
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
        const meta = res.json().meta;
        assert.equal(meta.http_code, 400);
        for (const f of fields) assert.ok(meta.details.some((d: string) => d.startsWith(`${f}:`)), `${query}: details name ${f}: ${JSON.stringify(meta.details)}`);
      };
      await bad('granularity=week', ['granularity']);
      await bad('granularity=hour', ['granularity']);
      await bad('granularity=', ['granularity']);
      await bad('start_date=-1', ['start_date']);
      await bad('start_date=abc&end_date=1.5', ['start_date', 'end_date']);
      await bad('end_date=999999999999999', ['end_date']);
      await bad(`start_date=${D2}&end_date=${D1}`, ['start_date']);
      await bad('country_codes=XX', ['country_codes']);
      await bad('country_codes=USA', ['country_codes']);
      await bad("country_codes=US,';--", ['country_codes']);
      await bad('country_codes=', ['country_codes']);
      await bad(`start_date=${D2}&end_date=${D1}&country_codes=ZZ`, ['start_date', 'country_codes']);
      await bad('granularity=week&start_date=-1', ['granularity', 'start_date']);
    });

    test("another partner's key, another client's or partner's channel, unknown ids → 404; no key → 401", async () => {
      const other = await seedTenant(t.app, { phoneNumberId: `${dialect}-usage-other`, wabaId: `${dialect}-usage-other-waba` });
      assert.equal((await get('', other.headers)).statusCode, 404);
      const theirs = `/api/v2/partners/${other.partner.id}/clients/${other.client.id}/channels/${other.channel.id}/info/usage`;
      assert.equal((await get('', tn.headers, theirs)).statusCode, 404);
      // Their channel under our partner and client.
      assert.equal((await get('', tn.headers, `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/channels/${other.channel.id}/info/usage`)).statusCode, 404);
      // Our channel under another client of ours.
      const c2 = (await t.app.inject({ method: 'POST', url: `/api/v2/partners/${tn.partner.id}/clients`, headers: tn.headers, payload: { name: 'C2', currency: 'EUR', country: 'DE', payment_mode: 'direct' } })).json();
      await addChannel(t.app, { id: tn.partner.id, api_key: tn.headers['x-api-key'] }, c2.id, { phoneNumberId: `${dialect}-usage-c2` });
      assert.equal((await get('', tn.headers, `/api/v2/partners/${tn.partner.id}/clients/${c2.id}/channels/${tn.channel.id}/info/usage`)).statusCode, 404);
      assert.equal((await get('', tn.headers, `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/channels/nosuchCH/info/usage`)).statusCode, 404);
      assert.equal((await get('', tn.headers, `/api/v2/partners/${tn.partner.id}/clients/nosuchCL/channels/${tn.channel.id}/info/usage`)).statusCode, 404);
      const none = await get('', {});
      assert.equal(none.statusCode, 401);
      assert.ok(none.json().meta);
      // The other tenant's channel has no usage, and ours is unchanged by theirs.
      assert.deepEqual((await t.app.inject({ method: 'GET', url: theirs, headers: other.headers })).json().pricing_analytics.data[0].data_points, []);
    });
  });
}
