/**
 * Two real service processes on one PostgreSQL and one Redis (`REDIS_URL`) share the
 * `…/info/balance` limit: five requests spread over both are accepted and the sixth is a 429 on
 * either, where two processes counting on their own would accept ten. Both say so in /healthz,
 * and both stop cleanly on SIGTERM (the Redis connection is one of the shutdown steps).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { freshStore } from '../helpers.ts';
import { startService as startServer, stopService as stop } from './support.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = 'shared-limit-admin';

test('two processes with one REDIS_URL: five balance requests over both pass, the sixth is a 429 on either', async () => {
  const store = await freshStore('postgres');
  const prefix = `wabameter-e2e:${process.pid}-${Date.now()}:`;
  const env = {
    DATABASE_URL: store.url, PORT: '0', HOST: '127.0.0.1', WABAMETER_DEMO: '0', WABAMETER_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent',
    WABAMETER_BALANCE_RATE_LIMIT: '5/30s', REDIS_URL, WABAMETER_REDIS_PREFIX: prefix,
  };
  const redis = new Redis(REDIS_URL);
  // One after the other: the second must not create the schema while the first does.
  const first = startServer(env);
  const servers = [first];
  let codes: (number | null)[] = [];
  try {
    const base1 = await first.url;
    const second = startServer(env);
    servers.push(second);
    const base2 = await second.url;

    const post = async (base: string, path: string, body: unknown, headers: Record<string, string>) => {
      const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      assert.equal(res.status, 201, await res.clone().text());
      return res.json();
    };
    const partner = await post(base1, '/admin/partners', { name: 'Shared' }, { authorization: `Bearer ${ADMIN}` });
    const key = { 'x-api-key': partner.api_key };
    const client = await post(base1, `/api/v2/partners/${partner.id}/clients`, { name: 'C', currency: 'USD', country: 'DE', payment_mode: 'direct' }, key);
    const balance = (base: string) => fetch(`${base}/api/v2/partners/${partner.id}/clients/${client.id}/info/balance`, { headers: key });

    const spread = [base1, base2, base1, base2, base2];
    for (const [i, base] of spread.entries()) {
      const res = await balance(base);
      assert.equal(res.status, 200, `request ${i + 1} on process ${base === base1 ? 1 : 2}: ${await res.text()}`);
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(4 - i), `request ${i + 1}: one count for both processes`);
    }
    for (const base of [base1, base2]) {
      const res = await balance(base);
      const body = await res.json();
      assert.equal(res.status, 429, `the sixth on process ${base === base1 ? 1 : 2}: ${JSON.stringify(body)}`);
      assert.equal(body.meta.error_data.code, 'rate_limited');
      assert.equal(res.headers.get('x-ratelimit-limit'), '5');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
    }
    // The count lives in Redis under the configured prefix.
    assert.equal(await redis.zcard(`${prefix}ratelimit:balance:${partner.id}:${client.id}`), 5);

    for (const base of [base1, base2]) {
      const res = await fetch(`${base}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok', rate_limit: { store: 'redis', shared: true, redis: 'up' } });
    }
  } finally {
    codes = await Promise.all(servers.map(stop));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await store.cleanup();
  }
  assert.deepEqual(codes, [0, 0], `both processes stop cleanly on SIGTERM: ${servers.map((s) => s.output()).join('\n')}`);
});
