/**
 * `npm run bench`: the meter's speed figures, each beside a baseline measured in the same run.
 *
 *   1. Webhook ingestion over HTTP, 1-status bodies (statuses/s): the real service (child process,
 *      SQLite in WAL with synchronous=FULL) vs a bare Fastify route that only parses the same body.
 *   2. The same with 100-status bodies.
 *   3. `prefilled` (bench/ingest.ts): 1 and 2 again on a fresh copy of a SQLite store that already
 *      holds BENCH_PREFILL status events and their projections (the year-long data set of 5 with
 *      that many units, cached), vs the same runs on an empty store in the same rounds.
 *   4. `pg2` (bench/pg2.ts): two service processes on one fresh PostgreSQL database and one Redis,
 *      loaded at once, 100-status then 1-status bodies, vs the bare Fastify route.
 *   5. `info/balance` latency (p50/p99) for a client with a year of daily usage over 20 channels
 *      and BENCH_UNITS units, vs `GET /healthz` on the same server, measured the same way.
 *   6. In process (bench/parse.ts): parsing a 3 MB, 1,000-status webhook vs JSON.parse of it, and
 *      generating the demo traffic vs JSON.stringify of its bodies.
 * And for every service process started here, its peak resident set (VmHWM, read just before it
 * is stopped; the projector thread is part of the process), against the aim ≤ 300 MB.
 *
 * Knobs (environment): BENCH_UNITS (5,000,000), BENCH_DURATION (10 s per load run),
 * BENCH_WARMUP (3 s), BENCH_CONNECTIONS (64), BENCH_ROUNDS (2 alternating baseline/service rounds
 * per ingestion figure, the best of each kept), BENCH_LATENCY_REQUESTS (1,000 per query),
 * BENCH_ONLY (comma list of single,batch,prefilled,pg2,balance,reprice,parse,reads,stall; reads:
 * bench/reads.ts, stall: bench/stall.ts), BENCH_DIR (/tmp/wabameter-bench),
 * BENCH_PREFILL (5,000,000: status events already in the store for `prefilled`; the data set is
 * built once and cached in BENCH_DIR like the year-long one, and is the same file when it equals
 * BENCH_UNITS),
 * BENCH_PG_INGEST_URL (postgres://postgres@127.0.0.1:5432/wabameter_bench_ingest: the database of
 * `pg2`, DROPPED and created again at each round; its name must contain "bench"),
 * BENCH_REDIS_URL (redis://127.0.0.1:6379: the Redis of `pg2`; keys under a prefix of this run),
 * BENCH_CPU_PROF=1 (write V8 CPU profiles of the service processes to BENCH_DIR/profiles),
 * BENCH_REBUILD=1 (rebuild the cached data set; it is rebuilt anyway when the store schema changed),
 * BENCH_QUIET_WAIT (60: seconds to wait before each measurement for other processes to go idle).
 * Results: a table on stdout and BENCH_DIR/results.json. Progress goes to stderr.
 */
import { parseFigures } from './parse.ts';
import { benchReprice } from './reprice.ts';
import { benchReads } from './reads.ts';
import { benchStall } from './stall.ts';
import { execFileSync } from 'node:child_process';
import BetterSqlite3 from 'better-sqlite3';
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { countryOfNumber } from '../src/billing/markets.ts';
import { cfg, fmt, nodeArgs, pct, progress, RSS_AIM_MB, serviceEnv } from './config.ts';
import { ensureDataset, type Dataset } from './dataset.ts';
import { ingestion, type IngestResult, type PrefilledResult } from './ingest.ts';
import { awaitQuiet, load } from './load.ts';
import { benchPg2 } from './pg2.ts';
import { expectJson, machineCpuSeconds, ownCpuSeconds, REPO, percentile, sequentialLatencies, serviceMain, startServer } from './proc.ts';
import { RECIPIENTS } from './traffic.ts';

// ---- machine -------------------------------------------------------------------------------

function fsyncLatency(dir: string, count = 200): { p50: number; p99: number } {
  const file = join(dir, `fsync-probe-${process.pid}`);
  const fd = openSync(file, 'w');
  const page = Buffer.alloc(4096, 7);
  const ms: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      writeSync(fd, page, 0, page.length, (i % 16) * 4096);
      const t0 = process.hrtime.bigint();
      fsyncSync(fd);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

/** Which code was measured: the commit, and how many files under src/ differ from it. */
function codeVersion(): { commit: string; srcChanges: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' });
    return { commit, srcChanges: status.split('\n').filter(Boolean).length };
  } catch {
    return { commit: 'unknown', srcChanges: -1 };
  }
}

function machine(dir: string) {
  const sqlite = new BetterSqlite3(':memory:');
  const sqliteVersion = (sqlite.prepare('select sqlite_version() as v').get() as { v: string }).v;
  sqlite.close();
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    sqlite: sqliteVersion,
    fsyncMs: fsyncLatency(dir),
  };
}

// ---- 3: info/balance latency ---------------------------------------------------------------

interface LatencyFigure {
  label: string;
  path: string;
  requests: number;
  responseBytes: number;
  ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** The same path under concurrent load (autocannon, ms resolution). */
  loaded: { connections: number; requestsPerSecond: number; p50: number; p99: number; serverCpu: number };
}

interface BalanceResult {
  dataset: Omit<Dataset, 'apiKey'>;
  figures: LatencyFigure[];
  check: { dayRows: number; monthRows: number; units: number };
  /** CPU other processes used during the sequential measurement (share of one core): should be ~0. */
  sequentialOtherCpu: number;
  /** The service's peak resident set (MiB), just before it was stopped and once it listened. */
  peakRssMb: { service: number; atStart: number };
}

const rebuilt = new Set<number>();
/**
 * The cached year-long data set of `units` units (phases balance and prefilled share it when their
 * sizes are equal): BENCH_REBUILD rebuilds it once per run, not once per phase.
 */
async function yearDataset(units: number): Promise<Dataset> {
  const rebuild = cfg.rebuild && !rebuilt.has(units);
  rebuilt.add(units);
  return ensureDataset(cfg.dir, { units, channels: 20, days: 365 }, { rebuild });
}

async function balanceLatency(): Promise<BalanceResult> {
  const ds = await yearDataset(cfg.units);
  // A service meeting a log its meter has not caught up with (e.g. after an upgrade) meters it
  // before it listens: allow for that.
  progress('starting the service on the data set…');
  const startedAt = Date.now();
  const service = await startServer('wabameter', serviceMain(), serviceEnv(`sqlite:${ds.file}`), nodeArgs('balance'), 60 * 60_000);
  progress(`service listening after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  try {
    const headers = { 'x-api-key': ds.apiKey };
    const client = `/api/v2/partners/${ds.partnerId}/clients/${ds.clientId}/info/balance`;
    const targets = [
      { label: 'GET /healthz (baseline)', path: '/healthz', headers: {} as Record<string, string> },
      { label: 'info/balance, day, 1 year', path: `${client}?granularity=day&start_date=${ds.firstDay}`, headers },
      { label: 'info/balance, month, 1 year', path: `${client}?granularity=month&start_date=${ds.firstDay}`, headers },
    ];

    // The answers must be the data set: a row per day (per month), every unit in them.
    const day = await expectJson(service.base, 'GET', targets[1].path, 200, headers);
    const month = await expectJson(service.base, 'GET', targets[2].path, 200, headers);
    const units = (month.usage as { quantity: number }[]).reduce((s, r) => s + r.quantity, 0);
    const check = { dayRows: day.usage.length as number, monthRows: month.usage.length as number, units };
    progress(`balance check: ${check.dayRows} day rows, ${check.monthRows} month rows, ${fmt(units)} units${units !== ds.units ? `  !! expected ${fmt(ds.units)}` : ''}`);

    // Warm-up (JIT, page cache), then sequential requests in interleaved blocks.
    for (const t of targets) await sequentialLatencies(service.base, t.path, t.headers, 50);
    const samples = targets.map(() => [] as number[]);
    const bytes = targets.map(() => 0);
    const block = 100;
    progress(`latency: ${fmt(cfg.latencyRequests)} sequential requests per query…`);
    await awaitQuiet();
    const own0 = ownCpuSeconds();
    const server0 = service.cpuSeconds();
    const all0 = machineCpuSeconds();
    const t0 = Date.now();
    for (let done = 0; done < cfg.latencyRequests; done += block) {
      const n = Math.min(block, cfg.latencyRequests - done);
      for (let i = 0; i < targets.length; i++) {
        const r = await sequentialLatencies(service.base, targets[i].path, targets[i].headers, n);
        samples[i].push(...r.ms);
        bytes[i] = r.bytes;
      }
    }

    const elapsed = (Date.now() - t0) / 1000;
    const sequentialOtherCpu = Math.max(0, (machineCpuSeconds() - all0) - (service.cpuSeconds() - server0) - (ownCpuSeconds() - own0)) / elapsed;
    if (sequentialOtherCpu > 0.1) progress(`!! other processes used ${pct(sequentialOtherCpu)} of a core during the latency measurement`);

    const figures: LatencyFigure[] = [];
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      progress(`${t.label}: ${cfg.loadConnections} connections for ${cfg.loadDuration} s…`);
      const loaded = await load(t.label, service, [{ method: 'GET', path: t.path, headers: t.headers }], { connections: cfg.loadConnections, duration: cfg.loadDuration, statusesPerRequest: 1 });
      if (loaded.non2xx || loaded.errors) throw new Error(`${t.label}: ${loaded.non2xx} non-2xx, ${loaded.errors} errors under load`);
      const s = samples[i];
      figures.push({
        label: t.label,
        path: t.path.replace(ds.partnerId, '{partner}').replace(ds.clientId, '{client}'),
        requests: s.length,
        responseBytes: bytes[i],
        ms: {
          p50: percentile(s, 50),
          p90: percentile(s, 90),
          p99: percentile(s, 99),
          max: Math.max(...s),
          mean: s.reduce((a, b) => a + b, 0) / s.length,
        },
        loaded: { connections: cfg.loadConnections, requestsPerSecond: loaded.requestsPerSecond, p50: loaded.latencyMs.p50, p99: loaded.latencyMs.p99, serverCpu: loaded.serverCpu },
      });
      const f = figures[figures.length - 1];
      progress(`${t.label}: p50 ${f.ms.p50.toFixed(2)} ms, p99 ${f.ms.p99.toFixed(2)} ms sequential; ${fmt(loaded.requestsPerSecond)} req/s with ${cfg.loadConnections} connections`);
    }
    const { apiKey: _secret, ...dataset } = ds;
    await service.stop();
    const peakRssMb = { service: service.peakRssMb(), atStart: service.peakRssAtStartMb };
    progress(`balance: peak RSS ${fmt(peakRssMb.service)} MB (${fmt(peakRssMb.atStart)} MB once listening)`);
    return { dataset, figures, check, sequentialOtherCpu, peakRssMb };
  } finally {
    await service.stop();
  }
}

async function postgresVersion(): Promise<string> {
  try {
    const c = new pg.Client({ connectionString: cfg.pgIngestUrl });
    await c.connect();
    try {
      return (await c.query<{ v: string }>("select current_setting('server_version') as v")).rows[0].v;
    } finally {
      await c.end();
    }
  } catch {
    return 'unknown';
  }
}

// ---- main ----------------------------------------------------------------------------------

function selfCheck(): void {
  for (const r of RECIPIENTS) {
    // Every generated number must resolve to its country, over the whole range of subscriber digits.
    for (let i = 0; i < 500; i++) {
      const number = `${r.prefix}${String(Math.floor((i * 10 ** r.digits) / 500)).padStart(r.digits, '0')}`;
      const c = countryOfNumber(number);
      if (c !== r.country) throw new Error(`recipient ${r.prefix}… resolves to ${c}, expected ${r.country}`);
    }
  }
}

/** A peak-RSS row: the process's figure (MiB) beside a same-run reference, against the aim. */
function rssRow(label: string, mb: number, reference: string, referenceMb: number): string[] {
  return [label, fmt(mb), reference, `${(mb / referenceMb).toFixed(1)}×`, `≤ ${RSS_AIM_MB} MB`, mb <= RSS_AIM_MB ? 'yes' : 'NO'];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  mkdirSync(cfg.dir, { recursive: true });
  selfCheck();
  const started = Date.now();
  const info = machine(cfg.dir);
  const code = codeVersion();
  const codeLabel = `${code.commit}${code.srcChanges > 0 ? ` + ${code.srcChanges} changed file(s) under src/` : ''}`;
  progress(`machine: ${info.cpus} CPUs (${info.cpuModel}), node ${info.node}, SQLite ${info.sqlite}, fsync p50 ${info.fsyncMs.p50.toFixed(2)} ms; code ${codeLabel}`);

  const ingest: IngestResult[] = [];
  const prefilled: PrefilledResult[] = [];
  const prefillDataset = cfg.only.has('prefilled') ? await yearDataset(cfg.prefill) : undefined;
  for (const [phase, statusesPerBody] of [['single', 1], ['batch', 100]] as const) {
    // The empty-store rounds serve as single/batch's service runs and as prefilled's baseline.
    const bare = cfg.only.has(phase);
    if (!bare && !prefillDataset) continue;
    const r = await ingestion(statusesPerBody, { bare, prefilled: prefillDataset });
    if (r.ingest) ingest.push(r.ingest);
    if (r.prefilled) prefilled.push(r.prefilled);
  }
  const pg2 = cfg.only.has('pg2') ? await benchPg2() : undefined;
  const balance = cfg.only.has('balance') ? await balanceLatency() : undefined;
  // Re-pricing after a card change: a month-long data set, in process.
  const reprice = cfg.only.has('reprice') ? await benchReprice(cfg.dir, cfg.units) : undefined;
  const parse = cfg.only.has('parse') ? parseFigures() : undefined;
  const reads = cfg.only.has('reads') ? await benchReads({ dir: cfg.dir, rebuild: cfg.rebuild, quietWait: cfg.quietWait }) : undefined;
  const stall = cfg.only.has('stall') ? await benchStall(cfg.dir) : undefined;

  const rows: string[][] = [['figure', 'wabameter', 'baseline', 'ratio', 'aim', 'met']];
  for (const r of ingest) {
    const single = r.statusesPerBody === 1;
    const met = single ? r.ratio >= 0.5 : r.service.statusesPerSecond >= 50_000;
    rows.push([
      `ingest, ${r.statusesPerBody}-status bodies (statuses/s acknowledged)`,
      fmt(r.service.statusesPerSecond),
      fmt(r.baseline.statusesPerSecond),
      pct(r.ratio),
      single ? '≥ 50 % of baseline' : '≥ 50,000/s',
      met ? 'yes' : 'NO',
    ]);
    const metered = r.service.meteredPerSecond;
    const meteredMet = single ? metered / r.baseline.statusesPerSecond >= 0.5 : metered >= 50_000;
    rows.push([
      `  … metered (incl. ${r.service.catchUpSeconds.toFixed(1)} s catch-up)`,
      fmt(metered),
      fmt(r.baseline.statusesPerSecond),
      pct(metered / r.baseline.statusesPerSecond),
      single ? '≥ 50 % of baseline' : '≥ 50,000/s',
      meteredMet ? 'yes' : 'NO',
    ]);
    rows.push(rssRow(`  … peak RSS of the service (MB)`, r.peakRssMb.service, `${fmt(r.peakRssMb.baseline)} (bare Fastify)`, r.peakRssMb.baseline));
  }
  for (const r of prefilled) {
    // Aim: no worse than 30 % below the same runs on an empty store.
    const aim = '≥ 70 % of empty store';
    rows.push([
      `ingest on a store holding ${fmt(r.events)} events, ${r.statusesPerBody}-status bodies (statuses/s acknowledged)`,
      fmt(r.prefilled.statusesPerSecond),
      `${fmt(r.empty.statusesPerSecond)} (empty store)`,
      pct(r.ratio),
      aim,
      r.ratio >= 0.7 ? 'yes' : 'NO',
    ]);
    rows.push([
      `  … metered (incl. ${r.prefilled.catchUpSeconds.toFixed(1)} s catch-up; empty store ${r.empty.catchUpSeconds.toFixed(1)} s)`,
      fmt(r.prefilled.meteredPerSecond),
      `${fmt(r.empty.meteredPerSecond)} (empty store)`,
      pct(r.meteredRatio),
      aim,
      r.meteredRatio >= 0.7 ? 'yes' : 'NO',
    ]);
    rows.push(rssRow(`  … peak RSS of the service (MB)`, r.peakRssMb.prefilled, `${fmt(r.peakRssMb.empty)} (empty store)`, r.peakRssMb.empty));
  }
  if (pg2) {
    for (const f of pg2.figures) {
      const batch = f.statusesPerBody === 100;
      rows.push([
        `2 processes on PostgreSQL, ${f.statusesPerBody}-status bodies (statuses/s acknowledged)`,
        fmt(f.service.statusesPerSecond),
        fmt(f.baseline.statusesPerSecond),
        pct(f.ratio),
        '',
        '',
      ]);
      // Aim for 100-status bodies only; 1-status is reported.
      rows.push([
        `  … metered (incl. ${f.service.catchUpSeconds.toFixed(1)} s catch-up)`,
        fmt(f.service.meteredPerSecond),
        fmt(f.baseline.statusesPerSecond),
        pct(f.meteredRatio),
        batch ? '≥ 20,000/s' : '',
        batch ? (f.service.meteredPerSecond >= 20_000 ? 'yes' : 'NO') : '',
      ]);
    }
    const [p1, p2] = pg2.peakRssMb.processes;
    rows.push([
      '  … peak RSS of process 1 / process 2 (MB)',
      `${fmt(p1)} / ${fmt(p2)}`,
      `${fmt(pg2.peakRssMb.baseline)} (bare Fastify)`,
      `${(Math.max(p1, p2) / pg2.peakRssMb.baseline).toFixed(1)}×`,
      `≤ ${RSS_AIM_MB} MB`,
      Math.max(p1, p2) <= RSS_AIM_MB ? 'yes' : 'NO',
    ]);
  }
  if (balance) {
    const [health, ...queries] = balance.figures;
    for (const f of queries) {
      rows.push([
        `${f.label} (p50 / p99 ms)`,
        `${f.ms.p50.toFixed(2)} / ${f.ms.p99.toFixed(2)}`,
        `${health.ms.p50.toFixed(2)} / ${health.ms.p99.toFixed(2)}`,
        `${(f.ms.p99 / health.ms.p99).toFixed(1)}×`,
        'p99 ≤ 10 ms',
        f.ms.p99 <= 10 ? 'yes' : 'NO',
      ]);
    }
    for (const f of balance.figures) {
      rows.push([`${f.label} under load, ${f.loaded.connections} conns (req/s)`, fmt(f.loaded.requestsPerSecond), '', '', '', '']);
    }
    rows.push(rssRow(`  … peak RSS of the service (MB)`, balance.peakRssMb.service, `${fmt(balance.peakRssMb.atStart)} (once listening)`, balance.peakRssMb.atStart));
  }

  if (reprice) {
    rows.push([
      `re-pricing ${fmt(reprice.units)} units (${fmt(reprice.chargeGroups)} charge groups) after a card change (s)`,
      reprice.repriceSeconds.toFixed(2),
      `${reprice.baselineSeconds.toFixed(2)} (pass, cards unchanged)`,
      `${(reprice.repriceSeconds / Math.max(reprice.baselineSeconds, 0.001)).toFixed(1)}×`,
      '< 60 s',
      reprice.repriceSeconds < 60 ? 'yes' : 'NO',
    ]);
  }

  for (const f of parse ?? []) {
    rows.push([f.label, f.ms.toFixed(1), `${f.baselineMs.toFixed(1)} (${f.baselineLabel})`, `${(f.ms / Math.max(f.baselineMs, 0.001)).toFixed(1)}×`, '', '']);
  }

  rows.push(...(reads?.rows ?? []));

  if (stall) {
    const ms = (l: { p50: number; p99: number }) => `${l.p50.toFixed(1)} / ${l.p99.toFixed(1)}`;
    rows.push([
      `another tenant's 1-status webhook while ${fmt(stall.statuses)} statuses are re-metered (${stall.remeterSeconds.toFixed(1)} s), p50 / p99 ms`,
      ms(stall.during), `${ms(stall.baseline)} (no job)`, `${(stall.during.p99 / Math.max(stall.baseline.p99, 0.001)).toFixed(1)}×`, 'p99 < 300 ms', stall.during.p99 < 300 ? 'yes' : 'NO',
    ]);
    rows.push([`  … its balance read meanwhile, p50 / p99 ms`, ms(stall.readsDuring), '', '', 'p99 < 300 ms', stall.readsDuring.p99 < 300 ? 'yes' : 'NO']);
  }

  const results = {
    date: new Date().toISOString(),
    code,
    machine: info,
    settings: { connections: cfg.connections, durationSeconds: cfg.duration, warmupSeconds: cfg.warmup, rounds: cfg.rounds, latencyRequests: cfg.latencyRequests, loadConnections: cfg.loadConnections, loadDurationSeconds: cfg.loadDuration, units: cfg.units, prefill: cfg.prefill },
    ingestion: ingest,
    prefilled,
    pg2,
    balance,
    rssAimMb: RSS_AIM_MB,
    reprice,
    parse,
    reads,
    stall,
    totalSeconds: (Date.now() - started) / 1000,
  };
  const out = join(cfg.dir, 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

  console.log('');
  console.log(`wabameter benchmark (${codeLabel}) — ${info.cpus} CPUs, node ${info.node}, SQLite ${info.sqlite} (WAL, synchronous=FULL), fsync p50 ${info.fsyncMs.p50.toFixed(2)} ms`);
  console.log(`load: autocannon, ${cfg.connections} connections, ${cfg.duration} s after ${cfg.warmup} s warm-up, best of ${cfg.rounds} rounds; latency: ${fmt(cfg.latencyRequests)} sequential requests per query${balance ? `, data set ${fmt(balance.dataset.units)} units / 20 channels / 365 days` : ''}`);
  if (pg2) console.log(`pg2: two processes on ${pg2.database} (PostgreSQL ${await postgresVersion()}), each loaded with ${Math.floor(cfg.connections / 2)} connections; the PostgreSQL server's CPU counts as "other"`);
  console.log(`peak RSS: VmHWM of each service process (projector thread included), MiB`);
  console.log('');
  console.log(table(rows));
  console.log('');
  console.log(`results: ${out} (${Math.round(results.totalSeconds)} s)`);
}

await main();
