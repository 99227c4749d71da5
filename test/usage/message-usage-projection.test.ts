/**
 * `…/info/usage` reads the meter's per-half-hour and per-day counts of delivered messages
 * (`message_usage_half_hours`, `message_usage_days`) instead of scanning `messages`. On SQLite and
 * PostgreSQL: after traffic that moves messages between groups (a read status followed by an
 * earlier delivered one, across a half hour and across a day; a volume tier crossed out of order; a
 * channel registered after its traffic), the answers are exactly those of the per-message
 * computation the counts replaced (kept below as the oracle), the counts equal their definition
 * over `messages`, a group every message has left is no data point, and the migration fills the
 * counts of a store metered before it existed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { utcDayStart, utcMonthStart } from '../../src/billing/calendar.ts';
import type { UsageCategory } from '../../src/billing/categories.ts';
import { microsToJson } from '../../src/billing/money.ts';
import { rateCategoryOf, TIERED_CATEGORIES, type PriceBooks } from '../../src/billing/pricing.ts';
import { tierLabel } from '../../src/billing/volume-tiers.ts';
import { bucketRange, pricingCategory, pricingType, type MessageUsageQuery, type PricingDataPoint } from '../../src/meter/message-usage-service.ts';
import { openStore } from '../../src/store/database.ts';
import { migrate, MIGRATIONS } from '../../src/store/migrations.ts';
import type { Database } from '../../src/store/schema.ts';
import { addChannel, at, DIALECTS, envelope, freshStore, loadVolumeTiers, postWebhook, seedTenant, startApp, status, type StatusSpec, type TestApp } from '../helpers.ts';

const GERMANY = '4915112345678';
const INDIA = '919876543210';
const US = '12025550123';
const UNKNOWN = '999123'; // no country: charged, no market, unpriced

const pmp = (id: string, iso: string, recipient: string, category: string, type: string | undefined, st = 'delivered'): StatusSpec =>
  ({ id, status: st, ts: at(iso), recipient, pricing: { model: 'PMP', ...(type ? { type } : {}), category } });

/** Traffic of one channel (October–November 2026); later bodies move messages the first ones counted. */
const FIRST: StatusSpec[] = [
  pmp('a1', '2026-10-05T10:05:00', GERMANY, 'marketing', 'regular'),
  pmp('a2', '2026-10-05T10:40:00', GERMANY, 'marketing', 'regular'),
  pmp('a3', '2026-10-05T11:10:00', INDIA, 'service', 'free_customer_service'),
  pmp('a4', '2026-10-05T12:31:00', US, 'marketing', 'free_entry_point'),
  pmp('a5', '2026-10-05T13:00:00', INDIA, 'utility', 'free_group_customer_service'),
  { id: 'a6', status: 'delivered', ts: at('2026-10-05T13:10:00'), recipient: GERMANY, pricing: { model: 'PMP', category: 'utility', billable: false } },
  pmp('a7', '2026-10-05T14:00:00', UNKNOWN, 'utility', 'regular'),
  pmp('a8', '2026-10-06T09:40:00', GERMANY, 'group_marketing', 'regular'),
  pmp('a9', '2026-10-31T20:00:00', INDIA, 'utility', 'regular'), // 1 November in India's time
  pmp('a10', '2026-11-02T08:00:00', US, 'authentication', 'regular'),
  // India utility with the test schedule (tier 0:2, then 3:MAX), in order…
  pmp('u1', '2026-10-07T11:00:00', INDIA, 'utility', 'regular'),
  pmp('u2', '2026-10-07T11:10:00', INDIA, 'utility', 'regular'),
  pmp('u3', '2026-10-07T11:20:00', INDIA, 'utility', 'regular'),
  // Read, with no delivered status yet: counted at the read's time…
  pmp('r1', '2026-10-08T10:20:00', GERMANY, 'marketing', 'regular', 'read'),
  pmp('r2', '2026-10-09T00:10:00', INDIA, 'marketing', 'regular', 'read'),
  // Not usage.
  pmp('s1', '2026-10-05T10:00:00', GERMANY, 'marketing', 'regular', 'sent'),
  { id: 'f1', status: 'failed', ts: at('2026-10-05T10:00:00'), recipient: GERMANY },
];
const LATER: StatusSpec[] = [
  // …until the delivered status says it arrived earlier: another half hour, another day.
  pmp('r1', '2026-10-08T09:50:00', GERMANY, 'marketing', 'regular'),
  pmp('r2', '2026-10-08T23:50:00', INDIA, 'marketing', 'regular'),
  // …one delivered before them arrives late: u2 is pushed into 3:MAX.
  pmp('u0', '2026-10-07T10:50:00', INDIA, 'utility', 'regular'),
  // The sent one is delivered now.
  pmp('s1', '2026-10-05T10:01:00', GERMANY, 'marketing', 'regular'),
];

// ---- the oracle: the per-message computation the counts replaced ---------------------------------

// Labels (Meta's PRICING_TYPE / PRICING_CATEGORY spellings) are the service's; the counting is the oracle's own.
function nextMonthStart(ts: number): number {
  const d = new Date(utcMonthStart(ts) * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}

async function oracle(db: Kysely<Database>, books: PriceBooks, currency: string, channel: { phone_number_id: string; phone_number: string }, q: MessageUsageQuery): Promise<PricingDataPoint[]> {
  const { from, to } = bucketRange(q.granularity, q.start, q.end);
  const bucket = q.granularity === 'half_hour' ? sql<number>`(coalesce(m.delivered_ts, m.read_ts) / 1800) * 1800` : sql<number>`m.unit_day`;
  let inner = db.selectFrom('messages as m')
    .leftJoin('charges as c', (join) => join
      .onRef('c.phone_number_id', '=', 'm.phone_number_id').onRef('c.day', '=', 'm.unit_day').onRef('c.local_day', '=', 'm.unit_local_day')
      .on('c.unit', '=', 'message').onRef('c.category', '=', 'm.unit_category')
      .on(sql<boolean>`c.market = coalesce(m.unit_market, '')`).onRef('c.tier', '=', 'm.unit_tier'))
    .where('m.phone_number_id', '=', channel.phone_number_id)
    .where('m.unit_day', 'is not', null).where('m.unit_day', '>=', utcDayStart(from)).where('m.unit_day', '<', to);
  if (q.granularity === 'half_hour') {
    inner = inner.where(sql<boolean>`coalesce(m.delivered_ts, m.read_ts) >= ${from}`).where(sql<boolean>`coalesce(m.delivered_ts, m.read_ts) < ${to}`);
  }
  if (q.countries) inner = inner.where('m.country', 'in', q.countries);
  const rows = await inner.select([
    bucket.as('bucket'), 'm.country as country', 'm.unit_category as category',
    sql<string | null>`case when m.unit_category = 'other' then coalesce(m.pricing_category, m.conv_origin) end`.as('raw_category'),
    'm.unit_free as free', sql<string | null>`case when m.unit_free = 'free_tier' then m.pricing_type end`.as('free_type'),
    'm.unit_market as market', sql<string | null>`substr(m.unit_local_day, 1, 7)`.as('month'), 'm.unit_tier as tier', 'c.rate as rate',
  ]).execute();
  const tierOf = (category: UsageCategory, market: string | null, month: string | null, tier: number) => {
    const rc = rateCategoryOf(category);
    if (rc == null || !TIERED_CATEGORIES.has(rc) || market == null || month == null) return '0:MAX';
    const t = books.tiers?.scheduleFor({ market, currency, category: rc, day: `${month}-01` })?.tiers[tier];
    return t ? tierLabel(t) : '0:MAX';
  };
  const points = new Map<string, PricingDataPoint & { micros: number; unpriced: number }>();
  const phone = channel.phone_number.replace(/\D/g, '');
  for (const r of rows) {
    const start = q.granularity === 'month' ? utcMonthStart(Number(r.bucket)) : Number(r.bucket);
    const type = pricingType(r.free, r.free_type);
    const tier = r.free == null ? tierOf(r.category as UsageCategory, r.market, r.month, Number(r.tier ?? 0)) : undefined;
    const cat = pricingCategory(r.category!, r.raw_category);
    const key = [start, r.country ?? '', cat, type, tier ?? ''].join('|');
    let p = points.get(key);
    if (!p) {
      const end = q.granularity === 'half_hour' ? start + 1800 : q.granularity === 'day' ? start + 86_400 : nextMonthStart(start);
      p = { start, end, volume: 0, cost: 0, ...(r.country != null ? { country: r.country } : {}), pricing_category: cat, pricing_type: type, ...(tier !== undefined ? { tier } : {}), phone_number: phone, micros: 0, unpriced: 0 };
      points.set(key, p);
    }
    p.volume += 1;
    p.micros += Number(r.rate ?? 0);
    if (r.free == null && r.rate == null) p.unpriced += 1;
  }
  const cmp = (a: string | undefined, b: string | undefined) => (a === b ? 0 : a === undefined ? 1 : b === undefined ? -1 : a < b ? -1 : 1);
  return [...points.values()]
    .sort((a, b) => a.start - b.start || cmp(a.country, b.country) || cmp(a.pricing_category, b.pricing_category) || cmp(a.pricing_type, b.pricing_type) || cmp(a.tier, b.tier))
    .map(({ micros, unpriced, ...p }) => ({ ...p, cost: microsToJson(micros), ...(unpriced > 0 ? { unpriced_volume: unpriced } : {}) }));
}

/** The counts as their definition over `messages` says, and as stored (groups at 0 left out), each half hour with its day group's key. */
const KEY = sql`coalesce(country, '') as country, unit_category as category,
    case when unit_category = 'other' then coalesce(pricing_category, conv_origin, '') else '' end as raw_category,
    coalesce(unit_free, '') as free, case when unit_free = 'free_tier' then coalesce(pricing_type, '') else '' end as free_type,
    coalesce(unit_local_day, '') as local_day, coalesce(unit_market, '') as market, coalesce(unit_tier, 0) as tier`;
const ORDER = sql`order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11`;
const DEFINITION = {
  days: sql`select phone_number_id, unit_day as day, unit_day as b, ${KEY}, count(*) as volume from messages where unit_day is not null group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ${ORDER}`,
  halfHours: sql`select phone_number_id, unit_day as day, (coalesce(delivered_ts, read_ts) / 1800) * 1800 as b, ${KEY}, count(*) as volume from messages where unit_day is not null group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ${ORDER}`,
};
const COLUMNS = sql`d.country, d.category, d.raw_category, d.free, d.free_type, d.local_day, d.market, d.tier`;
const STORED = {
  days: sql`select d.phone_number_id, d.day, d.day as b, ${COLUMNS}, d.volume from message_usage_days d where d.volume <> 0 ${ORDER}`,
  halfHours: sql`select h.phone_number_id, d.day, h.bucket as b, ${COLUMNS}, h.volume from message_usage_half_hours h
    join message_usage_days d on d.id = h.key_id and d.phone_number_id = h.phone_number_id where h.volume <> 0 ${ORDER}`,
};
const normalize = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r, day: Number(r.day), b: Number(r.b), tier: Number(r.tier), volume: Number(r.volume) }) as Record<string, unknown>);

async function countsOf(db: Kysely<Database>, of: typeof STORED = STORED) {
  return {
    days: normalize((await of.days.execute(db)).rows as Record<string, unknown>[]),
    halfHours: normalize((await of.halfHours.execute(db)).rows as Record<string, unknown>[]),
  };
}

for (const dialect of DIALECTS) {
  describe(`info/usage from the meter's counts [${dialect}]`, () => {
    let t: TestApp;
    let tn: Awaited<ReturnType<typeof seedTenant>>;
    const phoneNumberId = `${dialect}-proj-1`;
    const latePhone = `${dialect}-proj-late`;
    let late: { id: string; phone_number_id: string; phone_number: string };
    const PHONE = '+4930123456'; // every channel the helpers register

    before(async () => {
      t = await startApp(dialect);
      await loadVolumeTiers(t.app, 'market,currency,category,from,to,rate\nIndia,USD,utility,0,2,0.0014\nIndia,USD,utility,3,,0.0010\n');
      // India's time zone: some UTC days and months are another local day and month.
      tn = await seedTenant(t.app, { phoneNumberId, wabaId: `${dialect}-proj-waba`, timezone: 'Asia/Kolkata' });
      for (const body of [FIRST, LATER]) {
        const res = await postWebhook(t.app, envelope(body.map(status), { phoneNumberId, wabaId: `${dialect}-proj-waba` }));
        assert.equal(res.statusCode, 200, res.body);
      }
      // A channel registered after its traffic (the meter replays it then).
      const lateTraffic = FIRST.map((s) => ({ ...s, id: `late-${s.id}` }));
      const res = await postWebhook(t.app, envelope(lateTraffic.map(status), { phoneNumberId: latePhone, wabaId: `${dialect}-proj-waba-2` }));
      assert.equal(res.statusCode, 200, res.body);
      const lateChannel = await addChannel(t.app, { id: tn.partner.id, api_key: tn.headers['x-api-key'] }, tn.client.id, { phoneNumberId: latePhone, wabaId: `${dialect}-proj-waba-2` });
      assert.ok(lateChannel.replayed_statuses > 0);
      late = { id: lateChannel.id, phone_number_id: latePhone, phone_number: PHONE };
      const moreLate = await postWebhook(t.app, envelope(LATER.map((s) => status({ ...s, id: `late-${s.id}` })), { phoneNumberId: latePhone, wabaId: `${dialect}-proj-waba-2` }));
      assert.equal(moreLate.statusCode, 200, moreLate.body);
      // The replay and everything else metered: the oracle and the checks below read the store directly.
      await t.services.queue.drain();
    });
    after(async () => { await t.close(); });

    async function points(channelId: string, query: string): Promise<PricingDataPoint[]> {
      const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/channels/${channelId}/info/usage?${query}`, headers: tn.headers });
      assert.equal(res.statusCode, 200, res.body);
      return res.json().pricing_analytics.data[0].data_points;
    }

    const RANGES: [number, number][] = [
      [at('2026-10-01T00:00:00'), at('2026-11-30T23:59:59')],
      [at('2026-10-05T10:31:00'), at('2026-10-08T10:05:00')], // cuts half hours and days
      [at('2026-10-31T00:00:00'), at('2026-11-01T00:00:00')], // cuts months
      [at('2026-10-08T10:00:00'), at('2026-10-08T10:29:59')], // the half hour r1 left
    ];

    test('every granularity, range and country filter answers exactly as the per-message computation', async () => {
      const client = await t.services.tenants.getClient(tn.partner.id, tn.client.id);
      let compared = 0;
      for (const ch of [{ id: tn.channel.id, phone_number_id: phoneNumberId, phone_number: PHONE }, late]) {
        for (const granularity of ['half_hour', 'day', 'month'] as const) {
          for (const [start, end] of RANGES) {
            for (const countries of [undefined, ['IN'], ['DE', 'US']]) {
              const query = `granularity=${granularity}&start_date=${start}&end_date=${end}${countries ? `&country_codes=${countries.join(',')}` : ''}`;
              const want = await oracle(t.services.store.db, t.services.books, client.currency, ch, { start, end, granularity, countries });
              assert.deepEqual(await points(ch.id, query), want, `${ch.id} ${query}`);
              compared += want.length;
            }
          }
        }
      }
      assert.ok(compared > 100, `compared ${compared} data points`);
    });

    test('messages that moved are counted where they are now: no data point of a group they left', async () => {
      const half = await points(tn.channel.id, `granularity=half_hour&start_date=${at('2026-10-08T00:00:00')}&end_date=${at('2026-10-09T23:59:59')}`);
      assert.deepEqual(half.map((p) => [p.start, p.country, p.volume]), [
        [at('2026-10-08T09:30:00'), 'DE', 1], // r1, read at 10:20, delivered at 09:50
        [at('2026-10-08T23:30:00'), 'IN', 1], // r2, read on the 9th, delivered on the 8th
      ]);
      const days = await points(tn.channel.id, `granularity=day&start_date=${at('2026-10-07T00:00:00')}&end_date=${at('2026-10-09T23:59:59')}`);
      assert.deepEqual(days.map((p) => [p.start, p.country, p.pricing_category, p.tier ?? null, p.volume, p.cost]), [
        [at('2026-10-07T00:00:00'), 'IN', 'UTILITY', '0:2', 2, 0.0028], // u0, u1
        [at('2026-10-07T00:00:00'), 'IN', 'UTILITY', '3:MAX', 2, 0.002], // u2 (pushed up a tier by u0), u3
        [at('2026-10-08T00:00:00'), 'DE', 'MARKETING', '0:MAX', 1, 0.1365],
        [at('2026-10-08T00:00:00'), 'IN', 'MARKETING', '0:MAX', 1, 0.0118],
      ]);
      for (const g of ['half_hour', 'day', 'month']) for (const p of await points(tn.channel.id, `granularity=${g}`)) assert.ok(p.volume > 0);
    });

    test('the counts equal their definition over the messages', async () => {
      const db = t.services.store.db;
      const stored = await countsOf(db);
      assert.deepEqual(stored, await countsOf(db, DEFINITION));
      // Every half hour lies in its day group's day; the late channel was counted too.
      for (const h of stored.halfHours) assert.equal(Math.floor((h.b as number) / 86_400) * 86_400, h.day);
      assert.ok(stored.halfHours.some((r) => r.phone_number_id === latePhone));
      assert.ok(stored.days.length > 10 && stored.halfHours.length > stored.days.length);
    });

    test('a group at 0 is no data point', async () => {
      // The meter leaves a group every message has left at 0: read as absent, at every granularity.
      const db = t.services.store.db;
      const { id } = await db.insertInto('message_usage_days').values({
        phone_number_id: phoneNumberId, day: at('2026-10-05T00:00:00'), country: 'FR', category: 'marketing', raw_category: '',
        free: '', free_type: '', local_day: '2026-10-05', market: 'France', tier: 0, volume: 0,
      }).returning('id').executeTakeFirstOrThrow();
      await db.insertInto('message_usage_half_hours').values({ phone_number_id: phoneNumberId, bucket: at('2026-10-05T10:00:00'), key_id: Number(id), volume: 0 }).execute();
      try {
        for (const g of ['half_hour', 'day', 'month']) {
          const ps = await points(tn.channel.id, `granularity=${g}&start_date=${at('2026-10-05T00:00:00')}&end_date=${at('2026-10-05T23:59:59')}`);
          assert.ok(ps.length > 0 && !ps.some((p) => p.country === 'FR'), `${g}: ${JSON.stringify(ps)}`);
        }
      } finally {
        await db.deleteFrom('message_usage_half_hours').where('key_id', '=', Number(id)).execute();
        await db.deleteFrom('message_usage_days').where('id', '=', Number(id)).execute();
      }
    });

    test('the migration fills the counts of a store metered before it', async () => {
      // The messages of this store, in a store one migration short of the counts, then migrated.
      const target = MIGRATIONS.findIndex((m) => m.name === 'usageReadPaths');
      assert.ok(target > 0);
      const other = await freshStore(dialect);
      const store = await openStore(other.url, { migrate: false });
      try {
        await migrate(store.db, store.dialect, target);
        const messages = await t.services.store.db.selectFrom('messages').selectAll().execute();
        assert.ok(messages.length > 20);
        await store.db.insertInto('messages').values(messages).execute();
        await migrate(store.db, store.dialect);
        assert.deepEqual(await countsOf(store.db), await countsOf(t.services.store.db));
      } finally {
        await store.close();
        await other.cleanup();
      }
    });
  });
}
