/**
 * The bench's settings from the environment (documented in bench/run.ts's header), and the small
 * helpers every phase driven by bench/run.ts shares: progress lines, number formats, how the
 * service under test is configured.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventLogFile } from '../src/store/database.ts';

/** A positive integer from the environment (`_` allowed as a separator), or the default. */
export const envInt = (name: string, dflt: number) => {
  const v = process.env[name];
  if (v == null || v === '') return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
};

/** Every phase, in the order they run. */
export const PHASES = ['single', 'batch', 'prefilled', 'pg2', 'balance', 'reprice', 'parse', 'reads', 'stall'] as const;

function only(): Set<string> {
  const names = (process.env.BENCH_ONLY || PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  // A misspelt phase would otherwise be skipped without a word.
  const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown phase(s) ${unknown.join(', ')}; known: ${PHASES.join(',')}`);
  return new Set(names);
}

export const cfg = {
  units: envInt('BENCH_UNITS', 5_000_000),
  prefill: envInt('BENCH_PREFILL', 5_000_000),
  duration: envInt('BENCH_DURATION', 10),
  warmup: envInt('BENCH_WARMUP', 3),
  connections: envInt('BENCH_CONNECTIONS', 64),
  latencyRequests: envInt('BENCH_LATENCY_REQUESTS', 1000),
  rounds: envInt('BENCH_ROUNDS', 2),
  loadConnections: 8,
  loadDuration: 5,
  dir: process.env.BENCH_DIR || '/tmp/wabameter-bench',
  only: only(),
  cpuProf: process.env.BENCH_CPU_PROF === '1',
  rebuild: process.env.BENCH_REBUILD === '1',
  quietWait: Number(process.env.BENCH_QUIET_WAIT ?? 60),
  pgIngestUrl: process.env.BENCH_PG_INGEST_URL || 'postgres://postgres@127.0.0.1:5432/wabameter_bench_ingest',
  redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
};

/** The aim for every service process's peak resident set. */
export const RSS_AIM_MB = 300;

export const ADMIN_TOKEN = 'bench-admin-token';
export const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
export const pct = (n: number) => `${fmt(100 * n, 0)} %`;

export function serviceEnv(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    WABAMETER_DEMO: '0',
    WABAMETER_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
    // The Partner API's limit on info/balance (5 per 30 s per client by default) would refuse
    // all but 5 of the latency requests: raised out of the way, its hook still runs.
    WABAMETER_BALANCE_RATE_LIMIT: '1000000/1s',
  };
}

export function nodeArgs(tag: string): string[] {
  if (!cfg.cpuProf) return [];
  const dir = join(cfg.dir, 'profiles');
  mkdirSync(dir, { recursive: true });
  // One profile per thread (tsx's loader runs in its own): keep Node's naming, pid and thread id.
  const sub = join(dir, `${tag}-${Date.now()}`);
  mkdirSync(sub, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${sub}`];
}

/** Every file of an embedded store: the store's, its event log's, and their write-ahead logs. */
export function sqliteFiles(file: string): string[] {
  return [file, eventLogFile(file)].flatMap((f) => [f, `${f}-wal`, `${f}-shm`]);
}

export function removeSqliteFiles(file: string): void {
  for (const f of sqliteFiles(file)) rmSync(f, { force: true });
}

/** Renames a closed store (its write-ahead logs are gone once its last connection closed). */
export function renameSqliteFiles(from: string, to: string): void {
  renameSync(from, to);
  renameSync(eventLogFile(from), eventLogFile(to));
}
