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
 *
 * An answer is made as columns of numbers (`PricingAnalyticsColumns`: a month of half hours is
 * ~88,000 data points); the HTTP layer writes them as JSON bytes (src/api/pricing-analytics-json.ts).
 */
import { utcDayStart, utcMonthStart } from '../billing/calendar.ts';
import { canonicalCategory, type UsageCategory } from '../billing/categories.ts';
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

  /** The answer of a query, as columns (see `PricingAnalyticsColumns`). */
  async function pricingAnalyticsColumns(client: Client, channel: Channel, q: MessageUsageQuery): Promise<PricingAnalyticsColumns> {
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
    const byRank = [...countries.values()].sort((a, b) => cmp(a.code || undefined, b.code || undefined));
    byRank.forEach((c, i) => { c.rank = i; });
    const labelsByRank = [...labels].sort((a, b) => cmp(a.pricing_category, b.pricing_category) || cmp(a.pricing_type, b.pricing_type) || cmp(a.tier, b.tier));
    labelsByRank.forEach((l, i) => { l.rank = i; });
    const perBucket = countries.size * labels.length;
    for (const g of groups.values()) g.order = g.country.rank * labels.length + g.label.rank;
    // A data point's `kind` is its group's order: what it is reported as.
    const phone = channel.phone_number.replace(/\D/g, '');
    const kinds: PricingKind[] = byRank.flatMap((c) => labelsByRank.map((l) => ({
      ...(c.code ? { country: c.code } : {}),
      pricing_category: l.pricing_category,
      pricing_type: l.pricing_type,
      ...(l.tier !== undefined ? { tier: l.tier } : {}),
      phone_number: phone,
    })));

    // The counts summed into data points, kept as columns: a month of half hours is ~90,000 of
    // them, and an object each costs more than the rest of the answer. A data point's place in the
    // answer is one number, its bucket's index then its group's order; where the range spans few
    // enough places a point is found through an array indexed by it (whose order is the answer's),
    // else through a map whose keys are sorted.
    const size = halfHours ? HALF_HOUR : DAY;
    const origin = halfHours ? from : fromDay;
    const places = Math.ceil((to - origin) / size) * perBucket;
    const dense = places <= 2_000_000;
    const slots = new Int32Array(dense ? places : 0); // a point's index + 1; 0: none yet
    const byPlace = new Map<number, number>();
    const points = new PointColumns(Math.min(places, 4096));
    const add = (bucket: number, g: Group, count: number) => {
      const at = ((bucket - origin) / size) * perBucket + g.order;
      let i = dense ? slots[at] - 1 : (byPlace.get(at) ?? -1);
      if (i < 0) {
        i = points.add(bucket, g.order);
        if (dense) slots[at] = i + 1;
        else byPlace.set(at, i);
      }
      points.volume[i] += count;
      if (!g.charged) return;
      // The sum of the messages' rates: volume × their charge group's rate (integer micros).
      if (g.rate != null) points.micros[i] += count * g.rate;
      else points.unpriced[i] += count;
    };
    if (halfHourCounts) {
      halfHourCounts.each((bucket, keyId, count) => {
        const g = groups.get(keyId);
        if (g) add(bucket, g, count); // else: a group of another country than those asked for
      });
    } else {
      const monthOf = new Map<number, number>();
      for (const g of groups.values()) {
        if (g.volume <= 0) continue; // a group every message has left
        let bucket = g.day;
        if (q.granularity === 'month') {
          const m = monthOf.get(g.day);
          if (m === undefined) monthOf.set(g.day, (bucket = utcMonthStart(g.day)));
          else bucket = m;
        }
        add(bucket, g, g.volume);
      }
    }

    // The columns in the answer's order, with each bucket's end.
    const order = new Int32Array(points.length);
    let n = 0;
    if (dense) for (let at = 0; at < slots.length; at++) { if (slots[at] !== 0) order[n++] = slots[at] - 1; }
    else for (const at of Float64Array.from(byPlace.keys()).sort()) order[n++] = byPlace.get(at)!;
    const out: PricingAnalyticsColumns = {
      id: channel.waba_id, currency: client.currency, granularity: q.granularity, kinds, length: n,
      start: new Float64Array(n), end: new Float64Array(n), volume: new Float64Array(n), micros: new Float64Array(n), unpriced: new Float64Array(n), kind: new Int32Array(n),
    };
    let lastStart = NaN;
    let lastEnd = NaN;
    for (let j = 0; j < n; j++) {
      const i = order[j];
      const bucket = points.start[i];
      // In order, a bucket's points are together: its end worked out once.
      if (bucket !== lastStart) lastEnd = bucketEnd(q.granularity, (lastStart = bucket));
      out.start[j] = bucket;
      out.end[j] = lastEnd;
      out.volume[j] = points.volume[i];
      out.micros[j] = points.micros[i];
      out.unpriced[j] = points.unpriced[i];
      out.kind[j] = points.kind[i];
    }
    return out;
  }

  return {
    /** The answer as columns (src/api/pricing-analytics-json.ts shapes them for the route). */
    pricingAnalyticsColumns,
  };
}

/** What a data point is reported as: all but its bucket and numbers. */
export type PricingKind = Pick<PricingDataPoint, 'country' | 'pricing_category' | 'pricing_type' | 'tier' | 'phone_number'>;

/**
 * An answer before it is shaped: its data points in order as columns, one entry per point (cost
 * in integer micros, 0 unpriced messages for none), and what each is reported as by `kind`.
 */
export interface PricingAnalyticsColumns {
  id: string;
  currency: string;
  granularity: UsageGranularity;
  kinds: PricingKind[];
  /** How many data points. */
  length: number;
  start: Float64Array;
  end: Float64Array;
  volume: Float64Array;
  micros: Float64Array;
  unpriced: Float64Array;
  kind: Int32Array;
}

/**
 * Data points as they are summed, one entry per point in typed arrays that grow by doubling:
 * filling plain arrays of numbers element by element costs several times as much here.
 */
class PointColumns {
  length = 0;
  start: Float64Array;
  kind: Int32Array;
  volume: Float64Array;
  micros: Float64Array;
  unpriced: Float64Array;
  constructor(capacity: number) {
    const n = Math.max(16, capacity);
    this.start = new Float64Array(n);
    this.kind = new Int32Array(n);
    this.volume = new Float64Array(n);
    this.micros = new Float64Array(n);
    this.unpriced = new Float64Array(n);
  }
  /** A new point at 0: its index. */
  add(start: number, kind: number): number {
    if (this.length === this.start.length) {
      const n = this.length * 2;
      this.start = doubled(new Float64Array(n), this.start);
      this.kind = doubled(new Int32Array(n), this.kind);
      this.volume = doubled(new Float64Array(n), this.volume);
      this.micros = doubled(new Float64Array(n), this.micros);
      this.unpriced = doubled(new Float64Array(n), this.unpriced);
    }
    this.start[this.length] = start;
    this.kind[this.length] = kind;
    return this.length++;
  }
}

function doubled<T extends Float64Array | Int32Array>(to: T, from: T): T {
  to.set(from);
  return to;
}

/** A data point's category, type and tier, and its place among the others of the answer. */
interface Label { pricing_category: string; pricing_type: string; tier: string | undefined; rank: number }
interface Country { code: string; rank: number }
/** A day group: what it is reported as, its charge group's rate, and its place within a bucket. */
interface Group { day: number; volume: number; country: Country; label: Label; charged: boolean; rate: number | null; order: number }

export type MessageUsageService = ReturnType<typeof createMessageUsageService>;
