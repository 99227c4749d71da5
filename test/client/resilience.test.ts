/**
 * The client's retry rules against a tiny scripted HTTP server (a real socket, answers chosen by
 * the test): backoff with jitter on 5xx and on requests without an answer, `Retry-After` in
 * seconds and as an HTTP date, bounded attempts, no retry of other 4xx or of POSTs, and the error
 * the caller gets. Waits go through a virtual clock, so the suite never sleeps for real.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  parseRetryAfter, backoffDelay, VirtualClock, WabameterApiError, WabameterClient, WabameterNetworkError,
  type RetryEvent, type WabameterClientOptions,
} from '../../client/src/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const envelope = (status: number, code: string, message: string, details: string[] = []) => JSON.stringify({
  meta: { success: false, http_code: status, developer_message: message, details, error_data: { code, message, real_message: message, status } },
});

function reply(status: number, body: unknown = {}, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}
const fail = (status: number, headers: Record<string, string> = {}) => reply(status, envelope(status, status >= 500 ? 'internal_error' : 'err', `failure ${status}`), headers);
const hangUp: Handler = (req) => req.socket.destroy();

describe('client retries (scripted server)', () => {
  let server: Server;
  let base: string;
  let script: Handler[] = [];
  let seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const next = script.shift() ?? fail(500);
        next(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    script = [];
    seen = [];
  });

  function client(opts: WabameterClientOptions = {}) {
    const clock = new VirtualClock();
    const events: RetryEvent[] = [];
    const api = new WabameterClient({ baseUrl: base, partnerId: 'pPA', apiKey: 'wbm_test' }, {
      clock, random: () => 0.5, onRetry: (e) => events.push(e), rateLimit: false, ...opts,
    });
    return { api, clock, events };
  }

  const CLIENT = { id: 'cCL', name: 'C' };

  test('a GET that fails twice with 5xx then succeeds: retried with growing, jittered backoff', async () => {
    script = [fail(500), fail(503), reply(200, CLIENT)];
    const { api, clock, events } = client();
    assert.deepEqual(await api.getClient('cCL'), CLIENT);
    assert.equal(seen.length, 3);
    assert.ok(seen.every((r) => r.method === 'GET' && r.url === '/api/v2/partners/pPA/clients/cCL' && r.headers['x-api-key'] === 'wbm_test'));
    // base 250 ms, doubling, half fixed + half random (random = 0.5): 188 ms, then 375 ms.
    assert.deepEqual(clock.sleeps, [188, 375]);
    assert.deepEqual(events.map((e) => [e.reason, e.status, e.retry]), [['server_error', 500, 1], ['server_error', 503, 2]]);
  });

  test('backoff stays within [step/2, step] and is capped at maxDelayMs', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 1000 };
    for (let retry = 0; retry < 10; retry++) {
      const step = Math.min(1000, 100 * 2 ** retry);
      assert.equal(backoffDelay(retry, o, () => 0), step / 2);
      assert.equal(backoffDelay(retry, o, () => 0.999999), Math.round(step / 2 + 0.999999 * step / 2));
    }
  });

  test('5xx retries are bounded: after maxAttempts the 5xx is thrown', async () => {
    script = [fail(502), fail(502), fail(502), fail(502)];
    const { api, clock } = client({ retry: { maxAttempts: 3 } });
    const err = await api.getClient('cCL').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError, String(err));
    assert.equal(err.status, 502);
    assert.equal(seen.length, 3);
    assert.equal(clock.sleeps.length, 2);
  });

  test('a 501 (an operation the server does not serve) is thrown at once, never retried', async () => {
    script = [fail(501), reply(200, CLIENT)];
    const { api, clock, events } = client();
    const err = await api.getClient('cCL').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError, String(err));
    assert.equal(err.status, 501);
    assert.equal(seen.length, 1);
    assert.deepEqual(clock.sleeps, []);
    assert.deepEqual(events, []);
  });

  test('a request that got no answer (connection reset) is retried like a 5xx', async () => {
    script = [hangUp, hangUp, reply(200, CLIENT)];
    const { api, events } = client();
    assert.deepEqual(await api.getClient('cCL'), CLIENT);
    assert.equal(seen.length, 3);
    assert.deepEqual(events.map((e) => e.reason), ['network_error', 'network_error']);
  });

  test('a refused connection ends in a WabameterNetworkError after maxAttempts', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const clock = new VirtualClock();
    const api = new WabameterClient({ baseUrl: `http://127.0.0.1:${port}`, partnerId: 'pPA', apiKey: 'k' }, { clock, retry: { maxAttempts: 3 } });
    const err = await api.listClients().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterNetworkError, String(err));
    assert.equal(err.attempts, 3);
    assert.equal(clock.sleeps.length, 2);
  });

  test('an attempt that times out counts as no answer and is retried', async () => {
    script = [() => { /* never answers */ }, reply(200, CLIENT)];
    const { api } = client({ timeoutMs: 150 });
    assert.deepEqual(await api.getClient('cCL'), CLIENT);
    assert.equal(seen.length, 2);
  });

  test('4xx other than 401/429 are never retried, and carry the envelope', async () => {
    for (const status of [400, 403, 404, 405, 409, 413, 415, 422]) {
      seen = [];
      script = [reply(status, envelope(status, `code_${status}`, `message ${status}`, [`detail ${status}`])), reply(200, CLIENT)];
      const { api, clock } = client();
      const err = await api.getClient('cCL').then(() => null, (e: unknown) => e);
      assert.ok(err instanceof WabameterApiError, `${status}: ${String(err)}`);
      assert.equal(seen.length, 1, `${status} sent once`);
      assert.equal(clock.sleeps.length, 0);
      assert.equal(err.status, status);
      assert.equal(err.code, `code_${status}`);
      assert.equal(err.developerMessage, `message ${status}`);
      assert.deepEqual(err.details, [`detail ${status}`]);
      assert.equal(err.method, 'GET');
      assert.equal(err.path, '/api/v2/partners/pPA/clients/cCL');
      script = [];
    }
  });

  test('with an API key, a 401 is thrown at once (there is nothing to log in with)', async () => {
    script = [fail(401), reply(200, CLIENT)];
    const { api } = client();
    await assert.rejects(api.getClient('cCL'), (e: unknown) => e instanceof WabameterApiError && e.status === 401);
    assert.equal(seen.length, 1);
  });

  test('a POST is not retried after a 5xx or a lost answer (the server may have acted), unless asked', async () => {
    const input = { name: 'C', currency: 'EUR', country: 'DE', payment_mode: 'direct' as const };
    script = [fail(500), reply(201, CLIENT)];
    await assert.rejects(client().api.createClient(input), (e: unknown) => e instanceof WabameterApiError && e.status === 500);
    assert.equal(seen.length, 1);

    seen = [];
    script = [hangUp, reply(201, CLIENT)];
    await assert.rejects(client().api.createClient(input), WabameterNetworkError);
    assert.equal(seen.length, 1);

    seen = [];
    script = [fail(500), reply(201, CLIENT)];
    assert.deepEqual(await client({ retry: { retryNonIdempotent: true } }).api.createClient(input), CLIENT);
    assert.equal(seen.length, 2);
    assert.deepEqual(JSON.parse(seen[1].body), input);
    assert.equal(seen[1].headers['content-type'], 'application/json');
  });

  test('a POST answered 429 is retried: the server refused it before acting', async () => {
    script = [fail(429, { 'retry-after': '1' }), reply(201, CLIENT)];
    const { api, clock } = client();
    assert.deepEqual(await api.createClient({ name: 'C', currency: 'EUR', country: 'DE', payment_mode: 'direct' }), CLIENT);
    assert.deepEqual(clock.sleeps, [1000]);
  });

  test('429: waits Retry-After in seconds, then sends again', async () => {
    script = [fail(429, { 'retry-after': '7' }), fail(429, { 'retry-after': '2' }), reply(200, CLIENT)];
    const { api, clock, events } = client();
    assert.deepEqual(await api.getClient('cCL'), CLIENT);
    assert.deepEqual(clock.sleeps, [7000, 2000]);
    assert.deepEqual(events.map((e) => [e.reason, e.delayMs]), [['rate_limited', 7000], ['rate_limited', 2000]]);
  });

  test('429: Retry-After as an HTTP date is read against the client clock', async () => {
    const { api, clock } = client();
    script = [(req, res) => fail(429, { 'retry-after': new Date(clock.now() + 4000).toUTCString() })(req, res, ''), reply(200, CLIENT)];
    await api.getClient('cCL');
    assert.equal(clock.sleeps.length, 1);
    assert.ok(clock.sleeps[0] > 3000 && clock.sleeps[0] <= 4000, `slept ${clock.sleeps[0]}`);
  });

  test('429 without Retry-After backs off; 429 retries are bounded', async () => {
    script = Array.from({ length: 10 }, () => fail(429));
    const { api, clock } = client({ retry: { max429Retries: 2 } });
    const err = await api.getClient('cCL').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError && err.status === 429);
    assert.equal(seen.length, 3);
    assert.deepEqual(clock.sleeps, [188, 375]);
  });

  test('a Retry-After longer than maxRetryAfterMs is thrown with retryAfterMs, not waited for', async () => {
    script = [fail(429, { 'retry-after': '3600' }), reply(200, CLIENT)];
    const { api, clock } = client({ retry: { maxRetryAfterMs: 60_000 } });
    const err = await api.getClient('cCL').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 3_600_000);
    assert.equal(seen.length, 1);
    assert.equal(clock.sleeps.length, 0);
  });

  test('a 503 with Retry-After waits as asked rather than backing off', async () => {
    script = [fail(503, { 'retry-after': '3' }), reply(200, CLIENT)];
    const { api, clock } = client();
    await api.getClient('cCL');
    assert.deepEqual(clock.sleeps, [3000]);
  });

  test('bodies that are not the envelope still become a WabameterApiError', async () => {
    script = [reply(400, { error: 'invalid_grant', error_description: 'Username or password is wrong' })];
    let err = await client().api.getClient('x').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.code, 'invalid_grant');
    assert.equal(err.developerMessage, 'Username or password is wrong');

    script = [(_req, res) => { res.writeHead(404, { 'content-type': 'text/html' }); res.end('<html>nginx</html>'); }];
    err = await client().api.getClient('x').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WabameterApiError);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'http_404');
    assert.equal(err.body, '<html>nginx</html>');
  });

  test('a caller abort stops waiting at once and is not retried', async () => {
    script = [() => { /* never answers */ }];
    const { api } = client();
    const ac = new AbortController();
    const p = api.getClient('cCL', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('caller gave up')), 50);
    await assert.rejects(p, /caller gave up/);
    assert.equal(seen.length, 1);
  });

  test('ids in paths are escaped; list parameters are encoded; empty values omitted', async () => {
    script = [reply(200, { clients: [] }), reply(200, {})];
    const { api } = client();
    await api.listClients({ limit: 10, offset: 20, sort: ['-created_at', 'name'], filters: { name: "O'Brien & Co" } });
    const q = new URL(seen[0].url, base).searchParams;
    assert.equal(q.get('limit'), '10');
    assert.equal(q.get('offset'), '20');
    assert.equal(q.get('sort'), '-created_at,name');
    assert.deepEqual(JSON.parse(q.get('filters')!), { name: "O'Brien & Co" });
    await api.balance('a/b?c', { start_date: new Date('2026-03-01T00:00:00Z'), end_date: 1775000000, granularity: 'day', app_ids: ['214', '231'] });
    const u = new URL(seen[1].url, base);
    assert.equal(u.pathname, '/api/v2/partners/pPA/clients/a%2Fb%3Fc/info/balance');
    assert.equal(u.search, '?start_date=1772323200&end_date=1775000000&granularity=day&app_ids=214%2C231');
  });
});

describe('client Retry-After parsing', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  test('seconds, fractions, HTTP dates, past dates, garbage', () => {
    assert.equal(parseRetryAfter('5', now), 5000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('1.5', now), 1500);
    assert.equal(parseRetryAfter('Fri, 01 May 2026 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Fri, 01 May 2026 11:00:00 GMT', now), 0, 'a date in the past means now');
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('-3', now), undefined);
  });
});
