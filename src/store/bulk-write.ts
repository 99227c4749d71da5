/**
 * Multi-row writes on the meter's hot path, compiled once per shape and reused.
 *
 * Building a multi-row `INSERT … ON CONFLICT` with Kysely for every batch costs more than running
 * it (an operation tree per row, a new statement text per batch size, and on SQLite a new prepared
 * statement each time). Here a batch is cut into chunks of a few fixed sizes, the statement for
 * each size is built with Kysely once (with placeholder rows, so it is the dialect's own SQL) and
 * kept as text, and each chunk runs that text with its values: on SQLite the driver's statement
 * cache (store/database.ts) then prepares each text once.
 */
import { CompiledQuery, sql, type Compilable } from 'kysely';
import type { Executor } from './meter-store.ts';

/** Chunk sizes, largest first: 1,000 rows are 512 + 7 × 64 + 5 × 8, thirteen statements of three texts. */
const SIZES = [512, 64, 8, 1] as const;

export interface BulkWrite<Row> {
  /** Names the statement in the cache. */
  name: string;
  /** The columns in the order the statement takes them (every row gives each one, null for none). */
  columns: readonly (keyof Row & string)[];
  /** The statement for these rows, built with Kysely. */
  build(db: Executor, rows: Row[]): Compilable;
}

const texts = new Map<string, string>();

/** Runs `write` over `rows` in cached chunks; returns what the statements return (RETURNING), in order. */
export async function bulkWrite<Row, Out = unknown>(db: Executor, write: BulkWrite<Row>, rows: readonly Row[]): Promise<Out[]> {
  if (rows.length === 0) return [];
  // `?` on SQLite, `$1` on PostgreSQL: the same shape compiles differently per dialect.
  const style = sql`${0}`.compile(db).sql;
  const out: Out[] = [];
  for (let i = 0; i < rows.length;) {
    const size = SIZES.find((s) => s <= rows.length - i)!;
    const key = `${style}|${write.name}|${size}`;
    let text = texts.get(key);
    if (text === undefined) {
      const placeholder = Object.fromEntries(write.columns.map((c) => [c, null])) as Row;
      text = write.build(db, Array.from({ length: size }, () => placeholder)).compile().sql;
      texts.set(key, text);
    }
    const params: unknown[] = [];
    for (let k = i; k < i + size; k++) {
      const row = rows[k] as Record<string, unknown>;
      for (const c of write.columns) params.push(row[c] ?? null);
    }
    const res = await db.executeQuery<Out>(CompiledQuery.raw(text, params));
    for (const r of res.rows) out.push(r);
    i += size;
  }
  return out;
}
