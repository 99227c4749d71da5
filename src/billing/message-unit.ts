/**
 * Which billing unit a message belongs to, and the per-message unit of the PMP era.
 *
 * PMP (from 2025-07-01): each delivered message is one unit, once; `pricing.type` decides whether
 * it is charged (`regular`) or free (`free_customer_service`, `free_entry_point`, …). `billable`
 * alone never decides, except on On-Premises bodies that carry no `type`, where `billable: false`
 * marks a free message.
 */
import { localDay as localDayOf, utcDayStart } from './calendar.ts';
import { marketOf } from './markets.ts';
import { authInternationalApplies, type AuthInternationalEligibility } from './auth-international.ts';
import { usageCategoryOf } from './categories.ts';
import { eraOf } from './eras.ts';
import { deliveredAt, type MessageState } from './message-state.ts';
import { rateCategoryOf, TIERED_CATEGORIES, type PricingContext } from './pricing.ts';
import type { BillingUnit } from './usage.ts';

export type MessageRole =
  /** Part of a CBP conversation: the conversation is the unit. */
  | 'conversation'
  /** A PMP message: the message itself is the unit. */
  | 'message'
  /** Delivered, but no status said how it is priced (no pricing, no conversation): counted apart. */
  | 'unclassified';

export function messageRole(m: MessageState, timeZone: string): MessageRole {
  const model = m.pricingModel;
  if (model === 'CBP') return m.convId != null ? 'conversation' : 'unclassified';
  if (model === 'PMP') return 'message';
  if (model != null) return 'unclassified'; // NBP or a model Meta has not announced
  // No pricing block at all: a conversation id in a CBP-era message still says how it is counted.
  if (m.convId != null) {
    const era = eraOf(localDayOf(m.firstTs, timeZone));
    if (era === 'cbp_v1' || era === 'cbp_v2') return 'conversation';
  }
  return 'unclassified';
}

/** How a PMP message's `pricing.type` makes it free, or null when it is charged. */
export function pmpFreeReason(m: MessageState): BillingUnit['free'] {
  const type = m.pricingType;
  if (type == null) return m.pricingBillable === false ? 'free_tier' : null;
  if (type === 'free_entry_point') return 'free_entry_point';
  if (type.startsWith('free_')) return 'free_tier'; // free_customer_service, free_group_customer_service, …
  return null; // `regular`, and any type Meta adds later, is charged until known otherwise
}

/** What a PMP unit needs to know about its WABA and client. */
export interface PmpContext extends PricingContext {
  /** Who volume tiers accrue for: the business portfolio, else the WABA. */
  tierAccount: string;
  /** The client's country (primary business location) and Meta's eligibility for international rates. */
  businessCountry?: string;
  authInternational?: AuthInternationalEligibility | null;
  /** Whether the card in force has an authentication-international rate for a market on a day. */
  hasInternationalRate?(market: string, localDay: string): boolean;
}

/**
 * A charged authentication message is billed at the authentication-international rate when the
 * business is eligible, is based in another country than the recipient, the recipient's market has
 * such a rate, and it was delivered on or after the start time for that country. Meta's own
 * `authentication_international` category is always kept; this rule catches the messages its
 * webhooks still call `authentication`.
 */
function authInternationalFor(m: MessageState, at: number, ctx: PmpContext): boolean {
  const day = localDayOf(at, ctx.timeZone);
  const market = marketOf(m.country, day);
  return authInternationalApplies({
    eligibility: ctx.authInternational,
    businessCountry: ctx.businessCountry,
    recipientCountry: m.country,
    deliveredAt: at,
    marketHasInternationalRate: market != null && (ctx.hasInternationalRate?.(market, day) ?? false),
  });
}

/** Where a charged message competes for volume tiers: its group and its place in the order. */
export interface RankPlace {
  group: string;
  /** Sort key: delivery time, then the message key. */
  time: number;
}

/**
 * The unit a delivered PMP message adds (tier 0; the meter sets the tier it reached), and for a
 * charged message of a tiered category, the volume-tier group it accrues in: business portfolio ×
 * market × category × month in the WABA's time zone (§1). Null while it is not delivered.
 */
export function pmpMessageUnit(m: MessageState, ctx: PmpContext): { unit: BillingUnit; rank: RankPlace | null } | null {
  const at = deliveredAt(m);
  if (at == null) return null;
  let category = usageCategoryOf(m.pricingCategory ?? m.convOrigin, 'pmp');
  const free = pmpFreeReason(m);
  if (category === 'authentication' && !free && ctx.authInternational && authInternationalFor(m, at, ctx)) category = 'authentication_international';
  const unit: BillingUnit = { day: utcDayStart(at), category, free, charge: null };
  if (free) return { unit, rank: null };
  const localDay = localDayOf(at, ctx.timeZone);
  const market = marketOf(m.country, localDay);
  unit.charge = { localDay, unit: 'message', market, tier: 0 };
  const rateCategory = rateCategoryOf(category);
  const rank = market != null && rateCategory != null && TIERED_CATEGORIES.has(rateCategory)
    ? { group: ['pmp', ctx.tierAccount, market, ctx.currency, rateCategory, localDay.slice(0, 7)].join('|'), time: at }
    : null;
  return { unit, rank };
}
