/**
 * Migrations when several processes start at once against one empty PostgreSQL: each migration
 * runs exactly once, under the migration lock, and every process ends up on the same schema.
 * (Several processes are a PostgreSQL deployment; the embedded SQLite store serves one process.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/database.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { getMeta } from '../../src/store/meta-store.ts';
import { freshStore } from '../helpers.ts';

test(`four processes opening one empty PostgreSQL at once all start, on schema version ${MIGRATIONS.length}`, async () => {
  const store = await freshStore('postgres');
  try {
    const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openStore(store.url)));
    const failed = opened.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
    assert.deepEqual(failed, []);
    for (const o of opened) {
      const s = (o as PromiseFulfilledResult<Awaited<ReturnType<typeof openStore>>>).value;
      assert.equal(await getMeta(s.db, 'schema_version'), String(MIGRATIONS.length));
      await s.close();
    }
    // Opening again changes nothing.
    const again = await openStore(store.url);
    assert.equal(await getMeta(again.db, 'schema_version'), String(MIGRATIONS.length));
    await again.close();
  } finally {
    await store.cleanup();
  }
});
