/**
 * `npm run cli -- copy-store`, run as a real process: a SQLite store filled through the service
 * (tenants, keys, a partner user, operator rate cards and tiers, webhooks of two pricing eras, an
 * account update, a refused registration) is copied into a fresh PostgreSQL schema, and the
 * service on PostgreSQL answers what the service on SQLite answers; the next webhook gets the
 * next sequence number. Also: a target that holds data is refused and left as it was; bad
 * sources are clear errors that write nothing; a count mismatch rolls the copy back; a source a
 * service keeps writing to is copied as one snapshot.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { buildApp } from '../../src/api/app.ts';
import { createServices } from '../../src/services.ts';
import { eventLogFile, openStore } from '../../src/store/database.ts';
import { migrate, MIGRATIONS } from '../../src/store/migrations.ts';
import {
  addChannel, ADMIN_TOKEN, at, envelope, freshStore, PNID, postWebhook, seedTenant, startApp, status, TEST_BALANCE_RATE_LIMIT, totals,
  type TestApp, type TestStore,
} from '../helpers.ts';
import { INDIA_UTILITY_TIERS } from '../rates/fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const PNID2 = '106540352242923';
const WABA2 = '102290129340399';

interface Run { code: number; stdout: string; stderr: string }

/** `node --import tsx src/cli/main.ts copy-store …` as its own process; `onStderr` sees stderr as it comes. */
function copyStoreCli(args: string[], onStderr?: (text: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'copy-store', ...args], { cwd: ROOT, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; onStderr?.(stderr); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Row count of every table in the PostgreSQL schema the URL's search_path names (its `meta` rows as well). */
async function pgSnapshot(url: string): Promise<{ counts: Record<string, number>; meta: Record<string, string> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = (await c.query(`select table_name from information_schema.tables where table_schema = current_schema() order by table_name`)).rows.map((r) => r.table_name as string);
    const counts: Record<string, number> = {};
    for (const t of tables) counts[t] = Number((await c.query(`select count(*) as n from "${t}"`)).rows[0].n);
    const meta = tables.includes('meta') ? Object.fromEntries((await c.query('select key, value from meta')).rows.map((r) => [r.key, r.value])) : {};
    return { counts, meta };
  } finally {
    await c.end();
  }
}

/** A read-only connection to a SQLite store, its event log's file attached as the service does. */
function readSqlite(file: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file, { readonly: true });
  db.prepare('attach database ? as log').run(eventLogFile(file));
  return db;
}

function sqliteCounts(file: string): Record<string, number> {
  const db = readSqlite(file);
  try {
    const tables = db.prepare(`select name from main.sqlite_master where type = 'table' and name not like 'sqlite_%'
      union all select name from log.sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`).pluck().all() as string[];
    return Object.fromEntries(tables.map((t) => [t, Number(db.prepare(`select count(*) from "${t}"`).pluck().get())]));
  } finally {
    db.close();
  }
}

/** The service (HTTP app) on a store URL, as `npm start` would open it. */
async function serviceOn(url: string) {
  const services = await createServices({ databaseUrl: url });
  const app = await buildApp(services, { adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 1 << 24, balanceRateLimit: TEST_BALANCE_RATE_LIMIT });
  return { services, app, close: async () => { await app.close(); await services.close(); } };
}

type Tenant = Awaited<ReturnType<typeof seedTenant>>;

/** Traffic of both eras on two channels: CBP conversations (2024) and PMP messages (2026) of several categories. */
function webhookBodies(): { phoneNumberId: string; wabaId?: string; statuses: Record<string, unknown>[] }[] {
  const bodies: ReturnType<typeof webhookBodies> = [];
  const categories = ['marketing', 'utility', 'authentication', 'service'];
  for (const [n, phoneNumberId, wabaId] of [[0, PNID, undefined], [1, PNID2, WABA2]] as const) {
    for (let day = 0; day < 3; day++) {
      const statuses: Record<string, unknown>[] = [];
      for (let i = 0; i < 6; i++) {
        const id = `wamid.pmp-${n}-${day}-${i}`;
        const ts = at(`2026-02-0${3 + day}T09:00:00`) + i * 600;
        const category = categories[(i + day) % categories.length];
        const recipient = i % 3 === 2 ? '919812345678' : '4915112345678';
        const pricing = { model: 'PMP', type: category === 'service' ? 'free_customer_service' : 'regular', category, billable: category !== 'service' };
        statuses.push(status({ id, status: 'sent', ts, recipient, pricing }), status({ id, status: 'delivered', ts: ts + 5, recipient, pricing }));
        if (i % 2 === 0) statuses.push(status({ id, status: 'read', ts: ts + 60, recipient, pricing }));
      }
      bodies.push({ phoneNumberId, wabaId, statuses });
    }
    const cbp = Array.from({ length: 4 }, (_, i) => {
      const ts = at('2024-09-10T12:00:00') + i * 7200;
      const category = i % 2 ? 'utility' : 'marketing';
      return status({ id: `wamid.cbp-${n}-${i}`, status: 'delivered', ts, conv: { id: `conv-${n}-${i}`, exp: ts + 86400 }, pricing: { model: 'CBP', category } });
    });
    bodies.push({ phoneNumberId, wabaId, statuses: cbp });
  }
  return bodies;
}

/** Fills a SQLite store through the service, as a real deployment would have. */
async function fillSource(t: TestApp) {
  const tenant = await seedTenant(t.app);
  const ch2 = await addChannel(t.app, tenant.partner, tenant.client.id, { phoneNumberId: PNID2, wabaId: WABA2, appId: '231' });
  // Text that must survive the copy exactly: quotes, braces, commas, backslashes, the word NULL, non-ASCII.
  let res = await t.app.inject({
    method: 'PATCH', url: `/api/v2/partners/${tenant.partner.id}/clients/${tenant.client.id}`, headers: tenant.headers,
    payload: { organisation: 'Müller & Söhne "GmbH", {Nord}', partner_payload: 'NULL', contact_info: { full_name: 'Ana \\ "Ó" {x}', city: 'Zürich, 8001', email: 'ops@shop.example' } },
  });
  assert.equal(res.statusCode, 200, res.body);
  const card = 'Market,Currency,Marketing,Utility,Authentication,Service\nGermany,USD,0.1500,0.0400,0.0300,0\n';
  res = await t.app.inject({ method: 'POST', url: '/admin/rate-cards?effective_from=2026-01-01&unit=message&filename=de.csv', headers: { ...ADMIN, 'content-type': 'text/csv' }, payload: card });
  assert.equal(res.statusCode, 201, res.body);
  res = await t.app.inject({ method: 'POST', url: '/admin/volume-tiers?effective_from=2026-01-01', headers: { ...ADMIN, 'content-type': 'text/csv' }, payload: INDIA_UTILITY_TIERS });
  assert.equal(res.statusCode, 201, res.body);
  res = await t.app.inject({ method: 'POST', url: `/admin/partners/${tenant.partner.id}/users`, headers: ADMIN, payload: { username: 'ops@acme.example', password: 'copy-store-pw' } });
  assert.equal(res.statusCode, 201, res.body);
  res = await t.app.inject({ method: 'POST', url: '/api/v2/token', payload: { username: 'ops@acme.example', password: 'copy-store-pw' } });
  assert.equal(res.statusCode, 200, res.body);
  res = await t.app.inject({ method: 'POST', url: `/api/v2/partners/${tenant.partner.id}/channels/${tenant.channel.id}/api_keys`, headers: tenant.headers, payload: { name: 'shop' } });
  assert.equal(res.statusCode, 201, res.body);
  const channelKey: string = res.json().api_key;
  // Another partner tries the first partner's number: refused, and recorded for the operator.
  const other = (await t.app.inject({ method: 'POST', url: '/admin/partners', headers: ADMIN, payload: { name: 'Other' } })).json();
  const otherClient = (await t.app.inject({
    method: 'POST', url: `/api/v2/partners/${other.id}/clients`, headers: { 'x-api-key': other.api_key },
    payload: { name: 'O', currency: 'USD', country: 'DE', payment_mode: 'direct', timezone: 'UTC' },
  })).json();
  res = await t.app.inject({
    method: 'POST', url: `/api/v2/partners/${other.id}/clients/${otherClient.id}/channels`, headers: { 'x-api-key': other.api_key },
    payload: { phone_number: '+4930123456', phone_number_id: PNID, waba_id: '1', app_id: '1' },
  });
  assert.equal(res.statusCode, 409, res.body);

  for (const b of webhookBodies()) {
    res = await postWebhook(t.app, envelope(b.statuses, { phoneNumberId: b.phoneNumberId, wabaId: b.wabaId }));
    assert.equal(res.statusCode, 200, res.body);
  }
  res = await postWebhook(t.app, fixtureTierUpdate());
  assert.equal(res.statusCode, 200, res.body);
  await t.services.queue.drain();
  return { tenant, ch2, channelKey };
}

function fixtureTierUpdate() {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', time: 1762331380, changes: [{ field: 'account_update', value: { event: 'VOLUME_BASED_PRICING_TIER_UPDATE', volume_tier_info: { tier_update_time: 1762331373, pricing_category: 'UTILITY', tier: '100001:1000000', effective_month: '2025-11', region: 'INDIA' } } }] }],
  };
}

/** Everything the Partner API and the admin API answer about the seeded data, read through a service. */
async function readAll(app: TestApp['app'], tenant: Tenant, channelIds: string[]) {
  const get = async (url: string, headers: Record<string, string> = tenant.headers) => {
    const res = await app.inject({ method: 'GET', url, headers });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json();
  };
  const base = `/api/v2/partners/${tenant.partner.id}`;
  const client = `${base}/clients/${tenant.client.id}`;
  return {
    balanceByDay: await get(`${client}/info/balance?granularity=day`),
    balanceByMonth: await get(`${client}/info/balance?granularity=month`),
    channelBalances: await Promise.all(channelIds.map((id) => get(`${client}/channels/${id}/info/balance?granularity=day`))),
    channelUsage: await Promise.all(channelIds.map((id) => get(`${client}/channels/${id}/info/usage?granularity=month`))),
    charges: await get(`${client}/info/charges`),
    tiers: await get(`${client}/info/tiers?month=2025-11`),
    client: await get(client),
    clients: await get(`${base}/clients`),
    channels: await get(`${base}/channels`),
    apiKeys: await get(`${base}/api_keys`),
    rateCards: await get('/admin/rate-cards', ADMIN),
    volumeTiers: await get('/admin/volume-tiers', ADMIN),
    conflicts: await get('/admin/registration-conflicts', ADMIN),
    users: await get(`/admin/partners/${tenant.partner.id}/users`, ADMIN),
  };
}

describe('copy-store', () => {
  let source: TestApp;
  let file: string;
  let seeded: Awaited<ReturnType<typeof fillSource>>;
  let expected: Awaited<ReturnType<typeof readAll>>;
  let sourceCounts: Record<string, number>;
  const targets: TestStore[] = [];
  const target = async () => {
    const s = await freshStore('postgres');
    targets.push(s);
    return s;
  };

  before(async () => {
    source = await startApp('sqlite');
    file = source.services.store.location;
    seeded = await fillSource(source);
    expected = await readAll(source.app, seeded.tenant, [seeded.tenant.channel.id, seeded.ch2.id]);
    sourceCounts = sqliteCounts(file);
  });
  after(async () => {
    await source.close();
    for (const s of targets) await s.cleanup();
  });

  test('the data set is worth copying: priced usage of both eras, every kind of record', () => {
    const sum = totals(expected.balanceByDay);
    assert.ok(sum.total_price > 0 && sum.paid_quantity > 0 && sum.free_quantity > 0, JSON.stringify(sum));
    assert.ok(expected.balanceByMonth.usage.some((u: { period_date: string }) => u.period_date.startsWith('2024-09')), 'a CBP-era month');
    assert.ok(expected.balanceByMonth.usage.some((u: { period_date: string }) => u.period_date.startsWith('2026-02')), 'a PMP-era month');
    for (const table of ['partners', 'api_keys', 'partner_users', 'partner_tokens', 'clients', 'channels', 'channel_api_keys', 'status_events', 'messages',
      'conversations', 'usage_daily', 'client_usage_daily', 'charges', 'rate_card_rows', 'volume_tier_rows', 'volume_tier_updates', 'registration_conflicts']) {
      assert.ok(sourceCounts[table] > 0, `${table} has rows`);
    }
  });

  test('copies every table; the service on PostgreSQL answers as on SQLite; the next webhook gets the next sequence number', async () => {
    const to = await target();
    const progress: string[] = [];
    const run = await copyStoreCli(['--from', `sqlite:${file}`, '--to', to.url, '--batch-size', '7', '--progress-every', '40']);
    assert.equal(run.code, 0, run.stderr);

    // The summary: every table of the source with its count on both sides.
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0], /^Copied .+ → postgres:\/\/127\.0\.0\.1:5432\/test \(schema version \d+\); counts verified$/);
    for (const [table, n] of Object.entries(sourceCounts)) {
      if (table === 'meta') continue;
      assert.ok(lines.some((l) => new RegExp(`^${table}\\s+${n}\\s+${n}$`).test(l)), `summary line for ${table} (${n}):\n${run.stdout}`);
    }
    assert.match(run.stdout, /^sequence status_events\.seq set to \d+ \(next \d+\)$/m);
    // Progress for the big tables only (over 40 rows here), on stderr.
    progress.push(...run.stderr.split('\n').filter((l) => /^status_events: \d+\/\d+ rows/.test(l)));
    assert.ok(progress.length >= 2, run.stderr);
    assert.match(progress.at(-1)!, new RegExp(`^status_events: ${sourceCounts.status_events}/${sourceCounts.status_events} rows \\(100%\\)$`));
    assert.doesNotMatch(run.stderr, /^partners: /m);

    const after = await pgSnapshot(to.url);
    for (const [table, n] of Object.entries(sourceCounts)) if (table !== 'meta') assert.equal(after.counts[table], n, table);
    const srcMeta = readSqlite(file);
    const sourceMeta = Object.fromEntries((srcMeta.prepare('select key, value from meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const maxSeq = Number(srcMeta.prepare('select max(seq) from status_events').pluck().get());
    srcMeta.close();
    assert.equal(after.meta.meter_cursor, sourceMeta.meter_cursor, 'the meter cursor travels with the projections');
    assert.equal(after.meta.schema_version, String(MIGRATIONS.length));
    for (const key of ['channels_version', 'rates_version']) {
      assert.ok(after.meta[key], key);
      assert.notEqual(after.meta[key], sourceMeta[key], `${key} is a fresh token`);
    }

    const pgService = await serviceOn(to.url);
    try {
      assert.equal(pgService.services.store.dialect, 'postgres');
      const got = await readAll(pgService.app, seeded.tenant, [seeded.tenant.channel.id, seeded.ch2.id]);
      assert.deepEqual(got, expected);
      assert.deepEqual([got.client.organisation, got.client.partner_payload, got.client.contact_info.full_name], ['Müller & Söhne "GmbH", {Nord}', 'NULL', 'Ana \\ "Ó" {x}']);
      // Credentials were copied as hashes and still work: the partner key (used above), the channel key, the user's password.
      const base = `/api/v2/partners/${seeded.tenant.partner.id}/clients/${seeded.tenant.client.id}/channels/${seeded.tenant.channel.id}`;
      const byChannelKey = await pgService.app.inject({ method: 'GET', url: `${base}/info/balance`, headers: { 'x-api-key': seeded.channelKey } });
      assert.equal(byChannelKey.statusCode, 200, byChannelKey.body);
      const login = await pgService.app.inject({ method: 'POST', url: '/api/v2/token', payload: { username: 'ops@acme.example', password: 'copy-store-pw' } });
      assert.equal(login.statusCode, 200, login.body);

      // Every sequence is past its column's values, so new rows do not collide.
      const c = new pg.Client({ connectionString: to.url });
      await c.connect();
      try {
        const seqs = (await c.query(`select table_name, column_name, pg_get_serial_sequence(table_name, column_name) as seq from information_schema.columns
                                      where table_schema = current_schema() and column_default like 'nextval(%'`)).rows;
        assert.ok(seqs.some((s) => s.table_name === 'status_events'));
        for (const s of seqs) {
          const max = Number((await c.query(`select coalesce(max("${s.column_name}"), 0) as m from "${s.table_name}"`)).rows[0].m);
          const seq = (await c.query(`select last_value, is_called from ${s.seq}`)).rows[0];
          assert.ok(Number(seq.last_value) >= max && (max === 0 || seq.is_called), `${s.table_name}.${s.column_name}: sequence at ${seq.last_value}, max ${max}`);
        }
      } finally {
        await c.end();
      }

      // One more webhook into the PostgreSQL-backed service: stored with the next sequence number and counted.
      const before = totals(got.balanceByDay);
      const ts = at('2026-02-05T15:00:00');
      const pricing = { model: 'PMP', type: 'regular', category: 'marketing' };
      const res = await postWebhook(pgService.app, envelope([
        status({ id: 'wamid.after-copy', status: 'sent', ts, pricing }),
        status({ id: 'wamid.after-copy', status: 'delivered', ts: ts + 3, pricing }),
      ]));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().stored, 2);
      await pgService.services.queue.drain();
      const newest = await pgService.services.store.db.selectFrom('status_events').select(['seq', 'status']).where('seq', '>', maxSeq).orderBy('seq').execute();
      assert.deepEqual(newest.map((e) => [Number(e.seq), e.status]), [[maxSeq + 1, 'sent'], [maxSeq + 2, 'delivered']]);
      const now = totals((await pgService.app.inject({ method: 'GET', url: `/api/v2/partners/${seeded.tenant.partner.id}/clients/${seeded.tenant.client.id}/info/balance?granularity=day`, headers: seeded.tenant.headers })).json());
      assert.equal(now.marketing_quantity, before.marketing_quantity + 1);
      assert.equal(now.messages_delivered, before.messages_delivered + 1);
      assert.equal(now.messages_sent, before.messages_sent + 1);
      assert.ok(now.total_price > before.total_price, 'the new marketing message is priced');
    } finally {
      await pgService.close();
    }
  });

  test('a target that holds data is refused with what it holds, and left exactly as it was', async () => {
    const to = await target();
    const existing = await serviceOn(to.url);
    await existing.services.tenants.createPartner('Already here');
    await existing.close();
    const before = await pgSnapshot(to.url);
    assert.equal(before.counts.partners, 1);

    const run = await copyStoreCli(['--from', file, '--to', to.url]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /^error: The target postgres:\/\/127\.0\.0\.1:5432\/test already holds data: refusing to copy into it \(nothing was written\)$/m);
    assert.match(run.stderr, /^ {2}partners: 1 row$/m);
    assert.match(run.stderr, /^ {2}api_keys: 1 row$/m);
    assert.equal(run.stdout, '');
    assert.deepEqual(await pgSnapshot(to.url), before);
  });

  test('a target at an older schema version that holds data is refused before it is migrated', async () => {
    const to = await target();
    const old = await openStore(to.url, { migrate: false });
    await migrate(old.db, old.dialect, MIGRATIONS.length - 1);
    await old.db.insertInto('partners').values({ id: 'oldPA', name: 'Old', created_at: '2026-01-01T00:00:00.000Z' }).execute();
    await old.close();
    const before = await pgSnapshot(to.url);

    const run = await copyStoreCli(['--from', file, '--to', to.url]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /already holds data/);
    assert.match(run.stderr, /^ {2}partners: 1 row$/m);
    assert.deepEqual(await pgSnapshot(to.url), before);
    assert.equal(before.meta.schema_version, String(MIGRATIONS.length - 1));
  });

  test('bad sources are clear errors, and the target is not touched (not even migrated)', async () => {
    const to = await target();
    const dir = mkdtempSync(join(tmpdir(), 'wabameter-copy-'));
    try {
      const missing = join(dir, 'no-such.db');
      let run = await copyStoreCli(['--from', `sqlite:${missing}`, '--to', to.url]);
      assert.equal(run.code, 1);
      assert.ok(run.stderr.includes(`error: The source store ${missing} does not exist`), run.stderr);
      assert.match(run.stderr, /--from names the SQLite file the service used/);

      const notDb = join(dir, 'notes.db');
      writeFileSync(notDb, 'these are not the pages of a SQLite database, just text long enough to have a header\n'.repeat(20));
      run = await copyStoreCli(['--from', notDb, '--to', to.url]);
      assert.equal(run.code, 1);
      assert.ok(run.stderr.includes(`error: Cannot read ${notDb} as a SQLite store: file is not a database`), run.stderr);

      const older = join(dir, 'older.db');
      const old = await openStore(`sqlite:${older}`, { migrate: false });
      await migrate(old.db, old.dialect, MIGRATIONS.length - 1);
      await old.close();
      run = await copyStoreCli(['--from', `sqlite:${older}`, '--to', to.url]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`error: The source store is at schema version ${MIGRATIONS.length - 1}, this build at ${MIGRATIONS.length}: migrate it first, then copy`));
      assert.ok(run.stderr.includes(`npm run cli -- migrate --database-url sqlite:${older}`), run.stderr);

      run = await copyStoreCli(['--from', to.url, '--to', to.url]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /error: --from must name a SQLite store .*not a PostgreSQL URL/);

      // A store's file moved without its event log's file.
      const current = join(dir, 'current.db');
      await (await openStore(`sqlite:${current}`)).close();
      const alone = join(dir, 'alone.db');
      copyFileSync(current, alone);
      run = await copyStoreCli(['--from', `sqlite:${alone}`, '--to', to.url]);
      assert.equal(run.code, 1);
      assert.ok(run.stderr.includes(`error: The source store's event log ${alone}-events does not exist`), run.stderr);
      assert.match(run.stderr, /A SQLite store is two files, .* copy or move them together/);

      assert.deepEqual(await pgSnapshot(to.url), { counts: {}, meta: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a count that does not match rolls the whole copy back: the target stays empty', async () => {
    const to = await target();
    const migrated = await openStore(to.url);
    await migrated.close();
    // A database-level fault, not a mock: a trigger that silently drops every other event.
    const c = new pg.Client({ connectionString: to.url });
    await c.connect();
    await c.query(`create function drop_odd_events() returns trigger language plpgsql as $$ begin if new.seq % 2 = 1 then return null; end if; return new; end $$`);
    await c.query('create trigger drop_odd_events before insert on status_events for each row execute function drop_odd_events()');
    await c.end();
    const before = await pgSnapshot(to.url);

    const run = await copyStoreCli(['--from', file, '--to', to.url]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /error: Row counts differ between the source and the target: nothing was committed/);
    const n = sourceCounts.status_events;
    const src = readSqlite(file);
    const kept = Number(src.prepare('select count(*) from status_events where seq % 2 = 0').pluck().get());
    src.close();
    assert.match(run.stderr, new RegExp(`^ {2}status_events: source ${n}, read ${n}, target ${kept}$`, 'm'));
    assert.equal(run.stdout, '');
    const afterRun = await pgSnapshot(to.url);
    assert.deepEqual(afterRun, before);
    for (const [table, count] of Object.entries(afterRun.counts)) if (table !== 'meta') assert.equal(count, 0, table);
  });

  test('a source a service keeps writing to is copied as one snapshot: the log, the projections and the cursor agree', async () => {
    const busy = await startApp('sqlite');
    const to = await target();
    try {
      const tenant = await seedTenant(busy.app);
      let acknowledged = 0;
      const ts0 = at('2026-03-02T08:00:00');
      const writeOne = async () => {
        const i = acknowledged;
        const pricing = { model: 'PMP', type: 'regular', category: 'utility' };
        const res = await postWebhook(busy.app, envelope([status({ id: `wamid.busy-${i}`, status: 'delivered', ts: ts0 + i, pricing })]));
        assert.equal(res.statusCode, 200, res.body);
        acknowledged++;
      };
      for (let i = 0; i < 20; i++) await writeOne();
      const beforeSpawn = acknowledged;

      // The copy's first line comes after its snapshot was taken: whatever is written after it is not in the copy.
      let snapshotTaken = -1;
      let done = false;
      const running = copyStoreCli(['--from', busy.services.store.location, '--to', to.url, '--batch-size', '3'], (err) => {
        if (snapshotTaken < 0 && err.includes('copy-store: ')) snapshotTaken = acknowledged;
      }).finally(() => { done = true; });
      let afterSnapshot = 0;
      while (!done || (snapshotTaken >= 0 && afterSnapshot < 10)) {
        await writeOne();
        if (snapshotTaken >= 0) afterSnapshot++;
      }
      const run = await running;
      assert.equal(run.code, 0, run.stderr);
      assert.ok(snapshotTaken >= beforeSpawn);
      await busy.services.queue.drain();

      const copied = await pgSnapshot(to.url);
      const events = copied.counts.status_events;
      // + 1: the one write in flight when the line arrived may have committed before the snapshot.
      assert.ok(events >= beforeSpawn && events <= snapshotTaken + 1, `${events} events copied; ${beforeSpawn} written before the copy started, ${snapshotTaken} when its snapshot was taken`);
      assert.ok(acknowledged > events, 'the service went on writing');
      assert.ok(Number(copied.meta.meter_cursor ?? 0) <= events);

      // The service on the copy meters from the copied cursor: each copied event counted once, none more.
      const pgService = await serviceOn(to.url);
      try {
        const res = await pgService.app.inject({ method: 'GET', url: `/api/v2/partners/${tenant.partner.id}/clients/${tenant.client.id}/info/balance?granularity=day`, headers: tenant.headers });
        assert.equal(res.statusCode, 200, res.body);
        const sum = totals(res.json());
        assert.equal(sum.messages_delivered, events);
        assert.equal(sum.utility_quantity, events);
      } finally {
        await pgService.close();
      }
    } finally {
      await busy.close();
    }
  });
});
