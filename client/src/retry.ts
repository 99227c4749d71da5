/**
 * When to try again: `Retry-After` (seconds or an HTTP date) on 429 and 503, otherwise
 * exponential backoff with jitter for 5xx answers and requests that got no answer.
 */

export interface RetryOptions {
  /** Sends of one request on 5xx or network errors, the first included (default 4). */
  maxAttempts?: number;
  /** Backoff of the first retry, in ms (default 250); doubles each retry. */
  baseDelayMs?: number;
  /** Upper bound of one backoff, in ms (default 10 000). */
  maxDelayMs?: number;
  /** Retries of one request on 429 (default 5). */
  max429Retries?: number;
  /** A 429/503 asking to wait longer than this (ms) is thrown instead of waited for (default 120 000). */
  maxRetryAfterMs?: number;
  /**
   * Retry POST requests after a 5xx or a network error too (default false: the server may have
   * acted on them). 429s are always retried: the server refused the request before acting. The
   * token endpoint is always retried: logging in twice does no harm.
   */
  retryNonIdempotent?: boolean;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

export function resolveRetry(o: RetryOptions | undefined): ResolvedRetryOptions {
  const r = {
    maxAttempts: o?.maxAttempts ?? 4,
    baseDelayMs: o?.baseDelayMs ?? 250,
    maxDelayMs: o?.maxDelayMs ?? 10_000,
    max429Retries: o?.max429Retries ?? 5,
    maxRetryAfterMs: o?.maxRetryAfterMs ?? 120_000,
    retryNonIdempotent: o?.retryNonIdempotent ?? false,
  };
  if (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 1) throw new RangeError('retry.maxAttempts must be an integer ≥ 1');
  if (!Number.isInteger(r.max429Retries) || r.max429Retries < 0) throw new RangeError('retry.max429Retries must be an integer ≥ 0');
  for (const k of ['baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    if (!(r[k] >= 0)) throw new RangeError(`retry.${k} must be ≥ 0`);
  }
  return r;
}

/**
 * Backoff before retry number `retry` (0 = the first retry): the exponential step
 * `base · 2^retry`, capped, then "equal jitter" — half of it fixed, half random — so that
 * clients failing together do not come back together, and no wait is ever zero.
 */
export function backoffDelay(retry: number, o: Pick<ResolvedRetryOptions, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const step = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** retry);
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * `Retry-After` in ms from `nowMs`: delta-seconds (`"3"`, `"1.5"`) or an HTTP date
 * (`"Wed, 21 Oct 2026 07:28:00 GMT"`). Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  // An HTTP date names its day and month; a bare "-3" or "2026" is not one (Date.parse would try).
  if (!/[a-z]{3}/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
