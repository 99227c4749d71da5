/**
 * A sliding-window limiter that queues rather than fails: at most `limit` starts per key in any
 * `windowMs` (plus a safety margin for network jitter), in call order. The client keys it by
 * client id for the balance endpoints, where the server allows 5 requests per 30 s per client.
 *
 * Sliding is the strictest common reading of "N per window": a caller that never has N+1 starts
 * in any window of that length also stays under a fixed-window or token-bucket server.
 */
import { systemClock, type Clock } from './clock.js';

export interface RateLimitOptions {
  /** Starts allowed per window and key (default 5). */
  limit?: number;
  /** Window length in ms (default 30 000). */
  windowMs?: number;
  /**
   * Extra ms added to the window (default 250): the server counts arrivals, the limiter counts
   * departures, and two requests need not take equally long to arrive.
   */
  marginMs?: number;
}

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface KeyState {
  /** Start times (ms) inside the current window, oldest first. */
  starts: number[];
  queue: Waiter[];
  /** No start before this time (set after the server answered 429). */
  blockedUntil: number;
  draining: boolean;
}

export class SlidingWindowLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly marginMs: number;
  private readonly keys = new Map<string, KeyState>();

  constructor(options: RateLimitOptions = {}, private readonly clock: Clock = systemClock) {
    this.limit = options.limit ?? 5;
    this.windowMs = options.windowMs ?? 30_000;
    this.marginMs = options.marginMs ?? 250;
    if (!Number.isInteger(this.limit) || this.limit < 1) throw new RangeError('rateLimit.limit must be an integer ≥ 1');
    if (!(this.windowMs > 0)) throw new RangeError('rateLimit.windowMs must be > 0');
    if (!(this.marginMs >= 0)) throw new RangeError('rateLimit.marginMs must be ≥ 0');
  }

  /** Resolves when a request for `key` may start (and counts it as started). */
  acquire(key: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const state = this.state(key);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = state.queue.indexOf(waiter);
          if (i >= 0) state.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      state.queue.push(waiter);
      if (!state.draining) void this.drain(key, state);
    });
  }

  /** Holds every start for `key` until `untilMs` (the server said 429 with a Retry-After). */
  blockUntil(key: string, untilMs: number): void {
    const state = this.state(key);
    state.blockedUntil = Math.max(state.blockedUntil, untilMs);
  }

  /** Calls waiting for `key`. */
  pending(key: string): number {
    return this.keys.get(key)?.queue.length ?? 0;
  }

  /** Starts counted for `key` in the window ending now. */
  used(key: string): number {
    const state = this.keys.get(key);
    if (!state) return 0;
    this.prune(state, this.clock.now());
    return state.starts.length;
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { starts: [], queue: [], blockedUntil: 0, draining: false }));
    return s;
  }

  private prune(state: KeyState, now: number): void {
    const span = this.windowMs + this.marginMs;
    while (state.starts.length > 0 && state.starts[0]! + span <= now) state.starts.shift();
  }

  /** One drain loop per key hands out starts in call order, sleeping while the window is full. */
  private async drain(key: string, state: KeyState): Promise<void> {
    state.draining = true;
    try {
      while (state.queue.length > 0) {
        const now = this.clock.now();
        this.prune(state, now);
        let wait = state.blockedUntil - now;
        if (state.starts.length >= this.limit) wait = Math.max(wait, state.starts[0]! + this.windowMs + this.marginMs - now);
        if (wait > 0) {
          await this.clock.sleep(wait);
          continue;
        }
        const waiter = state.queue.shift()!;
        if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
        state.starts.push(now);
        waiter.resolve();
      }
    } catch (err) {
      for (const w of state.queue.splice(0)) w.reject(err);
    } finally {
      state.draining = false;
      if (state.queue.length === 0 && state.starts.length === 0 && state.blockedUntil <= this.clock.now()) this.keys.delete(key);
    }
  }
}
