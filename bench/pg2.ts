/**
 * Phase `pg2`: two service processes on one PostgreSQL database and one Redis (docs/scale-out.md),
 * loaded at once — autocannon against each with half the connections, as a load balancer would
 * share them — with 100-status bodies, then 1-status bodies. Each round starts on a freshly
 * created database (BENCH_PG_INGEST_URL, dropped and created again; its name must contain
 * "bench"), and the two processes share the Redis at BENCH_REDIS_URL under a key prefix of their
 * own. The partner, client and channel are registered over HTTP through the first process.
 *
 * Figures: statuses/s acknowledged (both processes together) and metered (the measured run's
 * statuses ÷ (run + the time until a balance read on either process answers, i.e. the one meter
 * has caught up)), beside the bare Fastify baseline with the same bodies, measured in the same
 * round. Afterwards both processes must count at least every status acknowledged so far.
 */
import pg from 'pg';
import { cfg, fmt, nodeArgs, progress, serviceEnv } from './config.ts';
import { baselineRound, type BaselineRun } from './ingest.ts';
import { blast, caughtUpBalance, countedStatuses, describeLoad, load, PHONE_NUMBER_ID, registerBenchChannel, WABA_ID, webhookRequests, type BenchTenant, type LoadRun } from './load.ts';
import { serviceMain, startServer, type Server } from './proc.ts';
import { bodyFactory } from './traffic.ts';

/** Bodies in the order they are measured. */
const BODY_SIZES = [100, 1] as const;

export interface Pg2Run extends LoadRun {
  /** Statuses acknowledged on this round's database so far (the 1-status run follows the 100-status one). */
  acknowledged: number;
  /** The fewer of the two processes' counts afterwards. */
  stored: number;
  catchUpSeconds: number;
  /** Which process's balance read answered first (1 or 2). */
  caughtUpOn: number;
  meteredPerSecond: number;
}

export interface Pg2Figure {
  statusesPerBody: number;
  bodyBytes: number;
  /** The best round of each (the highest acknowledged rate). */
  service: Pg2Run;
  baseline: BaselineRun;
  ratio: number;
  meteredRatio: number;
}

export interface Pg2Result {
  /** Where (no credentials). */
  database: string;
  figures: Pg2Figure[];
  /** Per process, the highest of every round; the baseline's likewise. */
  peakRssMb: { processes: number[]; baseline: number };
  rounds: { service: Pg2Run[]; baseline: BaselineRun[]; peakRssMb: number[] }[];
}

/** The database of BENCH_PG_INGEST_URL, checked before anything is measured: it is dropped. */
function benchDatabaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  // Refuse anything that does not look like a bench database (the test suite's `test`, say).
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || !/bench/i.test(name)) {
    throw new Error(`BENCH_PG_INGEST_URL: database "${name}" is dropped and created at each round of phase pg2, so its name must be a plain identifier containing "bench"`);
  }
  return name;
}

/** Drops and creates the bench database, so every round starts on an empty store. */
async function freshDatabase(url: string): Promise<void> {
  const name = benchDatabaseName(url);
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

async function measure(servers: Server[], tenant: BenchTenant, statusesPerBody: number, ts: number, tag: string, acknowledgedBefore: number): Promise<Pg2Run> {
  const bodies = bodyFactory({ statusesPerBody, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID, ts, tag });
  const warm = await blast(servers, webhookRequests(bodies), cfg.connections, cfg.warmup);
  // No backlog when the measured run starts (and both processes answer for the tenant).
  await Promise.all(servers.map((s) => caughtUpBalance(s.base, tenant)));
  const run = await load(`2 × wabameter on PostgreSQL, ${statusesPerBody}-status bodies`, servers, webhookRequests(bodies),
    { connections: cfg.connections, duration: cfg.duration, statusesPerRequest: statusesPerBody });
  const t0 = Date.now();
  const reads = servers.map((s, i) => caughtUpBalance(s.base, tenant).then((body) => ({ i, body, seconds: (Date.now() - t0) / 1000 })));
  // One meter serves both: whichever process answers first shows it has caught up.
  const first = await Promise.race(reads);
  const all = await Promise.all(reads);
  const acknowledged = acknowledgedBefore + (warm.reduce((s, r) => s + r['2xx'], 0) + run.requestsOk) * statusesPerBody;
  const stored = Math.min(...all.map((r) => countedStatuses(r.body)));
  return {
    ...run,
    acknowledged,
    stored,
    catchUpSeconds: first.seconds,
    caughtUpOn: first.i + 1,
    meteredPerSecond: (run.requestsOk * statusesPerBody) / (run.seconds + first.seconds),
  };
}

async function serviceRound(round: number, ts: number): Promise<{ runs: Pg2Run[]; peakRssMb: number[] }> {
  await freshDatabase(cfg.pgIngestUrl);
  const env = {
    ...serviceEnv(cfg.pgIngestUrl),
    REDIS_URL: cfg.redisUrl,
    // Apart from any other deployment's keys in the same Redis.
    WABAMETER_REDIS_PREFIX: `wabameter-bench-${process.pid}-${round}:`,
  };
  const servers: Server[] = [];
  try {
    // One after the other: the first migrates the new database, the second finds it migrated.
    for (const n of [1, 2]) servers.push(await startServer(`wabameter ${n}`, serviceMain(), env, nodeArgs(`pg2-${n}`)));
    const tenant = await registerBenchChannel(servers[0].base, ts);
    const runs: Pg2Run[] = [];
    let acknowledged = 0;
    for (const statusesPerBody of BODY_SIZES) {
      const run = await measure(servers, tenant, statusesPerBody, ts, `g${statusesPerBody}r${round}x`, acknowledged);
      acknowledged = run.acknowledged;
      progress(describeLoad(run) + '  (other CPU includes the PostgreSQL server)');
      progress(`pg2, ${statusesPerBody}-status bodies: ${fmt(run.acknowledged)} statuses acknowledged on this database so far, ${fmt(run.stored)} counted (the fewer of the two processes' reads)${run.stored < run.acknowledged ? '  !! LOST STATUSES' : ''}; meter caught up ${run.catchUpSeconds.toFixed(1)} s after the load stopped (read on process ${run.caughtUpOn}) → ${fmt(run.meteredPerSecond)} statuses/s metered`);
      if (run.stored < run.acknowledged) throw new Error(`pg2, ${statusesPerBody}-status bodies: acknowledged statuses are missing from the store`);
      runs.push(run);
    }
    const peakRssMb: number[] = [];
    for (const s of servers) {
      await s.stop();
      peakRssMb.push(s.peakRssMb());
    }
    progress(`pg2: peak RSS ${peakRssMb.map((m) => `${fmt(m)} MB`).join(' / ')}`);
    return { runs, peakRssMb };
  } finally {
    for (const s of servers) await s.stop();
  }
}

export async function benchPg2(): Promise<Pg2Result> {
  benchDatabaseName(cfg.pgIngestUrl);
  const ts = Math.floor(Date.now() / 1000) - 60;
  const u = new URL(cfg.pgIngestUrl);
  const database = `postgres://${u.host}${u.pathname}`;
  const rounds: Pg2Result['rounds'] = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    const baseline: BaselineRun[] = [];
    for (const statusesPerBody of BODY_SIZES) {
      progress(`pg2, round ${round}/${cfg.rounds}: baseline (bare Fastify, JSON parse only), ${statusesPerBody}-status bodies…`);
      const b = await baselineRound(statusesPerBody, ts, `h${statusesPerBody}r${round}x`);
      progress(describeLoad(b));
      baseline.push(b);
    }
    progress(`pg2, round ${round}/${cfg.rounds}: two wabameter processes on ${database} (created afresh) and ${cfg.redisUrl.replace(/\/\/[^@]*@/, '//')}…`);
    const { runs, peakRssMb } = await serviceRound(round, ts);
    rounds.push({ service: runs, baseline, peakRssMb });
  }
  const best = <T extends LoadRun>(runs: T[]) => runs.reduce((a, b) => (b.statusesPerSecond > a.statusesPerSecond ? b : a));
  const figures = BODY_SIZES.map((statusesPerBody, k): Pg2Figure => {
    const service = best(rounds.map((r) => r.service[k]));
    const baseline = best(rounds.map((r) => r.baseline[k]));
    const sample = bodyFactory({ statusesPerBody, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID, ts, tag: 'sample' });
    return {
      statusesPerBody,
      bodyBytes: sample.sampleBytes,
      service,
      baseline,
      ratio: service.statusesPerSecond / baseline.statusesPerSecond,
      meteredRatio: service.meteredPerSecond / baseline.statusesPerSecond,
    };
  });
  return {
    database,
    figures,
    peakRssMb: {
      processes: [0, 1].map((i) => Math.max(...rounds.map((r) => r.peakRssMb[i]))),
      baseline: Math.max(...rounds.flatMap((r) => r.baseline.map((b) => b.peakRssMb))),
    },
    rounds,
  };
}
