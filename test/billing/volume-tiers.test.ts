/**
 * Volume tiers (the billing reference §1): tier tables as data, contiguous and marginal; the
 * schedule in force is the latest effective date on or before the day; a tier's label is Meta's
 * `"LOWER:UPPER"`. Breakpoints are Meta's example (Rest of Africa, utility, USD, October 2026).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TierBook,
  loadDefaultTierBook,
  parseVolumeTiers,
  tierCategoryOf,
  tierIndexOf,
  tierLabel,
  type VolumeTierRow,
} from '../../src/billing/volume-tiers.ts';

const HEADER = 'market,currency,category,from,to,rate';
const AFRICA = [
  HEADER,
  'Rest of Africa,USD,utility,0,100000,0.0040',
  'Rest of Africa,USD,utility,100001,1000000,0.0038',
  'Rest of Africa,USD,utility,1000001,4500000,0.0036',
  'Rest of Africa,USD,utility,4500001,40000000,0.0034',
  'Rest of Africa,USD,utility,40000001,80000000,0.0032',
  'Rest of Africa,USD,utility,80000001,,0.0030',
].join('\n');

const parse = (text: string, effectiveFrom = '2026-10-01') => parseVolumeTiers(text, { effectiveFrom, source: 'tiers.csv' });

/** The error message parseVolumeTiers throws for `text`. */
function parseError(text: string): string {
  try {
    parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected a parse error');
}

describe('parseVolumeTiers', () => {
  test("reads Meta's example: six tiers, rates in micros, the last one open", () => {
    const rows = parse(AFRICA);
    assert.equal(rows.length, 6);
    assert.deepEqual(rows[0], { effectiveFrom: '2026-10-01', market: 'Rest of Africa', currency: 'USD', category: 'utility', from: 0, to: 100_000, rate: 4000, source: 'tiers.csv' });
    assert.deepEqual(rows.map((r) => r.rate), [4000, 3800, 3600, 3400, 3200, 3000]);
    assert.equal(rows[5].to, null);
  });

  test('accepts category spellings, any column order and case, grouped counts, currency markers, MAX', () => {
    const rows = parse([
      'Rate,To,From,Category,Currency,Market',
      '$0.0300,"1,000",1,Authentication-International,usd,India',
      '0.0250,MAX,1001,authentication_international,USD,India',
      '0.0100,,0,AUTHENTICATION,USD,India',
    ].join('\n'));
    assert.deepEqual(rows.map((r) => [r.category, r.from, r.to, r.rate, r.currency]), [
      ['authentication_international', 1, 1000, 30_000, 'USD'],
      ['authentication_international', 1001, null, 25_000, 'USD'],
      ['authentication', 0, null, 10_000, 'USD'],
    ]);
    assert.equal(tierCategoryOf('authentication-international'), 'authentication_international');
    assert.equal(tierCategoryOf('marketing'), undefined);
  });

  test('a gap between tiers is refused, naming both lines and the expected start', () => {
    const msg = parseError(AFRICA.replace('100001,1000000', '100002,1000000'));
    assert.match(msg, /tiers\.csv line 3: tier starts at 100002/);
    assert.match(msg, /line 2\) ends at 100000; expected 100001/);
  });

  test('an overlap, and tiers out of ascending order, are refused with their line', () => {
    assert.match(parseError(AFRICA.replace('100001,1000000', '90000,1000000')), /line 3: tier starts at 90000/);
    const lines = AFRICA.split('\n');
    [lines[2], lines[3]] = [lines[3], lines[2]];
    assert.match(parseError(lines.join('\n')), /line 3: tier starts at 1000001 but the previous one .* ends at 100000/);
  });

  test('the first tier starts at 0 or 1', () => {
    assert.match(parseError(`${HEADER}\nX,USD,utility,5,,0.01`), /line 2: the first of the utility tiers of X USD starts at 5; expected 0 or 1/);
  });

  test('only the last tier is open-ended, and it must be', () => {
    assert.match(parseError(`${HEADER}\nX,USD,utility,1,,0.01\nX,USD,utility,2,,0.01`), /line 3: a tier after the open-ended tier \(tiers\.csv line 2\)/);
    assert.match(parseError(`${HEADER}\nX,USD,utility,1,10,0.01\nX,USD,utility,11,20,0.01`), /line 3: the last of the utility tiers of X USD ends at 20; leave "to" empty/);
  });

  test('a tier ending below its start is refused', () => {
    assert.match(parseError(`${HEADER}\nX,USD,utility,1,10,0.01\nX,USD,utility,11,5,0.01\nX,USD,utility,6,,0.01`), /line 3: "to" 5 is below "from" 11/);
  });

  test('bad cells name their line and column', () => {
    assert.match(parseError(`${HEADER}\nX,USD,marketing,0,,0.01`), /line 2, column "category": "marketing" has no volume tiers/);
    assert.match(parseError(`${HEADER}\nX,US,utility,0,,0.01`), /line 2, column "currency"/);
    assert.match(parseError(`${HEADER}\nX,USD,utility,zero,,0.01`), /line 2, column "from": "zero" is not a whole number/);
    assert.match(parseError(`${HEADER}\nX,USD,utility,0,1.5,0.01\nX,USD,utility,2,,0.01`), /line 2, column "to": "1.5"/);
    assert.match(parseError(`${HEADER}\nX,USD,utility,0,,abc`), /line 2, column "rate": bad rate "abc"/);
    assert.match(parseError(`${HEADER}\n,USD,utility,0,,0.01`), /line 2, column "market": market is empty/);
  });

  test('the header must have exactly the six columns', () => {
    assert.match(parseError('market,currency,category,from,rate\nX,USD,utility,0,0.01'), /line 1: missing column "to"/);
    assert.match(parseError(`${HEADER},notes\n`), /line 1: unknown column "notes"/);
    assert.match(parseError(''), /empty file/);
    assert.match(parseError(`${HEADER}\n`), /no tier rows/);
  });

  test('line numbers count blank lines and are those of the file', () => {
    assert.match(parseError(`${HEADER}\n\nX,USD,utility,0,10,0.01\n\nX,USD,utility,12,,0.01`), /line 5: tier starts at 12/);
  });

  test('the effective date must be a real day', () => {
    assert.throws(() => parse(AFRICA, '2026-02-30'), /effectiveFrom "2026-02-30" is not a YYYY-MM-DD date/);
  });
});

describe('tierIndexOf and tierLabel', () => {
  const schedule = new TierBook().add(parse(AFRICA)).scheduleFor({ market: 'Rest of Africa', currency: 'USD', category: 'utility', day: '2026-10-15' })!;

  test("Meta's example breakpoints: 100000 → tier 0, 100001 → tier 1, 80000001 → the last", () => {
    assert.equal(tierIndexOf(schedule, 1), 0);
    assert.equal(tierIndexOf(schedule, 100_000), 0);
    assert.equal(tierIndexOf(schedule, 100_001), 1);
    assert.equal(tierIndexOf(schedule, 1_000_000), 1);
    assert.equal(tierIndexOf(schedule, 1_000_001), 2);
    assert.equal(tierIndexOf(schedule, 4_500_001), 3);
    assert.equal(tierIndexOf(schedule, 80_000_000), 4);
    assert.equal(tierIndexOf(schedule, 80_000_001), 5);
    assert.equal(tierIndexOf(schedule, 9_000_000_000), 5);
    assert.equal(schedule.tiers[tierIndexOf(schedule, 100_001)].rate, 3800);
  });

  test('an ordinal is a whole number ≥ 1', () => {
    assert.throws(() => tierIndexOf(schedule, 0), RangeError);
    assert.throws(() => tierIndexOf(schedule, 1.5), RangeError);
  });

  test('labels are "LOWER:UPPER" like volume_tier_info.tier, MAX for the open tier', () => {
    assert.deepEqual(schedule.tiers.map(tierLabel), ['0:100000', '100001:1000000', '1000001:4500000', '4500001:40000000', '40000001:80000000', '80000001:MAX']);
  });

  test('a single open tier holds every ordinal', () => {
    const one = { tiers: [{ from: 1, to: null, rate: 10 }] };
    assert.equal(tierIndexOf(one, 1), 0);
    assert.equal(tierIndexOf(one, 10 ** 9), 0);
    assert.equal(tierLabel(one.tiers[0]), '1:MAX');
  });
});

describe('TierBook', () => {
  const row = (effectiveFrom: string, from: number, to: number | null, rate: number, extra: Partial<VolumeTierRow> = {}): VolumeTierRow =>
    ({ effectiveFrom, market: 'India', currency: 'INR', category: 'authentication', from, to, rate, source: 'test', ...extra });

  test('the schedule in force is the latest effective date on or before the day', () => {
    const book = new TierBook().add([row('2026-01-01', 0, 10, 5), row('2026-01-01', 11, null, 4), row('2026-07-01', 0, null, 3)]);
    const q = (day: string) => book.scheduleFor({ market: 'India', currency: 'INR', category: 'authentication', day });
    assert.equal(q('2025-12-31'), null);
    assert.equal(q('2026-01-01')!.effectiveFrom, '2026-01-01');
    assert.equal(q('2026-06-30')!.tiers.length, 2);
    assert.equal(q('2026-07-01')!.effectiveFrom, '2026-07-01');
    assert.equal(q('2030-01-01')!.tiers[0].rate, 3);
  });

  test('no schedule for another market, currency or an untiered category', () => {
    const book = new TierBook().add([row('2026-01-01', 0, null, 5)]);
    assert.equal(book.scheduleFor({ market: 'India', currency: 'USD', category: 'authentication', day: '2026-02-01' }), null);
    assert.equal(book.scheduleFor({ market: 'Other', currency: 'INR', category: 'authentication', day: '2026-02-01' }), null);
    assert.equal(book.scheduleFor({ market: 'India', currency: 'INR', category: 'marketing', day: '2026-02-01' }), null);
    assert.equal(book.scheduleFor({ market: 'India', currency: 'INR', category: 'utility', day: '2026-02-01' }), null);
  });

  test('pricing.category spellings find the authentication-international schedule', () => {
    const book = new TierBook().add([row('2026-01-01', 0, null, 5, { category: 'authentication_international' })]);
    assert.ok(book.scheduleFor({ market: 'India', currency: 'INR', category: 'authentication-international', day: '2026-02-01' }));
    assert.ok(book.scheduleFor({ market: 'India', currency: 'INR', category: 'AUTHENTICATION_INTERNATIONAL', day: '2026-02-01' }));
  });

  test('a later load for the same date, market, currency and category replaces the schedule whole', () => {
    const book = new TierBook().add([row('2026-01-01', 0, 10, 5), row('2026-01-01', 11, 20, 4), row('2026-01-01', 21, null, 3)]);
    book.add([row('2026-01-01', 1, null, 7, { source: 'upload' })]);
    const s = book.scheduleFor({ market: 'India', currency: 'INR', category: 'authentication', day: '2026-01-01' })!;
    assert.deepEqual(s.tiers, [{ from: 1, to: null, rate: 7 }]);
    assert.equal(s.source, 'upload');
    assert.equal(book.rows().length, 1);
  });

  test('rows in any order form one sorted schedule; an invalid schedule leaves the book untouched', () => {
    const book = new TierBook().add([row('2026-01-01', 11, null, 4), row('2026-01-01', 0, 10, 5)]);
    assert.deepEqual(book.rows().map((r) => r.from), [0, 11]);
    assert.throws(() => book.add([row('2026-01-01', 0, 10, 1), row('2026-01-01', 12, null, 1)]), /starts at 12/);
    assert.throws(() => book.add([row('2026-01-01', 0, null, -1)]), /not non-negative integer micros/);
    assert.deepEqual(book.rows().map((r) => r.rate), [5, 4]);
  });

  test('the shipped default holds only the documented example, and each call is independent', () => {
    const book = loadDefaultTierBook();
    const rows = book.rows();
    assert.equal(rows.length, 6);
    assert.ok(rows.every((r) => r.market === 'Rest of Africa' && r.currency === 'USD' && r.category === 'utility' && r.effectiveFrom === '2026-10-01'));
    assert.equal(book.scheduleFor({ market: 'Rest of Africa', currency: 'USD', category: 'utility', day: '2026-09-30' }), null);
    const s = book.scheduleFor({ market: 'Rest of Africa', currency: 'USD', category: 'utility', day: '2026-10-01' })!;
    assert.equal(s.source, 'reference/volume-tiers-usd.csv');
    book.add([{ ...rows[0], to: null }]);
    assert.equal(loadDefaultTierBook().rows().length, 6);
  });
});
