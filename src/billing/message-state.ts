/**
 * What the meter knows of one message, folded from its statuses.
 *
 * The fold is commutative and idempotent (minimums, and a deterministic pick among competing
 * pricing blocks), so duplicates, retries and any arrival order give the same state as one clean
 * ordered delivery — the property the meter's tests check.
 */
import { canonicalCategory } from './categories.ts';

/** A status as stored in the event log: the recipient already reduced to a country. */
export interface MeterStatus {
  phoneNumberId: string;
  wabaId: string | null;
  /** One-way hash of (phone number id, wamid). */
  messageKey: string;
  status: string;
  ts: number;
  country: string | null;
  convId: string | null;
  convExpiration: number | null;
  convOrigin: string | null;
  pricingModel: string | null;
  pricingBillable: boolean | null;
  pricingType: string | null;
  pricingCategory: string | null;
}

export interface MessageState {
  messageKey: string;
  phoneNumberId: string;
  wabaId: string | null;
  /** Earliest status of any kind. */
  firstTs: number;
  sentTs: number | null;
  deliveredTs: number | null;
  readTs: number | null;
  failedTs: number | null;
  country: string | null;
  convId: string | null;
  convExpiration: number | null;
  /** Canonical category of `conversation.origin.type`. */
  convOrigin: string | null;
  /** Sort key of the status the conversation block was taken from (smallest wins). */
  convPick: string | null;
  pricingModel: string | null;
  pricingBillable: boolean | null;
  pricingType: string | null;
  /** Canonical category of `pricing.category`. */
  pricingCategory: string | null;
  pricingPick: string | null;
}

// Statuses that mean "delivered" carry the pricing Meta charged on; prefer theirs over `sent`.
const RANK: Record<string, number> = { delivered: 0, read: 1, sent: 2, failed: 4 };

function pickKey(s: MeterStatus, payload: string): string {
  return `${RANK[s.status] ?? 3}:${String(s.ts).padStart(11, '0')}:${payload}`;
}

const minOf = (a: number | null, b: number | null) => (a == null ? b : b == null ? a : Math.min(a, b));
const minStr = (a: string | null, b: string | null) => (a == null ? b : b == null ? a : a < b ? a : b);

export function mergeStatus(prev: MessageState | null, s: MeterStatus): MessageState {
  const m: MessageState = prev
    ? { ...prev }
    : {
        messageKey: s.messageKey,
        phoneNumberId: s.phoneNumberId,
        wabaId: s.wabaId,
        firstTs: s.ts,
        sentTs: null,
        deliveredTs: null,
        readTs: null,
        failedTs: null,
        country: null,
        convId: null,
        convExpiration: null,
        convOrigin: null,
        convPick: null,
        pricingModel: null,
        pricingBillable: null,
        pricingType: null,
        pricingCategory: null,
        pricingPick: null,
      };
  m.wabaId = minStr(m.wabaId, s.wabaId);
  m.firstTs = Math.min(m.firstTs, s.ts);
  if (s.status === 'sent') m.sentTs = minOf(m.sentTs, s.ts);
  else if (s.status === 'delivered') m.deliveredTs = minOf(m.deliveredTs, s.ts);
  else if (s.status === 'read') m.readTs = minOf(m.readTs, s.ts);
  else if (s.status === 'failed') m.failedTs = minOf(m.failedTs, s.ts);
  m.country = minStr(m.country, s.country);
  m.convExpiration = minOf(m.convExpiration, s.convExpiration);
  if (s.convId != null) {
    const origin = canonicalCategory(s.convOrigin);
    const pick = pickKey(s, `${s.convId}|${origin ?? ''}`);
    if (m.convPick == null || pick < m.convPick) {
      m.convPick = pick;
      m.convId = s.convId;
      m.convOrigin = origin;
    }
  }
  if (s.pricingModel != null || s.pricingCategory != null || s.pricingType != null || s.pricingBillable != null) {
    const category = canonicalCategory(s.pricingCategory);
    const pick = pickKey(s, `${s.pricingModel ?? ''}|${s.pricingType ?? ''}|${category ?? ''}|${s.pricingBillable ?? ''}`);
    if (m.pricingPick == null || pick < m.pricingPick) {
      m.pricingPick = pick;
      m.pricingModel = s.pricingModel;
      m.pricingBillable = s.pricingBillable;
      m.pricingType = s.pricingType;
      m.pricingCategory = category;
    }
  }
  return m;
}

/**
 * When the message reached the user: its first `delivered`, or its `read` when no `delivered`
 * came (read implies delivered). `sent` or `failed` alone is never a delivery.
 */
export function deliveredAt(m: MessageState): number | null {
  return m.deliveredTs ?? m.readTs;
}

/** When the message left the business: its first sent, delivered or read status. */
export function sentAt(m: MessageState): number | null {
  return minOf(minOf(m.sentTs, m.deliveredTs), m.readTs);
}

export function sameMessageState(a: MessageState | null, b: MessageState): boolean {
  if (!a) return false;
  for (const k of Object.keys(b) as (keyof MessageState)[]) if (a[k] !== b[k]) return false;
  return true;
}
