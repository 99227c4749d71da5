/**
 * Load runs (autocannon against one or several started servers, with the CPU each side used) and
 * the HTTP steps the ingestion phases share: registering the bench's channel, and the balance read
 * that tells when the meter has caught up.
 */
import autocannon from 'autocannon';
import { ADMIN_TOKEN, cfg, fmt, pct, progress } from './config.ts';
import { expectJson, machineCpuSeconds, ownCpuSeconds, requestJson, type Server } from './proc.ts';
import type { BodyFactory } from './traffic.ts';

export interface LoadRun {
  label: string;
  seconds: number;
  requestsOk: number;
  non2xx: number;
  errors: number;
  requestsPerSecond: number;
  statusesPerSecond: number;
  /** With several servers: the worst of them. */
  latencyMs: { p50: number; p99: number; max: number };
  /** CPU used over the run, as a share of one core (several servers: their sum). */
  serverCpu: number;
  driverCpu: number;
  /** CPU other processes of the machine used meanwhile (share of one core): should be ~0. */
  otherCpu: number;
}

/**
 * Waits (up to BENCH_QUIET_WAIT s, default 60) until the machine is quiet — less than 15 % of a core busy over a second — so
 * a test suite or build running beside the benchmark does not end up in its figures.
 */
export async function awaitQuiet(): Promise<void> {
  const deadline = Date.now() + cfg.quietWait * 1000;
  let warned = false;
  for (;;) {
    const a = machineCpuSeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = machineCpuSeconds() - a;
    if (!(busy > 0.15)) return;
    if (Date.now() > deadline) {
      progress(`!! the machine is still busy (${pct(busy)} of a core used by other processes); measuring anyway`);
      return;
    }
    if (!warned) progress(`waiting for other processes to finish (${pct(busy)} of a core busy)…`);
    warned = true;
  }
}

/**
 * autocannon against every server at once, the connections shared out between them (as a load
 * balancer would), for `duration` seconds: one result per server.
 */
export async function blast(servers: Server[], requests: autocannon.Request[], connections: number, duration: number): Promise<autocannon.Result[]> {
  const share = Math.max(1, Math.floor(connections / servers.length));
  return Promise.all(servers.map((s) => autocannon({ url: s.base, connections: share, duration, requests })));
}

export async function load(label: string, target: Server | Server[], requests: autocannon.Request[], opts: { connections: number; duration: number; statusesPerRequest: number }): Promise<LoadRun> {
  const servers = Array.isArray(target) ? target : [target];
  const serversCpu = () => servers.reduce((sum, s) => sum + s.cpuSeconds(), 0);
  await awaitQuiet();
  const cpu0 = serversCpu();
  const own0 = ownCpuSeconds();
  const all0 = machineCpuSeconds();
  const results = await blast(servers, requests, opts.connections, opts.duration);
  const cpu1 = serversCpu();
  const own1 = ownCpuSeconds();
  const all1 = machineCpuSeconds();
  const seconds = Math.max(...results.map((r) => r.duration));
  const sum = (f: (r: autocannon.Result) => number) => results.reduce((s, r) => s + f(r), 0);
  const worst = (f: (r: autocannon.Result) => number) => Math.max(...results.map(f));
  const ok = sum((r) => r['2xx']);
  return {
    label,
    seconds,
    requestsOk: ok,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    requestsPerSecond: ok / seconds,
    statusesPerSecond: (ok * opts.statusesPerRequest) / seconds,
    latencyMs: { p50: worst((r) => r.latency.p50), p99: worst((r) => r.latency.p99), max: worst((r) => r.latency.max) },
    serverCpu: (cpu1 - cpu0) / seconds,
    driverCpu: (own1 - own0) / seconds,
    otherCpu: Math.max(0, (all1 - all0) - (cpu1 - cpu0) - (own1 - own0)) / seconds,
  };
}

export function describeLoad(r: LoadRun): string {
  const problems = r.non2xx || r.errors ? `  !! ${r.non2xx} non-2xx, ${r.errors} errors` : '';
  const noisy = r.otherCpu > 0.1 ? `  !! other processes used ${pct(r.otherCpu)} of a core meanwhile` : '';
  return `${r.label}: ${fmt(r.statusesPerSecond)} statuses/s (${fmt(r.requestsPerSecond)} req/s, latency p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms; CPU server ${pct(r.serverCpu)}, load generator ${pct(r.driverCpu)}, other ${pct(r.otherCpu)})${problems}${noisy}`;
}

export const PHONE_NUMBER_ID = '106540352242922';
export const WABA_ID = '102290129340398';

export function webhookRequests(factory: BodyFactory): autocannon.Request[] {
  return [{
    method: 'POST',
    path: '/webhooks/whatsapp',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => {
      req.body = factory.next();
      return req;
    },
  }];
}

export interface BenchTenant {
  key: Record<string, string>;
  /** The client's balance by day from the day before `ts`'s day. */
  balancePath: string;
}

/** A partner, a client and the bench's channel, registered over HTTP as an operator would. */
export async function registerBenchChannel(base: string, ts: number): Promise<BenchTenant> {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const partner = await expectJson(base, 'POST', '/admin/partners', 201, admin, { name: 'Bench partner' });
  const key = { 'x-api-key': partner.api_key as string };
  const client = await expectJson(base, 'POST', `/api/v2/partners/${partner.id}/clients`, 201, key,
    { name: 'Bench client', currency: 'USD', country: 'DE', payment_mode: 'direct', timezone: 'UTC' });
  await expectJson(base, 'POST', `/api/v2/partners/${partner.id}/clients/${client.id}/channels`, 201, key,
    { phone_number: '+15550783881', phone_number_id: PHONE_NUMBER_ID, waba_id: WABA_ID, app_id: 'bench-app' });
  const day = Math.floor(ts / 86400) * 86400;
  return { key, balancePath: `/api/v2/partners/${partner.id}/clients/${client.id}/info/balance?granularity=day&start_date=${day - 86400}` };
}

/**
 * The balance, once the meter has caught up with every acknowledged status: a read waits for the
 * meter up to WABAMETER_READ_WAIT_MS and then answers 503 (meter_behind), so a backlog longer than
 * that is waited out by asking again.
 */
export async function caughtUpBalance(base: string, tenant: BenchTenant, timeoutMs = 30 * 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await requestJson(base, 'GET', tenant.balancePath, tenant.key);
    if (r.status === 200) return r.body;
    if (r.status !== 503 || Date.now() > deadline) throw new Error(`GET ${tenant.balancePath}: expected 200, got ${r.status}: ${r.text.slice(0, 500)}`);
  }
}

/** Statuses counted in a balance answer (every bench status is a delivered message). */
export function countedStatuses(balance: any): number {
  return (balance.usage as { messages_delivered: number }[]).reduce((sum, r) => sum + r.messages_delivered, 0);
}
