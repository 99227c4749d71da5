/**
 * Calendar arithmetic in an explicit IANA time zone: which local day and month a unix-seconds
 * instant belongs to (billing months, free tiers, volume tiers and rate changes all turn over at
 * 00:00 in the WABA's time zone), plus UTC helpers for API buckets.
 *
 * `localDay`/`localMonth` run once per billing unit on the ingestion hot path, so:
 * - UTC zones are pure arithmetic;
 * - other zones ask Intl only for the zone's UTC offset, cached per zone per 15-minute bucket of
 *   UTC time. A bucket's offset is cached only after checking that the offset at the bucket's first
 *   and last second agree; a bucket that contains a transition (e.g. Lord Howe's half-hour DST,
 *   pre-1970 LMT offsets with seconds) is marked and resolved exactly on every call. So the cache is
 *   correct whatever the transition instants are (it would only fail if a zone changed offset twice
 *   within 15 minutes and back, which no tzdb zone does);
 * - the 'YYYY-MM-DD' / 'YYYY-MM' strings are memoised per day number (zone-independent).
 */

/** Unix seconds. */
export type UnixSeconds = number;

const DAY = 86_400;
const BUCKET = 900; // seconds per offset-cache bucket
const MAX_CACHED_BUCKETS = 200_000; // per zone; ~5.7 years of 15-minute buckets
const MAX_CACHED_DAYS = 50_000;
// Year 1..9999: outside it Intl switches to eras and ISO strings to six-digit years.
const MIN_TS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_TS = 253_402_300_799; // 9999-12-31T23:59:59Z

const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);

interface ZoneState {
  format: Intl.DateTimeFormat;
  /** bucket number → offset in seconds, or NaN when the offset changes inside the bucket. */
  offsets: Map<number, number>;
}

const zones = new Map<string, ZoneState>();

function zoneState(tz: string): ZoneState {
  let state = zones.get(tz);
  if (state === undefined) {
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new Error(`unknown time zone ${JSON.stringify(tz)} (expected an IANA name such as "Europe/Berlin" or "UTC")`);
    }
    state = { format, offsets: new Map() };
    zones.set(tz, state);
  }
  return state;
}

/**
 * Checks that `tz` is a time zone this runtime knows and returns it unchanged. Deliberately not
 * canonicalised: ICU's canonical ids are the legacy ones ("Asia/Kolkata" → "Asia/Calcutta"), which
 * would surprise operators reading their own configuration back.
 *
 * @throws Error for an empty or unknown zone (fixed offsets such as "+05:30" are not IANA zones).
 */
export function assertTimeZone(tz: string): string {
  if (typeof tz !== 'string' || tz.trim() === '') throw new Error('time zone is empty (expected an IANA name such as "UTC")');
  if (!UTC_ZONES.has(tz)) zoneState(tz);
  return tz;
}

function assertTs(ts: UnixSeconds, fn: string): void {
  if (!(ts >= MIN_TS && ts <= MAX_TS)) {
    throw new RangeError(`${fn}: ${ts} is not a unix-seconds time between years 1 and 9999`);
  }
}

/** The zone's UTC offset (seconds, local − UTC) at `ts`, straight from Intl. */
function exactOffset(format: Intl.DateTimeFormat, ts: number): number {
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const part of format.formatToParts(ts * 1000)) {
    switch (part.type) {
      case 'year': y = Number(part.value); break;
      case 'month': mo = Number(part.value); break;
      case 'day': d = Number(part.value); break;
      case 'hour': h = Number(part.value); break;
      case 'minute': mi = Number(part.value); break;
      case 'second': s = Number(part.value); break;
    }
  }
  const localAsUtc = daysFromCivil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
  return localAsUtc - ts;
}

function offsetAt(tz: string, ts: number): number {
  if (UTC_ZONES.has(tz)) return 0;
  const state = zoneState(tz);
  const bucket = Math.floor(ts / BUCKET);
  let offset = state.offsets.get(bucket);
  if (offset === undefined) {
    const start = bucket * BUCKET;
    const first = exactOffset(state.format, start);
    const last = exactOffset(state.format, start + BUCKET - 1);
    offset = first === last ? first : NaN;
    if (state.offsets.size >= MAX_CACHED_BUCKETS) state.offsets.clear();
    state.offsets.set(bucket, offset);
  }
  return offset === offset ? offset : exactOffset(state.format, ts); // NaN: transition inside
}

/** The zone's offset from UTC in seconds at `ts` (e.g. 19800 for Asia/Kolkata). */
export function utcOffsetSeconds(ts: UnixSeconds, tz: string): number {
  assertTs(ts, 'utcOffsetSeconds');
  return offsetAt(tz, Math.floor(ts));
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): { y: number; m: number; d: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

const dayStrings = new Map<number, string>();
const monthStrings = new Map<number, string>();

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function dayString(days: number): string {
  let s = dayStrings.get(days);
  if (s === undefined) {
    const { y, m, d } = civilFromDays(days);
    s = `${String(y).padStart(4, '0')}-${pad2(m)}-${pad2(d)}`;
    if (dayStrings.size >= MAX_CACHED_DAYS) dayStrings.clear();
    dayStrings.set(days, s);
  }
  return s;
}

function monthString(days: number): string {
  let s = monthStrings.get(days);
  if (s === undefined) {
    const { y, m } = civilFromDays(days);
    s = `${String(y).padStart(4, '0')}-${pad2(m)}`;
    if (monthStrings.size >= MAX_CACHED_DAYS) monthStrings.clear();
    monthStrings.set(days, s);
  }
  return s;
}

function localDayNumber(ts: UnixSeconds, tz: string, fn: string): number {
  assertTs(ts, fn);
  const t = Math.floor(ts);
  return Math.floor((t + offsetAt(tz, t)) / DAY);
}

/** 'YYYY-MM-DD' of the local calendar day in `tz` that contains `ts` (unix seconds). */
export function localDay(ts: UnixSeconds, tz: string): string {
  return dayString(localDayNumber(ts, tz, 'localDay'));
}

/** 'YYYY-MM' of the local calendar month in `tz` that contains `ts` (unix seconds). */
export function localMonth(ts: UnixSeconds, tz: string): string {
  return monthString(localDayNumber(ts, tz, 'localMonth'));
}

/** Unix seconds of 00:00:00 UTC of the UTC day containing `ts`. */
export function utcDayStart(ts: UnixSeconds): UnixSeconds {
  assertTs(ts, 'utcDayStart');
  return Math.floor(ts / DAY) * DAY;
}

/** Unix seconds of 00:00:00 UTC on the first day of the UTC month containing `ts`. */
export function utcMonthStart(ts: UnixSeconds): UnixSeconds {
  assertTs(ts, 'utcMonthStart');
  const { y, m } = civilFromDays(Math.floor(ts / DAY));
  return daysFromCivil(y, m, 1) * DAY;
}

/** 'YYYY-MM-DDTHH:MM:SSZ' (UTC, whole seconds; fractions are dropped, not rounded). */
export function isoUtc(ts: UnixSeconds): string {
  assertTs(ts, 'isoUtc');
  const t = Math.floor(ts);
  const days = Math.floor(t / DAY);
  const sec = t - days * DAY;
  const h = Math.floor(sec / 3600);
  const mi = Math.floor((sec % 3600) / 60);
  return `${dayString(days)}T${pad2(h)}:${pad2(mi)}:${pad2(sec % 60)}Z`;
}
