/**
 * Usage counters: what one billing unit or message adds to a day's bucket, and how stored
 * counters become the usage row of the Partner API (`…/info/balance`).
 *
 * Every counter is an integer (prices in micros), so a bucket is the exact sum of its units and
 * moving a unit between buckets is a subtraction and an addition.
 */
import { USAGE_CATEGORIES, type UsageCategory } from './categories.ts';
import { microsToJson } from './money.ts';

export const USAGE_COUNTERS = [
  ...USAGE_CATEGORIES.flatMap((c) => [`${c}_quantity`, `${c}_paid_quantity`, `${c}_price`] as const),
  'free_tier',
  'free_entry_point',
  'unpriced_quantity',
  'messages_sent',
  'messages_delivered',
  'unclassified_messages',
] as const;
export type UsageCounter = (typeof USAGE_COUNTERS)[number];
export type UsageCounters = Record<UsageCounter, number>;

export function emptyCounters(): UsageCounters {
  const c = {} as UsageCounters;
  for (const k of USAGE_COUNTERS) c[k] = 0;
  return c;
}

/** What a paid unit is charged by: units with the same key share one rate (see pricing.ts). */
export interface ChargeKey {
  /** The unit's billing day in the WABA's time zone: which card and tier schedule are in force. */
  localDay: string;
  unit: 'message' | 'conversation';
  /** Null when the recipient's country is unknown (the unit cannot be priced). */
  market: string | null;
  /** Volume tier reached (0 = list rate, and always 0 for untiered categories). */
  tier: number;
}

/** A counted unit (a conversation or a charged-or-free delivered message) as it lands in a bucket. */
export interface BillingUnit {
  /** Start (unix s, UTC) of the day bucket the unit belongs to. */
  day: number;
  category: UsageCategory;
  /** Why it costs nothing, or null when it is paid. */
  free: 'free_tier' | 'free_entry_point' | null;
  /** How a paid unit is priced; null for a free one. */
  charge: ChargeKey | null;
}

export type Delta = Partial<Record<UsageCounter, number>>;

/**
 * Adds `sign` × the unit's quantities to `into`. Prices are not per unit: the meter adds each paid
 * unit's rate through its charge group, so a rate card change re-prices groups, not units.
 */
export function addUnit(into: Delta, unit: BillingUnit, sign: 1 | -1): void {
  const c = unit.category;
  bump(into, `${c}_quantity`, sign);
  if (unit.free) bump(into, unit.free, sign);
  else bump(into, `${c}_paid_quantity`, sign);
}

export function bump(into: Delta, counter: UsageCounter, by: number): void {
  if (by === 0) return;
  into[counter] = (into[counter] ?? 0) + by;
}

export function sameCharge(a: ChargeKey | null, b: ChargeKey | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.localDay === b.localDay && a.unit === b.unit && a.market === b.market && a.tier === b.tier;
}

export function sameUnit(a: BillingUnit | null, b: BillingUnit | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.day === b.day && a.category === b.category && a.free === b.free && sameCharge(a.charge, b.charge);
}

/** One row of `usage[]` in the seed's field order, plus wabameter's additive fields. */
export function usageRow(periodDate: string, k: UsageCounters): Record<string, number | string> {
  // The API folds the two sub-categories into their parents (360dialog has no columns for them)
  // and also reports them on their own, additively.
  const qty = (c: UsageCategory) => k[`${c}_quantity`];
  const paid = (c: UsageCategory) => k[`${c}_paid_quantity`];
  const price = (c: UsageCategory) => k[`${c}_price`];
  const auth = { q: qty('authentication') + qty('authentication_international'), p: paid('authentication') + paid('authentication_international'), m: price('authentication') + price('authentication_international') };
  const mkt = { q: qty('marketing') + qty('marketing_lite'), p: paid('marketing') + paid('marketing_lite'), m: price('marketing') + price('marketing_lite') };
  let quantity = 0;
  let paidQuantity = 0;
  let total = 0;
  for (const c of USAGE_CATEGORIES) {
    quantity += qty(c);
    paidQuantity += paid(c);
    total += price(c);
  }
  const freeQuantity = k.free_tier + k.free_entry_point;
  return {
    authentication_paid_quantity: auth.p,
    authentication_price: microsToJson(auth.m),
    authentication_quantity: auth.q,
    marketing_paid_quantity: mkt.p,
    marketing_price: microsToJson(mkt.m),
    marketing_quantity: mkt.q,
    service_paid_quantity: paid('service'),
    service_price: microsToJson(price('service')),
    service_quantity: qty('service'),
    utility_paid_quantity: paid('utility'),
    utility_price: microsToJson(price('utility')),
    utility_quantity: qty('utility'),
    business_initiated_paid_quantity: paid('business_initiated'),
    business_initiated_price: microsToJson(price('business_initiated')),
    business_initiated_quantity: qty('business_initiated'),
    free_entry_point: k.free_entry_point,
    free_quantity: freeQuantity,
    free_tier: k.free_tier,
    paid_quantity: paidQuantity,
    period_date: periodDate,
    quantity,
    total_price: microsToJson(total),
    user_initiated_paid_quantity: paid('user_initiated'),
    user_initiated_price: microsToJson(price('user_initiated')),
    user_initiated_quantity: qty('user_initiated'),
    // Additive fields (not in 360dialog's response; clients ignore unknown fields).
    authentication_international_quantity: qty('authentication_international'),
    authentication_international_paid_quantity: paid('authentication_international'),
    authentication_international_price: microsToJson(price('authentication_international')),
    marketing_lite_quantity: qty('marketing_lite'),
    marketing_lite_paid_quantity: paid('marketing_lite'),
    marketing_lite_price: microsToJson(price('marketing_lite')),
    other_quantity: qty('other'),
    other_paid_quantity: paid('other'),
    other_price: microsToJson(price('other')),
    unpriced_quantity: k.unpriced_quantity,
    messages_sent: k.messages_sent,
    messages_delivered: k.messages_delivered,
    unclassified_messages: k.unclassified_messages,
  };
}

export function hasUsage(k: UsageCounters): boolean {
  for (const key of USAGE_COUNTERS) if (k[key] !== 0) return true;
  return false;
}
