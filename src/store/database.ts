/**
 * Opens the store named by DATABASE_URL: an embedded SQLite file (the default) or PostgreSQL.
 * Everything above this module talks to Kysely and never to a driver.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql, type DatabaseConnection, type Driver, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';
import pg from 'pg';
import { LOG_APART_SINCE, migrate } from './migrations.ts';
import type { Database, Dialect } from './schema.ts';

export interface Store {
  db: Kysely<Database>;
  /**
   * Where appends to the event log go. PostgreSQL: the same pool as `db`. SQLite: a connection of
   * its own to the log's file (eventLogFile), so an append takes that file's write lock only and
   * never waits for a metering transaction, which holds the main file's. `db` reads the log too
   * (the file is attached there as `log`, and `status_events` names it).
   */
  log: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs (no credentials). */
  location: string;
  /**
   * SQLite: copies the event log's write-ahead log into its file (a passive checkpoint, which never
   * waits for the appender), for the process whose appender leaves that to the projector. At most
   * once a second; nothing to do on PostgreSQL.
   */
  checkpointLog(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The SQLite file that holds the event log, beside the store's file: `data/wabameter.db` keeps its
 * log in `data/wabameter.db-events` (each with its own `-wal` and `-shm`). Copy, back up and move
 * the two together.
 */
export function eventLogFile(file: string): string {
  return `${file}-events`;
}

/** How often checkpointLog copies the log's write-ahead log back (ms). */
const LOG_CHECKPOINT_EVERY_MS = 1_000;

// PostgreSQL returns BIGINT as strings; every bigint here (seconds, micros, counters) fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** How long SQLite waits for its write lock before a transaction fails (the other thread's commit). */
const BUSY_TIMEOUT_MS = 5_000;
/**
 * How often a transaction that found the write lock taken tries again. Short: the other thread's
 * transactions take a few milliseconds, and each millisecond waited past their end is one the
 * group commit (and every webhook in it) waits for nothing; a failed try costs microseconds.
 */
const LOCK_RETRY_MS = 1;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export interface OpenStoreOptions {
  /** false: the schema is left as it is (the `migrate` command migrates itself). */
  migrate?: boolean;
  /**
   * SQLite: false leaves the write-ahead logs' checkpoints to another connection of the process
   * (the projector's thread), so this one never copies a log into its database inside a commit.
   */
  checkpoints?: boolean;
  /**
   * SQLite: `normal` commits the main file without waiting for the disk (WAL with
   * synchronous=NORMAL: a power cut may undo the last commits, never half of one). Only for a
   * connection that writes nothing but what the meter derives from the event log, with the
   * meter's cursor in the same file: undone commits take the cursor back with them and are
   * metered again. The event log's file is always `full`.
   */
  synchronous?: 'full' | 'normal';
}

/**
 * `sqlite:path`, `file:path` or a bare path → the SQLite file; `postgres://…` → PostgreSQL.
 * Migrates the schema forward unless `migrate: false`.
 */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const migrating = opts.migrate ?? true;
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    if (migrating) await migrate(db, 'postgres');
    const u = new URL(url);
    return { db, log: db, dialect: 'postgres', location: `postgres://${u.host}${u.pathname}`, checkpointLog: async () => undefined, close: () => db.destroy() };
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/i, '');
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  configure(sqlite, opts);
  if (opts.synchronous === 'normal') sqlite.pragma('main.synchronous = NORMAL');
  // An in-memory store has one connection: its log is a private in-memory database beside it.
  const logFile = file === ':memory:' ? file : eventLogFile(file);
  if (file !== ':memory:' && !existsSync(logFile) && keepsLogApart(sqlite)) {
    sqlite.close();
    // Attaching would create an empty log, and new events would reuse sequence numbers the meter
    // has passed: they would never be metered.
    throw new Error(`The store's event log ${logFile} is missing: a SQLite store is two files, ${file} and ${logFile}; restore or move them together`);
  }
  sqlite.prepare('attach database ? as log').run(logFile);
  sqlite.pragma('log.journal_mode = WAL');
  sqlite.pragma('log.synchronous = FULL');
  // Until the store has its schema, transactions lock both files (migrations write both).
  let mainOnly = false;
  const db = new Kysely<Database>({ dialect: new LockingSqliteDialect({ database: cachingStatements(sqlite) }, () => mainOnly) });
  if (migrating) await migrate(db, 'sqlite');
  mainOnly = sqlite.prepare(`select 1 from main.sqlite_master where type = 'table' and name = 'meta'`).get() !== undefined;
  const log = file === ':memory:' ? db : new Kysely<Database>({
    // Opened at the first append: a process (or thread) that never appends never opens it.
    dialect: new LockingSqliteDialect({
      database: async () => {
        const conn = new BetterSqlite3(logFile);
        configure(conn, opts);
        return cachingStatements(conn);
      },
    }, () => false),
  });
  let lastCheckpoint = 0;
  return {
    db,
    log,
    dialect: 'sqlite',
    location: file,
    async checkpointLog() {
      if (file === ':memory:' || Date.now() - lastCheckpoint < LOG_CHECKPOINT_EVERY_MS) return;
      lastCheckpoint = Date.now();
      await sql`pragma log.wal_checkpoint(PASSIVE)`.execute(db);
    },
    close: async () => {
      if (log !== db) await log.destroy();
      await db.destroy();
    },
  };
}

/** Whether the store's schema already keeps the event log in its own file (migration 12 ran). */
function keepsLogApart(sqlite: BetterSqlite3.Database): boolean {
  const hasMeta = sqlite.prepare(`select 1 from sqlite_master where type = 'table' and name = 'meta'`).get() !== undefined;
  if (!hasMeta) return false;
  const version = sqlite.prepare(`select value from meta where key = 'schema_version'`).pluck().get() as string | undefined;
  return Number(version ?? 0) >= LOG_APART_SINCE;
}

/** The settings every connection to a store file gets. */
function configure(conn: BetterSqlite3.Database, opts: OpenStoreOptions): void {
  // WAL with synchronous=FULL: a commit is on disk before the webhook is acknowledged.
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = FULL');
  conn.pragma('foreign_keys = ON');
  conn.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // A checkpoint runs inside whichever commit crosses the threshold and can take tens of
  // milliseconds; on the thread that acknowledges webhooks it would stall every request.
  if (opts.checkpoints === false) conn.pragma('wal_autocheckpoint = 0');
}

/** Prepared statements kept per connection (texts longer than this are one-offs: not kept). */
const STATEMENT_CACHE_SIZE = 200;
const CACHEABLE_SQL_LENGTH = 64 * 1024;

/**
 * The connection as Kysely sees it, with a cache of prepared statements: Kysely's SQLite driver
 * prepares every query it runs, and preparing costs more than running a small statement. A
 * cached statement is safe to run again (SQLite re-prepares it by itself after a schema change);
 * the service never streams a query, the one case where a statement is still in use after it returns.
 */
function cachingStatements(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let stmt = statements.get(text);
      if (stmt) return stmt;
      stmt = sqlite.prepare(text);
      if (text.length <= CACHEABLE_SQL_LENGTH) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
        statements.set(text, stmt);
      }
      return stmt;
    },
  };
}

/**
 * Transactions that take SQLite's write lock at BEGIN. The service writes from several
 * connections (the webhook thread's, the projector's thread's); a deferred transaction that read
 * first and then writes after another connection committed fails at once with SQLITE_BUSY, while
 * one that takes the lock first waits for it and then sees the latest data.
 *
 * BEGIN IMMEDIATE locks every attached file, the event log's included, so once the store has its
 * schema (`mainOnly`) a transaction begins deferred and takes the main file's lock with a write
 * that changes nothing: appends to the log (another connection) go on meanwhile.
 */
const TAKE_MAIN_LOCK = CompiledQuery.raw('delete from main.meta where 0');

class LockingSqliteDialect extends SqliteDialect {
  constructor(config: SqliteDialectConfig, private readonly mainOnly: () => boolean) {
    super(config);
  }

  createDriver(): Driver {
    const mainOnly = this.mainOnly;
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      // better-sqlite3 waits for a busy lock synchronously, freezing the event loop: the webhook
      // thread would stop reading requests while the projector commits. So the lock is tried
      // without waiting and retried after a timer, and requests that arrive meanwhile join the
      // next group commit. The connection is this transaction's alone while it begins.
      await connection.executeQuery(CompiledQuery.raw('pragma busy_timeout = 0'));
      try {
        const deadline = Date.now() + BUSY_TIMEOUT_MS;
        for (;;) {
          try {
            if (!mainOnly()) {
              await connection.executeQuery(CompiledQuery.raw('begin immediate'));
              return;
            }
            await connection.executeQuery(CompiledQuery.raw('begin'));
            try {
              await connection.executeQuery(TAKE_MAIN_LOCK);
            } catch (err) {
              await connection.executeQuery(CompiledQuery.raw('rollback'));
              throw err;
            }
            return;
          } catch (err) {
            if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
            await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
          }
        }
      } finally {
        await connection.executeQuery(CompiledQuery.raw(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`));
      }
    };
    return driver;
  }
}


/** True for a unique-constraint violation on either engine (a lost race on an insert). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

