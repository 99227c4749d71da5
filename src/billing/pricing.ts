/**
 * The price of one paid unit: market from the recipient's country on the unit's local day, then
 * the rate in force for that market, currency, unit kind and category.
 */
import type { UsageCategory } from './categories.ts';
import { marketOf } from './markets.ts';
import type { Micros } from './money.ts';
import type { PricingUnit, RateBook, RateCategory } from './rate-cards.ts';

/** What pricing a unit needs to know about the WABA it belongs to. */
export interface PricingContext {
  /** The WABA's IANA time zone: months, free tiers and rate changes turn over at its midnight. */
  timeZone: string;
  /** The client's billing currency (ISO 4217). No conversion is ever invented. */
  currency: string;
  rates: RateBook;
}

// Marketing Lite is charged at the marketing rate; categories Meta invents later have no rate.
const RATE_CATEGORY: Record<UsageCategory, RateCategory | null> = {
  business_initiated: 'business_initiated',
  user_initiated: 'user_initiated',
  marketing: 'marketing',
  marketing_lite: 'marketing',
  utility: 'utility',
  authentication: 'authentication',
  authentication_international: 'authentication_international',
  service: 'service',
  other: null,
};

export type PriceResult = { ok: true; rate: Micros } | { ok: false; reason: string };

export function priceOf(
  ctx: PricingContext,
  q: { unit: PricingUnit; category: UsageCategory; country: string | null; day: string },
): PriceResult {
  const category = RATE_CATEGORY[q.category];
  if (category == null) return { ok: false, reason: `no rate exists for category "${q.category}"` };
  const market = marketOf(q.country, q.day);
  if (market == null) return { ok: false, reason: 'the recipient country is unknown' };
  const r = ctx.rates.rateFor({ unit: q.unit, market, currency: ctx.currency, category, day: q.day });
  return r.ok ? { ok: true, rate: r.rate } : { ok: false, reason: r.reason };
}
