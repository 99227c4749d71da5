/**
 * The year-long data set for the `info/balance` latency: one client, 20 channels (two WABAs, three
 * time zones), `units` delivered PMP messages spread evenly over the 365 UTC days before the build
 * day, mixed categories, pricing types and recipient countries.
 *
 * It is built through the real meter path, in process: tenants are registered with the tenants
 * service, and webhook envelopes (the test suite's builders) go through `parseWebhook` and
 * `services.queue.submit` in batches of 20,000 statuses — the path the webhook route uses (the
 * group-commit append to the event log, then the meter's projections and rollups); after each
 * batch the builder waits for the meter (`queue.drain()`). Nothing writes rollups directly.
 *
 * The file is cached under the bench directory, keyed by its parameters, the generator version and
 * a fingerprint of the store schema, and reused while a complete build (its sidecar JSON) exists.
 * Its event log holds every unit as a status event, so phase `prefilled` (bench/ingest.ts) also
 * uses it, with BENCH_PREFILL units, as a store already holding that many: fresh copies of it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { removeSqliteFiles, renameSqliteFiles } from './config.ts';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../src/store/database.ts';
import { parseWebhook } from '../src/ingest/webhook.ts';
import type { NormalizedStatus } from '../src/ingest/status.ts';
import { createServices } from '../src/services.ts';
import { deliveredSpec, messageId, MIX, prng, RECIPIENTS, weighted } from './traffic.ts';
import { envelope, status } from '../test/helpers.ts';

/** Bump when the generator changes, so an old cached file is not mistaken for a new one. */
const GENERATOR_VERSION = 2;
const DAY = 86_400;

/**
 * Sends generated statuses (status() bodies, per channel index) through the webhook parser and the
 * ingest queue in bodies of at most 1,000 (Meta's maximum), and waits until they are metered.
 */
export async function submitBodies(
  services: Awaited<ReturnType<typeof createServices>>,
  channels: { phoneNumberId: string; wabaId: string }[],
  perChannel: Map<number, Record<string, unknown>[]>,
  expected: number,
): Promise<void> {
  const statuses: NormalizedStatus[] = [];
  for (const [c, list] of perChannel) {
    for (let k = 0; k < list.length; k += 1000) {
      const parsed = parseWebhook(envelope(list.slice(k, k + 1000), { phoneNumberId: channels[c].phoneNumberId, wabaId: channels[c].wabaId }));
      if (parsed.refused.length) throw new Error(`generator produced refused statuses: ${JSON.stringify(parsed.refused.slice(0, 3))}`);
      statuses.push(...parsed.statuses);
    }
  }
  const outcome = await services.queue.submit(statuses);
  if (outcome.stored !== expected) throw new Error(`expected ${expected} statuses stored, got ${outcome.stored} (${outcome.duplicates} duplicates)`);
  await services.queue.drain();
}

export interface DatasetParams {
  units: number;
  channels: number;
  days: number;
}

export interface Dataset extends DatasetParams {
  file: string;
  generator: number;
  partnerId: string;
  apiKey: string;
  clientId: string;
  channelIds: string[];
  /** First UTC day (unix s) with usage; the last is firstDay + (days - 1) days. */
  firstDay: number;
  builtAt: string;
  buildSeconds: number;
  bytes: number;
}

const log = (msg: string) => process.stderr.write(`[dataset] ${msg}\n`);

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  return m > 0 ? `${m}m${String(total % 60).padStart(2, '0')}s` : `${total}s`;
}

/**
 * A fingerprint of the store's schema as this build creates it (the SQL of every table and index
 * after all migrations, on an empty in-memory store): a cached file is only reused by a build
 * whose schema is identical.
 */
export async function schemaFingerprint(): Promise<string> {
  const store = await openStore('sqlite::memory:');
  try {
    const { rows } = await sql<{ type: string; name: string; sql: string | null }>`select type, name, sql from main.sqlite_master
      union all select type, 'log.' || name, sql from log.sqlite_master order by type, name`.execute(store.db);
    return createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 10);
  } finally {
    await store.close();
  }
}

function removeDataset(dir: string, base: string): void {
  for (const f of [`${base}.db`, `${base}.db.partial`]) removeSqliteFiles(join(dir, f));
  rmSync(join(dir, `${base}.json`), { force: true });
}

export async function ensureDataset(dir: string, params: DatasetParams, opts: { rebuild?: boolean } = {}): Promise<Dataset> {
  mkdirSync(dir, { recursive: true });
  const prefix = `year-u${params.units}-ch${params.channels}-d${params.days}-g${GENERATOR_VERSION}`;
  const name = `${prefix}-s${await schemaFingerprint()}`;
  const file = join(dir, `${name}.db`);
  const sidecar = join(dir, `${name}.json`);
  // Files of the same parameters built for another schema can never be used again (GBs each).
  for (const f of readdirSync(dir)) {
    const m = /^(year-u\d+-ch\d+-d\d+-g\d+(?:-s[0-9a-f]+)?)\.json$/.exec(f);
    if (m && m[1] !== name && m[1].startsWith(`year-u${params.units}-ch${params.channels}-d${params.days}-`)) {
      log(`removing ${m[1]} (built for another store schema or generator)`);
      removeDataset(dir, m[1]);
    }
  }
  if (opts.rebuild) removeDataset(dir, name);
  if (existsSync(file) && existsSync(sidecar)) {
    const ds = JSON.parse(readFileSync(sidecar, 'utf8')) as Dataset;
    log(`reusing ${file} (${(ds.bytes / 1e9).toFixed(2)} GB, built ${ds.builtAt} in ${fmtDuration(ds.buildSeconds)})`);
    return ds;
  }
  const partial = `${file}.partial`;
  removeDataset(dir, name);
  log(`building ${file}: ${params.units.toLocaleString('en-US')} units over ${params.channels} channels and ${params.days} days (cached for later runs)`);
  const built = await build(partial, params);
  renameSqliteFiles(partial, file);
  const ds: Dataset = { ...built, file, bytes: statSync(file).size };
  writeFileSync(sidecar, JSON.stringify(ds, null, 2));
  return ds;
}

const BATCH = 20_000; // IngestQueue's default maxBatch: one submit = one append transaction

async function build(file: string, params: DatasetParams): Promise<Omit<Dataset, 'file' | 'bytes'>> {
  const started = Date.now();
  const services = await createServices({ databaseUrl: `sqlite:${file}` });
  try {
    const partner = await services.tenants.createPartner('Bench partner');
    const client = await services.tenants.createClient(partner.id, { name: 'Year-long client', currency: 'USD', country: 'DE', payment_mode: 'partner', timezone: 'UTC' });
    const zones = ['UTC', 'Europe/Berlin', 'Asia/Kolkata'];
    const channels: { id: string; phoneNumberId: string; wabaId: string; weight: number }[] = [];
    for (let c = 0; c < params.channels; c++) {
      const phoneNumberId = `20${String(1000000000000 + c)}`;
      const wabaId = c < params.channels / 2 ? '300000000000001' : '300000000000002';
      const { channel } = await services.tenants.createChannel(partner.id, client.id, {
        phone_number: `+1555${String(2000000 + c)}`,
        phone_number_id: phoneNumberId,
        waba_id: wabaId,
        app_id: c % 4 === 0 ? 'app-b' : 'app-a',
        timezone: zones[c % zones.length],
      });
      // Uneven traffic: the busiest number sends about 8× the quietest.
      channels.push({ id: channel.id, phoneNumberId, wabaId, weight: 1 + ((c * 7) % 8) });
    }

    const firstDay = Math.floor(Date.now() / 1000 / DAY) * DAY - params.days * DAY;
    const rnd = prng(20260101);
    // A recurring audience: 50,000 recipients per country, so numbers repeat as they do in practice.
    const recipient = (who: (typeof RECIPIENTS)[number]) => `${who.prefix}${String(Math.floor(rnd() * 50_000) * 7 + 1_000).padStart(who.digits, '0')}`;

    let done = 0;
    let lastReport = Date.now();
    let lastDone = 0;
    while (done < params.units) {
      const n = Math.min(BATCH, params.units - done);
      const perChannel = new Map<number, Record<string, unknown>[]>();
      for (let i = 0; i < n; i++) {
        const unit = done + i;
        const day = firstDay + Math.floor((unit * params.days) / params.units) * DAY;
        const c = channels.indexOf(weighted(channels, rnd));
        const ts = day + Math.floor(rnd() * DAY);
        const spec = deliveredSpec(messageId('Y', unit), ts, recipient(weighted(RECIPIENTS, rnd)), weighted(MIX, rnd));
        let list = perChannel.get(c);
        if (!list) perChannel.set(c, (list = []));
        list.push(status(spec));
      }
      // Metered too (submitBodies drains), so progress shows the meter's pace.
      await submitBodies(services, channels, perChannel, n);
      done += n;
      if (Date.now() - lastReport > 5_000 || done === params.units) {
        // The current rate falls as the store grows (see docs/benchmarks.md): the ETA uses it.
        const current = (done - lastDone) / ((Date.now() - lastReport) / 1000);
        lastReport = Date.now();
        lastDone = done;
        const rate = done / ((Date.now() - started) / 1000);
        log(`${done.toLocaleString('en-US')} / ${params.units.toLocaleString('en-US')} units (${((100 * done) / params.units).toFixed(1)} %), now ${Math.round(current).toLocaleString('en-US')}/s (average ${Math.round(rate).toLocaleString('en-US')}/s), ETA ${fmtDuration((params.units - done) / current)}`);
      }
    }
    await services.queue.drain();

    // The data set must say what it claims: every unit counted, on every day.
    const ch = await services.tenants.listChannels(partner.id, client.id);
    const b = await services.usage.balance(client, ch, { start: firstDay, end: firstDay + params.days * DAY - 1, granularity: 'day' }, 'client');
    const units = b.usage.reduce((s, r) => s + Number(r.quantity), 0);
    if (units !== params.units) throw new Error(`data set check: ${units} units counted, ${params.units} expected`);
    if (params.units >= params.days && b.usage.length !== params.days) throw new Error(`data set check: ${b.usage.length} days with usage, ${params.days} expected`);
    log(`checked: ${units.toLocaleString('en-US')} units on ${b.usage.length} days`);

    return {
      ...params,
      generator: GENERATOR_VERSION,
      partnerId: partner.id,
      apiKey: partner.api_key,
      clientId: client.id,
      channelIds: channels.map((c) => c.id),
      firstDay,
      builtAt: new Date().toISOString(),
      buildSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    await services.close();
  }
}
