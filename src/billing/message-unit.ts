/**
 * Which billing unit a message belongs to, and the per-message unit of the PMP era.
 *
 * PMP (from 2025-07-01): each delivered message is one unit, once; `pricing.type` decides whether
 * it is charged (`regular`) or free (`free_customer_service`, `free_entry_point`, …). `billable`
 * alone never decides, except on On-Premises bodies that carry no `type`, where `billable: false`
 * marks a free message.
 */
import { localDay, utcDayStart } from './calendar.ts';
import { usageCategoryOf } from './categories.ts';
import { eraOf } from './eras.ts';
import { deliveredAt, type MessageState } from './message-state.ts';
import { priceOf, type PricingContext } from './pricing.ts';
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
    const era = eraOf(localDay(m.firstTs, timeZone));
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

/** The unit a delivered PMP message adds, or null while it is not delivered. */
export function pmpMessageUnit(m: MessageState, ctx: PricingContext): BillingUnit | null {
  const at = deliveredAt(m);
  if (at == null) return null;
  const category = usageCategoryOf(m.pricingCategory ?? m.convOrigin, 'pmp');
  const free = pmpFreeReason(m);
  let price: number | null = 0;
  if (!free) {
    const p = priceOf(ctx, { unit: 'message', category, country: m.country, day: localDay(at, ctx.timeZone) });
    price = p.ok ? p.rate : null;
  }
  return { day: utcDayStart(at), category, free, price };
}
