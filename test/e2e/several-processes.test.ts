/**
 * Several service processes on one PostgreSQL, as a partner that outgrew one machine runs them:
 * one multi-era webhook stream split between two real processes, a fifth of the bodies sent to
 * both, the channels registered through different processes, one process killed with SIGKILL
 * halfway (its failed requests retried on the other, as Meta retries) and started again. Usage
 * read from every process must equal one clean delivery of the stream to one process, to the unit
 * and the cent.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { demoWebhookBodies, type DemoChannel } from '../../src/demo/traffic.ts';
import { ADMIN_TOKEN, freshStore, startApp, type TestStore } from '../helpers.ts';
import { startService } from './support.ts';

const utc = (y: number, m: number, d = 1) => Date.UTC(y, m - 1, d) / 1000;

const CHANNELS: DemoChannel[] = [
  { phoneNumberId: '770654035224290', wabaId: '772290129340390', displayPhoneNumber: '15550783990', audience: { DE: 3, IN: 2, BR: 1 }, dailyVolume: 12 },
  { phoneNumberId: '770654035224291', wabaId: '772290129340391', displayPhoneNumber: '15550783991', audience: { US: 2, ID: 1, NG: 1 }, dailyVolume: 12 },
];
/** CBP v1 and v2 months, early per-message pricing, Graph v24 bodies: every era's counting rules. */
const BODIES = [...demoWebhookBodies({ channels: CHANNELS, now: utc(2025, 11, 20), seed: 7, recentDays: 12 })];

interface Service { child: ChildProcess; base: string }

async function startOn(databaseUrl: string): Promise<Service> {
  const s = startService({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', WABAMETER_DEMO: '0', WABAMETER_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'silent', WABAMETER_BALANCE_RATE_LIMIT: 'off' });
  return { child: s.child, base: await s.url };
}

function stop(s: Service): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

type Send = (step: number, method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }>;

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: res.status === 204 ? undefined : await res.json() };
}

/** A partner, one client and the two channels; `send` picks the process each step goes to. */
async function register(send: Send) {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const partner = (await send(0, 'POST', '/admin/partners', { name: 'Scale-out partner' }, admin)).json;
  const key = { 'x-api-key': partner.api_key };
  const P = `/api/v2/partners/${partner.id}`;
  const client = (await send(1, 'POST', `${P}/clients`, { name: 'Shop', currency: 'USD', country: 'DE', payment_mode: 'direct', timezone: 'UTC' }, key)).json;
  for (const [i, ch] of CHANNELS.entries()) {
    const res = await send(2 + i, 'POST', `${P}/clients/${client.id}/channels`, {
      phone_number: `+${ch.displayPhoneNumber}`, phone_number_id: ch.phoneNumberId, waba_id: ch.wabaId, app_id: String(100 + i),
    }, key);
    assert.equal(res.status, 201, JSON.stringify(res.json));
  }
  return { key, balance: `${P}/clients/${client.id}/info/balance?granularity=day` };
}

let clean: TestStore;
let shared: TestStore;
before(async () => {
  clean = await freshStore('postgres');
  shared = await freshStore('postgres');
});
after(async () => {
  await clean.cleanup();
  await shared.cleanup();
});

test('two processes on one PostgreSQL, duplicates to both and one SIGKILLed midway: usage equals one clean delivery', { timeout: 600_000 }, async () => {
  // The reference: the whole stream, once, to one process.
  const reference = await startApp('postgres');
  let expected: unknown;
  try {
    const inject = (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
      reference.app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload: payload as object } : {}) });
    const { key, balance } = await register(async (_step, method, path, body, headers) => {
      const res = await inject(method, path, body, headers);
      return { status: res.statusCode, json: res.json() };
    });
    // Concurrent requests share commits (group commit); the meter does not depend on arrival order.
    for (let i = 0; i < BODIES.length; i += 32) {
      const codes = await Promise.all(BODIES.slice(i, i + 32).map(async (body) => (await inject('POST', '/webhooks/whatsapp', body)).statusCode));
      assert.ok(codes.every((c) => c === 200), codes.join(','));
    }
    const res = await inject('GET', balance, undefined, key);
    assert.equal(res.statusCode, 200, res.body);
    expected = res.json();
  } finally {
    await reference.close();
  }
  assert.ok((expected as { usage: unknown[] }).usage.length > 25, 'the stream covers many days');

  // Two processes on one store; channels registered through different ones.
  let a = await startOn(shared.url);
  const b = await startOn(shared.url);
  try {
    const { key, balance } = await register((step, method, path, body, headers) => call(step % 2 === 0 ? a.base : b.base, method, path, body, headers));

    // Body i goes to A (even) or B (odd); every fifth to the other one as well. A request that
    // fails is retried on the other process, as Meta retries a webhook that got no 200.
    const deliveries: { body: unknown; first: 'a' | 'b' }[] = [];
    BODIES.forEach((body, i) => {
      const first = i % 2 === 0 ? 'a' : 'b';
      deliveries.push({ body, first });
      if (i % 5 === 0) deliveries.push({ body, first: first === 'a' ? 'b' : 'a' });
    });
    let aAlive = true;
    let acknowledged = 0;
    let retried = 0;
    const post = async (base: string, body: unknown) => {
      try {
        return (await call(base, 'POST', '/webhooks/whatsapp', body)).status;
      } catch {
        return 0; // connection refused or reset
      }
    };
    const deliver = async (d: { body: unknown; first: 'a' | 'b' }) => {
      const useA = d.first === 'a' && aAlive;
      const status = await post(useA ? a.base : b.base, d.body);
      if (status === 200) return;
      assert.ok(useA, `process B answered ${status}`);
      // As a sender learns it: after a failed request, A is not tried again until it is back.
      aAlive = false;
      retried++;
      assert.equal(await post(b.base, d.body), 200);
    };
    const half = Math.floor(deliveries.length / 2);
    let next = 0;
    const worker = async () => {
      while (next < half) {
        await deliver(deliveries[next++]);
        acknowledged++;
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    // SIGKILL A while the first half streams in.
    while (acknowledged < half / 2) await new Promise((r) => setTimeout(r, 5));
    // A is not marked down here: the requests sent to it after the kill fail and are retried on B
    // (whether any was in flight at the kill is a matter of timing).
    a.child.kill('SIGKILL');
    await Promise.all(workers);
    assert.ok(retried > 0, 'some requests to the killed process were retried on the other');

    // A comes back; the rest of the stream is split again.
    a = await startOn(shared.url);
    aAlive = true;
    const rest = deliveries.slice(half);
    await Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < rest.length; i += 16) await deliver(rest[i]);
    }));

    for (const s of [a, b]) {
      const res = await call(s.base, 'GET', balance, undefined, key);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, expected, `usage read from ${s === a ? 'A' : 'B'} differs from one clean delivery`);
    }
  } finally {
    await stop(a);
    await stop(b);
  }
});
