/**
 * The client's `dateWindows`: a range becomes windows cut on UTC day or month boundaries, with
 * inclusive UNIX-second bounds, no gap, no overlap, each no longer than allowed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dateWindows, toUnixSeconds, type DateWindow } from '../../client/src/index.ts';

const s = (iso: string) => Date.parse(iso.endsWith('Z') ? iso : `${iso}Z`) / 1000;
const iso = (sec: number) => new Date(sec * 1000).toISOString().replace('.000', '');
const show = (ws: DateWindow[]) => ws.map((w) => [iso(w.start_date), iso(w.end_date)]);

describe('client dateWindows: days', () => {
  test('one instant is one window: its whole UTC day', () => {
    assert.deepEqual(show(dateWindows(s('2026-03-15T13:45:10'), s('2026-03-15T13:45:10'), { granularity: 'day' })),
      [['2026-03-15T00:00:00Z', '2026-03-15T23:59:59Z']]);
  });

  test('bounds mid-day widen to whole days; end_date is the last second, inclusive', () => {
    const ws = dateWindows(s('2026-03-01T10:00:00'), s('2026-03-03T00:00:00'), { granularity: 'day' });
    assert.deepEqual(show(ws), [['2026-03-01T00:00:00Z', '2026-03-03T23:59:59Z']]);
  });

  test('an end exactly at midnight includes that day (inclusive bound)', () => {
    const ws = dateWindows(s('2026-03-01'), s('2026-03-02T00:00:00'), { granularity: 'day', maxDays: 1 });
    assert.deepEqual(show(ws), [['2026-03-01T00:00:00Z', '2026-03-01T23:59:59Z'], ['2026-03-02T00:00:00Z', '2026-03-02T23:59:59Z']]);
  });

  test('an end one second before midnight does not reach the next day', () => {
    const ws = dateWindows(s('2026-03-01'), s('2026-03-01T23:59:59'), { granularity: 'day' });
    assert.deepEqual(show(ws), [['2026-03-01T00:00:00Z', '2026-03-01T23:59:59Z']]);
  });

  test('maxDays cuts the range; the last window is the remainder', () => {
    const ws = dateWindows(s('2026-01-01'), s('2026-03-01T12:00:00'), { granularity: 'day', maxDays: 31 });
    assert.deepEqual(show(ws), [
      ['2026-01-01T00:00:00Z', '2026-01-31T23:59:59Z'],
      ['2026-02-01T00:00:00Z', '2026-03-01T23:59:59Z'],
    ]);
  });

  test('default maxDays for days is 31', () => {
    const ws = dateWindows(s('2025-01-01'), s('2025-12-31T23:59:59'), { granularity: 'day' });
    assert.equal(ws.length, Math.ceil(365 / 31));
    for (const w of ws) assert.ok((w.end_date + 1 - w.start_date) / 86400 <= 31);
  });

  test('leap day and a year boundary', () => {
    const ws = dateWindows(s('2028-02-28'), s('2028-03-01'), { granularity: 'day', maxDays: 1 });
    assert.deepEqual(ws.map((w) => iso(w.start_date).slice(0, 10)), ['2028-02-28', '2028-02-29', '2028-03-01']);
    const y = dateWindows(s('2025-12-31T23:00:00'), s('2026-01-01T01:00:00'), { granularity: 'day', maxDays: 1 });
    assert.deepEqual(y.map((w) => iso(w.start_date).slice(0, 10)), ['2025-12-31', '2026-01-01']);
  });
});

describe('client dateWindows: months', () => {
  test('a range inside one month is that whole month', () => {
    assert.deepEqual(show(dateWindows(s('2026-02-10'), s('2026-02-11'), { granularity: 'month' })),
      [['2026-02-01T00:00:00Z', '2026-02-28T23:59:59Z']]);
  });

  test('months are never split, even when maxDays is shorter than a month', () => {
    const ws = dateWindows(s('2026-01-15'), s('2026-03-02'), { granularity: 'month', maxDays: 7 });
    assert.deepEqual(show(ws), [
      ['2026-01-01T00:00:00Z', '2026-01-31T23:59:59Z'],
      ['2026-02-01T00:00:00Z', '2026-02-28T23:59:59Z'],
      ['2026-03-01T00:00:00Z', '2026-03-31T23:59:59Z'],
    ]);
  });

  test('whole months are grouped while they fit in maxDays', () => {
    // Jan + Feb = 59 ≤ 60, + Mar = 90; Mar + Apr = 61 > 60; Apr + May = 61; May + Jun = 61.
    const ws = dateWindows(s('2026-01-01'), s('2026-06-30'), { granularity: 'month', maxDays: 60 });
    assert.deepEqual(show(ws), [
      ['2026-01-01T00:00:00Z', '2026-02-28T23:59:59Z'],
      ['2026-03-01T00:00:00Z', '2026-03-31T23:59:59Z'],
      ['2026-04-01T00:00:00Z', '2026-04-30T23:59:59Z'],
      ['2026-05-01T00:00:00Z', '2026-05-31T23:59:59Z'],
      ['2026-06-01T00:00:00Z', '2026-06-30T23:59:59Z'],
    ]);
    assert.deepEqual(show(dateWindows(s('2026-01-01'), s('2026-06-30'), { granularity: 'month', maxDays: 61 })), [
      ['2026-01-01T00:00:00Z', '2026-02-28T23:59:59Z'],
      ['2026-03-01T00:00:00Z', '2026-04-30T23:59:59Z'],
      ['2026-05-01T00:00:00Z', '2026-06-30T23:59:59Z'],
    ]);
  });

  test('default: up to twelve months (366 days) per window, across a leap February', () => {
    const ws = dateWindows(s('2027-03-05'), s('2029-01-01'), { granularity: 'month' });
    assert.deepEqual(show(ws), [
      ['2027-03-01T00:00:00Z', '2028-02-29T23:59:59Z'],
      ['2028-03-01T00:00:00Z', '2029-01-31T23:59:59Z'],
    ]);
  });

  test('an end at the first second of a month includes that month', () => {
    const ws = dateWindows(s('2026-11-30'), s('2026-12-01T00:00:00'), { granularity: 'month', maxDays: 31 });
    assert.deepEqual(show(ws), [['2026-11-01T00:00:00Z', '2026-11-30T23:59:59Z'], ['2026-12-01T00:00:00Z', '2026-12-31T23:59:59Z']]);
  });

  test('December → January', () => {
    const ws = dateWindows(s('2025-12-31T23:59:59'), s('2026-01-01T00:00:00'), { granularity: 'month', maxDays: 1 });
    assert.deepEqual(ws.map((w) => iso(w.start_date).slice(0, 7)), ['2025-12', '2026-01']);
  });
});

describe('client dateWindows: inputs and refusals', () => {
  test('Date objects and ISO strings give the same windows as UNIX seconds', () => {
    const a = dateWindows(s('2026-04-03T05:00:00'), s('2026-04-20'), { granularity: 'day', maxDays: 10 });
    assert.deepEqual(dateWindows(new Date('2026-04-03T05:00:00Z'), new Date('2026-04-20T00:00:00Z'), { granularity: 'day', maxDays: 10 }), a);
    assert.deepEqual(dateWindows('2026-04-03T05:00:00Z', '2026-04-20', { granularity: 'day', maxDays: 10 }), a);
    assert.equal(toUnixSeconds(new Date(1500)), 1, 'a Date is rounded down to whole seconds');
  });

  test('the UNIX epoch itself is a valid start', () => {
    assert.deepEqual(show(dateWindows(0, 0, { granularity: 'month' })), [['1970-01-01T00:00:00Z', '1970-01-31T23:59:59Z']]);
  });

  test('refuses start after end, invalid or negative dates, bad maxDays and granularity', () => {
    assert.throws(() => dateWindows(10, 9, { granularity: 'day' }), RangeError);
    assert.throws(() => dateWindows('not a date', 9, { granularity: 'day' }), RangeError);
    assert.throws(() => dateWindows(-1, 9, { granularity: 'day' }), RangeError);
    assert.throws(() => dateWindows(Number.NaN, 9, { granularity: 'day' }), RangeError);
    for (const maxDays of [0, -3, 1.5, Number.NaN]) assert.throws(() => dateWindows(0, 9, { granularity: 'day', maxDays }), RangeError);
    assert.throws(() => dateWindows(0, 9, { granularity: 'week' as 'day' }), RangeError);
  });

  test('property: windows tile the covering buckets exactly, in order, within maxDays', () => {
    const lo = s('2019-01-01');
    const hi = s('2031-01-01');
    fc.assert(fc.property(
      fc.integer({ min: lo, max: hi }), fc.integer({ min: 0, max: 3 * 366 * 86400 }), fc.constantFrom('day' as const, 'month' as const), fc.integer({ min: 1, max: 400 }),
      (start, span, granularity, maxDays) => {
        const end = start + span;
        const ws = dateWindows(start, end, { granularity, maxDays });
        assert.ok(ws.length >= 1);
        assert.ok(ws[0].start_date <= start && start <= ws[0].end_date, 'the first window holds start');
        const last = ws[ws.length - 1];
        assert.ok(last.start_date <= end && end <= last.end_date, 'the last window holds end');
        for (const [i, w] of ws.entries()) {
          assert.ok(w.start_date <= w.end_date);
          const d = new Date(w.start_date * 1000);
          assert.equal(w.start_date % 86400, 0, 'starts at UTC midnight');
          assert.equal((w.end_date + 1) % 86400, 0, 'ends at the last second of a UTC day');
          if (granularity === 'month') {
            assert.equal(d.getUTCDate(), 1, 'a month window starts on the 1st');
            assert.equal(new Date((w.end_date + 1) * 1000).getUTCDate(), 1, 'and ends on a month end');
          }
          const days = (w.end_date + 1 - w.start_date) / 86400;
          if (granularity === 'day' || days > 31) assert.ok(days <= maxDays || (granularity === 'month' && days <= 31), `window of ${days} days > ${maxDays}`);
          if (i > 0) assert.equal(w.start_date, ws[i - 1].end_date + 1, 'no gap, no overlap');
        }
      },
    ), { numRuns: 300 });
  });
});
