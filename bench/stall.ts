/**
 * Phase `stall`: does long metering work hold back other tenants? A WABA with BENCH_STALL_STATUSES
 * (200,000) delivered utility messages is re-metered after its client's business portfolio is set
 * (a re-metering job, run in slices beside ingestion); meanwhile another tenant posts 1-status
 * webhooks one after another over HTTP and reads its balance. Their latencies are reported beside
 * the same requests measured just before, with no job running (the baseline), against the aim:
 * p99 under 300 ms. The service runs in this process with the meter in its worker thread, on a
 * fresh SQLite file, as `npm start` runs it.
 */
import { mkdirSync } from 'node:fs';
import { removeSqliteFiles } from './config.ts';
import { join } from 'node:path';
import { buildApp } from '../src/api/app.ts';
import { parseWebhook } from '../src/ingest/webhook.ts';
import { createServices } from '../src/services.ts';
import { ADMIN_TOKEN, envelope, status } from '../test/helpers.ts';

const KENYA = '254712345678';
const log = (msg: string) => process.stderr.write(`[stall] ${msg}\n`);

export interface StallResult {
  statuses: number;
  remeterSeconds: number;
  baseline: Latencies;
  during: Latencies;
  readsDuring: Latencies;
}
interface Latencies { n: number; p50: number; p99: number; max: number }

function summary(ms: number[]): Latencies {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: s[s.length - 1] ?? NaN };
}

export async function benchStall(dir: string, statuses = Number(process.env.BENCH_STALL_STATUSES ?? 200_000)): Promise<StallResult> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `stall-${process.pid}.db`);
  const services = await createServices({ databaseUrl: `sqlite:${file}`, projector: 'thread' });
  const app = await buildApp(services, { adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 1 << 24, balanceRateLimit: null });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, body: body ? JSON.stringify(body) : undefined });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const partner = await call('POST', '/admin/partners', { name: 'P' }, admin);
    const key = { 'x-api-key': partner.api_key };
    const P = `/api/v2/partners/${partner.id}`;
    const tenant = async (name: string, pnid: string) => {
      const client = await call('POST', `${P}/clients`, { name, currency: 'USD', country: 'DE', payment_mode: 'direct' }, key);
      await call('POST', `${P}/clients/${client.id}/channels`, { phone_number: '+4930123', phone_number_id: pnid, waba_id: `waba-${pnid}`, app_id: '1' }, key);
      return client;
    };
    const big = await tenant('Big', 'stall-big');
    const small = await tenant('Small', 'stall-small');

    log(`ingesting ${statuses.toLocaleString('en-US')} statuses for the big WABA…`);
    const t0 = Date.parse('2026-10-01T00:00:00Z') / 1000;
    for (let i = 0; i < statuses; i += 1_000) {
      const body = envelope(Array.from({ length: Math.min(1_000, statuses - i) }, (_, k) => status({
        id: `wamid.big-${i + k}`, status: 'delivered', ts: t0 + Math.floor((i + k) / 10), recipient: KENYA, pricing: { model: 'PMP', type: 'regular', category: 'utility' },
      })), { phoneNumberId: 'stall-big', wabaId: 'waba-stall-big' });
      await services.queue.submit(parseWebhook(body).statuses);
    }
    await services.queue.drain();

    let n = 0;
    const oneStatus = async () => {
      n++;
      const body = envelope([status({ id: `wamid.small-${n}`, status: 'delivered', ts: t0 + n, recipient: KENYA, pricing: { model: 'PMP', type: 'regular', category: 'utility' } })], { phoneNumberId: 'stall-small', wabaId: 'waba-stall-small' });
      const t = performance.now();
      await call('POST', '/webhooks/whatsapp', body);
      return performance.now() - t;
    };
    const read = async () => {
      const t = performance.now();
      await call('GET', `${P}/clients/${small.id}/info/balance?granularity=month`, undefined, key);
      return performance.now() - t;
    };

    const baseline: number[] = [];
    for (let i = 0; i < 300; i++) baseline.push(await oneStatus());

    log('setting the big client\'s business portfolio: re-metering starts');
    const started = performance.now();
    await call('PATCH', `${P}/clients/${big.id}`, { business_portfolio_id: 'BP-stall' }, key);
    const during: number[] = [];
    const readsDuring: number[] = [];
    const pending = async () => (await services.store.db.selectFrom('meter_jobs').select('id').limit(1).execute()).length > 0;
    while (await pending()) {
      for (let i = 0; i < 20; i++) during.push(await oneStatus());
      readsDuring.push(await read());
    }
    const remeterSeconds = (performance.now() - started) / 1000;
    log(`re-metered in ${remeterSeconds.toFixed(1)} s; ${during.length} webhooks and ${readsDuring.length} reads of the other tenant meanwhile`);
    return { statuses, remeterSeconds, baseline: summary(baseline), during: summary(during), readsDuring: summary(readsDuring) };
  } finally {
    await app.close();
    await services.close();
    removeSqliteFiles(file);
  }
}
