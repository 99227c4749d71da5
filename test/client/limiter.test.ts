/**
 * The client's sliding-window limiter on a virtual clock: at most `limit` starts in any window
 * (plus margin) per key, in call order, keys independent, a 429's Retry-After holding the key,
 * and a caller's abort leaving the queue.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SlidingWindowLimiter, VirtualClock } from '../../client/src/index.ts';

describe('client SlidingWindowLimiter', () => {
  test('5 per 30 s: 12 calls start at 0, 30.25 s and 60.5 s, in call order', async () => {
    const clock = new VirtualClock(0);
    const limiter = new SlidingWindowLimiter({}, clock);
    const started: [number, number][] = [];
    await Promise.all(Array.from({ length: 12 }, (_, i) => limiter.acquire('c').then(() => started.push([i, clock.now()]))));
    assert.deepEqual(started.map(([i]) => i), [...Array(12).keys()]);
    assert.deepEqual(started.map(([, t]) => t), [0, 0, 0, 0, 0, 30_250, 30_250, 30_250, 30_250, 30_250, 60_500, 60_500]);
  });

  test('property: no window of windowMs + margin ever holds more than limit starts', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 60_000 }), fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 25 }),
      async (limit, windowMs, gaps) => {
        const clock = new VirtualClock(0);
        const limiter = new SlidingWindowLimiter({ limit, windowMs, marginMs: 0 }, clock);
        const starts: number[] = [];
        const pending: Promise<void>[] = [];
        for (const gap of gaps) {
          clock.advance(gap);
          pending.push(limiter.acquire('k').then(() => { starts.push(clock.now()); }));
          await new Promise((r) => setImmediate(r)); // a free slot is taken now, before time moves on
        }
        await Promise.all(pending);
        starts.sort((a, b) => a - b);
        for (let i = limit; i < starts.length; i++) assert.ok(starts[i] - starts[i - limit] >= windowMs, `starts ${starts[i - limit]} and ${starts[i]} within ${windowMs}`);
      },
    ), { numRuns: 100 });
  });

  test('keys are independent', async () => {
    const clock = new VirtualClock(0);
    const limiter = new SlidingWindowLimiter({ limit: 1, windowMs: 1000 }, clock);
    await limiter.acquire('a');
    await limiter.acquire('b');
    assert.equal(clock.now(), 0);
    assert.equal(limiter.used('a'), 1);
    await limiter.acquire('a');
    assert.equal(clock.now(), 1250);
  });

  test('blockUntil holds a key (a 429 said Retry-After) even with room in the window', async () => {
    const clock = new VirtualClock(0);
    const limiter = new SlidingWindowLimiter({}, clock);
    limiter.blockUntil('c', 7000);
    await limiter.acquire('c');
    assert.equal(clock.now(), 7000);
    await limiter.acquire('other');
    assert.equal(clock.now(), 7000);
  });

  test('an aborted caller leaves the queue; the others keep their order', async () => {
    const clock = new VirtualClock(0);
    const limiter = new SlidingWindowLimiter({ limit: 1, windowMs: 1000 }, clock);
    await limiter.acquire('c');
    const ac = new AbortController();
    const order: string[] = [];
    const first = limiter.acquire('c', ac.signal).then(() => order.push('aborted one'), () => order.push('aborted'));
    const second = limiter.acquire('c').then(() => order.push('second'));
    assert.equal(limiter.pending('c'), 2);
    ac.abort();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['aborted', 'second']);
    await assert.rejects(limiter.acquire('c', AbortSignal.abort()));
  });

  test('refuses nonsense settings', () => {
    assert.throws(() => new SlidingWindowLimiter({ limit: 0 }), RangeError);
    assert.throws(() => new SlidingWindowLimiter({ limit: 1.5 }), RangeError);
    assert.throws(() => new SlidingWindowLimiter({ windowMs: 0 }), RangeError);
    assert.throws(() => new SlidingWindowLimiter({ marginMs: -1 }), RangeError);
  });
});
