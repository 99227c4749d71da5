/**
 * The rate limit on `…/info/balance` with the service's default (5 requests per 30 s per
 * client) on an injected clock: headers on every counted response, the sixth → 429 envelope with
 * Retry-After, a sliding window, one bucket per client shared by its channel endpoint, and no
 * quota spent by callers who are not entitled to the client. Plus the in-memory store and the
 * `WABAMETER_BALANCE_RATE_LIMIT` syntax on their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_BALANCE_RATE_LIMIT, MemoryRateLimitStore, parseRateLimit } from '../../src/api/rate-limit.ts';
import { loadConfig } from '../../src/config.ts';
import { DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { assertEnvelope, assertSlidingWindow, manualClock, newChannel, newClient, newTenant } from './auth-helpers.ts';

describe('MemoryRateLimitStore', () => {
  const rule = { limit: 3, windowMs: 10_000 };

  test('counts accepted requests in a sliding window; refused ones are not counted', async () => {
    const s = new MemoryRateLimitStore();
    await assertSlidingWindow(s, rule, 'k', 'other');
  });

  test('any window of the rule\'s length holds at most `limit` accepted requests (random arrivals)', async () => {
    const s = new MemoryRateLimitStore();
    let now = 0;
    const accepted: number[] = [];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      now += seed % 3000;
      if ((await s.hit('k', rule, now)).allowed) accepted.push(now);
    }
    for (let i = rule.limit; i < accepted.length; i++) assert.ok(accepted[i] - accepted[i - rule.limit] >= rule.windowMs, `at ${accepted[i]}`);
    assert.ok(accepted.length > 100);
  });
});

describe('WABAMETER_BALANCE_RATE_LIMIT', () => {
  test('parses <requests>/<window>', () => {
    assert.deepEqual(parseRateLimit('5/30s'), { limit: 5, windowMs: 30_000 });
    assert.deepEqual(parseRateLimit('5/30'), { limit: 5, windowMs: 30_000 });
    assert.deepEqual(parseRateLimit(' 10 / 1m '), { limit: 10, windowMs: 60_000 });
    assert.deepEqual(parseRateLimit('1000/1h'), { limit: 1000, windowMs: 3_600_000 });
    assert.deepEqual(parseRateLimit('2/500ms'), { limit: 2, windowMs: 500 });
    for (const off of ['off', 'OFF', '0', 'none']) assert.equal(parseRateLimit(off), null);
    for (const bad of ['5', '5/', '/30s', 'five/30s', '5/30d', '0/30s', '5/0s', '-1/30s']) assert.throws(() => parseRateLimit(bad), bad);
  });

  test('the configuration defaults to 5/30s and refuses a bad value at start', () => {
    assert.deepEqual(loadConfig({}).balanceRateLimit, DEFAULT_BALANCE_RATE_LIMIT);
    assert.deepEqual(DEFAULT_BALANCE_RATE_LIMIT, { limit: 5, windowMs: 30_000 });
    assert.deepEqual(loadConfig({ WABAMETER_BALANCE_RATE_LIMIT: '20/1m' }).balanceRateLimit, { limit: 20, windowMs: 60_000 });
    assert.equal(loadConfig({ WABAMETER_BALANCE_RATE_LIMIT: 'off' }).balanceRateLimit, null);
    assert.throws(() => loadConfig({ WABAMETER_BALANCE_RATE_LIMIT: 'lots' }), /WABAMETER_BALANCE_RATE_LIMIT/);
  });
});

for (const dialect of DIALECTS) {
  describe(`balance rate limit, default 5 per 30 s [${dialect}]`, () => {
    let t: TestApp;
    const clock = manualClock();
    // The service's default: no balanceRateLimit override beyond naming it.
    before(async () => { t = await startApp(dialect, { balanceRateLimit: DEFAULT_BALANCE_RATE_LIMIT, nowMs: clock.now }); });
    after(async () => { await t.close(); });

    const balanceOf = (tn: { partner: { id: string }; client: { id: string } }, headers: Record<string, string>, channelId?: string) =>
      t.app.inject({
        method: 'GET', headers,
        url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}${channelId ? `/channels/${channelId}` : ''}/info/balance`,
      });
    const headersOf = (res: { headers: Record<string, unknown> }) => ({
      limit: res.headers['x-ratelimit-limit'], remaining: res.headers['x-ratelimit-remaining'], reset: res.headers['x-ratelimit-reset'],
    });

    test('five requests pass with X-RateLimit-* headers; the sixth → 429 envelope with Retry-After; after the window, requests pass again', async () => {
      const tn = await newTenant(t.app);
      const h = tn.partner.headers;
      for (let i = 1; i <= 5; i++) {
        const res = await balanceOf(tn, h);
        assert.equal(res.statusCode, 200, res.body);
        // Reset: seconds until every counted request has left the window (the quota is whole again).
        assert.deepEqual(headersOf(res), { limit: '5', remaining: String(5 - i), reset: '30' });
        clock.advance(2000);
      }
      // t = 10 s: the first request leaves the window at 30 s.
      const refused = await balanceOf(tn, h);
      const meta = assertEnvelope(refused, 429, 'rate_limited');
      assert.match(meta.developer_message, /5 balance requests per 30 seconds/);
      assert.equal(refused.headers['retry-after'], '20');
      assert.deepEqual(headersOf(refused), { limit: '5', remaining: '0', reset: '28' });
      // Retrying early is refused again without pushing the reset back.
      clock.advance(19_000);
      assert.equal((await balanceOf(tn, h)).headers['retry-after'], '1');
      clock.advance(1000);
      const again = await balanceOf(tn, h);
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.headers['x-ratelimit-remaining'], '0');
      assertEnvelope(await balanceOf(tn, h), 429, 'rate_limited');
      clock.advance(30_000);
      const fresh = await balanceOf(tn, h);
      assert.equal(fresh.statusCode, 200);
      assert.equal(fresh.headers['x-ratelimit-remaining'], '4');
    });

    test("the channel endpoint shares its client's bucket; another client has its own", async () => {
      const tn = await newTenant(t.app);
      const h = tn.partner.headers;
      const second = await newChannel(t.app, tn.partner, tn.client.id);
      for (const channelId of [undefined, tn.channel.id, second.id, undefined, tn.channel.id]) {
        assert.equal((await balanceOf(tn, h, channelId)).statusCode, 200);
      }
      assertEnvelope(await balanceOf(tn, h, second.id), 429, 'rate_limited');
      assertEnvelope(await balanceOf(tn, h), 429, 'rate_limited');
      const other = await newClient(t.app, tn.partner);
      const res = await balanceOf({ partner: tn.partner, client: other }, h);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-ratelimit-remaining'], '4');
      clock.advance(30_000);
    });

    test("callers not entitled to the client use none of its quota: no or wrong credentials, another partner's key", async () => {
      const tn = await newTenant(t.app);
      const intruder = await newTenant(t.app);
      for (let i = 0; i < 10; i++) {
        const anonymous = await balanceOf(tn, {});
        assertEnvelope(anonymous, 401, 'unauthorized');
        assert.equal(anonymous.headers['x-ratelimit-limit'], undefined);
        assertEnvelope(await balanceOf(tn, { 'x-api-key': 'wbm_wrong' }), 401, 'unauthorized');
        assertEnvelope(await balanceOf(tn, intruder.partner.headers), 404, 'not_found');
        // The intruder naming this client under its own partner id counts in its own bucket.
        await balanceOf({ partner: intruder.partner, client: tn.client }, intruder.partner.headers);
      }
      const res = await balanceOf(tn, tn.partner.headers);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-ratelimit-remaining'], '4');
      clock.advance(30_000);
    });

    test('only the balance endpoints are limited', async () => {
      const tn = await newTenant(t.app);
      for (let i = 0; i < 8; i++) {
        const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.partner.headers });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-ratelimit-limit'], undefined);
      }
    });

    test('a refused request still carries the headers when the query is also bad; counted requests carry them on errors too', async () => {
      const tn = await newTenant(t.app);
      const bad = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/balance?granularity=week`, headers: tn.partner.headers });
      assertEnvelope(bad, 400, 'invalid_parameter');
      assert.equal(bad.headers['x-ratelimit-remaining'], '4');
      clock.advance(30_000);
    });
  });

  describe(`balance rate limit configured in startApp [${dialect}]`, () => {
    let t: TestApp;
    const clock = manualClock();
    before(async () => { t = await startApp(dialect, { balanceRateLimit: { limit: 2, windowMs: 1000 }, nowMs: clock.now }); });
    after(async () => { await t.close(); });

    test('a custom rule applies (2 per second)', async () => {
      const tn = await newTenant(t.app);
      const url = `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/balance`;
      const hit = () => t.app.inject({ method: 'GET', url, headers: tn.partner.headers });
      assert.equal((await hit()).statusCode, 200);
      assert.equal((await hit()).statusCode, 200);
      const refused = await hit();
      assertEnvelope(refused, 429, 'rate_limited');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.headers['x-ratelimit-limit'], '2');
      clock.advance(1000);
      assert.equal((await hit()).statusCode, 200);
    });
  });

  describe(`no balance rate limit when switched off [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect, { balanceRateLimit: null }); });
    after(async () => { await t.close(); });

    test('null → no limit and no headers', async () => {
      const tn = await newTenant(t.app);
      for (let i = 0; i < 10; i++) {
        const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/balance`, headers: tn.partner.headers });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-ratelimit-limit'], undefined);
      }
    });
  });
}
