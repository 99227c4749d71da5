/**
 * The price of a paid unit, from its charge key: the market (recipient's country on the unit's
 * local day), the rate card in force for that market, currency, unit kind and category, and for
 * volume-tiered categories the tier the unit reached in its month.
 *
 * Tier 0 is the card's list rate; tiers above it take the rate of the tier schedule in force on
 * the first day of the unit's month (Meta's tier sheets restate the list rate as their first tier).
 */
import type { UsageCategory } from './categories.ts';
import { marketOf } from './markets.ts';
import type { Micros } from './money.ts';
import type { PricingUnit, RateBook, RateCategory } from './rate-cards.ts';
import type { ChargeKey } from './usage.ts';

/** Volume-tier schedules (src/billing/volume-tiers.ts), seen through what pricing needs. */
export interface TierSchedules {
  scheduleFor(q: { market: string; currency: string; category: string; day: string }):
    | { effectiveFrom: string; source: string; tiers: readonly { from: number; to: number | null; rate: Micros }[] }
    | null;
}

export interface PriceBooks {
  rates: RateBook;
  tiers?: TierSchedules;
}

/** What pricing a unit needs to know about the WABA it belongs to. */
export interface PricingContext {
  /** The WABA's IANA time zone: months, free tiers and rate changes turn over at its midnight. */
  timeZone: string;
  /** The client's billing currency (ISO 4217). No conversion is ever invented. */
  currency: string;
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

export function rateCategoryOf(category: UsageCategory): RateCategory | null {
  return RATE_CATEGORY[category];
}

/** Categories whose charged messages accrue volume tiers (§1): utility and authentication. */
export const TIERED_CATEGORIES: ReadonlySet<RateCategory> = new Set(['utility', 'authentication', 'authentication_international']);

export function marketOfUnit(country: string | null, localDay: string): string | null {
  return marketOf(country, localDay);
}

export interface ChargeRate {
  /** Null when no rate could be determined; `reason` says why. */
  rate: Micros | null;
  /** Which card or tier schedule produced the rate, e.g. `card 2026-01-01 (shipped …)`. */
  source: string | null;
  reason: string | null;
}

export function priceCharge(books: PriceBooks, currency: string, category: UsageCategory, key: ChargeKey): ChargeRate {
  const rateCategory = RATE_CATEGORY[category];
  if (rateCategory == null) return { rate: null, source: null, reason: `no rate exists for category "${category}"` };
  if (key.market == null) return { rate: null, source: null, reason: 'the recipient country is unknown' };
  if (key.tier > 0) {
    const schedule = books.tiers?.scheduleFor({ market: key.market, currency, category: rateCategory, day: `${key.localDay.slice(0, 7)}-01` });
    const tier = schedule?.tiers[key.tier];
    if (!schedule || !tier) return { rate: null, source: null, reason: `no volume tier ${key.tier} for ${rateCategory} in ${key.market} (${currency})` };
    return { rate: tier.rate, source: `volume tiers ${schedule.effectiveFrom} (${schedule.source}), tier ${tier.from}:${tier.to ?? 'MAX'}`, reason: null };
  }
  const r = books.rates.rateFor({ unit: key.unit as PricingUnit, market: key.market, currency, category: rateCategory, day: key.localDay });
  return r.ok
    ? { rate: r.rate, source: `card ${r.effectiveFrom} (${r.source})`, reason: null }
    : { rate: null, source: null, reason: r.reason };
}

/** Ordinal boundaries (0-based ranks where tiers 1, 2, … start) of a tier schedule. */
export function tierBoundaries(books: PriceBooks, q: { market: string; currency: string; category: RateCategory; month: string }): number[] {
  const schedule = books.tiers?.scheduleFor({ market: q.market, currency: q.currency, category: q.category, day: `${q.month}-01` });
  if (!schedule) return [];
  // Tier k covers ordinals from..to (1-based); its first member has 0-based rank from − 1.
  return schedule.tiers.slice(1).map((t) => Math.max(0, t.from - 1));
}
