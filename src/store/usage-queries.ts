/**
 * The reads behind the usage endpoints (`…/info/balance`, `…/info/usage`), and the counts the
 * per-message analytics read (`message_usage_days`, `message_usage_half_hours`: schema.ts), which
 * the meter keeps equal to a count over `messages` through `MessageUsageDeltas`.
 *
 * Kysely on both engines; the one difference is the name of the string aggregate (`packed`).
 * Every counter is an integer (prices in micros) that both engines return exactly.
 */
import { sql, type RawBuilder, type Selectable } from 'kysely';
import { USAGE_COUNTERS, type UsageCounters } from '../billing/usage.ts';
import type { Store as OpenStore } from './database.ts';
import type { Executor } from './meter-store.ts';
import type { MessagesTable, MessageUsageDaysTable } from './schema.ts';

type Store = Pick<OpenStore, 'db' | 'dialect'>;
export interface DayUsage { day: number; counters: UsageCounters }

// ---- rows of integers as one text ------------------------------------------------------------------

/**
 * Both drivers turn every row into an object, which costs more than the query when a read is
 * hundreds of rows of 35 integers or tens of thousands of small ones. These reads have the store
 * pack their integer rows into one text instead ("a,b,c;a,b,c;…": the dialect's string
 * aggregate), unpacked here with one pass over its characters.
 */
function packed(store: Store, columns: RawBuilder<unknown>[]): RawBuilder<string | null> {
  // Each value in parentheses: SQLite's || binds tighter than arithmetic.
  const row = sql.join(columns.map((c) => sql`(${c})`), sql` || ',' || `);
  return store.dialect === 'postgres' ? sql<string | null>`string_agg(${row}, ';')` : sql<string | null>`group_concat(${row}, ';')`;
}

/** Calls `each` with the integers of every row of a packed text (the same array, refilled). */
function unpack(text: string | null | undefined, width: number, each: (values: number[]) => void): void {
  if (!text) return;
  const values: number[] = new Array(width).fill(0);
  let field = 0;
  let n = 0;
  let negative = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 59;
    if (c >= 48 && c <= 57) n = n * 10 + (c - 48); // digits
    else if (c === 45) negative = true; // '-'
    else if (c === 44 || c === 59) { // ',' or ';'
      if (field >= width) throw new Error(`packed rows: more than ${width} values in a row`);
      values[field++] = negative ? -n : n;
      n = 0;
      negative = false;
      if (c === 59) {
        if (field !== width) throw new Error(`packed rows: ${field} values in a row, ${width} expected`);
        each(values);
        field = 0;
      }
    } else throw new Error(`packed rows: unexpected character ${c} at offset ${i}`);
  }
}

const DAY_COLUMNS = [sql.ref('day'), ...USAGE_COUNTERS.map((c) => sql.ref(c))];

function unpackDays(text: string | null | undefined): DayUsage[] {
  const out: DayUsage[] = [];
  unpack(text, DAY_COLUMNS.length, (v) => {
    const counters = {} as UsageCounters;
    for (let i = 0; i < USAGE_COUNTERS.length; i++) counters[USAGE_COUNTERS[i]] = v[i + 1];
    out.push({ day: v[0], counters });
  });
  // Aggregates keep no order: the days in order.
  return out.sort((a, b) => a.day - b.day);
}

// ---- info/balance ------------------------------------------------------------------------------

/** A client's usage per UTC day bucket, days within [fromDay, toDay] (all its channels). */
export async function clientUsageByDay(store: Store, clientId: string, fromDay: number, toDay: number): Promise<DayUsage[]> {
  const row = await store.db.selectFrom('client_usage_daily').select(packed(store, DAY_COLUMNS).as('packed'))
    .where('client_id', '=', clientId).where('day', '>=', fromDay).where('day', '<=', toDay)
    .executeTakeFirst();
  return unpackDays(row?.packed);
}

/** Usage of some phone numbers summed per UTC day bucket, days within [fromDay, toDay]. */
export async function usageByDay(store: Store, phoneNumberIds: string[], fromDay: number, toDay: number): Promise<DayUsage[]> {
  if (phoneNumberIds.length === 0) return [];
  const sums = phonesByDay(store.db, phoneNumberIds, fromDay, toDay);
  const row = await store.db.selectFrom(sums.as('s')).select(packed(store, DAY_COLUMNS).as('packed')).executeTakeFirst();
  return unpackDays(row?.packed);
}

/**
 * Some phone numbers' `usage_daily` rows summed per day, as a subquery (`day` and every counter).
 * One phone number has one row a day: its rows are the sums (an aggregate of 33 sums costs
 * PostgreSQL more than the rest of the statement).
 */
function phonesByDay(db: Executor, phoneNumberIds: string[], fromDay: number, toDay: number) {
  const rows = db.selectFrom('usage_daily')
    .where('phone_number_id', 'in', phoneNumberIds)
    .where('day', '>=', fromDay).where('day', '<=', toDay);
  return phoneNumberIds.length === 1
    ? rows.select(['day', ...USAGE_COUNTERS])
    : rows.select((eb) => ['day', ...USAGE_COUNTERS.map((c) => eb.fn.sum<number>(c).as(c))]).groupBy('day');
}

/**
 * A client's usage per UTC day without some of its phone numbers: its rollup minus their rows.
 * Exact, because every counter is an additive integer and the client rollup holds the sum of its
 * channels' rows (the meter adds each change to both in one transaction), so this equals
 * `usageByDay` of the other channels while reading one row per day plus the excluded channels'
 * rows instead of all of theirs. One statement, so both sides are of the same moment. A day can
 * come out all zero (only excluded channels had usage): callers drop empty buckets.
 */
export async function clientUsageWithoutByDay(store: Store, clientId: string, excludedPhoneNumberIds: string[], fromDay: number, toDay: number): Promise<DayUsage[]> {
  if (excludedPhoneNumberIds.length === 0) return clientUsageByDay(store, clientId, fromDay, toDay);
  const db = store.db;
  const excluded = phonesByDay(db, excludedPhoneNumberIds, fromDay, toDay);
  const rest = db.selectFrom('client_usage_daily as c')
    .leftJoin(excluded.as('e'), 'e.day', 'c.day')
    .select(['c.day', ...USAGE_COUNTERS.map((c) => sql<number>`${sql.ref(`c.${c}`)} - coalesce(${sql.ref(`e.${c}`)}, 0)`.as(c))])
    .where('c.client_id', '=', clientId).where('c.day', '>=', fromDay).where('c.day', '<=', toDay);
  const row = await db.selectFrom(rest.as('r')).select(packed(store, DAY_COLUMNS).as('packed')).executeTakeFirst();
  return unpackDays(row?.packed);
}

// ---- info/usage: the message-usage counts -------------------------------------------------------

/** A message's group in `message_usage_days` (its UTC day and key) and its half hour. */
export type MessageUsageKey = Omit<Selectable<MessageUsageDaysTable>, 'id' | 'volume'> & { bucket: number };

type MessageUnitRow = Pick<MessagesTable,
  'phone_number_id' | 'delivered_ts' | 'read_ts' | 'country' | 'pricing_category' | 'conv_origin' | 'pricing_type'
  | 'unit_day' | 'unit_category' | 'unit_free' | 'unit_local_day' | 'unit_market' | 'unit_tier'>;

const HALF_HOUR = 1800;

/**
 * Where a message row counts: null unless it holds a PMP unit (`unit_day` set, which the meter
 * sets only for a delivered message). The migration fills the counts with the same expressions in
 * SQL (migrations.ts, usageReadPaths).
 */
export function messageUsageKey(r: MessageUnitRow): MessageUsageKey | null {
  if (r.unit_day == null) return null;
  return {
    phone_number_id: r.phone_number_id,
    day: Number(r.unit_day),
    country: r.country ?? '',
    category: r.unit_category ?? '',
    raw_category: r.unit_category === 'other' ? r.pricing_category ?? r.conv_origin ?? '' : '',
    free: r.unit_free ?? '',
    free_type: r.unit_free === 'free_tier' ? r.pricing_type ?? '' : '',
    local_day: r.unit_local_day ?? '',
    market: r.unit_market ?? '',
    tier: r.unit_tier == null ? 0 : Number(r.unit_tier),
    bucket: Math.floor(Number(r.delivered_ts ?? r.read_ts) / HALF_HOUR) * HALF_HOUR,
  };
}

const DAY_KEY = ['phone_number_id', 'day', 'country', 'category', 'raw_category', 'free', 'free_type', 'local_day', 'market', 'tier'] as const;
type DayKey = Pick<MessageUsageKey, (typeof DAY_KEY)[number]>;
/** Unambiguous whatever the text holds. */
const dayKeyString = (k: DayKey) => JSON.stringify(DAY_KEY.map((c) => k[c]));

// Far below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters per statement.
const ROWS_PER_STATEMENT = 2_000;

/**
 * The changes to the counts of one metering transaction. `move` every message row the
 * transaction saves, as it was stored before (undefined when new) and as it is saved; `flush`
 * adds the net changes in the same transaction. A row whose group and half hour did not change
 * costs nothing. Groups that lose all their messages stay at 0 (the reads skip them).
 */
export class MessageUsageDeltas {
  private readonly days = new Map<string, { key: DayKey; volume: number }>();
  private readonly halfHours = new Map<string, { dayKey: string; phone_number_id: string; bucket: number; volume: number }>();

  move(before: MessageUnitRow | undefined, after: MessageUnitRow): void {
    const a = before ? messageUsageKey(before) : null;
    const b = messageUsageKey(after);
    const ka = a && dayKeyString(a);
    const kb = b && dayKeyString(b);
    if (ka === kb && a?.bucket === b?.bucket) return;
    if (a) this.add(a, ka!, -1);
    if (b) this.add(b, kb!, 1);
  }

  private add(key: MessageUsageKey, dayKey: string, by: number): void {
    const d = this.days.get(dayKey);
    if (d) d.volume += by;
    else this.days.set(dayKey, { key, volume: by });
    const h = `${key.bucket}|${dayKey}`;
    const hh = this.halfHours.get(h);
    if (hh) hh.volume += by;
    else this.halfHours.set(h, { dayKey, phone_number_id: key.phone_number_id, bucket: key.bucket, volume: by });
  }

  async flush(db: Executor): Promise<void> {
    const halfHours = [...this.halfHours.values()].filter((h) => h.volume !== 0);
    // Every day group a half hour changes in, even one whose day total did not change: its id.
    const needed = new Set(halfHours.map((h) => h.dayKey));
    const days = [...this.days.entries()].filter(([k, d]) => d.volume !== 0 || needed.has(k));
    const ids = new Map<string, number>();
    for (let i = 0; i < days.length; i += ROWS_PER_STATEMENT) {
      const rows = days.slice(i, i + ROWS_PER_STATEMENT).map(([, d]) => ({ ...pickDayKey(d.key), volume: d.volume }));
      const saved = await db.insertInto('message_usage_days').values(rows)
        .onConflict((oc) => oc.columns([...DAY_KEY])
          .doUpdateSet((eb) => ({ volume: eb(eb.ref('message_usage_days.volume'), '+', eb.ref('excluded.volume')) })))
        .returning(['id', ...DAY_KEY])
        .execute();
      for (const r of saved) ids.set(dayKeyString({ ...r, day: Number(r.day), tier: Number(r.tier) }), Number(r.id));
    }
    const rows = halfHours.map((h) => ({ phone_number_id: h.phone_number_id, bucket: h.bucket, key_id: ids.get(h.dayKey)!, volume: h.volume }));
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      await db.insertInto('message_usage_half_hours').values(rows.slice(i, i + ROWS_PER_STATEMENT))
        .onConflict((oc) => oc.columns(['phone_number_id', 'bucket', 'key_id'])
          .doUpdateSet((eb) => ({ volume: eb(eb.ref('message_usage_half_hours.volume'), '+', eb.ref('excluded.volume')) })))
        .execute();
    }
    this.days.clear();
    this.halfHours.clear();
  }
}

function pickDayKey(k: DayKey): DayKey {
  const out = {} as Record<string, string | number>;
  for (const c of DAY_KEY) out[c] = k[c];
  return out as unknown as DayKey;
}

/** A day group, with the rate (micros) of its charge group: null when free, unpriced or without one. */
export type MessageUsageDay = Selectable<MessageUsageDaysTable> & { rate: number | null };

/**
 * A phone number's day groups, UTC days in [fromDay, toDay), optionally of some recipient
 * countries only (groups at 0 included: half hours name them).
 */
export async function messageUsageDays(db: Executor, phoneNumberId: string, fromDay: number, toDay: number, countries?: string[]): Promise<MessageUsageDay[]> {
  if (countries && countries.length === 0) return [];
  let q = db.selectFrom('message_usage_days as d')
    .leftJoin('charges as c', (join) => join
      .on('d.free', '=', '')
      .onRef('c.phone_number_id', '=', 'd.phone_number_id')
      .onRef('c.day', '=', 'd.day')
      .onRef('c.local_day', '=', 'd.local_day')
      .on('c.unit', '=', 'message')
      .onRef('c.category', '=', 'd.category')
      .onRef('c.market', '=', 'd.market')
      .onRef('c.tier', '=', 'd.tier'))
    .selectAll('d')
    .select('c.rate')
    .where('d.phone_number_id', '=', phoneNumberId).where('d.day', '>=', fromDay).where('d.day', '<', toDay);
  if (countries) q = q.where('d.country', 'in', countries);
  return q.execute();
}

/**
 * Every half hour with messages of a phone number, buckets in [from, to) (`from` at a half hour):
 * `each` is called with the bucket, its day group (`message_usage_days.id`) and the count, in no
 * particular order. A month of a busy channel is tens of thousands of these, read packed (see
 * `packed`; buckets as their index from `from`, which is shorter) and unpacked when `each` is called.
 */
export async function messageUsageHalfHours(store: Store, phoneNumberId: string, from: number, to: number): Promise<{ each(fn: (bucket: number, keyId: number, volume: number) => void): void }> {
  const row = await store.db.selectFrom('message_usage_half_hours')
    .select(packed(store, [sql`(bucket - ${sql.lit(Math.trunc(from))}) / ${sql.lit(HALF_HOUR)}`, sql.ref('key_id'), sql.ref('volume')]).as('packed'))
    .where('phone_number_id', '=', phoneNumberId).where('bucket', '>=', from).where('bucket', '<', to)
    // A half hour every message has left (moved elsewhere) stays behind at 0.
    .where('volume', '>', 0)
    .executeTakeFirst();
  return { each: (fn) => unpack(row?.packed, 3, (v) => fn(from + v[0] * HALF_HOUR, v[1], v[2])) };
}
