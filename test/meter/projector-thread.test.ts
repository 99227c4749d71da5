/**
 * The meter in a worker thread beside the HTTP thread (the service's default), on SQLite and
 * PostgreSQL: webhooks, a late channel's replay and a portfolio change's re-metering are metered
 * by the worker — this thread's meter never runs — and every read equals the same traffic metered
 * inline. Closing drains the worker.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { buildApp } from '../../src/api/app.ts';
import { createServices } from '../../src/services.ts';
import { ADMIN_TOKEN, addChannel, at, balance, DIALECTS, envelope, freshStore, postWebhook, seedTenant, status, TEST_BALANCE_RATE_LIMIT } from '../helpers.ts';

const KENYA = '254712345678';

async function scenario(projector: 'inline' | 'thread', dialect: (typeof DIALECTS)[number]) {
  const store = await freshStore(dialect);
  const services = await createServices({ databaseUrl: store.url, projector });
  let meteredHere = 0;
  const channelOf = services.meter.channelOf;
  services.meter.channelOf = (id) => {
    meteredHere++;
    return channelOf(id);
  };
  const app = await buildApp(services, { adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 1 << 22, balanceRateLimit: TEST_BALANCE_RATE_LIMIT });
  try {
    const send = async (phoneNumberId: string, prefix: string, count: number, category = 'utility') => {
      const base = at('2026-10-01T00:00:00');
      const statuses = Array.from({ length: count }, (_, k) => status({
        id: `wamid.${prefix}-${k}`, status: 'delivered', ts: base + k * 613, recipient: KENYA, pricing: { model: 'PMP', type: 'regular', category },
      }));
      const res = await postWebhook(app, envelope(statuses, { phoneNumberId, wabaId: `waba-${phoneNumberId}` }));
      assert.equal(res.statusCode, 200, res.body);
    };
    const tn = await seedTenant(app, { phoneNumberId: 'pt-1', wabaId: 'waba-pt-1' });
    await send('pt-1', 'a', 1_500);
    await send('pt-1', 'b', 300, 'marketing');
    await send('pt-late', 'late', 1_200);
    const late = await addChannel(app, tn.partner, tn.client.id, { phoneNumberId: 'pt-late', wabaId: 'waba-pt-late', appId: '9' });
    const patch = await app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: { business_portfolio_id: 'BP-pt' } });
    assert.equal(patch.statusCode, 200, patch.body);
    await send('pt-late', 'after', 40);
    const month = (await balance(app, tn)).usage;
    const day = (await balance(app, tn, `granularity=day&start_date=${at('2026-10-01T00:00:00')}`)).usage;
    return { replayed: late.replayed_statuses, month, day, meteredHere };
  } finally {
    await app.close();
    await services.close();
    await store.cleanup();
  }
}

for (const dialect of DIALECTS) {
  describe(`the meter in a worker thread [${dialect}]`, () => {
    test('webhooks, a late channel and a portfolio change are metered by the worker, and reads equal inline metering', async () => {
      const inline = await scenario('inline', dialect);
      const threaded = await scenario('thread', dialect);
      assert.ok(inline.meteredHere > 0, 'inline, this thread meters');
      assert.equal(threaded.meteredHere, 0, "with a worker, this thread's meter never runs");
      assert.equal(threaded.replayed, 1_200);
      assert.equal(threaded.month[0].utility_quantity, 2_740);
      assert.equal(threaded.month[0].marketing_quantity, 300);
      assert.deepEqual(threaded.month, inline.month);
      assert.deepEqual(threaded.day, inline.day);
    });
  });
}

test("with the meter in its thread, SQLite's log is checkpointed by that thread's connection, never inside the webhook thread's commits [sqlite]", async () => {
  const store = await freshStore('sqlite');
  const threaded = await createServices({ databaseUrl: store.url, projector: 'thread' });
  const inline = await createServices({ databaseUrl: store.url, projector: 'inline' });
  try {
    const autocheckpoint = async (s: typeof threaded) => Number((await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(s.store.db)).rows[0].wal_autocheckpoint);
    assert.equal(await autocheckpoint(threaded), 0);
    // The worker opens the store as an inline service does: with SQLite's default checkpoints.
    assert.equal(await autocheckpoint(inline), 1000);
  } finally {
    await threaded.close();
    await inline.close();
    await store.cleanup();
  }
});
