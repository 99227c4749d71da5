/**
 * The races of several processes sharing one PostgreSQL, provoked on purpose with two service
 * instances (each its own connection pool, as two processes have) and a raw connection that
 * plays a third process caught mid-transaction:
 * - an append still uncommitted holds back the appends of every other process, so sequence
 *   numbers become visible in order and the meter never skips an event committed late;
 * - a process that dies while metering releases the meter lock, and another process takes over;
 * - a channel registered through one process is metered by the other at once;
 * - a rate card loaded through one process prices the other's reads and metering;
 * - a read waits for the meter within a bound: a stuck meter is a 503 with Retry-After, not a hang;
 * - registrations racing through both processes: a client's max_channels holds, and a phone number
 *   goes to one partner only.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildApp } from '../../src/api/app.ts';
import { ADVISORY_LOCKS } from '../../src/store/locks.ts';
import { createServices, type Services } from '../../src/services.ts';
import { ADMIN_TOKEN, assertEnvelope, at, envelope, freshStore, status, type TestStore } from '../helpers.ts';
import { META_CARD_USD } from '../rates/fixtures.ts';

interface Instance { services: Services; app: Awaited<ReturnType<typeof buildApp>> }

async function open(url: string, readWaitMs?: number): Promise<Instance> {
  const services = await createServices({ databaseUrl: url });
  const app = await buildApp(services, { adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 1 << 24, balanceRateLimit: null, readWaitMs });
  return { services, app };
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const ts = at('2026-02-10T10:00:00');
const delivered = (id: string, pnid: string, category = 'utility', recipient = '4915112345678') =>
  envelope([status({ id, status: 'delivered', ts, recipient, pricing: { model: 'PMP', type: 'regular', category } })], { phoneNumberId: pnid, wabaId: `W-${pnid}` });

describe('several processes on one PostgreSQL', () => {
  let store: TestStore;
  let one: Instance;
  let two: Instance;
  let raw: pg.Client;
  let tenant: { key: Record<string, string>; P: string; client: string };

  before(async () => {
    store = await freshStore('postgres');
    one = await open(store.url);
    two = await open(store.url);
    raw = new pg.Client({ connectionString: store.url });
    await raw.connect();
    const partner = (await one.app.inject({ method: 'POST', url: '/admin/partners', headers: admin, payload: { name: 'P' } })).json();
    const key = { 'x-api-key': partner.api_key };
    const P = `/api/v2/partners/${partner.id}`;
    const client = (await one.app.inject({ method: 'POST', url: `${P}/clients`, headers: key, payload: { name: 'C', currency: 'USD', country: 'DE', payment_mode: 'direct' } })).json();
    tenant = { key, P, client: client.id };
  });
  after(async () => {
    await raw.end().catch(() => undefined);
    for (const i of [one, two]) {
      await i.app.close();
      await i.services.close();
    }
    await store.cleanup();
  });
  afterEach(async () => {
    await raw.query('rollback').catch(() => undefined);
  });

  async function channel(via: Instance, pnid: string) {
    const res = await via.app.inject({
      method: 'POST', url: `${tenant.P}/clients/${tenant.client}/channels`, headers: tenant.key,
      payload: { phone_number: '+4930123', phone_number_id: pnid, waba_id: `W-${pnid}`, app_id: '1' },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  }
  const webhook = (via: Instance, body: unknown) => via.app.inject({ method: 'POST', url: '/webhooks/whatsapp', payload: body as object });
  async function usageOf(via: Instance, channelId: string) {
    const res = await via.app.inject({ method: 'GET', url: `${tenant.P}/clients/${tenant.client}/channels/${channelId}/info/balance?granularity=month`, headers: tenant.key });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }
  /** Waits until some backend waits for an advisory lock (a process blocked behind another's). */
  async function someoneWaitsForALock() {
    for (;;) {
      const check = new pg.Client({ connectionString: store.url });
      await check.connect();
      const r = await check.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
      await check.end();
      if (r.rows[0].n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('an append committed late is never skipped: appends of other processes wait for it, so sequence numbers become visible in order', async () => {
    const ch = await channel(one, 'race-pn');
    // A third process, mid-append: it holds the append lock and has written an event it has not committed.
    await raw.query('begin');
    await raw.query('select pg_advisory_xact_lock($1::bigint)', [ADVISORY_LOCKS.append]);
    const early = await raw.query(
      `insert into status_events (dedup_key, received_at, phone_number_id, waba_id, message_key, status, ts, country, pricing_model, pricing_billable, pricing_type, pricing_category)
       values ('race-early', $1, 'race-pn', 'W-race-pn', 'race-msg-early', 'delivered', $1, 'DE', 'PMP', 1, 'regular', 'utility') returning seq`, [ts]);
    // Process two appends meanwhile: its commit waits for the third one's.
    let acknowledged = false;
    const late = webhook(two, delivered('wamid.race-late', 'race-pn')).then((r) => { acknowledged = true; return r; });
    await someoneWaitsForALock();
    assert.equal(acknowledged, false, 'the second append waits for the first to commit');
    await raw.query('commit');
    assert.equal((await late).statusCode, 200);
    const seqs = await raw.query("select seq, dedup_key from status_events where phone_number_id = 'race-pn' order by seq");
    assert.equal(seqs.rows[0].dedup_key, 'race-early');
    assert.equal(Number(seqs.rows[0].seq), Number(early.rows[0].seq));
    // Both are metered, read from either process.
    for (const via of [one, two]) assert.equal((await usageOf(via, ch.id)).usage[0].utility_quantity, 2);
  });

  test('a process that dies while metering releases the meter lock: another takes over, nothing is metered twice', async () => {
    const ch = await channel(two, 'takeover-pn');
    // A process caught mid-projection: it holds the meter lock.
    await raw.query('begin');
    await raw.query('select pg_advisory_xact_lock($1::bigint)', [ADVISORY_LOCKS.meter]);
    assert.equal((await webhook(one, delivered('wamid.takeover-1', 'takeover-pn'))).statusCode, 200, 'appends do not wait for metering');
    let answered = false;
    const read = usageOf(two, ch.id).then((u) => { answered = true; return u; });
    await someoneWaitsForALock();
    assert.equal(answered, false, 'the read waits for the meter');
    // The holder dies: PostgreSQL ends its session and releases its locks.
    const pid = (await raw.query('select pg_backend_pid() as pid')).rows[0].pid;
    raw.on('error', () => undefined); // the session it stands for is about to be killed
    const killer = new pg.Client({ connectionString: store.url });
    await killer.connect();
    await killer.query('select pg_terminate_backend($1)', [pid]);
    await killer.end();
    assert.equal((await read).usage[0].utility_quantity, 1);
    assert.equal((await usageOf(one, ch.id)).usage[0].utility_quantity, 1, 'metered once, whichever process reads');
    raw = new pg.Client({ connectionString: store.url });
    await raw.connect();
  });

  test('a channel registered through one process is metered by the other at once', async () => {
    // Statuses for the number arrive at process one before anyone registered it.
    assert.equal((await webhook(one, delivered('wamid.late-reg-1', 'late-reg-pn'))).statusCode, 200);
    const ch = await channel(two, 'late-reg-pn');
    // New statuses go to process one, whose directory was loaded before the registration.
    assert.equal((await webhook(one, delivered('wamid.late-reg-2', 'late-reg-pn'))).statusCode, 200);
    assert.equal((await webhook(one, delivered('wamid.late-reg-3', 'late-reg-pn', 'marketing'))).statusCode, 200);
    for (const via of [one, two]) {
      const row = (await usageOf(via, ch.id)).usage[0];
      assert.deepEqual([row.utility_quantity, row.marketing_quantity], [2, 1]);
    }
  });

  test('a rate card loaded through one process prices the other\'s metering and reads', async () => {
    const ch = await channel(one, 'card-pn');
    assert.equal((await usageOf(two, ch.id)).usage.length, 0);
    const load = await one.app.inject({ method: 'POST', url: '/admin/rate-cards?effective_from=2026-02-01&unit=message', headers: { ...admin, 'content-type': 'text/csv' }, payload: META_CARD_USD });
    assert.equal(load.statusCode, 201, load.body);
    // Metered by process two, whose books were loaded before the card: an Indian marketing message.
    assert.equal((await webhook(two, delivered('wamid.card-1', 'card-pn', 'marketing', '919876543210'))).statusCode, 200);
    const fromTwo = (await usageOf(two, ch.id)).usage[0];
    const fromOne = (await usageOf(one, ch.id)).usage[0];
    assert.deepEqual(fromTwo, fromOne);
    // India's marketing rate on the loaded card, not the shipped default's.
    assert.equal(fromTwo.marketing_price, 0.0118);
  });

  test('a read waits for the meter within a bound: past it, a 503 in the envelope with Retry-After; once the meter is free, the read has everything', async () => {
    const impatient = await open(store.url, 300);
    try {
      const ch = await channel(one, 'bound-pn');
      // The meter is held by a process that is stuck (not dead: its session stays open).
      await raw.query('begin');
      await raw.query('select pg_advisory_xact_lock($1::bigint)', [ADVISORY_LOCKS.meter]);
      assert.equal((await webhook(one, delivered('wamid.bound-1', 'bound-pn'))).statusCode, 200);
      const res = await impatient.app.inject({ method: 'GET', url: `${tenant.P}/clients/${tenant.client}/channels/${ch.id}/info/balance`, headers: tenant.key });
      const meta = assertEnvelope(res, 503, 'meter_behind', { message: /still being metered/ });
      assert.ok(meta.details.some((d) => /Nothing acknowledged is lost/.test(d)));
      assert.equal(res.headers['retry-after'], '1');
      await raw.query('rollback');
      assert.equal((await usageOf(impatient, ch.id)).usage[0].utility_quantity, 1);
    } finally {
      await impatient.app.close();
      await impatient.services.close();
    }
  });

  test("registrations racing through both processes: max_channels holds, and a number goes to one partner", async () => {
    const client = (await one.app.inject({ method: 'POST', url: `${tenant.P}/clients`, headers: tenant.key, payload: { name: 'Race', currency: 'USD', country: 'DE', payment_mode: 'direct', max_channels: 1 } })).json();
    const register = (via: Instance, P: string, key: Record<string, string>, clientId: string, pnid: string) => via.app.inject({
      method: 'POST', url: `${P}/clients/${clientId}/channels`, headers: key, payload: { phone_number: '+4930555', phone_number_id: pnid, waba_id: `W-${pnid}`, app_id: '1' },
    });
    for (let round = 0; round < 5; round++) {
      const c = round === 0 ? client : (await one.app.inject({ method: 'POST', url: `${tenant.P}/clients`, headers: tenant.key, payload: { name: `Race ${round}`, currency: 'USD', country: 'DE', payment_mode: 'direct', max_channels: 1 } })).json();
      const answers = await Promise.all([register(one, tenant.P, tenant.key, c.id, `race-${round}-a`), register(two, tenant.P, tenant.key, c.id, `race-${round}-b`)]);
      assert.deepEqual(answers.map((r) => r.statusCode).sort(), [201, 409], answers.map((r) => r.body).join('\n'));
      const listed = (await two.app.inject({ url: `${tenant.P}/clients/${c.id}/channels`, headers: tenant.key })).json();
      assert.equal(listed.total, 1, 'one channel, whichever process won');
    }

    // Another partner wants the same number at the same moment.
    const other = (await one.app.inject({ method: 'POST', url: '/admin/partners', headers: admin, payload: { name: 'Other' } })).json();
    const otherKey = { 'x-api-key': other.api_key };
    const otherP = `/api/v2/partners/${other.id}`;
    const mine = (await one.app.inject({ method: 'POST', url: `${tenant.P}/clients`, headers: tenant.key, payload: { name: 'Mine', currency: 'USD', country: 'DE', payment_mode: 'direct' } })).json();
    const theirs = (await two.app.inject({ method: 'POST', url: `${otherP}/clients`, headers: otherKey, payload: { name: 'Theirs', currency: 'USD', country: 'DE', payment_mode: 'direct' } })).json();
    const answers = await Promise.all([register(one, tenant.P, tenant.key, mine.id, 'race-number'), register(two, otherP, otherKey, theirs.id, 'race-number')]);
    assert.deepEqual(answers.map((r) => r.statusCode).sort(), [201, 409], answers.map((r) => r.body).join('\n'));
    assertEnvelope(answers.find((r) => r.statusCode === 409)!, 409, 'phone_number_unavailable');
  });
});
