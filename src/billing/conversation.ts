/**
 * Conversation-based pricing (CBP v1 2022-02 → 2023-05, CBP v2 2023-06 → 2025-06).
 *
 * A conversation is counted once, when any of its messages is delivered; it opened at
 * `expiration_timestamp − 24 h` (72 h for a free entry point) when the expiration is known, else
 * at its earliest status, and belongs to the day and month in which it opened. Which
 * conversations the monthly free tier covers depends on the whole WABA month, so this module says
 * only whether a conversation is *eligible*; the meter ranks the month (see meter/free-tier.ts).
 */
import { localDay as localDayOf, localMonth, utcDayStart } from './calendar.ts';
import { marketOf } from './markets.ts';
import { canonicalCategory, isFreeEntryPointCategory, usageCategoryOf, type UsageCategory } from './categories.ts';
import {
  CONVERSATION_WINDOW_S,
  eraOf,
  FREE_ENTRY_POINT_WINDOW_S,
  FREE_SERVICE_START,
  type Era,
} from './eras.ts';
import { deliveredAt, type MessageState } from './message-state.ts';
import type { BillingUnit } from './usage.ts';

export interface ConversationState {
  phoneNumberId: string;
  convId: string;
  wabaId: string | null;
  /** Earliest status of any of its messages. */
  firstTs: number;
  expiration: number | null;
  origin: string | null;
  category: string | null;
  billable: boolean | null;
  /** Sort key of the message state the category was taken from (smallest wins). */
  pick: string | null;
  /** First delivery of any of its messages; null while it has not been opened. */
  deliveredTs: number | null;
  country: string | null;
}

const minOf = (a: number | null, b: number | null) => (a == null ? b : b == null ? a : Math.min(a, b));
const minStr = (a: string | null, b: string | null) => (a == null ? b : b == null ? a : a < b ? a : b);

/** Folds one member message into its conversation (commutative and idempotent, like statuses). */
export function mergeMessage(prev: ConversationState | null, m: MessageState): ConversationState {
  if (m.convId == null) throw new Error('mergeMessage: message has no conversation');
  const c: ConversationState = prev
    ? { ...prev }
    : {
        phoneNumberId: m.phoneNumberId,
        convId: m.convId,
        wabaId: null,
        firstTs: m.firstTs,
        expiration: null,
        origin: null,
        category: null,
        billable: null,
        pick: null,
        deliveredTs: null,
        country: null,
      };
  c.wabaId = minStr(c.wabaId, m.wabaId);
  c.firstTs = Math.min(c.firstTs, m.firstTs);
  c.expiration = minOf(c.expiration, m.convExpiration);
  c.deliveredTs = minOf(c.deliveredTs, deliveredAt(m));
  c.country = minStr(c.country, m.country);
  const pick = `${m.pricingPick ?? '~'}|${m.convPick ?? '~'}`;
  if (c.pick == null || pick < c.pick) {
    c.pick = pick;
    c.origin = m.convOrigin;
    c.category = m.pricingCategory;
    c.billable = m.pricingBillable;
  }
  return c;
}

/** The conversation's billing facts in its WABA's time zone. */
export interface ConversationFacts {
  openTime: number;
  era: Era;
  category: UsageCategory;
  freeEntryPoint: boolean;
  /** Service conversations are free for everyone from 2024-11-01. */
  freeService: boolean;
  /** Competes for the monthly free tier (CBP v1: any non-free-entry-point; CBP v2: service until 2024-10-31). */
  tierEligible: boolean;
  /** 'YYYY-MM' of the WABA month the free tier is counted in. */
  tierMonth: string;
}

export function conversationFacts(c: ConversationState, timeZone: string): ConversationFacts {
  const raw = canonicalCategory(c.category) ?? c.origin;
  // `billable: false` is only ever set on free-entry-point conversations (§1).
  const freeEntryPoint = isFreeEntryPointCategory(c.origin) || isFreeEntryPointCategory(raw) || c.billable === false;
  const window = freeEntryPoint ? FREE_ENTRY_POINT_WINDOW_S : CONVERSATION_WINDOW_S;
  const openTime = c.expiration != null ? c.expiration - window : c.firstTs;
  const day = localDayOf(openTime, timeZone);
  let era = eraOf(day);
  // A CBP conversation still open at the switch to PMP stays a CBP v2 conversation.
  if (era === 'pmp' || era === 'nbp') era = era === 'pmp' ? 'cbp_v2' : 'cbp_v1';
  let category = usageCategoryOf(freeEntryPoint ? 'referral_conversion' : raw, era);
  const freeService = !freeEntryPoint && era === 'cbp_v2' && category === 'service' && day >= FREE_SERVICE_START;
  const tierEligible =
    !freeEntryPoint && (era === 'cbp_v1' || (era === 'cbp_v2' && category === 'service' && day < FREE_SERVICE_START));
  return { openTime, era, category, freeEntryPoint, freeService, tierEligible, tierMonth: localMonth(openTime, timeZone) };
}

/** The free-tier group a delivered, eligible conversation competes in (WABA × its month). */
export function freeTierGroup(c: ConversationState, f: ConversationFacts, wabaId: string): string | null {
  return c.deliveredTs != null && f.tierEligible ? `cbp|${wabaId}|${f.tierMonth}` : null;
}

/**
 * The unit a conversation adds, or null while none of its messages was delivered.
 * `inFreeTier` is the meter's ranking verdict for eligible conversations.
 */
export function conversationUnit(c: ConversationState, f: ConversationFacts, inFreeTier: boolean, timeZone: string): BillingUnit | null {
  if (c.deliveredTs == null) return null;
  const free: BillingUnit['free'] = f.freeEntryPoint
    ? 'free_entry_point'
    : f.freeService || (f.tierEligible && inFreeTier)
      ? 'free_tier'
      : null;
  const unit: BillingUnit = { day: utcDayStart(f.openTime), category: f.category, free, charge: null };
  if (!free) {
    const localDay = localDayOf(f.openTime, timeZone);
    unit.charge = { localDay, unit: 'conversation', market: marketOf(c.country, localDay), tier: 0 };
  }
  return unit;
}
