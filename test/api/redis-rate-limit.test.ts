/**
 * The balance rate limit's Redis store (src/api/redis-rate-limit.ts) against the real local Redis
 * (`TEST_REDIS_URL`, default redis://127.0.0.1:6379), every key under a prefix unique to this
 * run and deleted at the end: the same sliding window as the in-memory store on an injected
 * clock, refused requests not counted, keys that expire, one limit shared by separate
 * connections, the headers through the app, and what happens when Redis is unreachable, hangs and
 * comes back (a TCP proxy in front of Redis plays the outage).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { DEFAULT_BALANCE_RATE_LIMIT, MemoryRateLimitStore, type RateLimitRule } from '../../src/api/rate-limit.ts';
import { RedisRateLimitStore, type RedisRateLimitOptions } from '../../src/api/redis-rate-limit.ts';
import { ADMIN_TOKEN, startApp, type TestApp } from '../helpers.ts';
import { assertEnvelope, assertSlidingWindow, manualClock, newTenant } from '../auth/auth-helpers.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS = new URL(REDIS_URL);
const PREFIX = `wabameter-test:${process.pid}-${Date.now()}:`;
const rule: RateLimitRule = { limit: 3, windowMs: 10_000 };

const admin = new Redis(REDIS_URL);
const stores: RedisRateLimitStore[] = [];
let keyCounter = 0;
/** A key no other test uses. */
const freshKey = (name: string) => `${name}-${++keyCounter}`;

interface Logged { warn: string[]; info: string[] }

/** A store of this run's prefix with short timeouts; its log lines are collected. */
function newStore(opts: Partial<RedisRateLimitOptions> = {}): { store: RedisRateLimitStore; logged: Logged } {
  const logged: Logged = { warn: [], info: [] };
  const store = new RedisRateLimitStore({
    url: REDIS_URL, prefix: PREFIX, commandTimeoutMs: 200, probeIntervalMs: 100, reconnectMaxDelayMs: 100,
    log: { warn: (m) => logged.warn.push(m), info: (m) => logged.info.push(m) },
    ...opts,
  });
  stores.push(store);
  return { store, logged };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const isUp = (s: RedisRateLimitStore) => s.health().redis === 'up';

async function upStore(opts: Partial<RedisRateLimitOptions> = {}) {
  const made = newStore(opts);
  await waitFor('redis up', () => isUp(made.store));
  return made;
}

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * A TCP proxy to Redis that can be stopped (connections refused and cut: Redis is gone), paused
 * (requests held back, nothing answered: Redis hangs) and started again on the same port.
 */
class RedisProxy {
  port = 0;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private held: Array<() => void> | null = null;
  /** Rate-limit scripts the clients sent through the proxy (EVAL/EVALSHA commands), counted. */
  scripts = 0;

  async start() {
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(REDIS.port || 6379), REDIS.hostname);
      this.sockets.add(client).add(upstream);
      client.on('data', (d: Buffer) => {
        this.scripts += (d.toString('latin1').match(/EVAL(SHA)?\r\n/gi) ?? []).length;
        return this.held ? this.held.push(() => upstream.write(d)) : upstream.write(d);
      });
      upstream.on('data', (d) => client.write(d));
      for (const [a, b] of [[client, upstream], [upstream, client]]) {
        a.on('error', () => b.destroy());
        a.on('close', () => { b.destroy(); this.sockets.delete(a); });
      }
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop() {
    const closed = new Promise((r) => this.server?.close(r));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  pause() { this.held = []; }

  resume() {
    const held = this.held ?? [];
    this.held = null;
    for (const send of held) send();
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }
}

before(async () => { await admin.ping(); });

after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  // Nothing of this run stays in Redis.
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  assert.deepEqual(await admin.keys(`${PREFIX}*`), []);
  await admin.quit();
});

describe('RedisRateLimitStore: the sliding window', () => {
  test('counts accepted requests in a sliding window; refused ones are not counted (the in-memory store\'s own sequence)', async () => {
    const { store } = await upStore();
    await assertSlidingWindow(store, rule, freshKey('seq'), freshKey('other'));
  });

  test('decides exactly as the in-memory store, request by request (random arrivals); any window holds at most `limit`', async () => {
    const { store } = await upStore();
    const memory = new MemoryRateLimitStore();
    const key = freshKey('random');
    let now = 1_000_000;
    let seed = 11;
    const accepted: number[] = [];
    for (let i = 0; i < 600; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      now += seed % 3000;
      const [r, m] = await Promise.all([store.hit(key, rule, now), memory.hit(key, rule, now)]);
      assert.deepEqual(r, m, `request ${i} at ${now}`);
      if (r.allowed) accepted.push(now);
    }
    for (let i = rule.limit; i < accepted.length; i++) assert.ok(accepted[i] - accepted[i - rule.limit] >= rule.windowMs, `at ${accepted[i]}`);
    assert.ok(accepted.length > 100);
  });

  test('a client retrying too early is refused without pushing its reset back, and never holds more than `limit` entries', async () => {
    const { store } = await upStore();
    const key = freshKey('retry');
    for (let t = 0; t < 3; t++) assert.equal((await store.hit(key, rule, t * 100)).allowed, true);
    for (let t = 1000; t < 9_999; t += 250) {
      const d = await store.hit(key, rule, t);
      assert.equal(d.allowed, false);
      assert.equal(d.retryAfterMs, 10_000 - t);
    }
    assert.equal(await admin.zcard(`${PREFIX}ratelimit:${key}`), 3);
    assert.equal((await store.hit(key, rule, 10_000)).allowed, true);
  });

  test('keys are namespaced and expire a window after their newest request; a refused request does not extend them', async () => {
    const { store } = await upStore();
    const key = freshKey('ttl');
    const redisKey = `${PREFIX}ratelimit:${key}`;
    const short: RateLimitRule = { limit: 1, windowMs: 400 };
    assert.equal((await store.hit(key, short, Date.now())).allowed, true);
    const ttl = await admin.pttl(redisKey);
    assert.ok(ttl > 0 && ttl <= 400, `pttl ${ttl}`);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await store.hit(key, short, Date.now())).allowed, false);
    assert.ok((await admin.pttl(redisKey)) <= 400 - 150 + 20, 'refused: the expiry stays');
    await waitFor('the key to expire', async () => (await admin.exists(redisKey)) === 0, 2000);
    // Nothing outside the prefix was written.
    assert.deepEqual(await admin.keys(`*${key}`), []);
  });
});

describe('RedisRateLimitStore: one limit for every connection', () => {
  test('two stores (two connections, as two processes would have) share one limit', async () => {
    const [{ store: a }, { store: b }] = await Promise.all([upStore(), upStore()]);
    const key = freshKey('shared');
    assert.equal((await a.hit(key, rule, 0)).remaining, 2);
    assert.equal((await b.hit(key, rule, 1000)).remaining, 1);
    assert.equal((await a.hit(key, rule, 2000)).remaining, 0);
    for (const s of [a, b]) assert.deepEqual(await s.hit(key, rule, 3000), { allowed: false, remaining: 0, resetMs: 9000, retryAfterMs: 7000 });
    assert.equal((await b.hit(key, rule, 10_000)).allowed, true);
  });

  test('a Redis that lost its scripts (restarted) is still used: the script is loaded again', async () => {
    const { store, logged } = await upStore();
    const key = freshKey('noscript');
    assert.equal((await store.hit(key, rule, 0)).remaining, 2);
    await admin.script('FLUSH');
    assert.equal((await store.hit(key, rule, 0)).remaining, 1);
    assert.equal(await admin.zcard(`${PREFIX}ratelimit:${key}`), 2);
    assert.ok(isUp(store));
    assert.deepEqual(logged.warn, []);
  });

  test('concurrent requests on both connections: exactly `limit` accepted (check-and-add is atomic)', async () => {
    const [{ store: a }, { store: b }] = await Promise.all([upStore(), upStore()]);
    const key = freshKey('race');
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).hit(key, rule, 5000)));
    assert.equal(decisions.filter((d) => d.allowed).length, rule.limit);
  });
});

describe('the balance rate limit through the app, counted in Redis', () => {
  let t: TestApp;
  let second: FastifyInstance;
  const clock = manualClock();
  before(async () => {
    const [{ store: a }, { store: b }] = await Promise.all([upStore(), upStore()]);
    t = await startApp('sqlite', { balanceRateLimit: DEFAULT_BALANCE_RATE_LIMIT, rateLimitStore: a, nowMs: clock.now });
    // A second app on the same data with its own Redis connection: a second process, in-process.
    second = await buildApp(t.services, {
      adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 16 * 1024 * 1024,
      balanceRateLimit: DEFAULT_BALANCE_RATE_LIMIT, rateLimitStore: b, nowMs: clock.now,
    });
  });
  after(async () => {
    await second.close();
    await t.close();
  });

  const balanceOf = (app: FastifyInstance, tn: Awaited<ReturnType<typeof newTenant>>) =>
    app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/balance`, headers: tn.partner.headers });

  test('headers keep their meaning; five requests over both apps pass, the sixth is a 429 on either', async () => {
    const tn = await newTenant(t.app);
    for (let i = 1; i <= 5; i++) {
      const res = await balanceOf(i % 2 ? t.app : second, tn);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual([res.headers['x-ratelimit-limit'], res.headers['x-ratelimit-remaining'], res.headers['x-ratelimit-reset']], ['5', String(5 - i), '30']);
      clock.advance(2000);
    }
    for (const app of [t.app, second]) {
      const refused = await balanceOf(app, tn);
      assertEnvelope(refused, 429, 'rate_limited');
      assert.equal(refused.headers['retry-after'], '20');
      assert.equal(refused.headers['x-ratelimit-reset'], '28');
      assert.equal(refused.headers['x-ratelimit-remaining'], '0');
    }
    clock.advance(20_000);
    const again = await balanceOf(second, tn);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.headers['x-ratelimit-remaining'], '0');
    clock.advance(30_000);
  });

  test('/healthz: ok, counted in Redis, shared, Redis up', async () => {
    for (const app of [t.app, second]) {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'ok', rate_limit: { store: 'redis', shared: true, redis: 'up' } });
    }
  });
});

describe('RedisRateLimitStore when Redis is unreachable (fail-open to a per-process limit)', () => {
  test('nothing listening: requests are answered at once by this process\'s own limit; health down; one warning', async () => {
    const { store, logged } = newStore({ url: `redis://127.0.0.1:${await closedPort()}` });
    await waitFor('health down', () => store.health().redis === 'down');
    const key = freshKey('closed');
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await store.hit(key, rule, 1000 * i));
    assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, false, false]);
    assert.equal(decisions[3].retryAfterMs, 7000);
    assert.deepEqual(store.health(), { store: 'redis', shared: false, redis: 'down' });
    // Several reconnection attempts later: still one line.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(logged.warn.length, 1, logged.warn.join('\n'));
    assert.match(logged.warn[0], /unreachable.*limited per process/);
    assert.deepEqual(logged.info, []);
    await store.close();
  });

  test('through the app: balance requests are served (200, then 429 past the per-process limit, never 500); /healthz ok with Redis down', async () => {
    const { store } = newStore({ url: `redis://127.0.0.1:${await closedPort()}` });
    const t = await startApp('sqlite', { balanceRateLimit: DEFAULT_BALANCE_RATE_LIMIT, rateLimitStore: store });
    try {
      await waitFor('health down', () => store.health().redis === 'down');
      const tn = await newTenant(t.app);
      const url = `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/balance`;
      for (let i = 1; i <= 5; i++) {
        const res = await t.app.inject({ method: 'GET', url, headers: tn.partner.headers });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['x-ratelimit-remaining'], String(5 - i));
      }
      const refused = await t.app.inject({ method: 'GET', url, headers: tn.partner.headers });
      assertEnvelope(refused, 429, 'rate_limited');
      assert.ok(Number(refused.headers['retry-after']) >= 29);
      const health = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      assert.deepEqual(health.json(), { status: 'ok', rate_limit: { store: 'redis', shared: false, redis: 'down' } });
    } finally {
      await t.close();
    }
  });

  test('Redis goes away and comes back: served meanwhile, one warning, one info line, and the limit is shared again', async () => {
    const proxy = new RedisProxy();
    await proxy.start();
    try {
      const { store: viaProxy, logged } = await upStore({ url: proxy.url });
      const { store: direct } = await upStore();
      const before = freshKey('before');
      assert.equal((await viaProxy.hit(before, rule, 0)).remaining, 2);
      assert.equal((await direct.hit(before, rule, 0)).remaining, 1);

      await proxy.stop();
      const during = freshKey('during');
      const decisions = [];
      for (let i = 0; i < 6; i++) decisions.push(await viaProxy.hit(during, rule, 1000 * i));
      // This process counts on its own: limit per process, not shared with `direct`.
      assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, false, false, false]);
      assert.equal((await direct.hit(during, rule, 6000)).remaining, 2);
      assert.deepEqual(viaProxy.health(), { store: 'redis', shared: false, redis: 'down' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(logged.warn.length, 1, logged.warn.join('\n'));

      await proxy.start();
      await waitFor('redis up again', () => isUp(viaProxy));
      assert.deepEqual(viaProxy.health(), { store: 'redis', shared: true, redis: 'up' });
      assert.equal(logged.info.filter((l) => /reachable again/.test(l)).length, 1, logged.info.join('\n'));
      assert.equal(logged.warn.length, 1);
      const afterKey = freshKey('after');
      assert.equal((await viaProxy.hit(afterKey, rule, 0)).remaining, 2);
      assert.equal((await direct.hit(afterKey, rule, 0)).remaining, 1);
      assert.equal((await viaProxy.hit(afterKey, rule, 0)).remaining, 0);
      assert.equal((await direct.hit(afterKey, rule, 0)).allowed, false);
    } finally {
      await proxy.stop();
    }
  });

  test('Redis stops answering: one request waits at most the command timeout, the rest not at all; back when it answers again', async () => {
    const proxy = new RedisProxy();
    await proxy.start();
    try {
      const { store: viaProxy, logged } = await upStore({ url: proxy.url });
      const { store: direct } = await upStore();
      proxy.pause();
      const key = freshKey('hung');
      const first = await viaProxy.hit(key, rule, 0);
      assert.equal(first.allowed, true);
      // The first request's script went to Redis and timed out; the next ones do not try Redis at all.
      const sent = proxy.scripts;
      assert.ok(sent >= 1, 'the first request tried Redis');
      for (let i = 1; i < 10; i++) await viaProxy.hit(key, rule, 100 * i);
      assert.equal(proxy.scripts, sent, 'no later request waited on the hung Redis');
      assert.deepEqual(viaProxy.health(), { store: 'redis', shared: false, redis: 'down' });
      assert.equal(logged.warn.length, 1);
      assert.match(logged.warn[0], /timed out/i);

      proxy.resume();
      await waitFor('redis up again (probe)', () => isUp(viaProxy));
      assert.equal(logged.info.filter((l) => /reachable again/.test(l)).length, 1, logged.info.join('\n'));
      const afterKey = freshKey('after-hung');
      assert.equal((await viaProxy.hit(afterKey, rule, 0)).remaining, 2);
      assert.equal((await direct.hit(afterKey, rule, 0)).remaining, 1);
    } finally {
      proxy.resume();
      await proxy.stop();
    }
  });
});
