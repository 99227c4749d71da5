/**
 * SQLite's one write lock, shared by the webhook thread and the projector's thread: a transaction
 * that finds it taken waits without freezing the event loop (requests keep being read meanwhile),
 * and begins once the lock is free, seeing what the other connection committed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from '../../src/store/database.ts';
import { getMeta, setMeta } from '../../src/store/meta-store.ts';

test('a transaction waiting for the write lock leaves the event loop running, then sees the other connection\'s commit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wabameter-lock-'));
  const file = join(dir, 'lock.db');
  const store = await openStore(`sqlite:${file}`);
  const other = new BetterSqlite3(file);
  try {
    other.exec('begin immediate');
    other.prepare("insert into meta (key, value) values ('lock_test', 'from the other connection')").run();
    let began = false;
    const trx = store.db.transaction().execute(async (t) => {
      began = true;
      return getMeta(t, 'lock_test');
    });
    // Timers fire while the transaction waits: with a blocking busy handler this would not run
    // until the lock was free.
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (++ticks === 5) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    assert.equal(began, false, 'the transaction has not begun while the other connection holds the lock');
    other.exec('commit');
    assert.equal(await trx, 'from the other connection');
    // And the connection is back to waiting normally outside transactions.
    await setMeta(store.db, 'lock_test', 'again');
    assert.equal(await getMeta(store.db, 'lock_test'), 'again');
  } finally {
    other.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
