/**
 * Time as the client sees it. The limiter and the retry loop only read `now()` and `sleep()`, so
 * a test (or an application with its own scheduler) can swap in a virtual clock.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * A clock that only moves when someone sleeps on it: `sleep(ms)` moves `now()` to at least the
 * time the sleeper asked to wake at (two sleepers that start together do not add up) and resolves
 * on the next tick. Good for tests and simulations; share one instance with anything else that
 * must see the same time (a server's rate limiter, for instance).
 */
export class VirtualClock implements Clock {
  private t: number;
  /** Every sleep requested, in order (ms). */
  readonly sleeps: number[] = [];
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += Math.max(0, ms);
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    const wake = this.t + Math.max(0, ms);
    await this.settle();
    this.t = Math.max(this.t, wake);
    if (signal?.aborted) throw signal.reason;
  }

  /** What a sleep waits for before time moves: the next turn of the event loop. Subclasses may wait for more (in-flight I/O). */
  protected settle(): Promise<void> {
    return new Promise<void>((resolve) => setImmediate(resolve));
  }
}
