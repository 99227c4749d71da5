/**
 * Phases `single`, `batch` and `prefilled`: webhook ingestion over HTTP into the real service on a
 * SQLite file, in alternating rounds of
 *   - the bare Fastify baseline (single, batch),
 *   - the service on a fresh, empty store,
 *   - the service on a fresh copy of a store that already holds BENCH_PREFILL status events and
 *     their projections (prefilled; the empty-store rounds are its baseline).
 * The empty-store rounds serve both comparisons when both are asked for.
 */
import { closeSync, constants, copyFileSync, existsSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cfg, fmt, nodeArgs, progress, serviceEnv, sqliteFiles } from './config.ts';
import type { Dataset } from './dataset.ts';
import { blast, caughtUpBalance, countedStatuses, describeLoad, load, PHONE_NUMBER_ID, registerBenchChannel, WABA_ID, webhookRequests, type LoadRun } from './load.ts';
import { serviceMain, startServer } from './proc.ts';
import { bodyFactory } from './traffic.ts';

export interface ServiceRun extends LoadRun {
  /** Statuses acknowledged with a 200 (warm-up + measured run) and counted in the store afterwards. */
  acknowledged: number;
  stored: number;
  /** Seconds after the load stopped until a balance read answered (the meter caught up). */
  catchUpSeconds: number;
  /** Statuses of the measured run / (run + catch-up): what the meter sustains, not just acknowledges. */
  meteredPerSecond: number;
  /** The service process's peak resident set (VmHWM, MiB), read just before it was stopped. */
  peakRssMb: number;
}

export interface BaselineRun extends LoadRun {
  peakRssMb: number;
}

export interface IngestResult {
  statusesPerBody: number;
  bodyBytes: number;
  /** The best round of each (the highest rate: interference only ever slows a run down). */
  service: ServiceRun;
  baseline: BaselineRun;
  ratio: number;
  /** The highest of every round (not only the best one's). */
  peakRssMb: { service: number; baseline: number };
  rounds: { service: ServiceRun; baseline: BaselineRun }[];
}

export interface PrefilledResult {
  statusesPerBody: number;
  /** Status events in the store before the run (the cached data set's units). */
  events: number;
  dataset: string;
  /** The best round of each. */
  prefilled: ServiceRun;
  empty: ServiceRun;
  /** Prefilled ÷ empty, acknowledged and metered. */
  ratio: number;
  meteredRatio: number;
  peakRssMb: { prefilled: number; empty: number };
  /** Seconds to copy the cached store for one run (not measured time). */
  copySeconds: number;
  rounds: { prefilled: ServiceRun; empty: ServiceRun }[];
}

/** The bare Fastify endpoint parsing the same bodies. */
export async function baselineRound(statusesPerBody: number, ts: number, tag: string): Promise<BaselineRun> {
  const bare = await startServer('bare fastify', 'bench/bare-server.ts', { PORT: '0', HOST: '127.0.0.1' });
  try {
    const bodies = bodyFactory({ statusesPerBody, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID, ts, tag });
    await blast([bare], webhookRequests(bodies), cfg.connections, cfg.warmup);
    const run = await load(`baseline, ${statusesPerBody}-status bodies`, bare, webhookRequests(bodies),
      { connections: cfg.connections, duration: cfg.duration, statusesPerRequest: statusesPerBody });
    await bare.stop();
    return { ...run, peakRssMb: bare.peakRssMb() };
  } finally {
    await bare.stop();
  }
}

/**
 * A fresh copy of the cached prefilled store, so no run sees another's statuses. Flushed to disk
 * before it is used: otherwise the copy's gigabytes are written back during the measured run and
 * slow its commits.
 */
function copyStore(source: string, target: string): number {
  const t0 = Date.now();
  const targets = sqliteFiles(target);
  sqliteFiles(source).forEach((from, i) => {
    if (from.endsWith('-shm') || !existsSync(from)) return;
    copyFileSync(from, targets[i], constants.COPYFILE_FICLONE); // a reflink where the file system has them
    const fd = openSync(targets[i], 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });
  return (Date.now() - t0) / 1000;
}

/**
 * The real service on a SQLite file — new, or a fresh copy of `prefilled` — with the bench's
 * channel registered over HTTP; then webhooks.
 */
async function serviceRound(statusesPerBody: number, ts: number, tag: string, prefilled?: Dataset): Promise<{ run: ServiceRun; copySeconds: number }> {
  const tmp = mkdtempSync(join(cfg.dir, 'ingest-'));
  try {
    const file = join(tmp, 'ingest.db');
    const copySeconds = prefilled ? copyStore(prefilled.file, file) : 0;
    if (prefilled) progress(`store copied and flushed in ${copySeconds.toFixed(1)} s`);
    const what = prefilled ? `prefilled-${statusesPerBody}` : `ingest-${statusesPerBody}`;
    const service = await startServer('wabameter', serviceMain(), serviceEnv(`sqlite:${file}`), nodeArgs(what), 10 * 60_000);
    try {
      const tenant = await registerBenchChannel(service.base, ts);
      const bodies = bodyFactory({ statusesPerBody, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID, ts, tag });
      const [warm] = await blast([service], webhookRequests(bodies), cfg.connections, cfg.warmup);
      // A balance read answers once the meter has caught up with every acknowledged status
      // (where acknowledging and metering are decoupled): start the measured run with no backlog.
      await caughtUpBalance(service.base, tenant);
      const label = `wabameter${prefilled ? ` on ${fmt(prefilled.units)} events` : ''}, ${statusesPerBody}-status bodies`;
      const run = await load(label, service, webhookRequests(bodies),
        { connections: cfg.connections, duration: cfg.duration, statusesPerRequest: statusesPerBody });
      // How long the meter still needs for what was acknowledged: the sustainable rate counts it.
      const t0 = Date.now();
      const b = await caughtUpBalance(service.base, tenant);
      const catchUpSeconds = (Date.now() - t0) / 1000;
      // Everything acknowledged must be in the rollup (requests still in flight when the load
      // generator stopped may have been stored too, so stored ≥ acknowledged).
      const acknowledged = (warm['2xx'] + run.requestsOk) * statusesPerBody;
      const stored = countedStatuses(b);
      const meteredPerSecond = (run.requestsOk * statusesPerBody) / (run.seconds + catchUpSeconds);
      await service.stop();
      return { run: { ...run, acknowledged, stored, catchUpSeconds, meteredPerSecond, peakRssMb: service.peakRssMb() }, copySeconds };
    } finally {
      await service.stop();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function checkRun(name: string, s: ServiceRun): void {
  progress(describeLoad(s));
  progress(`${name}: ${fmt(s.acknowledged)} statuses acknowledged, ${fmt(s.stored)} counted in the store${s.stored < s.acknowledged ? '  !! LOST STATUSES' : ''}; meter caught up ${s.catchUpSeconds.toFixed(1)} s after the load stopped → ${fmt(s.meteredPerSecond)} statuses/s metered; peak RSS ${fmt(s.peakRssMb)} MB`);
  if (s.stored < s.acknowledged) throw new Error(`${name}: acknowledged statuses are missing from the store`);
}

const best = <T extends LoadRun>(runs: T[]) => runs.reduce((a, b) => (b.statusesPerSecond > a.statusesPerSecond ? b : a));
const highest = (xs: number[]) => Math.max(...xs);

export async function ingestion(statusesPerBody: number, parts: { bare: boolean; prefilled?: Dataset }): Promise<{ ingest?: IngestResult; prefilled?: PrefilledResult }> {
  const ts = Math.floor(Date.now() / 1000) - 60;
  const name = `${statusesPerBody}-status bodies`;
  const rounds: { baseline?: BaselineRun; empty: ServiceRun; prefilled?: ServiceRun }[] = [];
  let copySeconds = 0;
  for (let round = 1; round <= cfg.rounds; round++) {
    let baseline: BaselineRun | undefined;
    if (parts.bare) {
      progress(`${name}, round ${round}/${cfg.rounds}: baseline (bare Fastify, JSON parse only)…`);
      baseline = await baselineRound(statusesPerBody, ts, `b${statusesPerBody}r${round}x`);
      progress(describeLoad(baseline));
    }
    progress(`${name}, round ${round}/${cfg.rounds}: wabameter (production build, SQLite WAL synchronous=FULL), empty store…`);
    const { run: empty } = await serviceRound(statusesPerBody, ts, `s${statusesPerBody}r${round}x`);
    checkRun(name, empty);
    let prefilled: ServiceRun | undefined;
    if (parts.prefilled) {
      progress(`${name}, round ${round}/${cfg.rounds}: wabameter on a copy of ${parts.prefilled.file} (${fmt(parts.prefilled.units)} status events)…`);
      ({ run: prefilled, copySeconds } = await serviceRound(statusesPerBody, ts, `p${statusesPerBody}r${round}x`, parts.prefilled));
      checkRun(`${name}, prefilled store`, prefilled);
    }
    rounds.push({ baseline, empty, prefilled });
  }
  const empties = rounds.map((r) => r.empty);
  const sample = bodyFactory({ statusesPerBody, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID, ts, tag: 'sample' });
  const out: { ingest?: IngestResult; prefilled?: PrefilledResult } = {};
  if (parts.bare) {
    const baselines = rounds.map((r) => r.baseline!);
    const service = best(empties);
    const baseline = best(baselines);
    out.ingest = {
      statusesPerBody,
      bodyBytes: sample.sampleBytes,
      service,
      baseline,
      ratio: service.statusesPerSecond / baseline.statusesPerSecond,
      peakRssMb: { service: highest(empties.map((r) => r.peakRssMb)), baseline: highest(baselines.map((r) => r.peakRssMb)) },
      rounds: rounds.map((r) => ({ service: r.empty, baseline: r.baseline! })),
    };
  }
  if (parts.prefilled) {
    const fulls = rounds.map((r) => r.prefilled!);
    const prefilled = best(fulls);
    const empty = best(empties);
    out.prefilled = {
      statusesPerBody,
      events: parts.prefilled.units,
      dataset: parts.prefilled.file,
      prefilled,
      empty,
      ratio: prefilled.statusesPerSecond / empty.statusesPerSecond,
      meteredRatio: prefilled.meteredPerSecond / empty.meteredPerSecond,
      peakRssMb: { prefilled: highest(fulls.map((r) => r.peakRssMb)), empty: highest(empties.map((r) => r.peakRssMb)) },
      copySeconds,
      rounds: rounds.map((r) => ({ prefilled: r.prefilled!, empty: r.empty })),
    };
  }
  return out;
}
