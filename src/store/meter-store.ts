/**
 * Data access for the meter: the event log, the message and conversation projections, the
 * free-tier ranking queries and the daily usage rollup. Portable SQL only (Kysely), so the same
 * code runs on SQLite and PostgreSQL; every function takes the transaction it runs in.
 */
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { USAGE_COUNTERS, type Delta, type UsageCounters } from '../billing/usage.ts';
import type { ConversationsTable, Database, MessagesTable, StatusEventsTable } from './schema.ts';

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

/** Appends events to the log; returns the dedup keys that were new (the rest were duplicates). */
export async function appendEvents(db: Executor, rows: EventRow[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (const part of chunks(rows, 17)) {
    const res = await db.insertInto('status_events').values(part)
      .onConflict((oc) => oc.column('dedup_key').doNothing())
      .returning('dedup_key').execute();
    for (const r of res) inserted.add(r.dedup_key);
  }
  return inserted;
}

export async function eventsOfPhone(db: Executor, phoneNumberId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
  return db.selectFrom('status_events').selectAll()
    .where('phone_number_id', '=', phoneNumberId).where('seq', '>', afterSeq)
    .orderBy('seq').limit(limit).execute();
}

export async function loadMessages(db: Executor, keys: string[]): Promise<Map<string, MessageRow>> {
  const out = new Map<string, MessageRow>();
  for (const part of chunks(keys, 1)) {
    const rows = await db.selectFrom('messages').selectAll().where('message_key', 'in', part).execute();
    for (const r of rows) out.set(r.message_key, r);
  }
  return out;
}

const MESSAGE_COLUMNS = [
  'phone_number_id', 'waba_id', 'first_ts', 'sent_ts', 'delivered_ts', 'read_ts', 'failed_ts', 'country',
  'conv_id', 'conv_expiration', 'conv_origin', 'conv_pick', 'pricing_model', 'pricing_billable', 'pricing_type',
  'pricing_category', 'pricing_pick', 'sent_day', 'delivered_day', 'unclassified_day',
  'unit_day', 'unit_category', 'unit_free', 'unit_price',
] as const;

export async function saveMessages(db: Executor, rows: MessageRow[]): Promise<void> {
  for (const part of chunks(rows, MESSAGE_COLUMNS.length + 1)) {
    await db.insertInto('messages').values(part)
      .onConflict((oc) => oc.column('message_key').doUpdateSet((eb) => {
        const set: Record<string, unknown> = {};
        for (const c of MESSAGE_COLUMNS) set[c] = eb.ref(`excluded.${c}`);
        return set;
      })).execute();
  }
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
  'tier_group', 'open_time', 'in_free_tier', 'unit_day', 'unit_category', 'unit_free', 'unit_price',
] as const;

export async function saveConversations(db: Executor, rows: ConversationRow[]): Promise<void> {
  for (const part of chunks(rows, CONVERSATION_COLUMNS.length + 2)) {
    await db.insertInto('conversations').values(part)
      .onConflict((oc) => oc.columns(['phone_number_id', 'conv_id']).doUpdateSet((eb) => {
        const set: Record<string, unknown> = {};
        for (const c of CONVERSATION_COLUMNS) set[c] = eb.ref(`excluded.${c}`);
        return set;
      })).execute();
  }
}

/** The ranking key of the last conversation inside a free tier of `size`, or null if fewer compete. */
export async function freeTierBoundary(db: Executor, tierGroup: string, size: number) {
  return db.selectFrom('conversations').select(['open_time', 'phone_number_id', 'conv_id'])
    .where('tier_group', '=', tierGroup)
    .orderBy('open_time').orderBy('phone_number_id').orderBy('conv_id')
    .limit(1).offset(size - 1).executeTakeFirst();
}

/** Conversations of a tier group whose `in_free_tier` flag disagrees with the boundary. */
export async function freeTierMismatches(
  db: Executor,
  tierGroup: string,
  boundary: { open_time: number; phone_number_id: string; conv_id: string } | undefined,
): Promise<ConversationRow[]> {
  let q = db.selectFrom('conversations').selectAll().where('tier_group', '=', tierGroup);
  if (!boundary) return q.where('in_free_tier', '=', 0).execute();
  const key = sql`(open_time, phone_number_id, conv_id)`;
  const b = sql`(${boundary.open_time}, ${boundary.phone_number_id}, ${boundary.conv_id})`;
  return q.where((eb) => eb.or([
    eb.and([eb('in_free_tier', '=', 1), sql<boolean>`${key} > ${b}`]),
    eb.and([eb('in_free_tier', '=', 0), sql<boolean>`${key} <= ${b}`]),
  ])).execute();
}

/** Adds per-(phone number, day) deltas to the daily rollup. */
export async function addUsage(db: Executor, deltas: Map<string, { phoneNumberId: string; day: number; delta: Delta }>): Promise<void> {
  const rows = [...deltas.values()]
    .filter((d) => Object.values(d.delta).some((v) => v !== 0))
    .map((d) => {
      const row: Record<string, number | string> = { phone_number_id: d.phoneNumberId, day: d.day };
      for (const c of USAGE_COUNTERS) row[c] = d.delta[c] ?? 0;
      return row as Insertable<Database['usage_daily']>;
    });
  for (const part of chunks(rows, USAGE_COUNTERS.length + 2)) {
    await db.insertInto('usage_daily').values(part)
      .onConflict((oc) => oc.columns(['phone_number_id', 'day']).doUpdateSet((eb) => {
        const set: Record<string, unknown> = {};
        for (const c of USAGE_COUNTERS) set[c] = eb(eb.ref(`usage_daily.${c}`), '+', eb.ref(`excluded.${c}`));
        return set;
      })).execute();
  }
}

/** Usage of some phone numbers summed per UTC day bucket, days within [fromDay, toDay]. */
export async function usageByDay(db: Executor, phoneNumberIds: string[], fromDay: number, toDay: number): Promise<{ day: number; counters: UsageCounters }[]> {
  if (phoneNumberIds.length === 0) return [];
  const rows = await db.selectFrom('usage_daily')
    .select((eb) => [
      'day',
      ...USAGE_COUNTERS.map((c) => eb.fn.sum<number>(c).as(c)),
    ])
    .where('phone_number_id', 'in', phoneNumberIds)
    .where('day', '>=', fromDay).where('day', '<=', toDay)
    .groupBy('day').orderBy('day').execute();
  return rows.map((r) => {
    const counters = {} as UsageCounters;
    for (const c of USAGE_COUNTERS) counters[c] = Number((r as Record<string, unknown>)[c] ?? 0);
    return { day: Number(r.day), counters };
  });
}

/**
 * Drops a phone number's projections (its events stay): the first step of a replay. Returns the
 * free-tier groups its conversations competed in, which must be re-ranked for the WABA's other numbers.
 */
export async function dropProjections(db: Executor, phoneNumberId: string): Promise<string[]> {
  const groups = await db.selectFrom('conversations').select('tier_group').distinct()
    .where('phone_number_id', '=', phoneNumberId).where('tier_group', 'is not', null).execute();
  await db.deleteFrom('messages').where('phone_number_id', '=', phoneNumberId).execute();
  await db.deleteFrom('conversations').where('phone_number_id', '=', phoneNumberId).execute();
  await db.deleteFrom('usage_daily').where('phone_number_id', '=', phoneNumberId).execute();
  return groups.map((g) => g.tier_group!);
}
