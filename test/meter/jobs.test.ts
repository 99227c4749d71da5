/**
 * Long metering work runs as jobs in bounded slices beside ingestion (src/meter/jobs.ts), on
 * SQLite and PostgreSQL:
 * - re-metering after a business-portfolio change: another tenant's webhooks are acknowledged
 *   and read while it is still running, and the result equals metering with the portfolio set
 *   from the start (volume tiers shared across the portfolio's WABAs);
 * - a late channel's replay: registration answers at once with the count, reads of the client
 *   wait for the job, and the result equals metering the statuses live;
 * - a job survives the death of its process after a slice and is finished by the next one,
 *   nothing counted twice;
 * - (PostgreSQL) a client being recomputed past the read bound is a 503 `meter_recomputing`,
 *   while other clients are answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildApp } from '../../src/api/app.ts';
import { runJobSlice, SLICE } from '../../src/meter/jobs.ts';
import { createServices } from '../../src/services.ts';
import { ADVISORY_LOCKS } from '../../src/store/locks.ts';
import { addChannel, ADMIN_TOKEN, assertEnvelope, at, balance, DIALECTS, envelope, loadVolumeTiers, postWebhook, seedTenant, startApp, status, TEST_BALANCE_RATE_LIMIT, type TestApp } from '../helpers.ts';

const KENYA = '254712345678';
const TIERS = 'market,currency,category,from,to,rate\nRest of Africa,USD,utility,0,3,0.0040\nRest of Africa,USD,utility,4,5,0.0038\nRest of Africa,USD,utility,6,,0.0036\n';


/** `count` delivered utility messages to Kenya over October 2026, in bodies of 500. */
async function sendUtility(t: TestApp, phoneNumberId: string, wabaId: string, prefix: string, count: number): Promise<void> {
  const base = at('2026-10-01T00:00:00');
  for (let i = 0; i < count; i += 500) {
    const statuses = Array.from({ length: Math.min(500, count - i) }, (_, k) => status({
      id: `wamid.${prefix}-${i + k}`, status: 'delivered', ts: base + (i + k) * 199, recipient: KENYA,
      pricing: { model: 'PMP', type: 'regular', category: 'utility' },
    }));
    const res = await postWebhook(t.app, envelope(statuses, { phoneNumberId, wabaId }));
    assert.equal(res.statusCode, 200, res.body);
  }
}

type Tenant = Awaited<ReturnType<typeof seedTenant>>;
const usageOf = async (t: TestApp, tn: Tenant) => ({
  month: (await balance(t.app, tn, 'granularity=month')).usage,
  day: (await balance(t.app, tn, `granularity=day&start_date=${at('2026-10-01T00:00:00')}`)).usage,
  // Channel ids and upload times differ between stores; the phone number and the rest must not.
  charges: (await t.app.inject({ url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/charges?start_date=${at('2026-10-01T00:00:00')}`, headers: tn.headers })).json().charges
    .map(({ channel_id: _c, source, ...c }: Record<string, unknown>) => ({ ...c, source: String(source).replace(/ at [^)]*\)/, ')') })),
});
const pendingJobs = async (t: TestApp) => (await t.services.store.db.selectFrom('meter_jobs').select(['kind', 'client_id']).execute());

for (const dialect of DIALECTS) {
  describe(`metering jobs [${dialect}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
      await loadVolumeTiers(t.app, TIERS);
    });
    after(async () => { await t.close(); });

    test('re-metering after a portfolio change runs in slices beside ingestion, and ends where metering with the portfolio from the start ends', async () => {
      const PER_WABA = 5 * SLICE.remeter;
      const big = await seedTenant(t.app, { phoneNumberId: `${dialect}-big-1`, wabaId: `${dialect}-big-waba-1` });
      await addChannel(t.app, big.partner, big.client.id, { phoneNumberId: `${dialect}-big-2`, wabaId: `${dialect}-big-waba-2`, appId: '215' });
      await sendUtility(t, `${dialect}-big-1`, `${dialect}-big-waba-1`, 'a', PER_WABA);
      await sendUtility(t, `${dialect}-big-2`, `${dialect}-big-waba-2`, 'b', PER_WABA);
      const other = await seedTenant(t.app, { phoneNumberId: `${dialect}-other`, wabaId: `${dialect}-other-waba` });
      await balance(t.app, big);

      const patch = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${big.partner.id}/clients/${big.client.id}`, headers: big.headers, payload: { business_portfolio_id: 'BP-big' } });
      assert.equal(patch.statusCode, 200, patch.body);
      // Another tenant's webhook is acknowledged, metered and read while the job is still under way.
      await sendUtility(t, `${dialect}-other`, `${dialect}-other-waba`, 'o', 1);
      assert.equal((await balance(t.app, other)).usage[0].utility_quantity, 1);
      assert.deepEqual((await pendingJobs(t)).map((j) => [j.kind, j.client_id]).slice(0, 1), [['remeter', big.client.id]], 'the re-metering was still running');

      // The big client's read waits for its job; the result is what metering with the portfolio set from the start gives.
      const remetered = await usageOf(t, big);
      assert.deepEqual(await pendingJobs(t), []);
      assert.equal(remetered.month[0].utility_paid_quantity, 2 * PER_WABA);

      const ref = await startApp(dialect);
      try {
        await loadVolumeTiers(ref.app, TIERS);
        const tn = await seedTenant(ref.app, { phoneNumberId: `${dialect}-big-1`, wabaId: `${dialect}-big-waba-1` });
        await addChannel(ref.app, tn.partner, tn.client.id, { phoneNumberId: `${dialect}-big-2`, wabaId: `${dialect}-big-waba-2`, appId: '215' });
        const p = await ref.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: { business_portfolio_id: 'BP-big' } });
        assert.equal(p.statusCode, 200);
        await sendUtility(ref, `${dialect}-big-1`, `${dialect}-big-waba-1`, 'a', PER_WABA);
        await sendUtility(ref, `${dialect}-big-2`, `${dialect}-big-waba-2`, 'b', PER_WABA);
        const expected = await usageOf(ref, tn);
        // One shared group: 3 at the list rate, 2 at 0.0038, the rest at 0.0036 — not twice the first tiers.
        assert.equal(expected.month[0].utility_price, Number((3 * 0.004 + 2 * 0.0038 + (2 * PER_WABA - 5) * 0.0036).toFixed(4)));
        assert.deepEqual(remetered, expected);
      } finally {
        await ref.close();
      }
    });

    test("a late channel's statuses are replayed by a job: registration answers at once with their count, and the client's reads include them", async () => {
      const N = 3 * SLICE.replay + 7;
      const tn = await seedTenant(t.app, { phoneNumberId: `${dialect}-first`, wabaId: `${dialect}-first-waba` });
      await sendUtility(t, `${dialect}-late`, `${dialect}-late-waba`, 'late', N);
      const ch = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: `${dialect}-late`, wabaId: `${dialect}-late-waba`, appId: '216' });
      assert.equal(ch.replayed_statuses, N);
      const b = await balance(t.app, tn);
      assert.equal(b.usage[0].utility_quantity, N);
      // The late WABA accrues its own tiers: 3 + 2 + the rest.
      assert.equal(b.usage[0].utility_price, Number((3 * 0.004 + 2 * 0.0038 + (N - 5) * 0.0036).toFixed(4)));
      assert.deepEqual(await pendingJobs(t), []);
    });

    test('a job outlives its process: one slice done, the process gone, the next process finishes it and counts nothing twice', async () => {
      const N = 2 * SLICE.replay + 11;
      const tn = await seedTenant(t.app, { phoneNumberId: `${dialect}-resume-first`, wabaId: `${dialect}-resume-waba-0` });
      await sendUtility(t, `${dialect}-resume`, `${dialect}-resume-waba`, 'resume', N);
      // A second process on the store, which registers the channel and then dies after one slice.
      const dying = await createServices({ databaseUrl: t.url, runMeterJobs: false });
      const { replayed } = await dying.tenants.createChannel(tn.partner.id, tn.client.id, {
        phone_number: '+4930123999', phone_number_id: `${dialect}-resume`, waba_id: `${dialect}-resume-waba`, app_id: '217',
      });
      assert.equal(replayed, N);
      await dying.queue.exclusive((trx) => runJobSlice(trx, dying.meter, 0));
      const [job] = await dying.store.db.selectFrom('meter_jobs').selectAll().execute();
      assert.equal(job.kind, 'replay');
      assert.ok(Number(job.position) > 0, 'the first slice advanced the position');
      await dying.store.close(); // gone without draining

      // The first process finishes the job when a read of the client asks.
      const b = await balance(t.app, tn);
      assert.equal(b.usage[0].utility_quantity, N);
      assert.equal(b.usage[0].utility_price, Number((3 * 0.004 + 2 * 0.0038 + (N - 5) * 0.0036).toFixed(4)));
      assert.deepEqual(await pendingJobs(t), []);
    });
  });
}

describe('metering jobs and the read bound [postgres]', () => {
  let t: TestApp;
  let raw: pg.Client;
  before(async () => {
    t = await startApp('postgres');
    raw = new pg.Client({ connectionString: t.url });
    await raw.connect();
  });
  after(async () => {
    await raw.end();
    await t.close();
  });

  test("past the bound a client being recomputed is a 503 meter_recomputing with Retry-After; other clients are answered; once the job is done, the read has it", async () => {
    const busy = await seedTenant(t.app, { phoneNumberId: 'rc-busy', wabaId: 'rc-busy-waba' });
    const calm = await seedTenant(t.app, { phoneNumberId: 'rc-calm', wabaId: 'rc-calm-waba' });
    await sendUtility(t, 'rc-busy', 'rc-busy-waba', 'busy', 10);
    const impatient = await buildApp(t.services, { adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 1 << 20, balanceRateLimit: TEST_BALANCE_RATE_LIMIT, readWaitMs: 300 });
    try {
      // The meter is held by a process that is stuck (its session open), so no slice can run.
      await raw.query('begin');
      await raw.query('select pg_advisory_xact_lock($1::bigint)', [ADVISORY_LOCKS.meter]);
      await t.services.store.db.insertInto('meter_jobs')
        .values({ kind: 'remeter', phone_number_id: 'rc-busy', client_id: busy.client.id, position: '', upto_seq: null, created_at: 0 }).execute();
      const res = await impatient.inject({ url: `/api/v2/partners/${busy.partner.id}/clients/${busy.client.id}/info/balance`, headers: busy.headers });
      const meta = assertEnvelope(res, 503, 'meter_recomputing', { message: /being recomputed/ });
      assert.ok(meta.details.some((d) => /survives restarts/.test(d)));
      assert.equal(res.headers['retry-after'], '1');
      const calmRead = await impatient.inject({ url: `/api/v2/partners/${calm.partner.id}/clients/${calm.client.id}/info/balance`, headers: calm.headers });
      assert.equal(calmRead.statusCode, 200, calmRead.body);
      await raw.query('rollback');
      assert.equal((await balance(impatient, busy)).usage[0].utility_quantity, 10);
      assert.deepEqual(await pendingJobs(t), []);
    } finally {
      await raw.query('rollback').catch(() => undefined);
      await impatient.close();
    }
  });
});
