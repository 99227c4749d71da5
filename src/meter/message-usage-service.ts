/**
 * Per-message analytics of one channel (`…/channels/{channel_id}/info/usage`), shaped like Meta's
 * `pricing_analytics` (the billing reference §4): delivered PMP messages counted and priced per
 * time bucket × country × pricing category × pricing type × volume tier.
 *
 * The source is the meter's count of the delivered messages it turned into PMP units (CBP-era
 * messages are counted as conversations and are not here), per half hour or UTC day and everything
 * that tells data points and charge groups apart (`message_usage_half_hours`, `message_usage_days`:
 * src/store/usage-queries.ts), so a month of a busy channel is read as its day groups (a few
 * thousand) and, for half hours, integer counts per half hour and group — not as its 600,000
 * messages. A charged group's rate is its charge group's (`charges`, joined on the charge key), so `cost` is the sum of the rates of the messages in a data point — volume × rate when they
 * share one — in the client's currency, exact (integer micros inside).
 *
 * Buckets are UTC, like `…/info/balance`: half hours and days as stored; months are the sums of
 * their days. A bucket is reported when it overlaps [start, end] and holds messages.
 */
import { utcDayStart, utcMonthStart } from '../billing/calendar.ts';
import { canonicalCategory, type UsageCategory } from '../billing/categories.ts';
import { microsToJson } from '../billing/money.ts';
import { rateCategoryOf, TIERED_CATEGORIES, type PriceBooks } from '../billing/pricing.ts';
import { tierLabel } from '../billing/volume-tiers.ts';
import type { Store } from '../store/database.ts';
import { messageUsageDays, messageUsageHalfHours } from '../store/usage-queries.ts';
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

/** One data point, in Meta's field order; `country`, `tier` and `unpriced_volume` may be absent (undefined: not in the JSON). */
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
export function pricingType(free: string | null, freeType: string | null): string {
  if (free == null) return 'REGULAR';
  if (free === 'free_entry_point') return 'FREE_ENTRY_POINT';
  // free_customer_service, free_group_customer_service, and any free_* Meta adds later, as sent.
  if (freeType != null && freeType.startsWith('free')) return freeType.toUpperCase();
  // On-Premises statuses without `type` whose `billable: false` made them free.
  return 'FREE_CUSTOMER_SERVICE';
}

/** Meta's PRICING_CATEGORY: the meter's category upper-cased; an unknown one as Meta spelt it. */
export function pricingCategory(category: string, raw: string | null): string {
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
      const { from, to } = bucketRange(q.granularity, q.start, q.end);
      const halfHours = q.granularity === 'half_hour';
      const fromDay = utcDayStart(from);
      // The day groups (with the day counts, and each month the sum of its days) and their charge
      // groups' rates; for half hours, their counts, which name their day group. One snapshot: a
      // read-only transaction (repeatable read on PostgreSQL; SQLite's is one snapshot anyway).
      const { days, halfHourCounts } = await deps.store.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
        .execute(async (trx) => ({
          days: await messageUsageDays(trx, channel.phone_number_id, fromDay, to, q.countries),
          halfHourCounts: halfHours ? await messageUsageHalfHours({ db: trx, dialect: deps.store.dialect }, channel.phone_number_id, from, to) : null,
        }));

      // What each group is reported as: a country, and a category, type and tier worked out once
      // per distinct key (a handful per answer, however many days).
      const labelOf = new Map<string, Label>();
      const labels: Label[] = [];
      const countries = new Map<string, Country>();
      const groups = new Map<number, Group>();
      for (const d of days) {
        const charged = d.free === '';
        const month = d.local_day.slice(0, 7);
        const lk = JSON.stringify([d.category, d.raw_category, d.free, d.free_type, ...(charged ? [d.market, month, d.tier] : [])]);
        let label = labelOf.get(lk);
        if (!label) {
          const category = d.category as UsageCategory;
          const pricing_category = pricingCategory(category, d.raw_category || null);
          const pricing_type = pricingType(d.free || null, d.free_type || null);
          const tier = charged ? tierOf(client.currency, category, d.market || null, month || null, Number(d.tier)) : undefined;
          label = labels.find((l) => l.pricing_category === pricing_category && l.pricing_type === pricing_type && l.tier === tier);
          if (!label) labels.push((label = { pricing_category, pricing_type, tier, rank: 0 }));
          labelOf.set(lk, label);
        }
        let country = countries.get(d.country);
        if (!country) countries.set(d.country, (country = { code: d.country, rank: 0 }));
        const rate = d.rate == null ? null : Number(d.rate);
        groups.set(Number(d.id), { day: Number(d.day), volume: Number(d.volume), country, label, charged, rate, order: 0 });
      }

      // Order: start, country (unknown last), category, type, tier (none last), as Meta's. A data
      // point's place is one number: its bucket's index, then its country's and label's ranks.
      const cmp = (a: string | undefined, b: string | undefined) => (a === b ? 0 : a === undefined ? 1 : b === undefined ? -1 : a < b ? -1 : 1);
      [...countries.values()].sort((a, b) => cmp(a.code || undefined, b.code || undefined)).forEach((c, i) => { c.rank = i; });
      [...labels].sort((a, b) => cmp(a.pricing_category, b.pricing_category) || cmp(a.pricing_type, b.pricing_type) || cmp(a.tier, b.tier))
        .forEach((l, i) => { l.rank = i; });
      const perBucket = countries.size * labels.length;
      for (const g of groups.values()) g.order = g.country.rank * labels.length + g.label.rank;

      // The counts summed into data points. A data point's place in the answer is one number, its
      // bucket's index then its group's order; where the range spans few enough places the points
      // are kept in an array indexed by it (already in order), else in a map whose keys are sorted.
      const size = halfHours ? HALF_HOUR : DAY;
      const origin = halfHours ? from : fromDay;
      const places = Math.ceil((to - origin) / size) * perBucket;
      const dense = places <= 2_000_000;
      const slots: (PricingDataPoint | undefined)[] = dense ? new Array(places) : [];
      const byPlace = new Map<number, PricingDataPoint>();
      const unpricedOf = new Map<PricingDataPoint, number>();
      const phone = channel.phone_number.replace(/\D/g, '');
      const ends = new Map<number, number>();
      const add = (start: number, g: Group, volume: number) => {
        const at = ((start - origin) / size) * perBucket + g.order;
        let p = dense ? slots[at] : byPlace.get(at);
        if (!p) {
          let end = ends.get(start);
          if (end === undefined) ends.set(start, (end = bucketEnd(q.granularity, start)));
          // One shape for all (absent fields are undefined, which JSON leaves out); `cost` counts micros until the end.
          p = {
            start, end, volume: 0, cost: 0, country: g.country.code || undefined,
            pricing_category: g.label.pricing_category, pricing_type: g.label.pricing_type, tier: g.label.tier,
            phone_number: phone, unpriced_volume: undefined,
          };
          if (dense) slots[at] = p;
          else byPlace.set(at, p);
        }
        p.volume += volume;
        if (!g.charged) return;
        // The sum of the messages' rates: volume × their charge group's rate (integer micros).
        if (g.rate != null) p.cost += volume * g.rate;
        else unpricedOf.set(p, (unpricedOf.get(p) ?? 0) + volume);
      };
      if (halfHourCounts) {
        halfHourCounts.each((bucket, keyId, volume) => {
          const g = groups.get(keyId);
          if (g) add(bucket, g, volume); // else: a group of another country than those asked for
        });
      } else {
        const monthOf = new Map<number, number>();
        for (const g of groups.values()) {
          if (g.volume <= 0) continue; // a group every message has left
          let start = g.day;
          if (q.granularity === 'month') {
            const m = monthOf.get(g.day);
            if (m === undefined) monthOf.set(g.day, (start = utcMonthStart(g.day)));
            else start = m;
          }
          add(start, g, g.volume);
        }
      }
      const data_points: PricingDataPoint[] = [];
      const emit = (p: PricingDataPoint | undefined) => {
        if (!p) return;
        p.cost = microsToJson(p.cost);
        const unpriced = unpricedOf.get(p);
        if (unpriced) p.unpriced_volume = unpriced;
        data_points.push(p);
      };
      if (dense) for (let i = 0; i < slots.length; i++) emit(slots[i]);
      else for (const at of Float64Array.from(byPlace.keys()).sort()) emit(byPlace.get(at));
      return {
        pricing_analytics: { data: [{ data_points }] },
        id: channel.waba_id,
        currency: client.currency,
        granularity: q.granularity,
      };
    },
  };
}

/** A data point's category, type and tier, and its place among the others of the answer. */
interface Label { pricing_category: string; pricing_type: string; tier: string | undefined; rank: number }
interface Country { code: string; rank: number }
/** A day group: what it is reported as, its charge group's rate, and its place within a bucket. */
interface Group { day: number; volume: number; country: Country; label: Label; charged: boolean; rate: number | null; order: number }

export type MessageUsageService = ReturnType<typeof createMessageUsageService>;
