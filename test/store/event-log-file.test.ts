/**
 * On SQLite the event log lives in a file of its own beside the store's (src/store/database.ts):
 * an append takes that file's write lock only, so acknowledging a webhook never waits for a
 * metering transaction; a store from before keeps every event through the upgrade, and the
 * upgrade never drops the old table unless the copy is complete.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { createServices } from '../../src/services.ts';
import { eventLogFile, openStore } from '../../src/store/database.ts';
import { appendEvents, type EventRow } from '../../src/store/meter-store.ts';
import { migrate, MIGRATIONS } from '../../src/store/migrations.ts';
import { getMeta, setMeta } from '../../src/store/meta-store.ts';
import { DIALECTS, freshStore } from '../helpers.ts';

const event = (i: number, tag: string): EventRow => ({
  dedup_key: `${tag}-${i}`, received_at: 1_700_000_000, phone_number_id: 'log-pn', waba_id: 'log-waba',
  message_key: `mk-${tag}-${i}`, status: 'delivered', ts: 1_700_000_000 + i, country: 'DE', conv_id: null,
  conv_expiration: null, conv_origin: null, pricing_model: 'PMP', pricing_billable: 1, pricing_type: 'regular',
  pricing_category: 'utility', error_codes: null,
});

const fileOf = (url: string) => url.replace(/^sqlite:/, '');
const tablesOf = (conn: BetterSqlite3.Database) =>
  conn.prepare(`select name from sqlite_master where type = 'table' and name = 'status_events'`).pluck().all();

test('an append commits while a metering transaction holds the store\'s write lock, and lands in the log\'s own file [sqlite]', async () => {
  const t = await freshStore('sqlite');
  const store = await openStore(t.url);
  const file = fileOf(t.url);
  const probe = new BetterSqlite3(file);
  probe.pragma('busy_timeout = 0');
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const metering = store.db.transaction().execute(async (trx) => {
      await setMeta(trx, 'log_file_probe', 'metering');
      entered();
      await held;
    });
    await inside;
    // The store's file is locked: another writer of it cannot begin.
    assert.throws(() => probe.exec('begin immediate'), (e: { code?: string }) => e.code === 'SQLITE_BUSY');
    // The log's is not: the append commits while the metering transaction is still open.
    const appended = await store.log.transaction().execute((trx) => appendEvents(trx, [event(1, 'held'), event(2, 'held')]));
    assert.equal(appended.inserted.size, 2);
    release();
    await metering;
    assert.equal(await getMeta(store.db, 'log_file_probe'), 'metering');

    // The events are in the log's file and nowhere else; the store's file has no such table.
    const log = new BetterSqlite3(eventLogFile(file), { readonly: true });
    try {
      assert.deepEqual(log.prepare('select dedup_key from status_events order by seq').pluck().all(), ['held-1', 'held-2']);
    } finally {
      log.close();
    }
    assert.deepEqual(tablesOf(probe), []);
    // And the store's connection reads them by the usual name.
    const seen = await store.db.selectFrom('status_events').select('seq').execute();
    assert.equal(seen.length, 2);
  } finally {
    probe.close();
    await store.close();
    await t.cleanup();
  }
});

test('synchronous: normal relaxes the store\'s file only; the event log\'s file always waits for the disk [sqlite]', async () => {
  const t = await freshStore('sqlite');
  const relaxed = await openStore(t.url, { synchronous: 'normal' });
  const strict = await openStore(t.url);
  try {
    const level = async (s: typeof relaxed, schema: 'main' | 'log') =>
      Number((await sql<{ synchronous: number }>`pragma ${sql.raw(schema)}.synchronous`.execute(s.db)).rows[0].synchronous);
    // 1 = NORMAL, 2 = FULL.
    assert.deepEqual([await level(relaxed, 'main'), await level(relaxed, 'log')], [1, 2]);
    assert.deepEqual([await level(strict, 'main'), await level(strict, 'log')], [2, 2]);
    const appenderLevel = Number((await sql<{ synchronous: number }>`pragma synchronous`.execute(relaxed.log)).rows[0].synchronous);
    assert.equal(appenderLevel, 2);
  } finally {
    await relaxed.close();
    await strict.close();
    await t.cleanup();
  }
});

test('a store from before the log had a file of its own: every event moves there once, in order, metered, and the sequence goes on [sqlite]', async () => {
  const t = await freshStore('sqlite');
  const file = fileOf(t.url);
  try {
    // The store as the previous schema left it, its log in its own file.
    const old = await openStore(t.url, { migrate: false });
    await migrate(old.db, old.dialect, MIGRATIONS.length - 1);
    await old.close();
    const raw = new BetterSqlite3(file);
    const insert = raw.prepare(`insert into status_events (dedup_key, received_at, phone_number_id, waba_id, message_key, status, ts, country,
      pricing_model, pricing_billable, pricing_type, pricing_category) values (?, 1700000000, 'old-pn', 'old-waba', ?, 'delivered', ?, 'DE', 'PMP', 1, 'regular', 'utility')`);
    raw.transaction(() => {
      for (let i = 0; i < 300; i++) insert.run(`old-${i}`, `mk-old-${i}`, 1_700_000_000 + i);
    })();
    // A gap in the sequence, as a refused duplicate leaves: the next event must not reuse it.
    raw.exec(`delete from status_events where dedup_key = 'old-299'`);
    const before = raw.prepare('select seq, dedup_key from status_events order by seq').all();
    raw.close();

    const services = await createServices({ databaseUrl: t.url });
    try {
      const after = await services.store.db.selectFrom('status_events').select(['seq', 'dedup_key']).orderBy('seq').execute();
      assert.deepEqual(after.map((r) => ({ seq: Number(r.seq), dedup_key: r.dedup_key })), before);
      const mainFile = new BetterSqlite3(file, { readonly: true });
      try {
        assert.deepEqual(tablesOf(mainFile), [], 'the store\'s own table is gone');
      } finally {
        mainFile.close();
      }
      const next = await services.store.log.transaction().execute((trx) => appendEvents(trx, [event(1, 'new')]));
      // 300 was the deleted event's: never handed out again.
      assert.equal(next.lastSeq, 301, 'the sequence continues after the highest number ever used');
      await services.queue.drain();
      assert.equal(Number(await getMeta(services.store.db, 'meter_cursor')), 301, 'the old events and the new one are metered');
    } finally {
      await services.close();
    }
  } finally {
    await t.cleanup();
  }
});

test('the upgrade keeps the store\'s own log when the log\'s file lacks any of its events [sqlite]', async () => {
  const t = await freshStore('sqlite');
  const file = fileOf(t.url);
  try {
    const old = await openStore(t.url, { migrate: false });
    await migrate(old.db, old.dialect, MIGRATIONS.length - 1);
    // As if the copy had been cut short: the store's table holds an event the log's file does not.
    await sql`insert into main.status_events (dedup_key, received_at, phone_number_id, message_key, status, ts)
      values ('only-in-main', 1700000000, 'pn', 'mk', 'sent', 1700000000)`.execute(old.db);
    await assert.rejects(old.db.transaction().execute((trx) => MIGRATIONS[MIGRATIONS.length - 1](trx, 'sqlite')), /lacks 1 events/);
    await old.close();
    const raw = new BetterSqlite3(file, { readonly: true });
    try {
      assert.deepEqual(tablesOf(raw), ['status_events']);
      assert.equal(raw.prepare('select count(*) from status_events').pluck().get(), 1);
    } finally {
      raw.close();
    }
    assert.ok(existsSync(eventLogFile(file)));
  } finally {
    await t.cleanup();
  }
});

for (const dialect of DIALECTS) {
  test(`the log deduplicates by (time, digest), with no index on the random digest alone [${dialect}]`, async () => {
    const t = await freshStore(dialect);
    const store = await openStore(t.url);
    try {
      const first = await store.log.transaction().execute((trx) => appendEvents(trx, [event(1, 'dup'), event(2, 'dup')]));
      const again = await store.log.transaction().execute((trx) => appendEvents(trx, [event(2, 'dup'), event(1, 'dup'), event(3, 'dup')]));
      assert.deepEqual([first.inserted.size, [...again.inserted]], [2, ['dup-3']]);
      // Unique indexes of the log, each as its list of columns.
      const unique = dialect === 'postgres'
        ? (await sql<{ cols: string }>`select string_agg(a.attname, ',' order by k.ord) as cols
            from pg_index i cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
            where i.indrelid = 'status_events'::regclass and i.indisunique group by i.indexrelid`.execute(store.db)).rows.map((r) => r.cols)
        : (await sql<{ cols: string }>`select (select group_concat(name, ',') from (select name from pragma_index_info(l.name, 'log') order by seqno)) as cols
            from pragma_index_list('status_events', 'log') l where l."unique" = 1`.execute(store.db)).rows.map((r) => r.cols);
      // PostgreSQL's primary key is a unique index too; SQLite's is the table itself.
      assert.deepEqual(unique.sort(), dialect === 'postgres' ? ['seq', 'ts,dedup_key'] : ['ts,dedup_key']);
    } finally {
      await store.close();
      await t.cleanup();
    }
  });
}

test('a store whose event log file is missing does not open (new events would reuse metered sequence numbers) [sqlite]', async () => {
  const t = await freshStore('sqlite');
  const file = fileOf(t.url);
  try {
    const store = await openStore(t.url);
    await store.log.transaction().execute((trx) => appendEvents(trx, [event(1, 'gone')]));
    await store.close();
    rmSync(eventLogFile(file));
    await assert.rejects(openStore(t.url), /event log .*-events is missing: a SQLite store is two files/);
    assert.equal(existsSync(eventLogFile(file)), false, 'no empty log was created in its place');
  } finally {
    await t.cleanup();
  }
});
