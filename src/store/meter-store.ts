/**
 * Data access for the meter: the event log, the message and conversation projections, the
 * free-tier ranking queries and the daily usage rollup. Portable SQL only (Kysely), so the same
 * code runs on SQLite and PostgreSQL; every function takes the transaction it runs in.
 */
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { USAGE_COUNTERS, type Delta } from '../billing/usage.ts';
import { bulkWrite, type BulkWrite } from './bulk-write.ts';
import type { ChargesTable, ConversationsTable, Database, MessagesTable, StatusEventsTable } from './schema.ts';

export type Executor = Kysely<Database>;
export type EventRow = Insertable<StatusEventsTable>;
export type StoredEvent = Selectable<StatusEventsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type ConversationRow = Selectable<ConversationsTable>;

// Far below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters per statement.
const CHUNK_PARAMS = 30_000;
function chunks<T>(items: T[], paramsPerItem: number): T[][] {
  const size = Math.max(1, Math.floor(CHUNK_PARAMS / paramsPerItem));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Appends events to the log; returns the dedup keys that were new (the rest were duplicates) and
 * the highest sequence number written.
 */
export async function appendEvents(db: Executor, rows: EventRow[]): Promise<{ inserted: Set<string>; lastSeq: number }> {
  const inserted = new Set<string>();
  let last = 0;
  for (const r of await bulkWrite<EventRow, { dedup_key: string; seq: number }>(db, APPEND_EVENTS, rows)) {
    inserted.add(r.dedup_key);
    last = Math.max(last, Number(r.seq));
  }
  return { inserted, lastSeq: last };
}

const APPEND_EVENTS: BulkWrite<EventRow> = {
  name: 'appendEvents',
  columns: [
    'dedup_key', 'received_at', 'phone_number_id', 'waba_id', 'message_key', 'status', 'ts', 'country', 'conv_id',
    'conv_expiration', 'conv_origin', 'pricing_model', 'pricing_billable', 'pricing_type', 'pricing_category', 'error_codes',
  ],
  build: (db, rows) => db.insertInto('status_events').values(rows)
    .onConflict((oc) => oc.columns(['ts', 'dedup_key']).doNothing())
    .returning(['dedup_key', 'seq']),
};

/** The log after `afterSeq`, in order. */
export async function eventsAfter(db: Executor, afterSeq: number, limit: number): Promise<StoredEvent[]> {
  return db.selectFrom('status_events').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
}

export async function lastSeq(db: Executor): Promise<number> {
  const r = await db.selectFrom('status_events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
  return r?.m == null ? 0 : Number(r.m);
}

/** A phone number's events with afterSeq < seq ≤ uptoSeq, in order. */
export async function eventsOfPhone(db: Executor, phoneNumberId: string, afterSeq: number, uptoSeq: number, limit: number): Promise<StoredEvent[]> {
  return db.selectFrom('status_events').selectAll()
    .where('phone_number_id', '=', phoneNumberId).where('seq', '>', afterSeq).where('seq', '<=', uptoSeq)
    .orderBy('seq').limit(limit).execute();
}

/** How many events a phone number has up to uptoSeq. */
export async function countEventsOfPhone(db: Executor, phoneNumberId: string, uptoSeq: number): Promise<number> {
  const r = await db.selectFrom('status_events').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('phone_number_id', '=', phoneNumberId).where('seq', '<=', uptoSeq).executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function loadMessages(db: Executor, keys: string[]): Promise<Map<string, MessageRow>> {
  const out = new Map<string, MessageRow>();
  for (const part of chunks(keys, 1)) {
    const rows = await db.selectFrom('messages').selectAll().where('message_key', 'in', part).execute();
    for (const r of rows) out.set(r.message_key, r);
  }
  return out;
}

const UNIT_COLUMNS = [
  'unit_day', 'unit_category', 'unit_free', 'unit_local_day', 'unit_market', 'unit_tier',
  'rank_group', 'rank_time', 'rank_key', 'rank_slot',
] as const;

const MESSAGE_COLUMNS = [
  'phone_number_id', 'waba_id', 'first_ts', 'sent_ts', 'delivered_ts', 'read_ts', 'failed_ts', 'country',
  'conv_id', 'conv_expiration', 'conv_origin', 'conv_pick', 'pricing_model', 'pricing_billable', 'pricing_type',
  'pricing_category', 'pricing_pick', 'sent_day', 'delivered_day', 'unclassified_day', ...UNIT_COLUMNS,
] as const;

const SAVE_MESSAGES: BulkWrite<MessageRow> = {
  name: 'saveMessages',
  columns: ['message_key', ...MESSAGE_COLUMNS],
  build: (db, rows) => db.insertInto('messages').values(rows)
    .onConflict((oc) => oc.column('message_key').doUpdateSet((eb) => {
      const set: Record<string, unknown> = {};
      for (const c of MESSAGE_COLUMNS) set[c] = eb.ref(`excluded.${c}`);
      return set;
    })),
};

export async function saveMessages(db: Executor, rows: MessageRow[]): Promise<void> {
  await bulkWrite(db, SAVE_MESSAGES, rows);
}

export async function loadConversations(db: Executor, keys: { phoneNumberId: string; convId: string }[]): Promise<Map<string, ConversationRow>> {
  const out = new Map<string, ConversationRow>();
  const byPhone = new Map<string, string[]>();
  for (const k of keys) {
    const list = byPhone.get(k.phoneNumberId) ?? [];
    list.push(k.convId);
    byPhone.set(k.phoneNumberId, list);
  }
  for (const [phone, ids] of byPhone) {
    for (const part of chunks(ids, 1)) {
      const rows = await db.selectFrom('conversations').selectAll()
        .where('phone_number_id', '=', phone).where('conv_id', 'in', part).execute();
      for (const r of rows) out.set(conversationKey(r.phone_number_id, r.conv_id), r);
    }
  }
  return out;
}

export const conversationKey = (phoneNumberId: string, convId: string) => `${phoneNumberId}\u0000${convId}`;

const CONVERSATION_COLUMNS = [
  'waba_id', 'first_ts', 'expiration', 'origin', 'category', 'billable', 'pick', 'delivered_ts', 'country',
  ...UNIT_COLUMNS,
] as const;

const SAVE_CONVERSATIONS: BulkWrite<ConversationRow> = {
  name: 'saveConversations',
  columns: ['phone_number_id', 'conv_id', ...CONVERSATION_COLUMNS],
  build: (db, rows) => db.insertInto('conversations').values(rows)
    .onConflict((oc) => oc.columns(['phone_number_id', 'conv_id']).doUpdateSet((eb) => {
      const set: Record<string, unknown> = {};
      for (const c of CONVERSATION_COLUMNS) set[c] = eb.ref(`excluded.${c}`);
      return set;
    })),
};

export async function saveConversations(db: Executor, rows: ConversationRow[]): Promise<void> {
  await bulkWrite(db, SAVE_CONVERSATIONS, rows);
}

// ---- rankings (CBP free tier, PMP volume tiers) ----------------------------------------------

export type RankedTable = 'messages' | 'conversations';
export interface RankPosition { rank_time: number; rank_key: string }

/** The row at 0-based `offset` of a ranking group, in (rank_time, rank_key) order. */
export async function rankAt(db: Executor, table: RankedTable, group: string, offset: number): Promise<RankPosition | undefined> {
  const row = await (db as Kysely<Database>).selectFrom(table as 'messages').select(['rank_time', 'rank_key'])
    .where('rank_group', '=', group)
    .orderBy('rank_time').orderBy('rank_key')
    .limit(1).offset(offset).executeTakeFirst();
  return row ? { rank_time: Number(row.rank_time), rank_key: row.rank_key! } : undefined;
}

/**
 * The row `offset` steps from `from` in a group's (rank_time, rank_key) order: `before` counts
 * back from the row just before `from`, `from` counts on from `from` itself (or the first row
 * after it). Cost grows with the offset, not with the group.
 */
export async function rankStep(db: Executor, table: RankedTable, group: string, from: RankPosition, direction: 'before' | 'from', offset: number): Promise<RankPosition | undefined> {
  const back = direction === 'before';
  const row = await (db as Kysely<Database>).selectFrom(table as 'messages').select(['rank_time', 'rank_key'])
    .where('rank_group', '=', group)
    .where(sql<boolean>`(rank_time, rank_key) ${sql.raw(back ? '<' : '>=')} (${from.rank_time}, ${from.rank_key})`)
    .orderBy('rank_time', back ? 'desc' : 'asc').orderBy('rank_key', back ? 'desc' : 'asc')
    .limit(1).offset(offset).executeTakeFirst();
  return row ? { rank_time: Number(row.rank_time), rank_key: row.rank_key! } : undefined;
}

/** The row `offset` steps back from a group's last row. */
export async function rankFromEnd(db: Executor, table: RankedTable, group: string, offset: number): Promise<RankPosition | undefined> {
  const row = await (db as Kysely<Database>).selectFrom(table as 'messages').select(['rank_time', 'rank_key'])
    .where('rank_group', '=', group)
    .orderBy('rank_time', 'desc').orderBy('rank_key', 'desc')
    .limit(1).offset(offset).executeTakeFirst();
  return row ? { rank_time: Number(row.rank_time), rank_key: row.rank_key! } : undefined;
}

/** A stretch of a group's order, `from` included, `to` excluded (null: to the end). */
export interface RankRange { from: RankPosition; to: RankPosition | null }

/**
 * Rows of a group whose slot disagrees with the boundaries (`boundaries[k]` is the first row of
 * slot k + 1): only these need their unit re-applied after the group changed. `within` limits
 * the search to one stretch where a boundary moved (incremental re-ranking).
 */
export async function rankMismatches<T extends RankedTable>(db: Executor, table: T, group: string, boundaries: RankPosition[], within?: RankRange): Promise<Selectable<Database[T]>[]> {
  const key = sql`(rank_time, rank_key)`;
  const pos = (p: RankPosition) => sql`(${p.rank_time}, ${p.rank_key})`;
  let q = (db as Kysely<Database>).selectFrom(table as 'messages').selectAll().where('rank_group', '=', group)
    .where((eb) => eb.or([
      ...boundaries.flatMap((b, i) => [
        eb.and([eb('rank_slot', '>', i), sql<boolean>`${key} < ${pos(b)}`]),
        eb.and([eb('rank_slot', '<=', i), sql<boolean>`${key} >= ${pos(b)}`]),
      ]),
      eb('rank_slot', '>', boundaries.length),
    ]));
  // One stretch per query, as plain bounds: both engines then read only that stretch of the index.
  if (within) {
    q = q.where(sql<boolean>`${key} >= ${pos(within.from)}`);
    if (within.to) q = q.where(sql<boolean>`${key} < ${pos(within.to)}`);
  }
  return (await q.execute()) as Selectable<Database[T]>[];
}

/**
 * Where a group's slot boundaries were after its last re-ranking: for each rank of `ranks` below
 * the group's size, the row at that rank. Lets the next re-ranking move each boundary by the
 * batch's net change instead of walking the group from its start.
 */
export interface StoredBoundaries { ranks: number[]; at: RankPosition[] }

export interface RankGroupState { members: number; boundaries: StoredBoundaries | null }

function parseBoundaries(text: string | null): StoredBoundaries | null {
  if (text == null) return null;
  const v = JSON.parse(text) as { ranks: number[]; at: [number, string][] };
  return { ranks: v.ranks, at: v.at.map(([t, k]) => ({ rank_time: t, rank_key: k })) };
}

export function boundariesText(b: StoredBoundaries | null): string | null {
  return b == null ? null : JSON.stringify({ ranks: b.ranks, at: b.at.map((p) => [p.rank_time, p.rank_key]) });
}

export async function rankGroupStates(db: Executor, groups: string[]): Promise<Map<string, RankGroupState>> {
  const out = new Map<string, RankGroupState>();
  for (const part of chunks(groups, 1)) {
    const rows = await db.selectFrom('rank_groups').selectAll().where('rank_group', 'in', part).execute();
    for (const r of rows) out.set(r.rank_group, { members: Number(r.members), boundaries: parseBoundaries(r.boundaries) });
  }
  return out;
}

/** Records a group's boundaries (null: unknown, the next re-ranking walks the group). */
export async function setRankBoundaries(db: Executor, group: string, boundaries: StoredBoundaries | null): Promise<void> {
  await db.updateTable('rank_groups').set({ boundaries: boundariesText(boundaries) }).where('rank_group', '=', group).execute();
}

export async function addRankMembers(db: Executor, deltas: Map<string, number>): Promise<void> {
  const rows = [...deltas].filter(([, n]) => n !== 0).map(([rank_group, members]) => ({ rank_group, members }));
  for (const part of chunks(rows, 2)) {
    await db.insertInto('rank_groups').values(part)
      .onConflict((oc) => oc.column('rank_group').doUpdateSet((eb) => ({ members: eb(eb.ref('rank_groups.members'), '+', eb.ref('excluded.members')) })))
      .execute();
  }
}

export async function allRankGroups(db: Executor, prefix: string): Promise<{ rank_group: string; members: number }[]> {
  const rows = await db.selectFrom('rank_groups').selectAll().where('rank_group', 'like', `${prefix}%`).execute();
  return rows.map((r) => ({ rank_group: r.rank_group, members: Number(r.members) }));
}

/**
 * Up to `limit` ranking groups whose key starts with `prefix`, in key order after `after`. A key
 * range rather than LIKE: exact and case-sensitive on both engines.
 */
export async function rankGroupsAfter(db: Executor, prefix: string, after: string, limit: number): Promise<string[]> {
  const upper = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const rows = await db.selectFrom('rank_groups').select('rank_group')
    .where('rank_group', '>', after > prefix ? after : prefix).where('rank_group', '<', upper)
    .orderBy('rank_group').limit(limit).execute();
  return rows.map((r) => r.rank_group);
}

// ---- charges -----------------------------------------------------------------------------------

export type ChargeRow = Selectable<ChargesTable>;
export const CHARGE_KEY = ['phone_number_id', 'day', 'local_day', 'unit', 'category', 'market', 'tier'] as const;

const ADD_CHARGES: BulkWrite<ChargeRow> = {
  name: 'addCharges',
  columns: [...CHARGE_KEY, 'quantity', 'amount', 'unpriced', 'rate', 'source', 'reason'],
  build: (db, rows) => db.insertInto('charges').values(rows)
    .onConflict((oc) => oc.columns([...CHARGE_KEY]).doUpdateSet((eb) => ({
      quantity: eb(eb.ref('charges.quantity'), '+', eb.ref('excluded.quantity')),
      amount: eb(eb.ref('charges.amount'), '+', eb.ref('excluded.amount')),
      unpriced: eb(eb.ref('charges.unpriced'), '+', eb.ref('excluded.unpriced')),
      rate: eb.ref('excluded.rate'),
      source: eb.ref('excluded.source'),
      reason: eb.ref('excluded.reason'),
    }))),
};

/** Adds quantities and amounts to charge groups; the rate, source and reason are the latest. */
export async function addCharges(db: Executor, rows: ChargeRow[]): Promise<void> {
  await bulkWrite(db, ADD_CHARGES, rows);
}

/** Charge groups in key order after `after` (keyset pagination for re-pricing). */
export async function chargesAfter(db: Executor, after: ChargeRow | null, limit: number): Promise<ChargeRow[]> {
  let q = db.selectFrom('charges').selectAll();
  if (after) {
    const key = sql`(phone_number_id, day, local_day, unit, category, market, tier)`;
    q = q.where(sql<boolean>`${key} > (${after.phone_number_id}, ${after.day}, ${after.local_day}, ${after.unit}, ${after.category}, ${after.market}, ${after.tier})`);
  }
  return q.orderBy('phone_number_id').orderBy('day').orderBy('local_day').orderBy('unit').orderBy('category').orderBy('market').orderBy('tier')
    .limit(limit).execute();
}

export async function setChargePrices(db: Executor, rows: ChargeRow[]): Promise<void> {
  for (const r of rows) {
    await db.updateTable('charges').set({ amount: r.amount, unpriced: r.unpriced, rate: r.rate, source: r.source, reason: r.reason })
      .where('phone_number_id', '=', r.phone_number_id).where('day', '=', r.day).where('local_day', '=', r.local_day)
      .where('unit', '=', r.unit).where('category', '=', r.category).where('market', '=', r.market).where('tier', '=', r.tier)
      .execute();
  }
}

export async function chargesOf(db: Executor, phoneNumberIds: string[], fromDay: number, toDay: number): Promise<ChargeRow[]> {
  if (phoneNumberIds.length === 0) return [];
  return db.selectFrom('charges').selectAll()
    .where('phone_number_id', 'in', phoneNumberIds).where('day', '>=', fromDay).where('day', '<=', toDay)
    .where('quantity', '>', 0)
    .orderBy('day').orderBy('phone_number_id').orderBy('category').orderBy('market').orderBy('tier').execute();
}

type UsageDeltas = Map<string, { phoneNumberId: string; day: number; delta: Delta }>;

/** Adds per-(phone number, day) deltas to the daily rollup, and their sums to the client rollup. */
export async function addUsage(db: Executor, deltas: UsageDeltas, clientOf: (phoneNumberId: string) => string | undefined): Promise<void> {
  const perClient = new Map<string, UsageRow>();
  const rows: UsageRow[] = [];
  for (const d of deltas.values()) {
    if (!Object.values(d.delta).some((v) => v !== 0)) continue;
    const row: Record<string, number | string> = { phone_number_id: d.phoneNumberId, day: d.day };
    for (const c of USAGE_COUNTERS) row[c] = d.delta[c] ?? 0;
    rows.push(row);
    const clientId = clientOf(d.phoneNumberId);
    if (clientId == null) continue;
    const k = `${clientId}|${d.day}`;
    let sum = perClient.get(k);
    if (!sum) {
      sum = { client_id: clientId, day: d.day };
      for (const c of USAGE_COUNTERS) sum[c] = 0;
      perClient.set(k, sum);
    }
    for (const c of USAGE_COUNTERS) (sum[c] as number) += d.delta[c] ?? 0;
  }
  await bulkWrite(db, ADD_USAGE_DAILY, rows);
  await bulkWrite(db, ADD_CLIENT_USAGE_DAILY, [...perClient.values()]);
}

type UsageRow = Record<string, number | string>;

/** Adds counters to a rollup row, per phone number or per client, and day. */
function addCounters(table: 'usage_daily' | 'client_usage_daily', owner: 'phone_number_id' | 'client_id'): BulkWrite<UsageRow> {
  return {
    name: table,
    columns: [owner, 'day', ...USAGE_COUNTERS],
    // Untyped: the two rollups share this shape, which the typed builder cannot say of a table union.
    build: (db, rows) => (db as Kysely<any>).insertInto(table).values(rows)
      .onConflict((oc) => oc.columns([owner, 'day']).doUpdateSet((eb) => {
        const set: Record<string, unknown> = {};
        for (const c of USAGE_COUNTERS) set[c] = eb(eb.ref(`${table}.${c}`), '+', eb.ref(`excluded.${c}`));
        return set;
      })),
  };
}

const ADD_USAGE_DAILY = addCounters('usage_daily', 'phone_number_id');
const ADD_CLIENT_USAGE_DAILY = addCounters('client_usage_daily', 'client_id');

