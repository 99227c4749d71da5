/**
 * The meter: folds new events of the log into message and conversation states, turns them into
 * billing units with the pure rules of src/billing, ranks free tiers and volume tiers, and applies
 * the change of every unit to the daily rollup and to its charge group — all inside the caller's
 * transaction.
 *
 * Every projection row remembers the unit it last contributed, so each step is "take the old
 * unit out, put the new one in"; that makes the rollup exact whatever order events arrive in.
 */
import type { AuthInternationalEligibility } from '../billing/auth-international.ts';
import { utcDayStart } from '../billing/calendar.ts';
import type { UsageCategory } from '../billing/categories.ts';
import { conversationFacts, conversationUnit, freeTierGroup, mergeMessage, type ConversationState } from '../billing/conversation.ts';
import { CBP_FREE_TIER_SIZE } from '../billing/eras.ts';
import { deliveredAt, mergeStatus, sameMessageState, sentAt, type MessageState, type MeterStatus } from '../billing/message-state.ts';
import { messageRole, pmpMessageUnit, type PmpContext } from '../billing/message-unit.ts';
import { priceCharge, tierBoundaries, type PriceBooks } from '../billing/pricing.ts';
import type { RateCategory } from '../billing/rate-cards.ts';
import { addUnit, bump, sameUnit, type BillingUnit, type ChargeKey, type Delta, type UsageCounter } from '../billing/usage.ts';
import {
  addCharges,
  addRankMembers,
  rankGroupsAfter,
  chargesAfter,
  setChargePrices,
  addUsage,
  conversationKey,
  loadConversations,
  loadMessages,
  eventsOfPhone,
  rankAt,
  rankFromEnd,
  rankGroupStates,
  rankMismatches,
  rankStep,
  setRankBoundaries,
  boundariesText,
  saveConversations,
  saveMessages,
  type ChargeRow,
  type ConversationRow,
  type Executor,
  type MessageRow,
  type RankedTable,
  type RankPosition,
  type RankRange,
  type StoredBoundaries,
  type StoredEvent,
} from '../store/meter-store.ts';
import { MessageUsageDeltas } from '../store/usage-queries.ts';

/** What the meter needs to know about the channel a phone number belongs to. */
export interface ChannelContext {
  phoneNumberId: string;
  /** The WABA the channel is registered under: CBP free tiers are counted per WABA. */
  wabaId: string;
  timeZone: string;
  currency: string;
  /** Who volume tiers accrue for: the client's business portfolio, else the WABA. */
  tierAccount: string;
  clientId: string;
  /** The client's country (its primary business location) and Meta's authentication-international eligibility. */
  businessCountry: string;
  authInternational: AuthInternationalEligibility | null;
}

export interface MeterDeps {
  books: PriceBooks;
  channelOf(phoneNumberId: string): ChannelContext | undefined;
}

function pmpContext(ch: ChannelContext, deps: MeterDeps): PmpContext {
  return {
    ...ch,
    hasInternationalRate: (market, day) =>
      deps.books.rates.rateFor({ unit: 'message', market, currency: ch.currency, category: 'authentication_international', day }).ok,
  };
}

/** The changes one batch makes to the rollup and to charge groups, applied at its end. */
class Ledger {
  readonly usage = new Map<string, { phoneNumberId: string; day: number; delta: Delta }>();
  readonly charges = new Map<string, ChargeRow>();

  constructor(private readonly books: PriceBooks, private readonly clientOf: (phoneNumberId: string) => ChannelContext | undefined) {}

  at(phoneNumberId: string, day: number): Delta {
    const k = `${phoneNumberId}|${day}`;
    let d = this.usage.get(k);
    if (!d) this.usage.set(k, (d = { phoneNumberId, day, delta: {} }));
    return d.delta;
  }

  count(phoneNumberId: string, counter: UsageCounter, before: number | null, after: number | null): void {
    if (before === after) return;
    if (before != null) bump(this.at(phoneNumberId, before), counter, -1);
    if (after != null) bump(this.at(phoneNumberId, after), counter, 1);
  }

  unit(ch: ChannelContext, before: BillingUnit | null, after: BillingUnit | null): void {
    if (sameUnit(before, after)) return;
    if (before) this.apply(ch, before, -1);
    if (after) this.apply(ch, after, 1);
  }

  private apply(ch: ChannelContext, u: BillingUnit, sign: 1 | -1): void {
    const d = this.at(ch.phoneNumberId, u.day);
    addUnit(d, u, sign);
    if (!u.charge) return;
    const c = u.charge;
    const key = [ch.phoneNumberId, u.day, c.localDay, c.unit, u.category, c.market ?? '', c.tier].join('|');
    let row = this.charges.get(key);
    if (!row) {
      const price = priceCharge(this.books, ch.currency, u.category, c);
      row = {
        phone_number_id: ch.phoneNumberId, day: u.day, local_day: c.localDay, unit: c.unit, category: u.category,
        market: c.market ?? '', tier: c.tier, quantity: 0, amount: 0, unpriced: 0,
        rate: price.rate, source: price.source, reason: price.reason,
      };
      this.charges.set(key, row);
    }
    row.quantity += sign;
    if (row.rate == null) {
      row.unpriced += sign;
      bump(d, 'unpriced_quantity', sign);
    } else {
      row.amount += sign * row.rate;
      bump(d, `${u.category}_price`, sign * row.rate);
    }
  }

  async flush(db: Executor): Promise<void> {
    await addCharges(db, [...this.charges.values()].filter((r) => r.quantity !== 0 || r.amount !== 0 || r.unpriced !== 0));
    await addUsage(db, this.usage, (phoneNumberId) => this.clientOf(phoneNumberId)?.clientId);
  }
}

/** A projection row the batch changed or re-ranked: as it was, and as it will be saved. */
interface Touched<R> { before: R | undefined; row: R }

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

  const ledger = new Ledger(deps.books, deps.channelOf);
  const stored = await loadMessages(db, [...byMessage.keys()]);
  const messages = new Map<string, Touched<MessageRow>>();
  const conversationMembers = new Map<string, MessageState[]>();

  for (const [key, evs] of byMessage) {
    const before = stored.get(key);
    const prev = before ? messageFromRow(before) : null;
    let state = prev;
    for (const e of evs) state = mergeStatus(state, e);
    if (!state || sameMessageState(prev, state)) continue;
    const ch = deps.channelOf(state.phoneNumberId)!;
    const role = messageRole(state, ch.timeZone);
    const delivered = deliveredAt(state);
    const sent = sentAt(state);
    const row = messageToRow(state, {
      sent_day: sent == null ? null : utcDayStart(sent),
      delivered_day: delivered == null ? null : utcDayStart(delivered),
      unclassified_day: role === 'unclassified' && delivered != null ? utcDayStart(delivered) : null,
    });
    const rank = role === 'message' ? pmpMessageUnit(state, pmpContext(ch, deps))?.rank ?? null : null;
    placeInRanking(row, before, rank ? { group: rank.group, time: rank.time, key } : null);
    if (before) copyUnitColumns(row, before);
    ledger.count(ch.phoneNumberId, 'messages_sent', before?.sent_day ?? null, row.sent_day);
    ledger.count(ch.phoneNumberId, 'messages_delivered', before?.delivered_day ?? null, row.delivered_day);
    ledger.count(ch.phoneNumberId, 'unclassified_messages', before?.unclassified_day ?? null, row.unclassified_day);
    messages.set(key, { before, row });
    if (role === 'conversation') {
      const ck = conversationKey(state.phoneNumberId, state.convId!);
      const members = conversationMembers.get(ck);
      if (members) members.push(state);
      else conversationMembers.set(ck, [state]);
    }
  }

  const conversations = await foldConversations(db, conversationMembers, deps);
  // Rankings read rows from the store only for groups past a boundary; the rows are written
  // there first (once), and otherwise only at the end.
  let persisted = false;
  const persist = async () => {
    if (persisted) return;
    persisted = true;
    await saveMessages(db, [...messages.values()].map((t) => t.row));
    await saveConversations(db, [...conversations.values()].map((t) => t.row));
  };
  await rerank(db, 'messages', messages, deps, persist);
  await rerank(db, 'conversations', conversations, deps, persist);

  await applyUnits(db, messages, conversations, deps, ledger);
}

/** Re-derives the unit of every touched row, applies the changes and saves the rows. */
async function applyUnits(db: Executor, messages: Map<string, Touched<MessageRow>>, conversations: Map<string, Touched<ConversationRow>>, deps: MeterDeps, ledger: Ledger): Promise<void> {
  for (const t of messages.values()) {
    const ch = deps.channelOf(t.row.phone_number_id);
    if (!ch) continue;
    const state = messageFromRow(t.row);
    const unit = messageRole(state, ch.timeZone) === 'message' ? pmpMessageUnit(state, pmpContext(ch, deps))?.unit ?? null : null;
    if (unit?.charge && t.row.rank_group != null) unit.charge.tier = t.row.rank_slot;
    ledger.unit(ch, t.before ? unitOf(t.before, 'message') : null, unit);
    setUnitColumns(t.row, unit);
  }
  for (const t of conversations.values()) {
    const ch = deps.channelOf(t.row.phone_number_id);
    if (!ch) continue;
    const state = conversationFromRow(t.row);
    const unit = conversationUnit(state, conversationFacts(state, ch.timeZone), t.row.rank_slot === 0, ch.timeZone);
    ledger.unit(ch, t.before ? unitOf(t.before, 'conversation') : null, unit);
    setUnitColumns(t.row, unit);
  }
  // The per-message analytics counts (`…/info/usage`) follow every saved message: out of its old group, into its new one.
  const usage = new MessageUsageDeltas();
  for (const t of messages.values()) usage.move(t.before, t.row);
  await saveMessages(db, [...messages.values()].map((t) => t.row));
  await saveConversations(db, [...conversations.values()].map((t) => t.row));
  await ledger.flush(db);
  await usage.flush(db);
}

/**
 * Re-pricing after rate cards or volume-tier schedules changed, one bounded slice at a time (the
 * job runner, src/meter/jobs.ts, keeps the position between slices):
 * 1. `groups`: re-ranks volume-tier groups (their boundaries may have moved), a few per slice;
 * 2. `charges`: re-prices charge groups at the rates now in force, a page per slice, and moves
 *    the difference into the rollup. Units are untouched unless their tier changed.
 * Each charge group is priced from its quantity, not adjusted by a rate difference, so units the
 * meter adds between slices (already at the new rates) leave every group exact once its page is done.
 */
export type RepricePosition = { phase: 'groups'; after: string } | { phase: 'charges'; after: ChargeRow | null };

export const REPRICE_START: RepricePosition = { phase: 'groups', after: '' };

export async function repriceSlice(db: Executor, deps: MeterDeps, pos: RepricePosition, limit: number): Promise<RepricePosition | null> {
  if (pos.phase === 'groups') {
    const groups = await rankGroupsAfter(db, 'pmp|', pos.after, Math.max(1, Math.floor(limit / 100)));
    if (groups.length === 0) return { phase: 'charges', after: null };
    const messages = new Map<string, Touched<MessageRow>>();
    for (const group of groups) await reconcileGroup(db, 'messages', group, null, messages, deps, async () => {});
    await applyUnits(db, messages, new Map(), deps, new Ledger(deps.books, deps.channelOf));
    return { phase: 'groups', after: groups[groups.length - 1] };
  }
  const page = await chargesAfter(db, pos.after, limit);
  if (page.length === 0) return null;
  const ledger = new Ledger(deps.books, deps.channelOf);
  const changed: ChargeRow[] = [];
  for (const row of page) {
    const ch = deps.channelOf(row.phone_number_id);
    if (!ch) continue;
    const key: ChargeKey = { localDay: row.local_day, unit: row.unit as ChargeKey['unit'], market: row.market || null, tier: Number(row.tier) };
    const price = priceCharge(deps.books, ch.currency, row.category as UsageCategory, key);
    const quantity = Number(row.quantity);
    const amount = price.rate == null ? 0 : quantity * price.rate;
    const unpriced = price.rate == null ? quantity : 0;
    if (amount === Number(row.amount) && unpriced === Number(row.unpriced) && price.rate === (row.rate == null ? null : Number(row.rate)) && price.source === row.source && price.reason === row.reason) continue;
    const d = ledger.at(row.phone_number_id, Number(row.day));
    bump(d, `${row.category as UsageCategory}_price`, amount - Number(row.amount));
    bump(d, 'unpriced_quantity', unpriced - Number(row.unpriced));
    changed.push({ ...row, amount, unpriced, rate: price.rate, source: price.source, reason: price.reason });
  }
  await setChargePrices(db, changed);
  await ledger.flush(db);
  return { phase: 'charges', after: page[page.length - 1] };
}

/**
 * Re-derives the units of one phone number's messages from their stored state, a slice of its
 * events at a time (the log's `(phone_number_id, seq)` index, after `afterSeq`, up to `uptoSeq`):
 * after a client's business portfolio (who its volume tiers accrue with) or its
 * authentication-international eligibility changed. Conversations depend on neither. A message
 * with statuses in several slices is re-derived in each, which changes nothing after the first:
 * walking the log spares the messages table an index by phone number on the hot path. Returns the
 * last event done, or null when the phone number has no more.
 */
export async function remeterSlice(db: Executor, phone: string, afterSeq: number, uptoSeq: number, deps: MeterDeps, limit: number): Promise<string | null> {
  const ch = deps.channelOf(phone);
  if (!ch) return null;
  const events = await eventsOfPhone(db, phone, afterSeq, uptoSeq, limit);
  if (events.length === 0) return null;
  const rows = await loadMessages(db, [...new Set(events.map((e) => e.message_key))]);
  const touched = new Map<string, Touched<MessageRow>>();
  for (const before of rows.values()) {
    const state = messageFromRow(before);
    const rank = messageRole(state, ch.timeZone) === 'message' ? pmpMessageUnit(state, pmpContext(ch, deps))?.rank ?? null : null;
    const row = { ...before };
    placeInRanking(row, before, rank ? { group: rank.group, time: rank.time, key: before.message_key } : null);
    touched.set(before.message_key, { before, row });
  }
  await rerank(db, 'messages', touched, deps, () => saveMessages(db, [...touched.values()].map((t) => t.row)));
  await applyUnits(db, touched, new Map(), deps, new Ledger(deps.books, deps.channelOf));
  return events.length < limit ? null : String(events[events.length - 1].seq);
}

/** A status as the log keeps it, back in the meter's terms. */
export function statusFromEvent(e: StoredEvent): MeterStatus {
  return {
    phoneNumberId: e.phone_number_id,
    wabaId: e.waba_id,
    messageKey: e.message_key,
    status: e.status,
    ts: Number(e.ts),
    country: e.country,
    convId: e.conv_id,
    convExpiration: e.conv_expiration == null ? null : Number(e.conv_expiration),
    convOrigin: e.conv_origin,
    pricingModel: e.pricing_model,
    pricingBillable: e.pricing_billable == null ? null : e.pricing_billable === 1,
    pricingType: e.pricing_type,
    pricingCategory: e.pricing_category,
  };
}

/** Folds member messages into their conversations; returns the changed rows (saved by the caller). */
async function foldConversations(db: Executor, members: Map<string, MessageState[]>, deps: MeterDeps): Promise<Map<string, Touched<ConversationRow>>> {
  const out = new Map<string, Touched<ConversationRow>>();
  if (members.size === 0) return out;
  const keys = [...members.values()].map((ms) => ({ phoneNumberId: ms[0].phoneNumberId, convId: ms[0].convId! }));
  const stored = await loadConversations(db, keys);
  for (const [ck, ms] of members) {
    const before = stored.get(ck);
    let state: ConversationState | null = before ? conversationFromRow(before) : null;
    for (const m of ms) state = mergeMessage(state, m);
    const ch = deps.channelOf(state!.phoneNumberId)!;
    const facts = conversationFacts(state!, ch.timeZone);
    const row = conversationToRow(state!);
    const group = freeTierGroup(state!, facts, ch.wabaId);
    placeInRanking(row, before, group ? { group, time: facts.openTime, key: `${state!.phoneNumberId}/${state!.convId}` } : null);
    if (before) copyUnitColumns(row, before);
    out.set(ck, { before, row });
  }
  return out;
}

type RankColumns = Pick<MessageRow, 'rank_group' | 'rank_time' | 'rank_key' | 'rank_slot'>;

/** Sets a row's ranking place; it keeps its slot while it stays in its group (re-checked by rerank). */
function placeInRanking(row: RankColumns, before: RankColumns | undefined, place: { group: string; time: number; key: string } | null): void {
  row.rank_group = place?.group ?? null;
  row.rank_time = place?.time ?? null;
  row.rank_key = place?.key ?? null;
  row.rank_slot = place && before?.rank_group === place.group ? before.rank_slot : 0;
}

/** Where slots 1, 2, … of a ranking group start (0-based ranks). */
function boundariesOf(table: RankedTable, group: string, books: PriceBooks): number[] {
  if (table === 'conversations') return [CBP_FREE_TIER_SIZE]; // slot 0 = the free tier
  const [, , market, currency, category, month] = group.split('|');
  return tierBoundaries(books, { market, currency, category: category as RateCategory, month });
}

/**
 * Re-ranks every group the batch touched: updates group sizes, finds the rows at each boundary,
 * and moves the rows on the wrong side of one into the right slot. Rows that only moved because
 * others arrived are added to `touched`, so their units are re-applied too.
 */
async function rerank<R extends MessageRow | ConversationRow>(
  db: Executor, table: RankedTable, touched: Map<string, Touched<R>>, deps: MeterDeps, persist: () => Promise<void>,
): Promise<void> {
  const sizeDelta = new Map<string, number>();
  const groups = new Set<string>();
  for (const { before, row } of touched.values()) {
    if (row.rank_group) groups.add(row.rank_group);
    if (before?.rank_group) groups.add(before.rank_group);
    if (before?.rank_group === row.rank_group) continue;
    if (before?.rank_group) sizeDelta.set(before.rank_group, (sizeDelta.get(before.rank_group) ?? 0) - 1);
    if (row.rank_group) sizeDelta.set(row.rank_group, (sizeDelta.get(row.rank_group) ?? 0) + 1);
  }
  if (groups.size === 0) return;
  const states = await rankGroupStates(db, [...groups]);
  await addRankMembers(db, sizeDelta);
  for (const group of groups) {
    const state = states.get(group);
    const before = state?.members ?? 0;
    const change = { before, after: before + (sizeDelta.get(group) ?? 0), stored: state?.boundaries ?? null };
    await reconcileGroup(db, table, group, change, touched, deps, persist);
  }
}

/** A ranking group's size before and after the batch, and its boundaries as last recorded. */
interface GroupChange { before: number; after: number; stored: StoredBoundaries | null }

/**
 * Puts every row of one ranking group into the slot its rank says. With the batch's `change`
 * it moves the recorded boundaries by the batch's net change and checks only the rows between
 * old and new boundaries (work proportional to the batch); without it (re-pricing), or when
 * nothing usable is recorded, it walks the whole group.
 */
async function reconcileGroup<R extends MessageRow | ConversationRow>(
  db: Executor, table: RankedTable, group: string, change: GroupChange | null,
  touched: Map<string, Touched<R>>, deps: MeterDeps, persist: () => Promise<void>,
): Promise<void> {
  const ranks = boundariesOf(table, group, deps.books);
  if (change) {
    // No boundaries (no tier schedule): one slot for all; the touched rows say slot 0 and the
    // others already do (a schedule removed later is handled by re-pricing, change = null).
    if (ranks.length === 0) {
      for (const t of touched.values()) if (t.row.rank_group === group) t.row.rank_slot = 0;
      if (change.stored) await setRankBoundaries(db, group, null);
      return;
    }
    // While a group never reached its first boundary every row is in slot 0: nothing to check.
    if (change.before <= ranks[0] && change.after <= ranks[0]) {
      if (change.stored && !(sameRanks(change.stored.ranks, ranks) && change.stored.at.length === 0)) await setRankBoundaries(db, group, null);
      return;
    }
  }
  await persist();
  const moved = change && usableBoundaries(change, ranks) ? await moveBoundaries(db, table, group, ranks, change, touched) : null;
  let positions: RankPosition[];
  let mismatched: R[];
  if (moved) {
    positions = moved.positions;
    // Stretches may overlap (a boundary passed another's old place): a row is found once.
    const found = new Map<string, R>();
    for (const range of moved.ranges) {
      for (const r of (await rankMismatches(db, table, group, positions, range)) as unknown as R[]) found.set(r.rank_key!, r);
    }
    mismatched = [...found.values()];
  } else {
    positions = [];
    for (const r of ranks) {
      const p = await rankAt(db, table, group, r);
      if (!p) break;
      positions.push(p);
    }
    mismatched = (await rankMismatches(db, table, group, positions)) as unknown as R[];
  }
  const keyOf = table === 'messages'
    ? (r: R) => (r as MessageRow).message_key
    : (r: R) => conversationKey(r.phone_number_id, (r as ConversationRow).conv_id);
  // A row's slot: how many boundary rows it is at or after.
  const slotOf = (r: RankColumns) => positions.filter((p) => !precedes({ rank_time: r.rank_time!, rank_key: r.rank_key! }, p)).length;
  // The batch's own rows are placed directly (the mismatch search covers only where boundaries moved).
  if (moved) for (const t of touched.values()) if (t.row.rank_group === group) t.row.rank_slot = slotOf(t.row);
  for (const row of mismatched) {
    const slot = slotOf(row);
    const k = keyOf(row);
    const t = touched.get(k);
    if (t) t.row.rank_slot = slot;
    else touched.set(k, { before: row, row: { ...row, rank_slot: slot } });
  }
  const stored = { ranks, at: positions };
  if (boundariesText(stored) !== boundariesText(change?.stored ?? null)) await setRankBoundaries(db, group, stored);
}

const sameRanks = (a: number[], b: number[]) => a.length === b.length && a.every((r, i) => r === b[i]);

/** The recorded boundaries are of the same schedule and agree with the group's size before the batch. */
function usableBoundaries(change: GroupChange, ranks: number[]): boolean {
  const s = change.stored;
  return s != null && sameRanks(s.ranks, ranks) && s.at.length === ranks.filter((r) => r < change.before).length;
}

/** a comes before b in a group's (rank_time, rank_key) order. */
const precedes = (a: RankPosition, b: RankPosition) => a.rank_time < b.rank_time || (a.rank_time === b.rank_time && a.rank_key < b.rank_key);

/**
 * Where each boundary is after the batch, found from where it was: a boundary row b at rank r has
 * r + (rows the batch added before b) − (rows it took away before b) rows before it now, so the
 * row at rank r is that many steps from b. Also returns the stretches between old and new
 * boundaries, the only places where an untouched row can have changed slot. Null when the store
 * disagrees with the record (then the caller walks the group).
 */
async function moveBoundaries<R extends MessageRow | ConversationRow>(
  db: Executor, table: RankedTable, group: string, ranks: number[], change: GroupChange, touched: Map<string, Touched<R>>,
): Promise<{ positions: RankPosition[]; ranges: RankRange[] } | null> {
  const added: RankPosition[] = [];
  const removed: RankPosition[] = [];
  for (const { before: was, row } of touched.values()) {
    const samePlace = was?.rank_group === row.rank_group && was.rank_time === row.rank_time;
    if (samePlace) continue;
    if (was?.rank_group === group) removed.push({ rank_time: Number(was.rank_time), rank_key: was.rank_key! });
    if (row.rank_group === group) added.push({ rank_time: Number(row.rank_time), rank_key: row.rank_key! });
  }
  const countBefore = (list: RankPosition[], b: RankPosition) => list.reduce((n, p) => n + (precedes(p, b) ? 1 : 0), 0);
  const old = change.stored!.at;
  const positions: RankPosition[] = [];
  const ranges: RankRange[] = [];
  for (let k = 0; k < ranks.length && ranks[k] < change.after; k++) {
    const r = ranks[k];
    const b = old[k];
    let p: RankPosition | undefined;
    if (b) {
      const q = r + countBefore(added, b) - countBefore(removed, b);
      p = q > r ? await rankStep(db, table, group, b, 'before', q - r - 1) : await rankStep(db, table, group, b, 'from', r - q);
      if (p && (p.rank_time !== b.rank_time || p.rank_key !== b.rank_key)) ranges.push(precedes(p, b) ? { from: p, to: b } : { from: b, to: p });
    } else {
      // A boundary the group reached in this batch: near its end.
      p = await rankFromEnd(db, table, group, change.after - 1 - r);
      if (p) ranges.push({ from: p, to: null });
    }
    if (!p) return null;
    positions.push(p);
  }
  // Boundaries the group fell back below: every row past where they were changes slot.
  for (let k = positions.length; k < old.length; k++) ranges.push({ from: old[k], to: null });
  return { positions, ranges };
}

// ---- row ↔ state ----------------------------------------------------------------------------

type UnitColumns = Pick<MessageRow, 'unit_day' | 'unit_category' | 'unit_free' | 'unit_local_day' | 'unit_market' | 'unit_tier'>;

function unitOf(r: UnitColumns, kind: ChargeKey['unit']): BillingUnit | null {
  if (r.unit_day == null) return null;
  const charge: ChargeKey | null = r.unit_local_day == null
    ? null
    : { localDay: r.unit_local_day, unit: kind, market: r.unit_market, tier: Number(r.unit_tier ?? 0) };
  return {
    day: Number(r.unit_day),
    category: r.unit_category as UsageCategory,
    free: (r.unit_free as BillingUnit['free']) ?? null,
    charge,
  };
}

function setUnitColumns(r: UnitColumns, u: BillingUnit | null): void {
  r.unit_day = u ? u.day : null;
  r.unit_category = u ? u.category : null;
  r.unit_free = u ? u.free : null;
  r.unit_local_day = u?.charge?.localDay ?? null;
  r.unit_market = u?.charge?.market ?? null;
  r.unit_tier = u?.charge ? u.charge.tier : null;
}

function copyUnitColumns(to: UnitColumns, from: UnitColumns): void {
  to.unit_day = from.unit_day;
  to.unit_category = from.unit_category;
  to.unit_free = from.unit_free;
  to.unit_local_day = from.unit_local_day;
  to.unit_market = from.unit_market;
  to.unit_tier = from.unit_tier;
}

const bool = (v: number | null) => (v == null ? null : v === 1);
const int = (v: boolean | null) => (v == null ? null : v ? 1 : 0);
const num = (v: number | null) => (v == null ? null : Number(v));

const NO_UNIT = {
  unit_day: null, unit_category: null, unit_free: null, unit_local_day: null, unit_market: null, unit_tier: null,
  rank_group: null, rank_time: null, rank_key: null, rank_slot: 0,
} as const;

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
    ...NO_UNIT,
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

function conversationToRow(c: ConversationState): ConversationRow {
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
    ...NO_UNIT,
  };
}
