/**
 * The hot path's cached multi-row writes (src/store/bulk-write.ts) and SQLite's statement cache
 * (src/store/database.ts): batches of every size around the chunk sizes write every row once and
 * return what each statement returns, duplicates included, on both stores; a cached statement
 * still runs after the schema it was prepared against changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openStore } from '../../src/store/database.ts';
import { appendEvents, type EventRow } from '../../src/store/meter-store.ts';
import { DIALECTS, freshStore } from '../helpers.ts';

const event = (i: number, tag: string): EventRow => ({
  dedup_key: `${tag}-${i}`, received_at: 1_700_000_000, phone_number_id: `pn-${i % 3}`, waba_id: i % 2 ? 'w' : null,
  message_key: `mk-${tag}-${i}`, status: 'delivered', ts: 1_700_000_000 + i, country: i % 5 ? 'DE' : null, conv_id: null,
  conv_expiration: null, conv_origin: null, pricing_model: 'PMP', pricing_billable: i % 2, pricing_type: 'regular',
  pricing_category: 'utility', error_codes: i % 7 ? null : '131047',
});

for (const dialect of DIALECTS) {
  test(`appends of every batch size around the chunk sizes write each row once and report new rows and the last sequence number [${dialect}]`, async () => {
    const t = await freshStore(dialect);
    const store = await openStore(t.url);
    try {
      let total = 0;
      // Sequence numbers may skip (a refused duplicate can use one up): compare with the store's highest.
      const highest = async () => Number((await store.db.selectFrom('status_events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirstOrThrow()).m);
      for (const size of [1, 7, 8, 9, 63, 64, 65, 511, 512, 513, 1000]) {
        const rows = Array.from({ length: size }, (_, i) => event(i, `b${size}`));
        const first = await store.db.transaction().execute((trx) => appendEvents(trx, rows));
        total += size;
        assert.equal(first.inserted.size, size, `new rows of a batch of ${size}`);
        assert.equal(first.lastSeq, await highest());
        // The same batch again, with one new row in the middle: only that one is new.
        const again = [...rows.slice(0, Math.floor(size / 2)), event(size, `b${size}`), ...rows.slice(Math.floor(size / 2))];
        const second = await store.db.transaction().execute((trx) => appendEvents(trx, again));
        total += 1;
        assert.deepEqual([...second.inserted], [`b${size}-${size}`]);
        assert.equal(second.lastSeq, await highest());
      }
      const stored = await store.db.selectFrom('status_events').selectAll().where('dedup_key', '=', 'b513-500').executeTakeFirstOrThrow();
      const { seq: _seq, ...fields } = stored;
      assert.deepEqual({ ...fields, received_at: Number(fields.received_at), ts: Number(fields.ts) }, event(500, 'b513'));
      const count = await store.db.selectFrom('status_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), total);
    } finally {
      await store.close();
      await t.cleanup();
    }
  });
}

test('a cached statement runs again after the table it reads changed shape [sqlite]', async () => {
  const t = await freshStore('sqlite');
  const store = await openStore(t.url);
  try {
    await sql`create table shape_probe (a integer)`.execute(store.db);
    await sql`insert into shape_probe (a) values (1)`.execute(store.db);
    const read = () => sql<Record<string, unknown>>`select * from shape_probe`.execute(store.db);
    assert.deepEqual((await read()).rows, [{ a: 1 }]);
    await sql`alter table shape_probe add column b text default 'x'`.execute(store.db);
    assert.deepEqual((await read()).rows, [{ a: 1, b: 'x' }]);
  } finally {
    await store.close();
    await t.cleanup();
  }
});
