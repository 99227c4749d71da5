/**
 * `npm run cli -- copy-store --from <sqlite> --to <postgres://…>`: moves an embedded SQLite
 * store's data into an empty PostgreSQL database, for the move from one process to several
 * (docs/deploy.md).
 *
 * - The source is only read (opened read-only) and must be at this build's schema version: a
 *   "copy" command that migrated the operator's live store would be a surprise, and an older
 *   service still running on it would then work on a schema it does not know. The error says how
 *   to migrate it first (`npm run cli -- migrate`).
 * - The source is read in one SQLite read transaction, not through `backup()` to a temp file: in
 *   WAL mode (which the service always sets) a read transaction sees one snapshot of every table
 *   while the service keeps writing, without blocking it and without a second copy of the file on
 *   disk, whereas the online backup starts over whenever another connection writes, so against a
 *   busy service it may never finish. (While it is held, the WAL cannot be checkpointed past it
 *   and grows; it shrinks again afterwards.)
 * - The target is checked for data before anything is written to it, then migrated forward, then
 *   filled in one transaction that holds the service's advisory locks (a process already started
 *   on the empty database waits instead of writing beside the copy). Tables go in foreign-key
 *   order, in batches; row counts are compared before the commit, so a failure or a mismatch
 *   leaves the target's tables empty; sequences are moved past the copied values.
 * - The tables are the ones the source database has (sqlite_master), so a table added by a later
 *   migration is copied without a change here.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { eventLogFile, isPostgresUrl, openStore } from '../store/database.ts';
import { takeLock } from '../store/locks.ts';
import { VERSION_KEYS } from '../store/meta-store.ts';
import { migrate, MIGRATIONS, schemaVersion } from '../store/migrations.ts';
import type { Database } from '../store/schema.ts';

export class CopyStoreError extends Error {
  constructor(message: string, readonly details: string[] = []) {
    super(message);
  }
}

export interface CopyStoreOptions {
  /** `sqlite:<path>`, `file:<path>` or a bare path. */
  from: string;
  /** `postgres://…` (an empty database, or an empty schema named by `?options=-c search_path=…`). */
  to: string;
  /** Rows per INSERT. */
  batchSize?: number;
  /** A progress line on stderr every this many rows, for tables at least this big. */
  progressEvery?: number;
  progress?: (line: string) => void;
}

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

export interface CopyStoreResult {
  source: string;
  target: string;
  schemaVersion: number;
  tables: TableCount[];
  /** `meta` rows copied (see META_NOT_COPIED for the ones that are not). */
  meta: TableCount;
  /** Each sequence and the value it was set to (its next value is one more). */
  sequences: { table: string; column: string; value: number }[];
}

export const DEFAULT_BATCH_SIZE = 5000;
export const DEFAULT_PROGRESS_EVERY = 50_000;

/**
 * `meta` rows that are not copied:
 * - `schema_version`: the target's own migrations wrote it, and it equals the source's (checked);
 * - the version tokens of cached state (channels, rate cards): they name the source's cache
 *   generations; the target gets fresh ones instead, so a process already started on the empty
 *   target reloads its channels and rate cards.
 * Everything else is copied, above all the meter's cursor: it says which events the copied
 * projections already hold; without it the first process on the target would project the whole
 * log again over them, under the meter lock, which on a big store takes long. (And the demo's
 * record, so a start on the target still prints the demo key.)
 */
const META_NOT_COPIED: readonly string[] = ['schema_version', ...Object.values(VERSION_KEYS)];

/** The source: a read-only SQLite connection inside a read transaction (one snapshot). */
interface Source {
  db: BetterSqlite3.Database;
  file: string;
  version: number;
  /** Tables other than `meta`, parents before children (foreign keys). */
  tables: string[];
  columns: Map<string, string[]>;
  counts: Map<string, number>;
  meta: { key: string; value: string }[];
  /** AUTOINCREMENT high-water marks (sqlite_sequence): ids SQLite will never hand out again. */
  autoincrement: Map<string, number>;
}

const quoteSqlite = (name: string) => `"${name.replace(/"/g, '""')}"`;

function sourceFile(from: string): string {
  if (isPostgresUrl(from)) throw new CopyStoreError('--from must name a SQLite store (a path, sqlite:<path> or file:<path>), not a PostgreSQL URL');
  const path = from.replace(/^(sqlite|file):(\/\/)?/i, '');
  if (path === '' || path === ':memory:') throw new CopyStoreError(`--from must name a SQLite file, got "${from}"`);
  return resolve(path);
}

function openSource(from: string): Source {
  const file = sourceFile(from);
  try {
    if (!statSync(file).isFile()) throw new CopyStoreError(`The source store ${file} is not a file`);
  } catch (e) {
    if (e instanceof CopyStoreError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CopyStoreError(code === 'ENOENT' ? `The source store ${file} does not exist` : `Cannot read the source store ${file}: ${code ?? (e as Error).message}`,
      ['--from names the SQLite file the service used (its DATABASE_URL; by default sqlite:./data/wabameter.db)']);
  }
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const isStore = db.prepare(`select 1 from sqlite_master where type = 'table' and name = 'meta'`).get() !== undefined;
    const logFile = eventLogFile(file);
    if (isStore && !existsSync(logFile)) {
      throw new CopyStoreError(`The source store's event log ${logFile} does not exist`,
        [`A SQLite store is two files, ${file} and ${logFile} beside it: copy or move them together`]);
    }
    // The event log's file, read-only like the store's (an attachment takes its connection's mode).
    db.prepare('attach database ? as log').run(logFile);
    // Deferred: each file's snapshot is taken by its first read below and held until the end. The
    // store's file is read first: the log only grows and the meter's cursor never passes its end,
    // so the log read after it holds at least every event the copied projections have metered.
    db.exec('BEGIN');
    const listed = (schema: 'main' | 'log') => db!.prepare(`select name from ${schema}.sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by name`).pluck().all() as string[];
    const names = listed('main');
    if (!names.includes('meta')) throw new CopyStoreError(`${file} is not a wabameter store (it has no meta table)`);
    const version = Number((db.prepare(`select value from meta where key = 'schema_version'`).pluck().get() as string | undefined) ?? 0);
    if (version !== MIGRATIONS.length) {
      throw new CopyStoreError(version < MIGRATIONS.length
        ? `The source store is at schema version ${version}, this build at ${MIGRATIONS.length}: migrate it first, then copy`
        : `The source store is at schema version ${version}, newer than this build understands (${MIGRATIONS.length}): copy with the build that wrote it`,
      version < MIGRATIONS.length ? [`npm run cli -- migrate --database-url sqlite:${file}   (or start this build of the service on it once)`] : []);
    }
    const tables = [...names.filter((n) => n !== 'meta'), ...listed('log')];
    const columns = new Map(tables.map((t) => [t, db!.prepare('select name from pragma_table_info(?) order by cid').pluck().all(t) as string[]]));
    const parents = new Map(tables.map((t) => [t, db!.prepare('select distinct "table" from pragma_foreign_key_list(?)').pluck().all(t) as string[]]));
    const counts = new Map(tables.map((t) => [t, Number(db!.prepare(`select count(*) from ${quoteSqlite(t)}`).pluck().get())]));
    const meta = db.prepare('select key, value from meta order by key').all() as { key: string; value: string }[];
    const autoincrement = new Map<string, number>();
    for (const schema of ['main', 'log']) {
      if (!db.prepare(`select 1 from ${schema}.sqlite_master where type = 'table' and name = 'sqlite_sequence'`).get()) continue;
      for (const r of db.prepare(`select name, seq from ${schema}.sqlite_sequence`).all() as { name: string; seq: number }[]) autoincrement.set(r.name, Number(r.seq));
    }
    return { db, file, version, tables: parentsFirst(tables, parents), columns, counts, meta, autoincrement };
  } catch (e) {
    db?.close();
    if (e instanceof CopyStoreError) throw e;
    const code = (e as { code?: string }).code;
    // Even a read-only connection to a WAL database needs its -wal and -shm files, and creates them if missing.
    const hint = code === 'SQLITE_READONLY_DIRECTORY' || code === 'SQLITE_CANTOPEN'
      ? [`Run this as a user that may write to ${dirname(file)}: SQLite creates the store's -wal and -shm files there even to read it (the data is not changed)`]
      : [];
    throw new CopyStoreError(`Cannot read ${file} as a SQLite store: ${(e as Error).message}`, hint);
  }
}

/** Tables ordered so that each comes after the tables its foreign keys name. */
function parentsFirst(tables: string[], parents: Map<string, string[]>): string[] {
  const out: string[] = [];
  const placed = new Set<string>();
  while (out.length < tables.length) {
    const next = tables.find((t) => !placed.has(t) && (parents.get(t) ?? []).every((p) => p === t || placed.has(p) || !tables.includes(p)));
    if (next === undefined) throw new CopyStoreError('The source\'s foreign keys form a cycle: no table order satisfies them', tables.filter((t) => !placed.has(t)));
    out.push(next);
    placed.add(next);
  }
  return out;
}

type Db = Kysely<Database>;

async function count(db: Db, table: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db);
  return Number(r.rows[0].n);
}

async function targetTables(db: Db): Promise<Set<string>> {
  const r = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  return new Set(r.rows.map((x) => x.table_name));
}

/** What the target already holds of the store's tables and of `meta` (empty = nothing). */
async function heldData(db: Db, tables: string[]): Promise<string[]> {
  const existing = await targetTables(db);
  const held: string[] = [];
  for (const t of tables) {
    if (!existing.has(t)) continue;
    const n = await count(db, t);
    if (n > 0) held.push(`${t}: ${n} row${n === 1 ? '' : 's'}`);
  }
  if (existing.has('meta')) {
    // Bookkeeping a migration or an idle service writes on an empty store is not data.
    const keys = (await db.selectFrom('meta').select('key').where('key', 'not in', META_NOT_COPIED).orderBy('key').execute()).map((r) => r.key);
    if (keys.length > 0) held.push(`meta: ${keys.join(', ')}`);
  }
  return held;
}

/** SQLite values as PostgreSQL parameters: integers were read exactly (BigInt) and go as text. */
const pgValue = (v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

async function copyTable(trx: Db, src: Source, table: string, types: Map<string, string>, batchSize: number, progressEvery: number, progress: (line: string) => void): Promise<number> {
  const columns = src.columns.get(table)!;
  const total = src.counts.get(table)!;
  // One array parameter per column (unnest), not one parameter per value: PostgreSQL binds a
  // handful of parameters instead of tens of thousands (the demo store copies in less than half the time).
  const arrays = columns.map((c) => sql.raw(`${types.get(`${table}.${c}`)}[]`));
  const insert = (rows: unknown[][]) => sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))})
    select * from unnest(${sql.join(columns.map((_, i) => sql`${rows.map((r) => r[i])}::${arrays[i]}`))})`.execute(trx);
  const stmt = src.db.prepare(`select ${columns.map(quoteSqlite).join(', ')} from ${quoteSqlite(table)}`).raw(true).safeIntegers(true);
  let batch: unknown[][] = [];
  let copied = 0;
  let reported = 0;
  // The iterator stays open across the awaits: nothing else uses the source connection meanwhile.
  for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
    batch.push(row.map(pgValue));
    if (batch.length < batchSize) continue;
    await insert(batch);
    copied += batch.length;
    batch = [];
    if (total >= progressEvery && copied - reported >= progressEvery) {
      reported = copied;
      progress(`${table}: ${copied}/${total} rows (${Math.floor((copied * 100) / total)}%)`);
    }
  }
  if (batch.length > 0) {
    await insert(batch);
    copied += batch.length;
  }
  if (total >= progressEvery && reported !== copied) progress(`${table}: ${copied}/${total} rows (100%)`);
  return copied;
}

/** Moves every serial/identity sequence past the highest value its column holds (and SQLite ever handed out). */
async function resetSequences(trx: Db, src: Source, copied: Set<string>): Promise<CopyStoreResult['sequences']> {
  const r = await sql<{ table_name: string; column_name: string; seq: string | null }>`
    select table_name, column_name,
           pg_get_serial_sequence(quote_ident(table_schema) || '.' || quote_ident(table_name), column_name) as seq
      from information_schema.columns
     where table_schema = current_schema() and (column_default like 'nextval(%' or is_identity = 'YES')
     order by table_name, column_name`.execute(trx);
  const out: CopyStoreResult['sequences'] = [];
  for (const { table_name: table, column_name: column, seq } of r.rows) {
    if (seq === null || !copied.has(table)) continue;
    const max = await sql<{ m: number | null }>`select max(${sql.ref(column)}) as m from ${sql.table(table)}`.execute(trx);
    // AUTOINCREMENT never reuses an id, even a deleted row's; keep that promise across the move.
    const value = Math.max(Number(max.rows[0].m ?? 0), src.autoincrement.get(table) ?? 0);
    if (value > 0) await sql`select setval(${seq}::regclass, ${value}, true)`.execute(trx);
    else await sql`select setval(${seq}::regclass, 1, false)`.execute(trx);
    out.push({ table, column, value });
  }
  return out;
}

export async function copyStore(opts: CopyStoreOptions): Promise<CopyStoreResult> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const progressEvery = opts.progressEvery ?? DEFAULT_PROGRESS_EVERY;
  const progress = opts.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!isPostgresUrl(opts.to)) throw new CopyStoreError('--to must be a PostgreSQL URL (postgres://user@host:port/database)');
  const src = openSource(opts.from);
  try {
    const target = await openStore(opts.to, { migrate: false });
    try {
      // Before anything is written, migrations included.
      let held: string[];
      try {
        held = await heldData(target.db, src.tables);
      } catch (e) {
        const err = e as { code?: string; message?: string };
        throw new CopyStoreError(`Cannot read the target ${target.location}: ${err.message || err.code}`);
      }
      if (held.length > 0) {
        throw new CopyStoreError(`The target ${target.location} already holds data: refusing to copy into it (nothing was written)`,
          [...held, 'Copy into an empty database (or an empty schema); this command never merges or overwrites']);
      }
      try {
        await migrate(target.db, target.dialect);
      } catch (e) {
        throw new CopyStoreError(`Migrating the target ${target.location} failed: ${(e as Error).message}`);
      }
      const version = await schemaVersion(target.db, target.dialect);
      const existing = await targetTables(target.db);
      const missing = src.tables.filter((t) => !existing.has(t));
      if (missing.length > 0) throw new CopyStoreError(`The target lacks tables the source has: ${missing.join(', ')}`);
      const columnsOf = await sql<{ table_name: string; column_name: string; udt_name: string }>`select table_name, column_name, udt_name from information_schema.columns where table_schema = current_schema()`.execute(target.db);
      // The target's column types name the arrays the rows are sent in (int8[], text[], …).
      const types = new Map<string, string>();
      for (const r of columnsOf.rows) {
        if (!/^[a-z0-9_]+$/.test(r.udt_name)) throw new CopyStoreError(`Unexpected column type ${JSON.stringify(r.udt_name)} of ${r.table_name}.${r.column_name} in the target`);
        types.set(`${r.table_name}.${r.column_name}`, r.udt_name);
      }
      const differ = src.tables.filter((t) => {
        const theirs = columnsOf.rows.filter((r) => r.table_name === t).map((r) => r.column_name).sort();
        return theirs.join(',') !== [...src.columns.get(t)!].sort().join(',');
      });
      if (differ.length > 0) throw new CopyStoreError(`The source's and the target's columns differ in: ${differ.join(', ')}`);

      const total = [...src.counts.values()].reduce((a, b) => a + b, 0);
      progress(`copy-store: ${src.file} (schema version ${src.version}, ${src.tables.length + 1} tables, ${total} rows) → ${target.location}`);
      try {
        return await target.db.transaction().execute(async (trx) => {
          // The locks every service process takes: none migrates, appends or meters during the copy.
          for (const lock of ['migrate', 'append', 'meter'] as const) await takeLock(trx, target.dialect, lock);
          const raced = await heldData(trx, src.tables);
          if (raced.length > 0) throw new CopyStoreError(`The target ${target.location} received data while the copy started: refusing (nothing was copied)`, raced);

          const copied = new Map<string, number>();
          for (const table of src.tables) copied.set(table, await copyTable(trx, src, table, types, batchSize, progressEvery, progress));

          const metaRows = src.meta.filter((r) => !META_NOT_COPIED.includes(r.key));
          for (const row of metaRows) {
            await trx.insertInto('meta').values(row).onConflict((oc) => oc.column('key').doUpdateSet({ value: row.value })).execute();
          }
          for (const key of Object.values(VERSION_KEYS)) {
            const value = randomUUID();
            await trx.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
          }

          // Verified before the commit: a mismatch rolls everything back.
          const tables: TableCount[] = [];
          for (const table of src.tables) tables.push({ table, source: src.counts.get(table)!, target: await count(trx, table) });
          const metaNow = metaRows.length === 0 ? [] : await trx.selectFrom('meta').selectAll().where('key', 'in', metaRows.map((r) => r.key)).execute();
          const metaSame = metaNow.filter((r) => metaRows.some((m) => m.key === r.key && m.value === r.value)).length;
          const meta: TableCount = { table: 'meta', source: metaRows.length, target: metaSame };
          const wrong = [...tables, meta].filter((t) => t.source !== t.target || (t.table !== 'meta' && copied.get(t.table) !== t.source));
          if (wrong.length > 0) {
            throw new CopyStoreError('Row counts differ between the source and the target: nothing was committed (the target\'s tables are empty as before)',
              wrong.map((t) => `${t.table}: source ${t.source}, read ${copied.get(t.table) ?? t.source}, target ${t.target}`));
          }
          const sequences = await resetSequences(trx, src, new Set(src.tables));
          return { source: src.file, target: target.location, schemaVersion: version, tables, meta, sequences };
        });
      } catch (e) {
        if (e instanceof CopyStoreError) throw e;
        throw new CopyStoreError(`Copying failed: ${(e as Error).message}`, ['Nothing was committed: the target\'s tables are empty as before']);
      }
    } finally {
      await target.close();
    }
  } finally {
    try {
      src.db.exec('COMMIT');
    } finally {
      src.db.close();
    }
  }
}

/** The per-table summary printed after a copy. */
export function formatCopySummary(r: CopyStoreResult): string {
  const rows = [...[...r.tables].sort((a, b) => (a.table < b.table ? -1 : 1)), { ...r.meta, table: 'meta (copied keys)' }];
  const w = Math.max(...rows.map((t) => t.table.length), 5);
  const n = Math.max(...rows.map((t) => String(t.source).length), 6);
  const line = (a: string, b: string, c: string) => `${a.padEnd(w)}  ${b.padStart(n)}  ${c.padStart(n)}`;
  const sum = (k: 'source' | 'target') => r.tables.reduce((s, t) => s + t[k], 0);
  return [
    `Copied ${r.source} → ${r.target} (schema version ${r.schemaVersion}); counts verified`,
    line('TABLE', 'SOURCE', 'TARGET'),
    ...rows.map((t) => line(t.table, String(t.source), String(t.target))),
    line('total rows', String(sum('source')), String(sum('target'))),
    ...r.sequences.map((s) => `sequence ${s.table}.${s.column} set to ${s.value} (next ${s.value + 1})`),
  ].join('\n');
}
