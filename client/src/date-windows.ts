/**
 * Walking a date range into request windows for `…/info/balance`.
 *
 * The server answers whole UTC buckets (days or months) that overlap `[start_date, end_date]`, so
 * windows are cut on bucket boundaries: each bucket then lands in exactly one window and the
 * windows' usage rows can simply be concatenated. Bounds are UNIX seconds, both inclusive, as the
 * API reads them (`end_date` = the last second of the window's last bucket).
 */
import type { DateInput, Granularity } from './types.js';

export interface DateWindow {
  /** First second of the window's first bucket (UTC). */
  start_date: number;
  /** Last second of the window's last bucket (UTC), inclusive. */
  end_date: number;
}

export interface DateWindowOptions {
  granularity: Granularity;
  /**
   * Longest window in days (default 31 for `day`, 366 for `month`). For `month` a window holds as
   * many whole months as fit, and always at least one: a month bucket is never split, since the
   * server would return the whole month for each part.
   */
  maxDays?: number;
}

const DAY = 86_400;

/** UNIX seconds of a number (already seconds), a Date, or an ISO-8601 string (`2026-03-01` is UTC midnight). */
export function toUnixSeconds(input: DateInput | string, name = 'date'): number {
  let s: number;
  if (typeof input === 'number') s = input;
  else if (input instanceof Date) s = input.getTime() / 1000;
  else if (typeof input === 'string') s = Date.parse(input) / 1000;
  else throw new TypeError(`${name} must be UNIX seconds, a Date or an ISO-8601 string`);
  if (!Number.isFinite(s)) throw new RangeError(`${name} is not a valid date: ${String(input)}`);
  if (s < 0) throw new RangeError(`${name} is before 1970-01-01: ${String(input)}`);
  return Math.floor(s);
}

/** Start of the UTC day holding `s`. */
export function utcDayStart(s: number): number {
  return s - (((s % DAY) + DAY) % DAY);
}

/** Start of the UTC month holding `s`. */
export function utcMonthStart(s: number): number {
  const d = new Date(s * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}

/** Start of the UTC month after the one holding `s`. */
export function nextUtcMonthStart(s: number): number {
  const d = new Date(s * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}

/**
 * The windows covering every `granularity` bucket that overlaps `[start, end]`, oldest first,
 * each at most `maxDays` long (a month window: whole months, at least one).
 *
 * @throws RangeError when `start > end`, a date is invalid or negative, or `maxDays` is not a
 *   positive integer.
 */
export function dateWindows(start: DateInput | string, end: DateInput | string, options: DateWindowOptions): DateWindow[] {
  const from = toUnixSeconds(start, 'start');
  const to = toUnixSeconds(end, 'end');
  if (from > to) throw new RangeError(`start (${from}) is after end (${to})`);
  const granularity = options.granularity;
  if (granularity !== 'day' && granularity !== 'month') throw new RangeError(`granularity must be 'day' or 'month', not ${String(granularity)}`);
  const maxDays = options.maxDays ?? (granularity === 'day' ? 31 : 366);
  if (!Number.isInteger(maxDays) || maxDays < 1) throw new RangeError(`maxDays must be a positive integer, not ${String(maxDays)}`);

  const windows: DateWindow[] = [];
  if (granularity === 'day') {
    const last = utcDayStart(to); // start of the last day
    for (let s = utcDayStart(from); s <= last; s += maxDays * DAY) {
      const e = Math.min(s + maxDays * DAY, last + DAY) - 1;
      windows.push({ start_date: s, end_date: e });
    }
    return windows;
  }
  const lastMonth = utcMonthStart(to);
  let s = utcMonthStart(from);
  while (s <= lastMonth) {
    // Whole months while they fit in maxDays; at least one.
    let e = nextUtcMonthStart(s);
    while (e <= lastMonth) {
      const next = nextUtcMonthStart(e);
      if ((next - s) / DAY > maxDays) break;
      e = next;
    }
    windows.push({ start_date: s, end_date: e - 1 });
    s = e;
  }
  return windows;
}
