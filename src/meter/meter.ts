/**
 * The meter: folds new events of the log into message and conversation states, turns them into
 * billing units with the pure rules of src/billing, ranks CBP free tiers, and applies the change
 * of every unit to the daily usage rollup — all inside the caller's transaction.
 *
 * Every projection row remembers the unit it last contributed, so each step is "take the old
 * unit out, put the new one in"; that makes the rollup exact whatever order events arrive in.
 */
import { utcDayStart } from '../billing/calendar.ts';
import { conversationFacts, conversationUnit, mergeMessage, type ConversationState } from '../billing/conversation.ts';
import { CBP_FREE_TIER_SIZE } from '../billing/eras.ts';
import { deliveredAt, mergeStatus, sameMessageState, sentAt, type MessageState, type MeterStatus } from '../billing/message-state.ts';
import { messageRole, pmpMessageUnit } from '../billing/message-unit.ts';
import type { PricingContext } from '../billing/pricing.ts';
import type { RateBook } from '../billing/rate-cards.ts';
import { addUnit, bump, sameUnit, type BillingUnit, type Delta, type UsageCounter } from '../billing/usage.ts';
import type { UsageCategory } from '../billing/categories.ts';
import {
  addUsage,
  conversationKey,
  freeTierBoundary,
  freeTierMismatches,
  loadConversations,
  loadMessages,
  saveConversations,
  saveMessages,
  type ConversationRow,
  type Executor,
  type MessageRow,
} from '../store/meter-store.ts';

/** What the meter needs to know about the channel a phone number belongs to. */
export interface ChannelContext {
  phoneNumberId: string;
  /** The WABA the channel is registered under: free tiers are counted per WABA. */
  wabaId: string;
  timeZone: string;
  currency: string;
}

export interface MeterDeps {
  rates: RateBook;
  channelOf(phoneNumberId: string): ChannelContext | undefined;
}

type Deltas = Map<string, { phoneNumberId: string; day: number; delta: Delta }>;

function deltaAt(deltas: Deltas, phoneNumberId: string, day: number): Delta {
  const k = `${phoneNumberId}\u0000${day}`;
  let d = deltas.get(k);
  if (!d) deltas.set(k, (d = { phoneNumberId, day, delta: {} }));
  return d.delta;
}

function applyUnitChange(deltas: Deltas, phoneNumberId: string, before: BillingUnit | null, after: BillingUnit | null): void {
  if (sameUnit(before, after)) return;
  if (before) addUnit(deltaAt(deltas, phoneNumberId, before.day), before, -1);
  if (after) addUnit(deltaAt(deltas, phoneNumberId, after.day), after, 1);
}

function moveCounter(deltas: Deltas, phoneNumberId: string, counter: UsageCounter, before: number | null, after: number | null): void {
  if (before === after) return;
  if (before != null) bump(deltaAt(deltas, phoneNumberId, before), counter, -1);
  if (after != null) bump(deltaAt(deltas, phoneNumberId, after), counter, 1);
}

function pricingContext(ch: ChannelContext, rates: RateBook): PricingContext {
  return { timeZone: ch.timeZone, currency: ch.currency, rates };
}

/**
 * Applies events (already in the log) to the projections. Events of phone numbers no channel
 * claims are skipped: they are replayed when the channel is registered.
 */
export async function applyEvents(db: Executor, events: MeterStatus[], deps: MeterDeps): Promise<void> {
  const byMessage = new Map<string, MeterStatus[]>();
  for (const e of events) {
    if (!deps.channelOf(e.phoneNumberId)) continue;
    const list = byMessage.get(e.messageKey);
    if (list) list.push(e);
    else byMessage.set(e.messageKey, [e]);
  }
  if (byMessage.size === 0) return;

  const deltas: Deltas = new Map();
  const stored = await loadMessages(db, [...byMessage.keys()]);
  const changedMessages: MessageRow[] = [];
  const conversationMembers = new Map<string, MessageState[]>();

  for (const [key, evs] of byMessage) {
    const row = stored.get(key);
    const before = row ? messageFromRow(row) : null;
    let state = before;
    for (const e of evs) state = mergeStatus(state, e);
    if (!state || sameMessageState(before, state)) continue;
    const ch = deps.channelOf(state.phoneNumberId)!;
    const role = messageRole(state, ch.timeZone);
    const delivered = deliveredAt(state);
    const sent = sentAt(state);
    const next = messageToRow(state, {
      sent_day: sent == null ? null : utcDayStart(sent),
      delivered_day: delivered == null ? null : utcDayStart(delivered),
      unclassified_day: role === 'unclassified' && delivered != null ? utcDayStart(delivered) : null,
    });
    const unit = role === 'message' ? pmpMessageUnit(state, pricingContext(ch, deps.rates)) : null;
    setUnit(next, unit);
    const pnid = state.phoneNumberId;
    moveCounter(deltas, pnid, 'messages_sent', row?.sent_day ?? null, next.sent_day);
    moveCounter(deltas, pnid, 'messages_delivered', row?.delivered_day ?? null, next.delivered_day);
    moveCounter(deltas, pnid, 'unclassified_messages', row?.unclassified_day ?? null, next.unclassified_day);
    applyUnitChange(deltas, pnid, row ? unitOf(row) : null, unit);
    changedMessages.push(next);
    if (role === 'conversation') {
      const ck = conversationKey(pnid, state.convId!);
      const members = conversationMembers.get(ck);
      if (members) members.push(state);
      else conversationMembers.set(ck, [state]);
    }
  }
  await saveMessages(db, changedMessages);
  if (conversationMembers.size > 0) await applyConversations(db, conversationMembers, deps, deltas);
  await addUsage(db, deltas);
}

/** Folds member messages into their conversations, re-ranks free tiers, applies unit changes. */
async function applyConversations(db: Executor, members: Map<string, MessageState[]>, deps: MeterDeps, deltas: Deltas): Promise<void> {
  const keys = [...members.values()].map((ms) => ({ phoneNumberId: ms[0].phoneNumberId, convId: ms[0].convId! }));
  const stored = await loadConversations(db, keys);
  const touched = new Map<string, { before: ConversationRow | undefined; row: ConversationRow }>();
  const groups = new Set<string>();

  for (const [ck, ms] of members) {
    const before = stored.get(ck);
    let state: ConversationState | null = before ? conversationFromRow(before) : null;
    for (const m of ms) state = mergeMessage(state, m);
    const ch = deps.channelOf(state!.phoneNumberId)!;
    const facts = conversationFacts(state!, ch.timeZone);
    const tierGroup = state!.deliveredTs != null && facts.tierEligible ? `${ch.wabaId}|${facts.tierMonth}` : null;
    const row = conversationToRow(state!, {
      tier_group: tierGroup,
      open_time: facts.openTime,
      in_free_tier: tierGroup != null && before?.tier_group === tierGroup ? before.in_free_tier : 0,
    });
    if (before) copyUnit(row, before);
    touched.set(ck, { before, row });
    if (before?.tier_group) groups.add(before.tier_group);
    if (tierGroup) groups.add(tierGroup);
  }
  await saveConversations(db, [...touched.values()].map((t) => t.row));

  // Re-rank each free-tier group the batch touched: flip the few rows on the wrong side.
  for (const group of groups) {
    const boundary = await freeTierBoundary(db, group, CBP_FREE_TIER_SIZE);
    for (const r of await freeTierMismatches(db, group, boundary)) {
      const ck = conversationKey(r.phone_number_id, r.conv_id);
      const flipped = touched.get(ck)?.row ?? { ...r };
      flipped.in_free_tier = r.in_free_tier ? 0 : 1;
      if (!touched.has(ck)) touched.set(ck, { before: r, row: flipped });
    }
  }

  const rows: ConversationRow[] = [];
  for (const { before, row } of touched.values()) {
    const ch = deps.channelOf(row.phone_number_id);
    if (!ch) continue;
    const state = conversationFromRow(row);
    const facts = conversationFacts(state, ch.timeZone);
    const unit = conversationUnit(state, facts, row.in_free_tier === 1, pricingContext(ch, deps.rates));
    applyUnitChange(deltas, row.phone_number_id, before ? unitOf(before) : null, unit);
    setUnit(row, unit);
    rows.push(row);
  }
  await saveConversations(db, rows);
}

// ---- row ↔ state ----------------------------------------------------------------------------

type UnitColumns = Pick<MessageRow, 'unit_day' | 'unit_category' | 'unit_free' | 'unit_price'>;

function unitOf(r: UnitColumns): BillingUnit | null {
  if (r.unit_day == null) return null;
  return {
    day: Number(r.unit_day),
    category: r.unit_category as UsageCategory,
    free: (r.unit_free as BillingUnit['free']) ?? null,
    price: r.unit_price == null ? null : Number(r.unit_price),
  };
}

function setUnit(r: UnitColumns, u: BillingUnit | null): void {
  r.unit_day = u ? u.day : null;
  r.unit_category = u ? u.category : null;
  r.unit_free = u ? u.free : null;
  r.unit_price = u ? u.price : null;
}

function copyUnit(to: UnitColumns, from: UnitColumns): void {
  to.unit_day = from.unit_day;
  to.unit_category = from.unit_category;
  to.unit_free = from.unit_free;
  to.unit_price = from.unit_price;
}

const bool = (v: number | null) => (v == null ? null : v === 1);
const int = (v: boolean | null) => (v == null ? null : v ? 1 : 0);
const num = (v: number | null) => (v == null ? null : Number(v));

export function messageFromRow(r: MessageRow): MessageState {
  return {
    messageKey: r.message_key,
    phoneNumberId: r.phone_number_id,
    wabaId: r.waba_id,
    firstTs: Number(r.first_ts),
    sentTs: num(r.sent_ts),
    deliveredTs: num(r.delivered_ts),
    readTs: num(r.read_ts),
    failedTs: num(r.failed_ts),
    country: r.country,
    convId: r.conv_id,
    convExpiration: num(r.conv_expiration),
    convOrigin: r.conv_origin,
    convPick: r.conv_pick,
    pricingModel: r.pricing_model,
    pricingBillable: bool(r.pricing_billable),
    pricingType: r.pricing_type,
    pricingCategory: r.pricing_category,
    pricingPick: r.pricing_pick,
  };
}

function messageToRow(m: MessageState, days: Pick<MessageRow, 'sent_day' | 'delivered_day' | 'unclassified_day'>): MessageRow {
  return {
    message_key: m.messageKey,
    phone_number_id: m.phoneNumberId,
    waba_id: m.wabaId,
    first_ts: m.firstTs,
    sent_ts: m.sentTs,
    delivered_ts: m.deliveredTs,
    read_ts: m.readTs,
    failed_ts: m.failedTs,
    country: m.country,
    conv_id: m.convId,
    conv_expiration: m.convExpiration,
    conv_origin: m.convOrigin,
    conv_pick: m.convPick,
    pricing_model: m.pricingModel,
    pricing_billable: int(m.pricingBillable),
    pricing_type: m.pricingType,
    pricing_category: m.pricingCategory,
    pricing_pick: m.pricingPick,
    ...days,
    unit_day: null,
    unit_category: null,
    unit_free: null,
    unit_price: null,
  };
}

function conversationFromRow(r: ConversationRow): ConversationState {
  return {
    phoneNumberId: r.phone_number_id,
    convId: r.conv_id,
    wabaId: r.waba_id,
    firstTs: Number(r.first_ts),
    expiration: num(r.expiration),
    origin: r.origin,
    category: r.category,
    billable: bool(r.billable),
    pick: r.pick,
    deliveredTs: num(r.delivered_ts),
    country: r.country,
  };
}

function conversationToRow(c: ConversationState, ranking: Pick<ConversationRow, 'tier_group' | 'open_time' | 'in_free_tier'>): ConversationRow {
  return {
    phone_number_id: c.phoneNumberId,
    conv_id: c.convId,
    waba_id: c.wabaId,
    first_ts: c.firstTs,
    expiration: c.expiration,
    origin: c.origin,
    category: c.category,
    billable: int(c.billable),
    pick: c.pick,
    delivered_ts: c.deliveredTs,
    country: c.country,
    ...ranking,
    unit_day: null,
    unit_category: null,
    unit_free: null,
    unit_price: null,
  };
}
