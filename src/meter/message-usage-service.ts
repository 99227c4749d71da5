/**
 * Per-message analytics of one channel (`…/channels/{channel_id}/info/usage`), shaped like Meta's
 * `pricing_analytics` (the billing reference §4): delivered PMP messages counted and priced per
 * time bucket × country × pricing category × pricing type × volume tier.
 *
 * The source is the `messages` projection: every delivered message the meter turned into a PMP
 * unit has `unit_day` set (CBP-era messages are counted as conversations and are not here). A
 * charged message's rate is its charge group's (`charges`, joined on the unit's charge key), so
 * `cost` is the sum of the rates of the messages in a data point — volume × rate when they share
 * one — in the client's currency, exact (integer micros inside).
 *
 * Buckets are UTC, like `…/info/balance`: half hours and days in SQL; months are the sums of their
 * days' groups. A bucket is reported when it overlaps [start, end] and holds messages.
 */
import { sql } from 'kysely';
import { utcDayStart, utcMonthStart } from '../billing/calendar.ts';
import { canonicalCategory, type UsageCategory } from '../billing/categories.ts';
import { microsToJson } from '../billing/money.ts';
import { rateCategoryOf, TIERED_CATEGORIES, type PriceBooks } from '../billing/pricing.ts';
import { tierLabel } from '../billing/volume-tiers.ts';
import type { Store } from '../store/database.ts';
import type { Channel, Client } from '../store/tenants-store.ts';

export type UsageGranularity = 'half_hour' | 'day' | 'month';

export interface MessageUsageQuery {
  /** Unix seconds, inclusive. */
  start: number;
  end: number;
  granularity: UsageGranularity;
  /** ISO alpha-2, upper case; undefined = every country (and messages whose country is unknown). */
  countries?: string[];
}

/** One data point, in Meta's field order; `country`, `tier` and `unpriced_volume` may be absent. */
export interface PricingDataPoint {
  start: number;
  end: number;
  volume: number;
  cost: number;
  country?: string;
  pricing_category: string;
  pricing_type: string;
  tier?: string;
  phone_number: string;
  unpriced_volume?: number;
}

const HALF_HOUR = 1800;
const DAY = 86_400;

function nextMonthStart(ts: number): number {
  const d = new Date(utcMonthStart(ts) * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}

/** The first bucket start at or before `ts`, and the end (exclusive) of the bucket holding `ts`. */
export function bucketRange(g: UsageGranularity, start: number, end: number): { from: number; to: number } {
  switch (g) {
    case 'half_hour': return { from: Math.floor(start / HALF_HOUR) * HALF_HOUR, to: Math.floor(end / HALF_HOUR) * HALF_HOUR + HALF_HOUR };
    case 'day': return { from: utcDayStart(start), to: utcDayStart(end) + DAY };
    case 'month': return { from: utcMonthStart(start), to: nextMonthStart(end) };
  }
}

function bucketEnd(g: UsageGranularity, start: number): number {
  return g === 'half_hour' ? start + HALF_HOUR : g === 'day' ? start + DAY : nextMonthStart(start);
}

/** Meta's PRICING_TYPE values from the meter's reason a message is free (null = charged). */
function pricingType(free: string | null, freeType: string | null): string {
  if (free == null) return 'REGULAR';
  if (free === 'free_entry_point') return 'FREE_ENTRY_POINT';
  // free_customer_service, free_group_customer_service, and any free_* Meta adds later, as sent.
  if (freeType != null && freeType.startsWith('free')) return freeType.toUpperCase();
  // On-Premises statuses without `type` whose `billable: false` made them free.
  return 'FREE_CUSTOMER_SERVICE';
}

/** Meta's PRICING_CATEGORY: the meter's category upper-cased; an unknown one as Meta spelt it. */
function pricingCategory(category: string, raw: string | null): string {
  if (category === 'other') return (canonicalCategory(raw) ?? 'other').toUpperCase();
  return category.toUpperCase();
}

export function createMessageUsageService(deps: { store: Store; books: PriceBooks }) {
  /**
   * `"LOWER:UPPER"` of a charged message's volume tier: the tier of the schedule in force for its
   * market, currency and category in its month; `0:MAX` for untiered categories (marketing) and
   * where no schedule is loaded (every charged message is then at the list rate).
   */
  function tierOf(currency: string, category: UsageCategory, market: string | null, month: string | null, tier: number): string {
    const rateCategory = rateCategoryOf(category);
    if (rateCategory == null || !TIERED_CATEGORIES.has(rateCategory) || market == null || month == null) return '0:MAX';
    const schedule = deps.books.tiers?.scheduleFor({ market, currency, category: rateCategory, day: `${month}-01` });
    const t = schedule?.tiers[tier];
    return t ? tierLabel(t) : '0:MAX';
  }

  return {
    async pricingAnalytics(client: Client, channel: Channel, q: MessageUsageQuery) {
      const db = deps.store.db;
      const { from, to } = bucketRange(q.granularity, q.start, q.end);
      const bucket = q.granularity === 'half_hour'
        ? sql<number>`(coalesce(m.delivered_ts, m.read_ts) / 1800) * 1800`
        : sql<number>`m.unit_day`;
      let inner = db.selectFrom('messages as m')
        .leftJoin('charges as c', (join) => join
          .onRef('c.phone_number_id', '=', 'm.phone_number_id')
          .onRef('c.day', '=', 'm.unit_day')
          .onRef('c.local_day', '=', 'm.unit_local_day')
          .on('c.unit', '=', 'message')
          .onRef('c.category', '=', 'm.unit_category')
          .on(sql<boolean>`c.market = coalesce(m.unit_market, '')`)
          .onRef('c.tier', '=', 'm.unit_tier'))
        .where('m.phone_number_id', '=', channel.phone_number_id)
        .where('m.unit_day', 'is not', null)
        .where('m.unit_day', '>=', utcDayStart(from))
        .where('m.unit_day', '<', to);
      if (q.granularity === 'half_hour') {
        inner = inner.where(sql<boolean>`coalesce(m.delivered_ts, m.read_ts) >= ${from}`).where(sql<boolean>`coalesce(m.delivered_ts, m.read_ts) < ${to}`);
      }
      if (q.countries) inner = inner.where('m.country', 'in', q.countries);
      const units = inner.select([
        bucket.as('bucket'),
        'm.country as country',
        'm.unit_category as category',
        sql<string | null>`case when m.unit_category = 'other' then coalesce(m.pricing_category, m.conv_origin) end`.as('raw_category'),
        'm.unit_free as free',
        sql<string | null>`case when m.unit_free = 'free_tier' then m.pricing_type end`.as('free_type'),
        'm.unit_market as market',
        sql<string | null>`substr(m.unit_local_day, 1, 7)`.as('month'),
        'm.unit_tier as tier',
        'c.rate as rate',
      ]);
      const dims = ['u.bucket', 'u.country', 'u.category', 'u.raw_category', 'u.free', 'u.free_type', 'u.market', 'u.month', 'u.tier'] as const;
      const rows = await db.selectFrom(units.as('u'))
        .select(dims)
        .select((eb) => [
          eb.fn.countAll<number>().as('volume'),
          eb.fn.sum<number | string | null>('u.rate').as('cost'),
          sql<number | string>`sum(case when u.free is null and u.rate is null then 1 else 0 end)`.as('unpriced'),
        ])
        .groupBy([...dims])
        .execute();

      const points = new Map<string, PricingDataPoint & { micros: number; unpriced: number }>();
      const phone = channel.phone_number.replace(/\D/g, '');
      for (const r of rows) {
        const start = q.granularity === 'month' ? utcMonthStart(Number(r.bucket)) : Number(r.bucket);
        const category = r.category as UsageCategory;
        const type = pricingType(r.free, r.free_type);
        const tier = r.free == null ? tierOf(client.currency, category, r.market, r.month, Number(r.tier ?? 0)) : undefined;
        const cat = pricingCategory(category, r.raw_category);
        const key = [start, r.country ?? '', cat, type, tier ?? ''].join('|');
        let p = points.get(key);
        if (!p) {
          p = {
            start, end: bucketEnd(q.granularity, start), volume: 0, cost: 0,
            ...(r.country != null ? { country: r.country } : {}),
            pricing_category: cat, pricing_type: type,
            ...(tier !== undefined ? { tier } : {}),
            phone_number: phone, micros: 0, unpriced: 0,
          };
          points.set(key, p);
        }
        p.volume += Number(r.volume);
        p.micros += Number(r.cost ?? 0);
        p.unpriced += Number(r.unpriced ?? 0);
      }
      const cmp = (a: string | undefined, b: string | undefined) => (a === b ? 0 : a === undefined ? 1 : b === undefined ? -1 : a < b ? -1 : 1);
      const data_points: PricingDataPoint[] = [...points.values()]
        .sort((a, b) => a.start - b.start || cmp(a.country, b.country) || cmp(a.pricing_category, b.pricing_category)
          || cmp(a.pricing_type, b.pricing_type) || cmp(a.tier, b.tier))
        .map(({ micros, unpriced, ...p }) => ({ ...p, cost: microsToJson(micros), ...(unpriced > 0 ? { unpriced_volume: unpriced } : {}) }));
      return {
        pricing_analytics: { data: [{ data_points }] },
        id: channel.waba_id,
        currency: client.currency,
        granularity: q.granularity,
      };
    },
  };
}

export type MessageUsageService = ReturnType<typeof createMessageUsageService>;
