/**
 * Opens the store named by DATABASE_URL: an embedded SQLite file (the default) or PostgreSQL.
 * Everything above this module talks to Kysely and never to a driver.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type DatabaseConnection, type Driver, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { migrate } from './migrations.ts';
import type { Database, Dialect } from './schema.ts';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs (no credentials). */
  location: string;
  close(): Promise<void>;
}

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
   * SQLite: false leaves the write-ahead log's checkpoints to another connection of the process
   * (the projector's thread), so this one never copies the log into the database inside a commit.
   */
  checkpoints?: boolean;
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
    return { db, dialect: 'postgres', location: `postgres://${u.host}${u.pathname}`, close: () => db.destroy() };
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/i, '');
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  // WAL with synchronous=FULL: a commit is on disk before the webhook is acknowledged.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // A checkpoint runs inside whichever commit crosses the threshold and can take tens of
  // milliseconds; on the thread that acknowledges webhooks it would stall every request.
  if (opts.checkpoints === false) sqlite.pragma('wal_autocheckpoint = 0');
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: cachingStatements(sqlite) }) });
  if (migrating) await migrate(db, 'sqlite');
  return { db, dialect: 'sqlite', location: file, close: () => db.destroy() };
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
 * Transactions that take SQLite's write lock at BEGIN. The service writes from two connections
 * (the webhook thread appends, the projector's thread meters); a deferred transaction that read
 * first and then writes after the other connection committed fails at once with SQLITE_BUSY,
 * while BEGIN IMMEDIATE waits for the lock (busy_timeout) and then sees the latest data.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  createDriver(): Driver {
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
            await connection.executeQuery(CompiledQuery.raw('begin immediate'));
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

