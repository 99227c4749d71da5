/**
 * `npm run bench` phase `reads` (BENCH_ONLY=reads): the read paths over a busy channel, on SQLite
 * and on PostgreSQL, each figure beside `GET /healthz` on the same server, measured the same way.
 *
 * The data set: one client with 20 channels (each with its own app id). Every channel gets a light
 * background traffic on each of the 365 days that end with the last complete calendar month before
 * the build; the first channel also gets BENCH_READS_MESSAGES (600,000) delivered PMP messages
 * spread over that month. It is built through the real meter path, in process, as in
 * bench/dataset.ts (createServices, parseWebhook, queue.submit in batches of 20,000, drain), once
 * per store: a SQLite file in BENCH_DIR, and a schema in a dedicated PostgreSQL database
 * (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/wabameter_bench, created if missing).
 * Both are cached (a JSON sidecar marks a complete build) and keyed by the store's schema, so a
 * schema change rebuilds them and removes the stale ones.
 *
 * Measured (sequential requests over HTTP, one in flight, interleaved blocks, after a warm-up), on
 * each store:
 *   - `…/channels/{busy}/info/usage` for the month at half_hour, day and month granularity
 *     (aim p99 ≤ 200 ms): without Accept-Encoding (the JSON as it is), and as HTTP clients ask by
 *     default — `gzip, deflate, br` (axios; answered br) and, at half_hour, `gzip, deflate` (python
 *     requests, Node's fetch; answered gzip) — timed until the last byte of the compressed body
 *     (inflating it is the client's: ~10–20 ms for the 15 MB answer, not counted);
 *   - `…/clients/{id}/info/balance?granularity=day` over the month and over the year, with an
 *     `app_ids` filter keeping 19 of the 20 channels and without one (aim p99 ≤ 10 ms on SQLite,
 *     ≤ 20 ms on PostgreSQL);
 *   - `GET /healthz`, the baseline.
 * Each figure stops at BENCH_READS_REQUESTS requests (300) or BENCH_READS_BUDGET seconds (10) of
 * measured time, whichever comes first. The answers are checked against the generated counts, and
 * SQLite's and PostgreSQL's answers must be identical (their digests are printed, so runs before
 * and after a change can be compared too; a compressed answer must inflate to the plain one's
 * bytes). Then each plain answer is measured once more, sent by a bare Fastify route that only
 * serializes it with JSON.stringify: the floor under the figure as it was before the service wrote
 * that JSON itself (a month of half hours is a 15 MB answer); and, for info/usage, its bytes
 * prebuilt, sent by a bare route: what sending the answer costs, whatever makes it.
 * BENCH_READS_STORES (sqlite,postgres) picks the stores.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import pg from 'pg';
import { createServices } from '../src/services.ts';
import { status } from '../test/helpers.ts';
import { envInt, removeSqliteFiles, renameSqliteFiles } from './config.ts';
import { schemaFingerprint, submitBodies } from './dataset.ts';
import { expectJson, machineCpuSeconds, ownCpuSeconds, percentile, sequentialLatencies, serviceMain, startServer, type Server } from './proc.ts';
import { deliveredSpec, messageId, MIX, prng, RECIPIENTS, weighted } from './traffic.ts';

const GENERATOR_VERSION = 1;
const DAY = 86_400;
const CHANNELS = 20;
const BACKGROUND_PER_DAY = 12; // per channel and day, over the year
const BATCH = 20_000;


const log = (msg: string) => process.stderr.write(`[reads] ${msg}\n`);

type Dialect = 'sqlite' | 'postgres';

interface ReadsDataset {
  dialect: Dialect;
  /** SQLite file, or the PostgreSQL URL (with its search_path). */
  databaseUrl: string;
  generator: number;
  messages: number;
  partnerId: string;
  apiKey: string;
  clientId: string;
  busyChannelId: string;
  channelIds: string[];
  appIds: string[];
  /** The busy month [monthStart, monthEnd) and the year [yearStart, monthEnd), UTC. */
  monthStart: number;
  monthEnd: number;
  yearStart: number;
  /** Delivered PMP messages generated: the busy channel in the month, the client in the month and year, the last channel in each. */
  expected: { busyInMonth: number; clientInMonth: number; clientInYear: number; lastChannelInMonth: number; lastChannelInYear: number };
  builtAt: string;
  buildSeconds: number;
}

// ---- the data set --------------------------------------------------------------------------

/** The last complete calendar month (UTC) before `now`. */
function lastFullMonth(nowS: number): { start: number; end: number } {
  const d = new Date(nowS * 1000);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
  const e = new Date(end * 1000);
  const start = Date.UTC(e.getUTCFullYear(), e.getUTCMonth() - 1, 1) / 1000;
  return { start, end };
}

async function build(databaseUrl: string, dialect: Dialect, messages: number): Promise<Omit<ReadsDataset, 'databaseUrl' | 'dialect'>> {
  const started = Date.now();
  const services = await createServices({ databaseUrl });
  try {
    const partner = await services.tenants.createPartner('Bench partner (reads)');
    const client = await services.tenants.createClient(partner.id, { name: 'Busy client', currency: 'USD', country: 'DE', payment_mode: 'partner', timezone: 'UTC' });
    const zones = ['Europe/Berlin', 'UTC', 'Asia/Kolkata'];
    const channels: { id: string; phoneNumberId: string; wabaId: string; appId: string }[] = [];
    for (let c = 0; c < CHANNELS; c++) {
      const phoneNumberId = `30${String(1000000000000 + c)}`;
      const wabaId = c < CHANNELS / 2 ? '400000000000001' : '400000000000002';
      const appId = `app-${String(c).padStart(2, '0')}`;
      const { channel } = await services.tenants.createChannel(partner.id, client.id, {
        phone_number: `+1555${String(3000000 + c)}`, phone_number_id: phoneNumberId, waba_id: wabaId, app_id: appId, timezone: zones[c % zones.length],
      });
      channels.push({ id: channel.id, phoneNumberId, wabaId, appId });
    }
    const { start: monthStart, end: monthEnd } = lastFullMonth(Math.floor(Date.now() / 1000));
    const yearStart = monthEnd - 365 * DAY;
    const monthDays = (monthEnd - monthStart) / DAY;
    const rnd = prng(20261101);
    const recipient = (who: (typeof RECIPIENTS)[number]) => `${who.prefix}${String(Math.floor(rnd() * 50_000) * 7 + 1_000).padStart(who.digits, '0')}`;
    const expected = { busyInMonth: 0, clientInMonth: 0, clientInYear: 0, lastChannelInMonth: 0, lastChannelInYear: 0 };
    const total = 365 * CHANNELS * BACKGROUND_PER_DAY + messages;
    log(`[${dialect}] building: ${total.toLocaleString('en-US')} delivered messages (${messages.toLocaleString('en-US')} on one channel in ${new Date(monthStart * 1000).toISOString().slice(0, 7)}) through the meter; cached for later runs`);

    let n = 0;
    let pending: { c: number; spec: Record<string, unknown> }[] = [];
    let lastReport = Date.now();
    const flush = async () => {
      if (pending.length === 0) return;
      const perChannel = new Map<number, Record<string, unknown>[]>();
      for (const p of pending) {
        let list = perChannel.get(p.c);
        if (!list) perChannel.set(p.c, (list = []));
        list.push(p.spec);
      }
      await submitBodies(services, channels, perChannel, pending.length);
      pending = [];
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        const rate = n / ((Date.now() - started) / 1000);
        log(`[${dialect}] ${n.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} messages, ${Math.round(rate).toLocaleString('en-US')}/s, ETA ${Math.round((total - n) / rate)} s`);
      }
    };
    const add = async (c: number, ts: number) => {
      pending.push({ c, spec: status(deliveredSpec(messageId('R', n++), ts, recipient(weighted(RECIPIENTS, rnd)), weighted(MIX, rnd))) });
      const inMonth = ts >= monthStart && ts < monthEnd;
      expected.clientInYear++;
      if (inMonth) expected.clientInMonth++;
      if (c === 0 && inMonth) expected.busyInMonth++;
      if (c === CHANNELS - 1) {
        expected.lastChannelInYear++;
        if (inMonth) expected.lastChannelInMonth++;
      }
      if (pending.length >= BATCH) await flush();
    };
    for (let day = yearStart; day < monthEnd; day += DAY) {
      for (let c = 0; c < CHANNELS; c++) {
        for (let i = 0; i < BACKGROUND_PER_DAY; i++) await add(c, day + Math.floor(rnd() * DAY));
      }
      if (day >= monthStart) {
        const k = (day - monthStart) / DAY;
        const today = Math.floor((messages * (k + 1)) / monthDays) - Math.floor((messages * k) / monthDays);
        for (let i = 0; i < today; i++) await add(0, day + Math.floor(rnd() * DAY));
      }
    }
    await flush();
    await services.queue.drain();
    return {
      generator: GENERATOR_VERSION,
      messages,
      partnerId: partner.id,
      apiKey: partner.api_key,
      clientId: client.id,
      busyChannelId: channels[0].id,
      channelIds: channels.map((c) => c.id),
      appIds: channels.map((c) => c.appId),
      monthStart,
      monthEnd,
      yearStart,
      expected,
      builtAt: new Date().toISOString(),
      buildSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    await services.close();
  }
}

function removeSqlite(dir: string, base: string): void {
  for (const f of [`${base}.db`, `${base}.db.partial`]) removeSqliteFiles(join(dir, f));
  rmSync(join(dir, `${base}.json`), { force: true });
}

async function sqliteDataset(dir: string, messages: number, fingerprint: string, rebuild: boolean): Promise<ReadsDataset> {
  const prefix = `reads-m${messages}-g${GENERATOR_VERSION}`;
  const name = `${prefix}-s${fingerprint}`;
  for (const f of readdirSync(dir)) {
    const m = /^(reads-m\d+-g\d+-s[0-9a-f]+)\.json$/.exec(f);
    if (m && m[1] !== name && m[1].startsWith(`reads-m${messages}-`)) {
      log(`removing ${m[1]} (built for another store schema or generator)`);
      removeSqlite(dir, m[1]);
    }
  }
  if (rebuild) removeSqlite(dir, name);
  const file = join(dir, `${name}.db`);
  const sidecar = join(dir, `${name}.json`);
  if (existsSync(file) && existsSync(sidecar)) {
    const ds = JSON.parse(readFileSync(sidecar, 'utf8')) as ReadsDataset;
    log(`[sqlite] reusing ${file} (built ${ds.builtAt} in ${Math.round(ds.buildSeconds)} s)`);
    return ds;
  }
  removeSqlite(dir, name);
  const partial = `${file}.partial`;
  const built = await build(`sqlite:${partial}`, 'sqlite', messages);
  renameSqliteFiles(partial, file);
  const ds: ReadsDataset = { ...built, dialect: 'sqlite', databaseUrl: `sqlite:${file}` };
  writeFileSync(sidecar, JSON.stringify(ds, null, 2));
  log(`[sqlite] built in ${Math.round(ds.buildSeconds)} s (${(statSync(file).size / 1e6).toFixed(0)} MB)`);
  return ds;
}

/** The bench database on the server of `url` (created if missing), and an admin connection to it. */
async function benchDatabase(url: string): Promise<pg.Client> {
  const u = new URL(url);
  const dbName = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'wabameter_bench';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(dbName)) throw new Error(`BENCH_PG_URL: database name "${dbName}" must be a plain identifier`);
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    return c;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err; // invalid_catalog_name: create it
  }
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString() });
  await admin.connect();
  try {
    log(`creating PostgreSQL database ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // duplicate_database: a race, fine
  } finally {
    await admin.end();
  }
  const again = new pg.Client({ connectionString: url });
  await again.connect();
  return again;
}

async function postgresDataset(dir: string, pgUrl: string, messages: number, fingerprint: string, rebuild: boolean): Promise<ReadsDataset> {
  const prefix = `reads_m${messages}_g${GENERATOR_VERSION}`;
  const schema = `${prefix}_s${fingerprint}`;
  const sidecar = join(dir, `${schema}-pg.json`);
  const admin = await benchDatabase(pgUrl);
  try {
    const { rows } = await admin.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'reads\\_m%'`);
    for (const r of rows) {
      if (r.nspname !== schema && r.nspname.startsWith(`reads_m${messages}_`)) {
        log(`[postgres] dropping schema ${r.nspname} (built for another store schema or generator)`);
        await admin.query(`DROP SCHEMA ${r.nspname} CASCADE`);
        rmSync(join(dir, `${r.nspname}-pg.json`), { force: true });
      }
    }
    const exists = rows.some((r) => r.nspname === schema);
    if (exists && existsSync(sidecar) && !rebuild) {
      const ds = JSON.parse(readFileSync(sidecar, 'utf8')) as ReadsDataset;
      log(`[postgres] reusing schema ${schema} (built ${ds.builtAt} in ${Math.round(ds.buildSeconds)} s)`);
      return ds;
    }
    rmSync(sidecar, { force: true });
    if (exists) await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(pgUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const built = await build(url.toString(), 'postgres', messages);
    // What autovacuum would have done by now: statistics and the visibility map.
    for (const { tablename } of (await admin.query<{ tablename: string }>('select tablename from pg_tables where schemaname = $1', [schema])).rows) {
      await admin.query(`VACUUM ANALYZE ${schema}.${tablename}`);
    }
    const ds: ReadsDataset = { ...built, dialect: 'postgres', databaseUrl: url.toString() };
    writeFileSync(sidecar, JSON.stringify(ds, null, 2));
    log(`[postgres] built in ${Math.round(ds.buildSeconds)} s`);
    return ds;
  } finally {
    await admin.end();
  }
}

// ---- measuring -----------------------------------------------------------------------------

/** Where a figure was measured: a store, or the bare server that sends the stores' answers. */
type Source = Dialect | 'bare';

export interface ReadFigure {
  source: Source;
  label: string;
  path: string;
  /** p99 aim in ms; none for the baselines. */
  aimMs?: number;
  requests: number;
  responseBytes: number;
  /** sha256 of the answer (the usage rows only, for info/balance): identical on both stores. */
  digest?: string;
  ms: { p50: number; p90: number; p99: number; max: number; mean: number };
}

export interface ReadsResult {
  datasets: Omit<ReadsDataset, 'apiKey' | 'databaseUrl'>[];
  figures: ReadFigure[];
  /** CPU other processes used during each measurement (share of one core; PostgreSQL's server counts as other). */
  otherCpu: Record<string, number>;
  rows: string[][];
}

interface Target {
  label: string;
  path: string;
  headers: Record<string, string>;
  aimMs?: number;
  check?: (body: any) => void;
  digest?: (body: any) => unknown;
}

async function quiet(waitSeconds: number): Promise<void> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const a = machineCpuSeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = machineCpuSeconds() - a;
    if (!(busy > 0.15) || Date.now() > deadline) return;
  }
}

function serviceEnv(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    WABAMETER_DEMO: '0',
    WABAMETER_ADMIN_TOKEN: 'bench-admin-token',
    LOG_LEVEL: 'silent',
    WABAMETER_BALANCE_RATE_LIMIT: '1000000/1s', // as in the balance phase: out of the way, its hook still runs
  };
}

const digestOf = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/**
 * Sequential requests (one keep-alive connection per block, one request in flight, as the balance
 * phase) to each target until it has `requests` samples or `budgetSeconds` of them, after a short
 * warm-up. Groups are measured one after the other, the targets of a group interleaved in blocks:
 * the small answers apart from the megabyte ones, whose garbage would otherwise land in them.
 */
async function measure(server: Server, source: Source, groups: Target[][], opts: { requests: number; budgetSeconds: number; quietWait: number }) {
  const targets = groups.flat();
  for (const t of targets) {
    const t0 = Date.now();
    for (let i = 0; i < 20 && (i === 0 || Date.now() - t0 < 2_000); i++) await sequentialLatencies(server.base, t.path, t.headers, 1);
  }
  log(`[${source}] measuring ${targets.length} reads: up to ${opts.requests} sequential requests or ${opts.budgetSeconds} s each…`);
  await quiet(opts.quietWait);
  const samples = new Map(targets.map((t) => [t, [] as number[]]));
  const spent = new Map(targets.map((t) => [t, 0]));
  const bytes = new Map(targets.map((t) => [t, 0]));
  const own0 = ownCpuSeconds();
  const server0 = server.cpuSeconds();
  const all0 = machineCpuSeconds();
  const t0 = Date.now();
  const active = (t: Target) => samples.get(t)!.length < opts.requests && spent.get(t)! < opts.budgetSeconds * 1000;
  for (const group of groups) {
    while (group.some(active)) {
      for (const t of group) {
        if (!active(t)) continue;
        // Blocks of up to 50 that fit the remaining budget at the pace seen so far.
        const done = samples.get(t)!.length;
        const pace = done ? spent.get(t)! / done : Infinity;
        const fit = Number.isFinite(pace) ? Math.floor((opts.budgetSeconds * 1000 - spent.get(t)!) / Math.max(pace, 0.01)) : 1;
        const n = Math.max(1, Math.min(50, fit, opts.requests - done));
        const r = await sequentialLatencies(server.base, t.path, t.headers, n);
        samples.get(t)!.push(...r.ms);
        spent.set(t, spent.get(t)! + r.ms.reduce((a, b) => a + b, 0));
        bytes.set(t, r.bytes);
      }
    }
  }
  const elapsed = (Date.now() - t0) / 1000;
  const otherCpu = Math.max(0, (machineCpuSeconds() - all0) - (server.cpuSeconds() - server0) - (ownCpuSeconds() - own0)) / elapsed;
  // On PostgreSQL the database server is one of the other processes.
  if (otherCpu > 0.1) log(`[${source}] !! other processes${source === 'postgres' ? ' (the PostgreSQL server included)' : ''} used ${Math.round(otherCpu * 100)} % of a core during the measurement`);
  const figures = targets.map((t): ReadFigure => {
    const s = samples.get(t)!;
    return {
      source,
      label: t.label,
      path: t.path,
      ...(t.aimMs ? { aimMs: t.aimMs } : {}),
      requests: s.length,
      responseBytes: bytes.get(t)!,
      ms: { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: Math.max(...s), mean: s.reduce((a, b) => a + b, 0) / s.length },
    };
  });
  return { figures, otherCpu };
}

const HEALTHZ: Target = { label: 'GET /healthz (baseline)', path: '/healthz', headers: {} };

/**
 * How the usage reads are asked for: the label's suffix, the Accept-Encoding sent (none: the JSON
 * as it is) and the Content-Encoding expected back.
 */
const USAGE_ENCODINGS = [
  { suffix: '', accept: undefined, expect: undefined },
  { suffix: ', gzip', accept: 'gzip, deflate', expect: 'gzip' }, // python requests, Node's fetch
  { suffix: ', br', accept: 'gzip, deflate, br', expect: 'br' }, // axios
] as const;

/** One GET's status, headers and raw body (not inflated). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(new URL(path, base), { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const INFLATE: Record<string, (b: Buffer) => Buffer> = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync };

async function measureStore(ds: ReadsDataset, opts: { requests: number; budgetSeconds: number; quietWait: number }): Promise<{ figures: ReadFigure[]; otherCpu: number; answers: Map<string, unknown> }> {
  log(`[${ds.dialect}] starting the service…`);
  const service: Server = await startServer('wabameter', serviceMain(), serviceEnv(ds.databaseUrl), [], 30 * 60_000);
  try {
    const headers = { 'x-api-key': ds.apiKey };
    const usage = `/api/v2/partners/${ds.partnerId}/clients/${ds.clientId}/channels/${ds.busyChannelId}/info/usage`;
    const balance = `/api/v2/partners/${ds.partnerId}/clients/${ds.clientId}/info/balance`;
    const month = `start_date=${ds.monthStart}&end_date=${ds.monthEnd - 1}`;
    const year = `start_date=${ds.yearStart}&end_date=${ds.monthEnd - 1}`;
    const kept = `app_ids=${ds.appIds.slice(0, -1).join(',')}`;
    const usageAim = 200;
    const balanceAim = ds.dialect === 'sqlite' ? 10 : 20;
    const quantity = (expected: number) => (b: any) => {
      const q = (b.usage as { quantity: number }[]).reduce((sum, r) => sum + r.quantity, 0);
      if (q !== expected) throw new Error(`info/balance: ${q} units, expected ${expected}`);
    };
    const balanceReads: Target[] = ([['1 month', month, ds.expected.clientInMonth, ds.expected.lastChannelInMonth], ['1 year', year, ds.expected.clientInYear, ds.expected.lastChannelInYear]] as const).flatMap(([span, range, all, last]) => [
      { label: `info/balance, day, ${span}, no filter`, path: `${balance}?granularity=day&${range}`, headers, aimMs: balanceAim, digest: (b: any) => b.usage, check: quantity(all) },
      { label: `info/balance, day, ${span}, app_ids 19 of 20`, path: `${balance}?granularity=day&${range}&${kept}`, headers, aimMs: balanceAim, digest: (b: any) => b.usage, check: quantity(all - last) },
    ]);
    const usageReads: (Target & { plain: string; expect?: string })[] = (['half_hour', 'day', 'month'] as const).flatMap((g) => USAGE_ENCODINGS
      .filter((e) => e.suffix !== ', gzip' || g === 'half_hour')
      .map((e) => ({
        label: `info/usage, ${g}, 1 month${e.suffix}`, plain: `info/usage, ${g}, 1 month`, expect: e.expect,
        path: `${usage}?granularity=${g}&${month}`, headers: e.accept ? { ...headers, 'accept-encoding': e.accept } : headers, aimMs: usageAim, digest: (b: any) => b,
        check: (b: any) => {
          const volume = (b.pricing_analytics.data[0].data_points as { volume: number }[]).reduce((sum, d) => sum + d.volume, 0);
          if (volume !== ds.expected.busyInMonth) throw new Error(`info/usage ${g}: volume ${volume}, expected ${ds.expected.busyInMonth}`);
        },
      })));

    // Check every answer once (the meter has caught up before the first answer is sent).
    const digests = new Map<string, string>();
    const answers = new Map<string, unknown>();
    const plainBytes = new Map<string, Buffer>();
    for (const t of balanceReads) {
      const body = await expectJson(service.base, 'GET', t.path, 200, t.headers);
      t.check?.(body);
      digests.set(t.label, digestOf(t.digest!(body)));
      answers.set(t.label, body);
    }
    for (const t of usageReads) {
      const r = await rawGet(service.base, t.path, t.headers);
      if (r.status !== 200) throw new Error(`GET ${t.path}: expected 200, got ${r.status}: ${r.body.toString('utf8', 0, 500)}`);
      if (r.headers['content-encoding'] !== t.expect) throw new Error(`${t.label}: Content-Encoding ${r.headers['content-encoding']}, expected ${t.expect ?? 'none'}`);
      const bytes = t.expect ? INFLATE[t.expect](r.body) : r.body;
      if (t.label === t.plain) plainBytes.set(t.plain, bytes);
      else if (!bytes.equals(plainBytes.get(t.plain)!)) throw new Error(`${t.label}: the inflated answer differs from the plain one`);
      const body = JSON.parse(bytes.toString('utf8'));
      t.check?.(body);
      digests.set(t.label, digestOf(t.digest!(body)));
      if (t.label === t.plain) answers.set(t.label, body);
    }
    const r = await measure(service, ds.dialect, [[HEALTHZ, ...balanceReads], usageReads], opts);
    for (const f of r.figures) {
      f.path = f.path.replace(ds.partnerId, '{partner}').replace(ds.clientId, '{client}').replace(ds.busyChannelId, '{channel}');
      f.digest = digests.get(f.label);
      log(`[${ds.dialect}] ${f.label}: p50 ${f.ms.p50.toFixed(2)} ms, p99 ${f.ms.p99.toFixed(2)} ms (${f.requests} requests, ${(f.responseBytes / 1e3).toFixed(0)} KB${f.digest ? `, answer ${f.digest}` : ''})`);
    }
    return { ...r, answers };
  } finally {
    await service.stop();
  }
}

/**
 * The floor under each read: the same answer (as the service sent it, parsed) sent by a bare
 * Fastify route that only serializes it (JSON.stringify, as the service's serializer). What is above
 * it is the store and the service; what is below it is Node, Fastify and the answer's size. For
 * info/usage, whose JSON the service writes itself, also its bytes prebuilt (`…, bytes`): what
 * sending them costs.
 */
async function measureBare(dir: string, answers: Map<string, unknown>, opts: { requests: number; budgetSeconds: number; quietWait: number }): Promise<{ figures: ReadFigure[]; otherCpu: number }> {
  const file = join(dir, `reads-answers-${process.pid}.json`);
  writeFileSync(file, JSON.stringify([...answers]));
  const bare = await startServer('bare answers', 'bench/reads.ts', { READS_BARE_ANSWERS: file, PORT: '0', HOST: '127.0.0.1' });
  try {
    const labels = [...answers.keys()];
    const target = (label: string): Target => ({ label, path: `/answer/${labels.indexOf(label)}`, headers: {} });
    const bytes = (label: string): Target => ({ label: `${label}, bytes`, path: `/bytes/${labels.indexOf(label)}`, headers: {} });
    const usage = labels.filter((l) => l.startsWith('info/usage'));
    const r = await measure(bare, 'bare', [[HEALTHZ, ...labels.filter((l) => !l.startsWith('info/usage')).map(target)], [...usage.map(target), ...usage.map(bytes)]], opts);
    for (const f of r.figures) log(`[bare] ${f.label}: p50 ${f.ms.p50.toFixed(2)} ms, p99 ${f.ms.p99.toFixed(2)} ms (${f.requests} requests, ${(f.responseBytes / 1e3).toFixed(0)} KB)`);
    return r;
  } finally {
    await bare.stop();
    rmSync(file, { force: true });
  }
}

export async function benchReads(opts: { dir: string; rebuild?: boolean; quietWait?: number }): Promise<ReadsResult> {
  const messages = envInt('BENCH_READS_MESSAGES', 600_000);
  const requests = envInt('BENCH_READS_REQUESTS', 300);
  const budgetSeconds = envInt('BENCH_READS_BUDGET', 10);
  const pgUrl = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/wabameter_bench';
  const dialects = (process.env.BENCH_READS_STORES || 'sqlite,postgres').split(',').map((s) => s.trim()) as Dialect[];
  mkdirSync(opts.dir, { recursive: true });
  const fingerprint = await schemaFingerprint();
  const measuring = { requests, budgetSeconds, quietWait: opts.quietWait ?? 60 };

  const datasets: ReadsDataset[] = [];
  for (const d of dialects) {
    datasets.push(d === 'sqlite'
      ? await sqliteDataset(opts.dir, messages, fingerprint, opts.rebuild ?? false)
      : await postgresDataset(opts.dir, pgUrl, messages, fingerprint, opts.rebuild ?? false));
  }
  const figures: ReadFigure[] = [];
  const otherCpu: Record<string, number> = {};
  let answers: Map<string, unknown> | undefined;
  for (const ds of datasets) {
    const r = await measureStore(ds, measuring);
    figures.push(...r.figures);
    otherCpu[ds.dialect] = r.otherCpu;
    answers ??= r.answers;
  }
  // Both stores must give the same answers.
  for (const f of figures) {
    const other = figures.find((g) => g.label === f.label && g.source !== f.source);
    if (other && other.digest !== f.digest) throw new Error(`${f.label}: SQLite and PostgreSQL answer differently (${f.digest} vs ${other.digest})`);
  }
  if (answers) {
    const bare = await measureBare(opts.dir, answers, measuring);
    figures.push(...bare.figures);
    otherCpu.bare = bare.otherCpu;
  }

  const ms = (f: ReadFigure) => `${f.ms.p50.toFixed(2)} / ${f.ms.p99.toFixed(2)}`;
  const rows: string[][] = [];
  for (const f of figures) {
    if (!f.aimMs) continue;
    const base = figures.find((g) => g.source === f.source && g.label === HEALTHZ.label)!;
    rows.push([
      `[${f.source}] ${f.label} (p50 / p99 ms, ${f.requests} req)`,
      ms(f),
      ms(base),
      `${(f.ms.p99 / base.ms.p99).toFixed(1)}×`,
      `p99 ≤ ${f.aimMs} ms`,
      f.ms.p99 <= f.aimMs ? 'yes' : 'NO',
    ]);
    const floor = figures.find((g) => g.source === 'bare' && g.label === f.label);
    if (floor) rows.push([`  … the same answer from a bare Fastify route (floor)`, ms(floor), '', `${(f.ms.p99 / floor.ms.p99).toFixed(1)}×`, '', '']);
    const sent = figures.find((g) => g.source === 'bare' && g.label === `${f.label}, bytes`);
    if (sent) rows.push([`  … its bytes, prebuilt, from a bare Fastify route`, ms(sent), '', `${(f.ms.p99 / sent.ms.p99).toFixed(1)}×`, '', '']);
  }
  return {
    datasets: datasets.map(({ apiKey: _k, databaseUrl: _u, ...d }) => d),
    figures,
    otherCpu,
    rows,
  };
}

// ---- the bare server (bench/reads.ts run as a script with READS_BARE_ANSWERS) ----------------

async function serveAnswers(file: string): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const answers = (JSON.parse(readFileSync(file, 'utf8')) as [string, unknown][]).map(([, body]) => body);
  const bytes = answers.map((body) => Buffer.from(JSON.stringify(body)));
  const app = Fastify({ logger: false });
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get<{ Params: { n: string } }>('/answer/:n', async (request) => answers[Number(request.params.n)]);
  app.get<{ Params: { n: string } }>('/bytes/:n', async (request, reply) => reply.type('application/json; charset=utf-8').send(bytes[Number(request.params.n)]));
  await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`bare answers listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      await app.close();
      process.exit(0);
    });
  }
}

if (process.env.READS_BARE_ANSWERS) await serveAnswers(process.env.READS_BARE_ANSWERS);
