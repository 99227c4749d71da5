/**
 * The Partner API's rate limit on `…/info/balance`: by default 5 requests per 30 seconds per
 * client (360dialog's documented limit), counted over a sliding window (the last 30 s, not
 * calendar slots), so any 30 s holds at most 5 accepted requests and a client library that keeps
 * itself under "5 in any 30 s" is never refused.
 *
 * The bucket is the partner and client ids of the path, counted after authentication and only
 * once the client (and channel) are known to be the caller's: a caller without valid
 * credentials, or another partner naming this client's id, cannot use up a client's quota, and a
 * request naming an id that does not exist is a 404 that opens no bucket. Client and channel balance calls of one client share its bucket. Refused
 * requests are not counted (a client retrying too early does not push its own reset back).
 *
 * Every counted response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
 * `X-RateLimit-Reset` (seconds until the whole quota is back); a refused one is a 429 in the error
 * envelope with `Retry-After` (seconds until one more request is accepted).
 *
 * Hand-written rather than @fastify/rate-limit: the key must come from path params after the
 * partner is authenticated, tests need an injectable clock (the plugin's stores read Date.now
 * and run timers), and the 429 must go through the one error handler. The store is an interface
 * so a shared one (Redis, for several processes: redis-rate-limit.ts) can replace the in-memory
 * one; each store says what it is for `GET /healthz`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { ID_PATTERN } from './schemas.ts';

export interface RateLimitRule {
  /** Requests accepted per window. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_BALANCE_RATE_LIMIT: RateLimitRule = { limit: 5, windowMs: 30_000 };

export interface RateLimitDecision {
  allowed: boolean;
  /** Requests still accepted in the current window after this one. */
  remaining: number;
  /** Milliseconds until every counted request has left the window. */
  resetMs: number;
  /** Milliseconds until one more request would be accepted (0 when allowed). */
  retryAfterMs: number;
}

/** What `GET /healthz` says about the store behind the limit. */
export interface RateLimitStoreHealth {
  store: 'redis' | 'memory';
  /** True while every process sharing the store counts into the same buckets. */
  shared: boolean;
  /** A Redis store's connection: `down` means this process limits on its own until it is back. */
  redis?: 'up' | 'down';
}

/** Counts requests per key; `hit` records the request only when it is allowed. */
export interface RateLimitStore {
  hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision>;
  /** For `GET /healthz`; a store without it is not reported there. */
  health?(): RateLimitStoreHealth;
}

/** One process's sliding-window log: at most `limit` timestamps per key. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly hits = new Map<string, number[]>();
  private lastSweep = 0;

  async hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision> {
    this.sweep(rule, nowMs);
    const since = nowMs - rule.windowMs;
    const log = (this.hits.get(key) ?? []).filter((t) => t > since);
    const allowed = log.length < rule.limit;
    if (allowed) log.push(nowMs);
    if (log.length > 0) this.hits.set(key, log);
    else this.hits.delete(key);
    const oldest = log[0] ?? nowMs;
    const newest = log[log.length - 1] ?? nowMs;
    return {
      allowed,
      remaining: Math.max(0, rule.limit - log.length),
      resetMs: Math.max(0, newest + rule.windowMs - nowMs),
      retryAfterMs: allowed ? 0 : Math.max(0, oldest + rule.windowMs - nowMs),
    };
  }

  health(): RateLimitStoreHealth {
    return { store: 'memory', shared: false };
  }

  /** Forgets keys with nothing left in the window, at most once per window. */
  private sweep(rule: RateLimitRule, nowMs: number) {
    if (nowMs - this.lastSweep < rule.windowMs) return;
    this.lastSweep = nowMs;
    for (const [key, log] of this.hits) if (log[log.length - 1] <= nowMs - rule.windowMs) this.hits.delete(key);
  }
}

/** The ids a balance request names. */
export interface BalancePath {
  partner_id: string;
  client_id: string;
  channel_id?: string;
}

export interface BalanceRateLimitOptions {
  rule: RateLimitRule;
  /** Throws (a 404) when the path's client or channel is not the partner's; runs before anything is counted. */
  resolve: (path: BalancePath) => Promise<unknown>;
  store?: RateLimitStore;
  nowMs?: () => number;
}

/** Routes the limit applies to: the client and channel balance endpoints. */
export const isBalanceRoute = (url: string) => url.startsWith('/api/v2/partners/:partner_id/clients/:client_id') && url.endsWith('/info/balance');

const seconds = (ms: number) => Math.ceil(ms / 1000);

/**
 * An onRequest hook for the balance routes, to run after authentication. Sets the
 * X-RateLimit-* headers and throws a 429 AppError past the limit.
 */
export function balanceRateLimit(opts: BalanceRateLimitOptions) {
  const store = opts.store ?? new MemoryRateLimitStore();
  const nowMs = opts.nowMs ?? Date.now;
  const { rule } = opts;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!isBalanceRoute(request.routeOptions.url ?? '')) return;
    const p = request.params as BalancePath;
    // A malformed id is validation's 400 (named there), not a 404 here; it opens no bucket.
    if (![p.partner_id, p.client_id, p.channel_id].every((id) => id === undefined || ID_PATTERN.test(id))) return;
    await opts.resolve(p);
    const d = await store.hit(`balance:${p.partner_id}:${p.client_id}`, rule, nowMs());
    reply.header('x-ratelimit-limit', rule.limit);
    reply.header('x-ratelimit-remaining', d.remaining);
    reply.header('x-ratelimit-reset', seconds(d.resetMs));
    if (!d.allowed) {
      const wait = Math.max(1, seconds(d.retryAfterMs));
      reply.header('retry-after', wait);
      throw new AppError(429, 'rate_limited', `Too many requests: at most ${rule.limit} balance requests per ${rule.windowMs / 1000} seconds per client; retry after ${wait} seconds`,
        [`Retry-After: ${wait}`, 'The limit counts client and channel balance requests of one client together']);
    }
  };
}

/** Parses `5/30s` (also `5/30`, `10/1m`, `100/1h`, `200/500ms`); `off` or `0` = no limit (null). */
export function parseRateLimit(text: string): RateLimitRule | null {
  const s = text.trim().toLowerCase();
  if (s === 'off' || s === '0' || s === 'none') return null;
  const m = /^(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)?$/.exec(s);
  if (!m) throw new Error(`a rate limit is "<requests>/<window>" such as "5/30s", got "${text}"`);
  const limit = Number(m[1]);
  const windowMs = Number(m[2]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[3] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (limit < 1 || windowMs < 1) throw new Error(`a rate limit needs at least 1 request per a positive window, got "${text}"`);
  return { limit, windowMs };
}
