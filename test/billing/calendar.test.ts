/**
 * Calendar rules: months, free tiers, volume tiers and rate changes turn over at 00:00 in the
 * WABA's time zone, so the local day/month of a unix-seconds instant must be right in every zone,
 * including across DST changes and in zones with 30/45-minute offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertTimeZone,
  isoUtc,
  localDay,
  localMonth,
  utcDayStart,
  utcMonthStart,
  utcOffsetSeconds,
} from '../../src/billing/calendar.ts';

const at = (iso: string): number => Date.parse(iso) / 1000;

test('assertTimeZone accepts IANA zones and UTC, refuses unknown ones with a clear Error', () => {
  assert.equal(assertTimeZone('UTC'), 'UTC');
  assert.equal(assertTimeZone('Etc/UTC'), 'Etc/UTC');
  assert.equal(assertTimeZone('Europe/Berlin'), 'Europe/Berlin');
  assert.equal(assertTimeZone('Asia/Kolkata'), 'Asia/Kolkata'); // not rewritten to Asia/Calcutta
  assert.throws(() => assertTimeZone('Mars/Olympus_Mons'), /unknown time zone "Mars\/Olympus_Mons"/);
  assert.throws(() => assertTimeZone(''), /empty/);
  assert.throws(() => assertTimeZone('+05:30'), /unknown time zone/);
  assert.throws(() => localDay(0, 'Nowhere/Town'), /unknown time zone/);
});

test('UTC days and months are pure arithmetic', () => {
  assert.equal(localDay(0, 'UTC'), '1970-01-01');
  assert.equal(localDay(at('2024-02-29T23:59:59Z'), 'UTC'), '2024-02-29');
  assert.equal(localDay(at('2024-03-01T00:00:00Z'), 'Etc/UTC'), '2024-03-01');
  assert.equal(localMonth(at('2024-12-31T23:59:59Z'), 'UTC'), '2024-12');
  assert.equal(localMonth(at('2025-01-01T00:00:00Z'), 'UTC'), '2025-01');
  assert.equal(localDay(-1, 'UTC'), '1969-12-31');
});

test('the month boundary follows the WABA zone: 2024-10-31T23:30Z is November in Europe/Berlin', () => {
  const ts = at('2024-10-31T23:30:00Z');
  assert.equal(localMonth(ts, 'Europe/Berlin'), '2024-11');
  assert.equal(localDay(ts, 'Europe/Berlin'), '2024-11-01');
  assert.equal(localMonth(ts, 'UTC'), '2024-10');
  assert.equal(localMonth(ts, 'America/New_York'), '2024-10');
  // …and 2024-07-01T03:59:59Z is still June in New York (EDT, UTC−4).
  assert.equal(localMonth(at('2024-07-01T03:59:59Z'), 'America/New_York'), '2024-06');
  assert.equal(localMonth(at('2024-07-01T04:00:00Z'), 'America/New_York'), '2024-07');
});

test('DST transitions in America/New_York move local midnight by one hour', () => {
  // Before 2024-03-10 the zone is EST (UTC−5); midnight is 05:00Z.
  assert.equal(localDay(at('2024-03-10T04:59:59Z'), 'America/New_York'), '2024-03-09');
  assert.equal(localDay(at('2024-03-10T05:00:00Z'), 'America/New_York'), '2024-03-10');
  // Spring forward at 07:00Z; next midnight is 04:00Z (EDT).
  assert.equal(utcOffsetSeconds(at('2024-03-10T06:59:59Z'), 'America/New_York'), -5 * 3600);
  assert.equal(utcOffsetSeconds(at('2024-03-10T07:00:00Z'), 'America/New_York'), -4 * 3600);
  assert.equal(localDay(at('2024-03-11T03:59:59Z'), 'America/New_York'), '2024-03-10');
  assert.equal(localDay(at('2024-03-11T04:00:00Z'), 'America/New_York'), '2024-03-11');
  // Fall back at 06:00Z on 2024-11-03.
  assert.equal(utcOffsetSeconds(at('2024-11-03T05:59:59Z'), 'America/New_York'), -4 * 3600);
  assert.equal(utcOffsetSeconds(at('2024-11-03T06:00:00Z'), 'America/New_York'), -5 * 3600);
  assert.equal(localDay(at('2024-11-04T04:59:59Z'), 'America/New_York'), '2024-11-03');
  assert.equal(localDay(at('2024-11-04T05:00:00Z'), 'America/New_York'), '2024-11-04');
});

test('DST transitions in Europe/Berlin', () => {
  // CEST starts 2024-03-31T01:00Z: midnight of April 1 is 2024-03-31T22:00Z.
  assert.equal(localDay(at('2024-03-31T21:59:59Z'), 'Europe/Berlin'), '2024-03-31');
  assert.equal(localDay(at('2024-03-31T22:00:00Z'), 'Europe/Berlin'), '2024-04-01');
  assert.equal(localMonth(at('2024-03-31T22:00:00Z'), 'Europe/Berlin'), '2024-04');
  // CET resumes 2024-10-27T01:00Z.
  assert.equal(utcOffsetSeconds(at('2024-10-27T00:59:59Z'), 'Europe/Berlin'), 7200);
  assert.equal(utcOffsetSeconds(at('2024-10-27T01:00:00Z'), 'Europe/Berlin'), 3600);
});

test('half- and quarter-hour offsets: Asia/Kolkata (+5:30), Asia/Kathmandu (+5:45)', () => {
  assert.equal(localDay(at('2024-01-31T18:29:59Z'), 'Asia/Kolkata'), '2024-01-31');
  assert.equal(localDay(at('2024-01-31T18:30:00Z'), 'Asia/Kolkata'), '2024-02-01');
  assert.equal(localMonth(at('2024-01-31T18:30:00Z'), 'Asia/Kolkata'), '2024-02');
  assert.equal(localDay(at('2024-01-31T18:14:59Z'), 'Asia/Kathmandu'), '2024-01-31');
  assert.equal(localDay(at('2024-01-31T18:15:00Z'), 'Asia/Kathmandu'), '2024-02-01');
  assert.equal(utcOffsetSeconds(at('2024-06-01T00:00:00Z'), 'Asia/Kathmandu'), 5 * 3600 + 45 * 60);
});

test('Pacific/Apia skipped 2011-12-30 entirely and is UTC+13 without DST since 2021', () => {
  assert.equal(localDay(at('2011-12-30T09:59:59Z'), 'Pacific/Apia'), '2011-12-29');
  assert.equal(localDay(at('2011-12-30T10:00:00Z'), 'Pacific/Apia'), '2011-12-31');
  assert.equal(localMonth(at('2024-06-30T10:59:59Z'), 'Pacific/Apia'), '2024-06');
  assert.equal(localMonth(at('2024-06-30T11:00:00Z'), 'Pacific/Apia'), '2024-07');
});

/** Local date straight from a fresh Intl formatter: the reference the cached path must match. */
function referenceDay(ts: number, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(ts * 1000);
  const get = (type: string): string => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

test('cached offsets agree with Intl at every transition second (incl. Lord Howe half-hour DST)', () => {
  const zonesToCheck = [
    'America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'America/St_Johns',
    'Pacific/Chatham', 'Asia/Tehran', 'Australia/Eucla', 'Pacific/Apia', 'Asia/Kathmandu',
  ];
  const reference = (tz: string) =>
    new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
  const offsetText = (f: Intl.DateTimeFormat, ts: number) =>
    f.formatToParts(ts * 1000).find((p) => p.type === 'timeZoneName')!.value;
  let transitions = 0;
  for (const tz of zonesToCheck) {
    const f = reference(tz);
    // Scan 2021..2026 in 6-hour steps for offset changes, then find each exact transition second.
    for (let t = at('2021-01-01T00:00:00Z'); t < at('2027-01-01T00:00:00Z'); t += 6 * 3600) {
      if (offsetText(f, t) === offsetText(f, t + 6 * 3600)) continue;
      let lo = t, hi = t + 6 * 3600; // offset(lo) differs from offset(hi)
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetText(f, mid) === offsetText(f, lo)) lo = mid; else hi = mid;
      }
      transitions++;
      for (const s of [lo - 1, lo, hi, hi + 1, hi + 1799, hi + 3600]) {
        assert.equal(localDay(s, tz), referenceDay(s, tz), `${tz} at ${isoUtc(s)}`);
      }
      // A day boundary next to the transition must also be right.
      for (let s = hi - 26 * 3600; s < hi + 26 * 3600; s += 900) {
        assert.equal(localDay(s, tz), referenceDay(s, tz), `${tz} at ${isoUtc(s)}`);
      }
    }
  }
  assert.ok(transitions > 40, `found ${transitions} transitions`);
});

test('an offset change inside a 15-minute cache bucket is resolved exactly (Monrovia LMT 1972)', () => {
  // Africa/Monrovia went from −0:44:30 to UTC at local midnight, i.e. 1972-01-07T00:44:30Z:
  // that instant is in the middle of the 00:30–00:45 bucket.
  assert.equal(localDay(at('1972-01-07T00:44:29Z'), 'Africa/Monrovia'), '1972-01-06');
  assert.equal(localDay(at('1972-01-07T00:44:30Z'), 'Africa/Monrovia'), '1972-01-07');
  assert.equal(utcOffsetSeconds(at('1972-01-07T00:30:00Z'), 'Africa/Monrovia'), -2670);
  assert.equal(utcOffsetSeconds(at('1972-01-07T00:44:59Z'), 'Africa/Monrovia'), 0);
  assert.equal(localDay(at('1972-01-07T00:44:29Z'), 'Africa/Monrovia'), '1972-01-06'); // now from cache
});

test('local days match Intl for 20k pseudo-random instants in many zones', () => {
  const tzs = ['Asia/Kolkata', 'America/Sao_Paulo', 'Africa/Lagos', 'Asia/Jakarta', 'America/Los_Angeles',
    'Europe/London', 'Australia/Adelaide', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'America/Havana'];
  let seed = 42;
  for (let i = 0; i < 20_000; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const ts = at('2015-01-01T00:00:00Z') + (seed % (15 * 365 * 86_400));
    const tz = tzs[i % tzs.length];
    assert.equal(localDay(ts, tz), referenceDay(ts, tz), `${tz} at ${ts}`);
  }
});

test('UTC helpers: day start, month start, ISO text without milliseconds', () => {
  const ts = at('2024-02-29T13:45:07Z');
  assert.equal(utcDayStart(ts), at('2024-02-29T00:00:00Z'));
  assert.equal(utcMonthStart(ts), at('2024-02-01T00:00:00Z'));
  assert.equal(utcMonthStart(at('2025-01-01T00:00:00Z')), at('2025-01-01T00:00:00Z'));
  assert.equal(utcMonthStart(at('2024-12-31T23:59:59Z')), at('2024-12-01T00:00:00Z'));
  assert.equal(utcDayStart(-1), -86_400);
  assert.equal(isoUtc(ts), '2024-02-29T13:45:07Z');
  assert.equal(isoUtc(0), '1970-01-01T00:00:00Z');
  assert.equal(isoUtc(1_700_000_000.999), '2023-11-14T22:13:20Z');
  assert.equal(isoUtc(-1), '1969-12-31T23:59:59Z');
});

test('non-finite or out-of-range timestamps are refused, not turned into "NaN-NaN"', () => {
  assert.throws(() => localDay(Number.NaN, 'UTC'), RangeError);
  assert.throws(() => localMonth(Infinity, 'Europe/Berlin'), RangeError);
  assert.throws(() => isoUtc(1e12), RangeError);
});
