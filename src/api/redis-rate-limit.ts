/**
 * The `…/info/balance` rate limit shared by every process that points at one Redis
 * (`REDIS_URL`): the same sliding-window log as MemoryRateLimitStore (rate-limit.ts), kept in a
 * Redis sorted set per bucket, so two processes together still accept at most 5 requests in any
 * 30 s, refused requests are not counted, and the X-RateLimit-* and Retry-After headers mean what
 * they mean in the single-process mode.
 *
 * Why a Lua script on ioredis rather than a rate-limit library: the well-kept ones count in fixed
 * windows (rate-limiter-flexible's RateLimiterRedis, @fastify/rate-limit's Redis store), which
 * accept up to twice the limit in 30 s across a window boundary (5 at 0:29, 5 at 0:31) — the very
 * "10 in 30 s" this store exists to prevent — and both count refused attempts; the sliding one
 * (rolling-rate-limiter) counts refused attempts too, by design, so a client retrying early is
 * locked out for as long as it keeps retrying. The log below is one script, so check-and-add is
 * atomic across processes; ioredis (defineCommand) caches it by SHA and reloads it after a Redis
 * restart.
 *
 * Keys are `<prefix>ratelimit:<bucket>`, e.g. `wabameter:ratelimit:balance:<partner>:<client>`,
 * each a sorted set of at most `limit` request times (ms) that expires a window after its newest
 * request: an idle bucket leaves nothing behind.
 *
 * When Redis is unreachable (refused, timed out, or answering with errors) the store fails open
 * to a per-process MemoryRateLimitStore: a partner never loses access to its usage because a
 * cache died, and the limit still holds per process (n processes → at most n × limit in 30 s)
 * until Redis is back. Every Redis command is bounded (`commandTimeout`, no offline queue, no
 * retries), so a dead or hung Redis costs a request at most one timeout, and only the request
 * that finds out: after that the store skips Redis and probes it in the background. Requests
 * counted by the fallback are not copied into Redis, so around an outage a client may get up to
 * one extra quota per process. One warning is logged when Redis becomes unreachable and one info
 * line when it is back, never one per request.
 *
 * Times are the processes' clocks (the interface passes `nowMs`, which tests move): processes
 * sharing a Redis must keep their clocks in sync (NTP); a skew of d ms can shorten a window by d.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisStatus } from 'ioredis';
import { MemoryRateLimitStore, type RateLimitDecision, type RateLimitRule, type RateLimitStore, type RateLimitStoreHealth } from './rate-limit.ts';

/**
 * KEYS[1]: the bucket's log, a sorted set of accepted requests scored by time (ms).
 * ARGV: now (ms), window (ms), limit, a member name unique to this request.
 * Returns {allowed (0/1), requests in the window, time of the request whose leaving lets one
 * more in (the oldest when the log is full), time of the newest request}.
 */
const SLIDING_WINDOW_LUA = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
-- Requests at or before now - window have left the window.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  -- The bucket lives as long as its newest request is in the window; a refused request adds
  -- nothing and extends nothing.
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  allowed = 1
end
if count == 0 then return {allowed, 0, now, now} end
-- With count >= limit the (count - limit)-th oldest must leave before one more fits (the oldest
-- when the log is exactly full; more only if the limit was lowered since).
local edge = math.max(count - limit, 0)
local first = redis.call('ZRANGE', KEYS[1], edge, edge, 'WITHSCORES')
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {allowed, count, tonumber(first[2]), tonumber(last[2])}
`;

type SlidingWindowReply = [allowed: number, count: number, edgeMs: number, newestMs: number];
type ScriptedRedis = Redis & {
  wabameterSlidingWindow(key: string, nowMs: number, windowMs: number, limit: number, member: string): Promise<SlidingWindowReply>;
};

export interface RedisRateLimitLog {
  warn(msg: string): void;
  info(msg: string): void;
}

export interface RedisRateLimitOptions {
  /** `redis://…` or `rediss://…` (TLS). */
  url: string;
  /** Put before every key, e.g. `wabameter:` (the store adds `ratelimit:`). */
  prefix: string;
  /** Where the down/up lines go (default: the console). */
  log?: RedisRateLimitLog;
  /** Longest wait for one Redis command before the request falls back (default 500 ms). */
  commandTimeoutMs?: number;
  /** How often a Redis found down is probed (default 1000 ms). */
  probeIntervalMs?: number;
  /** Longest pause between reconnection attempts (default 2000 ms). */
  reconnectMaxDelayMs?: number;
}

/** `connecting` until the first connection; `closed` after close(). */
type State = 'connecting' | 'up' | 'down' | 'closed';

const PROBE_RULE: RateLimitRule = { limit: 1, windowMs: 1000 };

export class RedisRateLimitStore implements RateLimitStore {
  private readonly client: ScriptedRedis;
  private readonly keyPrefix: string;
  private readonly fallback = new MemoryRateLimitStore();
  private readonly log: RedisRateLimitLog;
  private readonly probeIntervalMs: number;
  private state: State = 'connecting';
  private probeTimer: NodeJS.Timeout | undefined;
  // Members of the sorted sets must be unique per request: this process's id and a counter.
  private readonly memberPrefix = randomBytes(6).toString('base64url');
  private counter = 0;

  constructor(opts: RedisRateLimitOptions) {
    this.keyPrefix = `${opts.prefix}ratelimit:`;
    this.log = opts.log ?? { warn: (m) => console.warn(m), info: (m) => console.info(m) };
    this.probeIntervalMs = opts.probeIntervalMs ?? 1000;
    const reconnectMaxDelayMs = opts.reconnectMaxDelayMs ?? 2000;
    this.client = new Redis(opts.url, {
      connectionName: 'wabameter-ratelimit',
      // Every command is bounded: a hung Redis answers nothing, and the request must not wait.
      commandTimeout: opts.commandTimeoutMs ?? 500,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs ?? 500),
      // Fail at once while disconnected instead of queueing: the fallback answers meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep reconnecting for as long as the service runs, never more than a few seconds apart.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), reconnectMaxDelayMs),
    }) as ScriptedRedis;
    this.client.defineCommand('wabameterSlidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    this.client.on('ready', () => this.markUp());
    // Without a listener ioredis prints every reconnection failure; the state says it once.
    this.client.on('error', (err: Error) => this.markDown(err));
    this.client.on('close', () => this.markDown(new Error('connection closed')));
  }

  async hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision> {
    // While Redis is not known to be up, answer from this process at once (no timeout to wait).
    if (this.state !== 'up') return this.fallback.hit(key, rule, nowMs);
    try {
      return await this.redisHit(key, rule, nowMs);
    } catch (err) {
      this.markDown(err as Error);
      return this.fallback.hit(key, rule, nowMs);
    }
  }

  health(): RateLimitStoreHealth {
    const up = this.state === 'up';
    return { store: 'redis', shared: up, redis: up ? 'up' : 'down' };
  }

  /** Closes the connection (a shutdown step); bounded even when Redis is gone. */
  async close(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.probeTimer);
    // Read afresh each time: the status changes while we wait.
    const status = (): RedisStatus => this.client.status;
    if (status() === 'end') return;
    const ended = new Promise((r) => this.client.once('end', r));
    // QUIT lets Redis finish what was sent; without a live connection there is nothing to finish.
    if (status() === 'ready') this.client.quit().catch(() => undefined);
    else this.client.disconnect();
    await Promise.race([ended, new Promise((r) => setTimeout(r, 1000).unref())]);
    // A Redis that never answered QUIT: cut the connection.
    if (status() !== 'end') this.client.disconnect();
  }

  private async redisHit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision> {
    // Whole milliseconds: the script's replies are integers.
    const now = Math.floor(nowMs);
    const member = `${now}:${this.memberPrefix}:${++this.counter}`;
    const [allowed, count, edge, newest] = await this.client.wabameterSlidingWindow(this.keyPrefix + key, now, rule.windowMs, rule.limit, member);
    return {
      allowed: allowed === 1,
      remaining: Math.max(0, rule.limit - count),
      resetMs: Math.max(0, newest + rule.windowMs - now),
      retryAfterMs: allowed === 1 ? 0 : Math.max(0, edge + rule.windowMs - now),
    };
  }

  private markUp() {
    if (this.state === 'closed' || this.state === 'up') return;
    const back = this.state === 'down';
    this.state = 'up';
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.log.info(back
      ? 'Redis rate-limit store reachable again: the …/info/balance limit is shared between processes again'
      : 'Redis rate-limit store connected: the …/info/balance limit is shared between processes');
  }

  private markDown(err: Error) {
    if (this.state === 'closed' || this.state === 'down') return;
    this.state = 'down';
    this.log.warn(`Redis rate-limit store unreachable (${err.message}): …/info/balance is limited per process until it is back`);
    this.scheduleProbe();
  }

  /**
   * A reconnect announces itself ('ready'), but a Redis that hangs or answers with errors keeps
   * its connection: try the real script on a probe key until it works again.
   */
  private scheduleProbe() {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(async () => {
      if (this.state !== 'down') return;
      if (this.client.status === 'ready') {
        try {
          await this.redisHit('probe', PROBE_RULE, Date.now());
          this.markUp();
          return;
        } catch {
          // still down; try again later
        }
      }
      if (this.state === 'down') this.scheduleProbe();
    }, this.probeIntervalMs);
    // The probe must never keep a stopping process alive.
    this.probeTimer.unref();
  }
}
