/**
 * The client's balance limiter and 429 handling against the real server's rate limit.
 *
 * The server and the client share one virtual clock (the server's `nowMs`, the client's `clock`),
 * so "wait 30 s" costs nothing and the test proves what matters: at the server's real default
 * (5 requests per 30 s per client) a burst of 12 balance calls through the client meets no 429,
 * while the same burst without the limiter does. One test also runs on the wall clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_BALANCE_RATE_LIMIT } from '../../src/api/rate-limit.ts';
import { SlidingWindowLimiter, WabameterApiError, WabameterClient, type RetryEvent, type WabameterClientOptions } from '../../client/src/index.ts';
import { serve, SimulatedClock, tenant, type Served } from './support.ts';

function clientOf(s: Served, clock: SimulatedClock | undefined, opts: WabameterClientOptions = {}) {
  const events: RetryEvent[] = [];
  const api = new WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, apiKey: s.partner.api_key }, {
    ...(clock ? { clock, fetch: clock.fetch } : {}), onRetry: (e) => events.push(e), ...opts,
  });
  return { api, events };
}

describe("client limiter vs the server's default limit (5 per 30 s per client)", () => {
  const clock = new SimulatedClock(Date.now());
  let s: Served;
  before(async () => {
    assert.deepEqual(DEFAULT_BALANCE_RATE_LIMIT, { limit: 5, windowMs: 30_000 });
    s = await serve({ balanceRateLimit: DEFAULT_BALANCE_RATE_LIMIT, nowMs: () => clock.now() });
  });
  after(async () => { await s.close(); });

  test('12 balance calls at once (client and channel endpoints mixed): all answered, not one 429', async () => {
    const { client, channel } = await tenant(s);
    const { api, events } = clientOf(s, clock);
    const t0 = clock.now();
    const calls = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? api.channelBalance(client.id, channel.id) : api.balance(client.id, { granularity: 'day' })));
    const results = await Promise.all(calls);
    assert.equal(results.length, 12);
    for (const r of results) assert.ok(Array.isArray(r.usage));
    assert.deepEqual(events, [], 'no retry of any kind: the server never said 429');
    // 5 now, 5 after one window, 2 after two: the limiter waited exactly twice.
    assert.deepEqual(clock.sleeps.slice(-2), [30_250, 30_250]);
    assert.equal(clock.now() - t0, 60_500);
  });

  test('other clients of the partner are not held up by a busy one', async () => {
    const busy = await tenant(s);
    const idle = await tenant(s);
    const { api, events } = clientOf(s, clock);
    const t0 = clock.now();
    await Promise.all(Array.from({ length: 5 }, () => api.balance(busy.client.id)));
    await api.balance(idle.client.id);
    assert.equal(clock.now(), t0, 'the sixth call, for another client, did not wait');
    assert.deepEqual(events, []);
  });

  test('without the limiter the same burst is refused: the sixth call gets 429 with Retry-After', async () => {
    const { client } = await tenant(s);
    const { api } = clientOf(s, clock, { rateLimit: false, retry: { max429Retries: 0 } });
    const settled = await Promise.allSettled(Array.from({ length: 6 }, () => api.balance(client.id)));
    const refused = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(refused.length, 1);
    const err = refused[0].reason;
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.retryAfterMs, 30_000);
  });

  test('a limiter set too loose learns from the 429: it waits Retry-After, holds the queue, and every call succeeds', async () => {
    const { client } = await tenant(s);
    const { api, events } = clientOf(s, clock, { rateLimit: { limit: 8, windowMs: 30_000 } });
    const results = await Promise.all(Array.from({ length: 8 }, () => api.balance(client.id)));
    assert.equal(results.length, 8);
    const limited = events.filter((e) => e.reason === 'rate_limited');
    assert.equal(limited.length, 3, 'calls 6, 7, 8 were refused once each');
    assert.ok(limited.every((e) => e.delayMs === 30_000 && e.retry === 1), JSON.stringify(limited));
  });
});

describe('client 429 handling against a server with a tiny limit', () => {
  test('virtual clock: 2 per 10 s, a burst of 7 without the client limiter; each 429 waited out, all succeed', async () => {
    const clock = new SimulatedClock(Date.now());
    const s = await serve({ balanceRateLimit: { limit: 2, windowMs: 10_000 }, nowMs: () => clock.now() });
    try {
      const { client } = await tenant(s);
      const { api, events } = clientOf(s, clock, { rateLimit: false, retry: { max429Retries: 10 } });
      const results = await Promise.all(Array.from({ length: 7 }, () => api.balance(client.id)));
      assert.equal(results.length, 7);
      const waits = events.filter((e) => e.reason === 'rate_limited');
      assert.ok(waits.length >= 5, `${waits.length} refusals`);
      assert.ok(waits.every((e) => e.status === 429 && e.delayMs > 0 && e.delayMs <= 10_000), JSON.stringify(waits));
    } finally {
      await s.close();
    }
  });

  test('wall clock: 1 per second; the second call waits the real Retry-After and succeeds', async () => {
    const s = await serve({ balanceRateLimit: { limit: 1, windowMs: 1000 } });
    try {
      const { client } = await tenant(s);
      const { api, events } = clientOf(s, undefined, { rateLimit: false });
      const started = Date.now();
      await api.balance(client.id);
      await api.balance(client.id);
      const took = Date.now() - started;
      assert.deepEqual(events.map((e) => [e.reason, e.status, e.delayMs]), [['rate_limited', 429, 1000]]);
      assert.ok(took >= 950, `waited ${took} ms`);
    } finally {
      await s.close();
    }
  });

  test('a shared limiter keeps two client objects of one process under the limit together', async () => {
    const clock = new SimulatedClock(Date.now());
    const s = await serve({ balanceRateLimit: DEFAULT_BALANCE_RATE_LIMIT, nowMs: () => clock.now() });
    try {
      const { client } = await tenant(s);
      const limiter = new SlidingWindowLimiter({}, clock);
      const a = clientOf(s, clock, { limiter });
      const b = clientOf(s, clock, { limiter });
      await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a.api : b.api).balance(client.id)));
      assert.deepEqual([...a.events, ...b.events], []);
    } finally {
      await s.close();
    }
  });
});
