/**
 * Rate-card rules: the rate in force for a unit is the card row with the latest effective date on
 * or before the local day; `n/a` means the card has no such rate (reported, never defaulted);
 * operators load Meta's own CSV, whose shape varies between cards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RateBook,
  loadDefaultRateBook,
  parseMetaRateCard,
  parseShippedRates,
  type RateCardRow,
  type RateLookup,
} from '../../src/billing/rate-cards.ts';
import { marketsOn } from '../../src/billing/markets.ts';

const book = loadDefaultRateBook();
const usdMessage = (market: string, category: Parameters<RateBook['rateFor']>[0]['category'], day: string): RateLookup =>
  book.rateFor({ unit: 'message', market, currency: 'USD', category, day });

function rateOf(r: RateLookup): number {
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.rate;
}

test('Colombia utility 0.0008 USD is exactly 800 micros', () => {
  assert.equal(rateOf(usdMessage('Colombia', 'utility', '2026-01-15')), 800);
});

test('the rate in force is the latest card on or before the local day', () => {
  // Italy marketing: 0.0691 from 2026-01-01, 0.0795 from 2026-10-01.
  assert.equal(rateOf(usdMessage('Italy', 'marketing', '2026-01-01')), 69_100);
  assert.equal(rateOf(usdMessage('Italy', 'marketing', '2026-09-30')), 69_100);
  assert.equal(rateOf(usdMessage('Italy', 'marketing', '2026-10-01')), 79_500);
  assert.equal(rateOf(usdMessage('Italy', 'marketing', '2027-05-01')), 79_500);
  const r = usdMessage('Italy', 'marketing', '2026-10-01');
  assert.ok(r.ok && r.effectiveFrom === '2026-10-01' && r.source === 'reference/rates-usd-pmp.csv');
});

test('before the first card there is no rate, with a reason naming unit, currency, market and day', () => {
  assert.deepEqual(usdMessage('India', 'marketing', '2025-12-31'), {
    ok: false,
    missing: 'card',
    reason: 'no message rate card for USD in market "India" on 2025-12-31',
  });
  assert.deepEqual(usdMessage('India', 'utility', '2025-08-03'), {
    ok: false,
    missing: 'card',
    reason: 'no message rate card for USD in market "India" on 2025-08-03',
  });
  assert.equal(usdMessage('Atlantis', 'marketing', '2026-03-01').ok, false);
  assert.equal(book.rateFor({ unit: 'message', market: 'India', currency: 'EUR', category: 'marketing', day: '2026-03-01' }).ok, false);
});

test('n/a on the card in force means no rate, even if another card has one (service before 2026-10-01)', () => {
  assert.deepEqual(usdMessage('India', 'service', '2026-01-01'), {
    ok: false,
    missing: 'category',
    reason: 'card 2026-01-01 has no service rate for India',
  });
  assert.equal(rateOf(usdMessage('India', 'service', '2026-10-01')), 1_400);
  assert.deepEqual(usdMessage('Germany', 'authentication_international', '2026-10-01'), {
    ok: false,
    missing: 'category',
    reason: 'card 2026-10-01 has no authentication_international rate for Germany',
  });
  assert.equal(rateOf(usdMessage('India', 'authentication_international', '2026-10-01')), 30_400);
});

test('markets that became standalone on 2026-07-01 have a rate from that day', () => {
  assert.equal(rateOf(usdMessage('Poland', 'utility', '2026-07-01')), 12_200);
  assert.equal(usdMessage('Poland', 'utility', '2026-06-30').ok, false);
});

test('every market in force has a marketing and utility USD message rate (markets ↔ rate card names)', () => {
  for (const day of ['2026-01-01', '2026-07-01', '2026-10-01']) {
    for (const market of marketsOn(day)) {
      assert.ok(usdMessage(market, 'marketing', day).ok, `${market} marketing on ${day}`);
      assert.ok(usdMessage(market, 'utility', day).ok, `${market} utility on ${day}`);
    }
  }
});

test('per-conversation (CBP) points are a separate unit', () => {
  const conv = (market: string, category: 'marketing' | 'authentication_international' | 'service', day: string) =>
    book.rateFor({ unit: 'conversation', market, currency: 'USD', category, day });
  assert.equal(rateOf(conv('Indonesia', 'authentication_international', '2024-08-01')), 136_000);
  assert.equal(rateOf(conv('Other', 'service', '2024-08-01')), 14_500);
  assert.equal(conv('Malaysia', 'authentication_international', '2024-08-01').ok, false);
  assert.equal(conv('Indonesia', 'marketing', '2024-05-31').ok, false);
  // A message query never sees conversation rows.
  assert.equal(usdMessage('Indonesia', 'marketing', '2024-08-01').ok, false);
});

test('a row for the same date, unit, market and currency replaces the earlier one whole', () => {
  const b = loadDefaultRateBook();
  const before = b.rows().length;
  b.add([{ effectiveFrom: '2026-01-01', unit: 'message', market: 'India', currency: 'USD', rates: { marketing: 12_000 }, source: 'operator upload #7' }]);
  assert.equal(b.rows().length, before);
  const r = b.rateFor({ unit: 'message', market: 'India', currency: 'USD', category: 'marketing', day: '2026-02-01' });
  assert.deepEqual(r, { ok: true, rate: 12_000, effectiveFrom: '2026-01-01', source: 'operator upload #7' });
  // The replacement has no utility rate: the old row's utility is gone, not merged.
  assert.equal(b.rateFor({ unit: 'message', market: 'India', currency: 'USD', category: 'utility', day: '2026-02-01' }).ok, false);
  // The default book handed out earlier is untouched.
  assert.equal(rateOf(usdMessage('India', 'marketing', '2026-02-01')), 11_800);
});

test('rows added out of order are looked up by date (binary search over sorted rows)', () => {
  const b = new RateBook();
  const row = (effectiveFrom: string, marketing: number): RateCardRow =>
    ({ effectiveFrom, unit: 'message', market: 'Peru', currency: 'PEN', rates: { marketing }, source: 't' });
  b.add([row('2026-10-01', 3), row('2026-04-01', 1), row('2026-07-01', 2)]);
  const at = (day: string) => b.rateFor({ unit: 'message', market: 'Peru', currency: 'PEN', category: 'marketing', day });
  assert.equal(at('2026-03-31').ok, false);
  assert.equal(rateOf(at('2026-04-01')), 1);
  assert.equal(rateOf(at('2026-06-30')), 1);
  assert.equal(rateOf(at('2026-07-01')), 2);
  assert.equal(rateOf(at('2026-10-01')), 3);
  assert.deepEqual(b.rows().map((r) => r.effectiveFrom), ['2026-04-01', '2026-07-01', '2026-10-01']);
});

test('the book refuses rows that are not money or dates', () => {
  const b = new RateBook();
  const base: RateCardRow = { effectiveFrom: '2026-01-01', unit: 'message', market: 'Peru', currency: 'USD', rates: {}, source: 't' };
  assert.throws(() => b.add([{ ...base, rates: { marketing: 0.07 } }]), /integer micros/);
  assert.throws(() => b.add([{ ...base, rates: { marketing: -1 } }]), /integer micros/);
  assert.throws(() => b.add([{ ...base, effectiveFrom: '2026-13-01' }]), /YYYY-MM-DD/);
  assert.throws(() => b.add([{ ...base, currency: 'usd' }]), /ISO 4217/);
});

test("Meta's CSV with a title row, reordered columns, symbols, quoted names and n/a", () => {
  const csv = [
    'WhatsApp Business Platform rates effective January 1 2026,,,',
    '',
    'Market,Currency,Utility,Marketing,Authentication,Authentication-International,Service,Notes',
    'Colombia,USD,$0.0008,$0.0125,$0.0008,n/a,n/a,',
    '"Rest of Central & Eastern Europe",USD, 0.0212 , 0.0860 ,0.0212,,n/a,see tiers',
    '"Korea, Republic of",USD,0.0100,0.0500,0.0100,N/A,,',
    '',
    '* Rates are per delivered message.,,,',
  ].join('\r\n');
  const rows = parseMetaRateCard(csv, { effectiveFrom: '2026-01-01', unit: 'message', source: 'meta-usd-2026-01.csv' });
  assert.deepEqual(rows.map((r) => r.market), ['Colombia', 'Rest of Central & Eastern Europe', 'Korea, Republic of']);
  assert.deepEqual(rows[0], {
    effectiveFrom: '2026-01-01', unit: 'message', market: 'Colombia', currency: 'USD',
    rates: { utility: 800, marketing: 12_500, authentication: 800 }, source: 'meta-usd-2026-01.csv',
  });
  assert.deepEqual(rows[1].rates, { utility: 21_200, marketing: 86_000, authentication: 21_200 });
  const b = new RateBook().add(rows);
  assert.equal(rateOf(b.rateFor({ unit: 'message', market: 'Korea, Republic of', currency: 'USD', category: 'marketing', day: '2026-02-01' })), 50_000);
});

test("a 2022 Meta card with Business-Initiated / User-Initiated columns (CBP v1)", () => {
  const csv = [
    'market,currency,user-initiated,BUSINESS-INITIATED',
    'India,INR,0.3509,0.5264',
    'Other,USD,0.0200,0.0300',
  ].join('\n');
  const rows = parseMetaRateCard(csv, { effectiveFrom: '2022-02-01', unit: 'conversation', source: 'meta-2022.csv' });
  assert.deepEqual(rows.map((r) => [r.market, r.currency, r.rates]), [
    ['India', 'INR', { user_initiated: 350_900, business_initiated: 526_400 }],
    ['Other', 'USD', { user_initiated: 20_000, business_initiated: 30_000 }],
  ]);
  const b = new RateBook().add(rows);
  assert.equal(rateOf(b.rateFor({ unit: 'conversation', market: 'India', currency: 'INR', category: 'business_initiated', day: '2023-01-10' })), 526_400);
  assert.deepEqual(b.rateFor({ unit: 'conversation', market: 'India', currency: 'INR', category: 'marketing', day: '2023-01-10' }), {
    ok: false, missing: 'category', reason: 'card 2022-02-01 has no marketing rate for India',
  });
});

test('errors name the line and the column', () => {
  const bad = 'Title\nMarket,Currency,Marketing,Utility\nIndia,USD,0.0118,abc\n';
  assert.throws(
    () => parseMetaRateCard(bad, { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /x\.csv line 3, column "Utility": bad rate "abc"/,
  );
  assert.throws(
    () => parseMetaRateCard('Market,Currency,Marketing\nIndia,USD,0.00001234\n', { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /line 2, column "Marketing": .*more than 6 decimals/,
  );
  assert.throws(
    () => parseMetaRateCard('Market,Currency,Marketing\nIndia,US Dollar,0.01\n', { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /line 2, column "Currency"/,
  );
  assert.throws(
    () => parseMetaRateCard('Country,Price\nIndia,0.01\n', { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /x\.csv: no header row starting with "Market,Currency"/,
  );
  assert.throws(
    () => parseMetaRateCard('Market,Currency,Marketing\nIndia,USD,0.01\n', { effectiveFrom: '2026-1-1', unit: 'message', source: 'x.csv' }),
    /effectiveFrom "2026-1-1"/,
  );
  assert.throws(
    () => parseMetaRateCard('Market,Currency,Notes\nIndia,USD,x\n', { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /no rate columns/,
  );
  assert.throws(
    () => parseMetaRateCard('Market,Currency,Marketing\nIndia,USD,0.01\nIndia,USD,0.02\n', { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /line 3: a second row for India USD/,
  );
  assert.throws(
    () => parseMetaRateCard('Market,Currency,Marketing\n"India,USD,0.01\n', { effectiveFrom: '2026-01-01', unit: 'message', source: 'x.csv' }),
    /^Error: x\.csv: /,
  );
});

test('the shipped format is strict about its columns and dates', () => {
  const header = 'effective_from,market,currency,marketing,utility,authentication,authentication_international,service';
  const rows = parseShippedRates(`${header}\n2026-01-01,"Colombia",USD,0.0125,0.0008,0.0008,n/a,n/a\n`, { unit: 'message', source: 's.csv' });
  assert.deepEqual(rows[0].rates, { marketing: 12_500, utility: 800, authentication: 800 });
  assert.throws(() => parseShippedRates(`${header},bonus\n`, { unit: 'message', source: 's.csv' }), /unknown column "bonus"/);
  assert.throws(() => parseShippedRates('market,currency,marketing\nIndia,USD,0.01\n', { unit: 'message', source: 's.csv' }), /missing column "effective_from"/);
  assert.throws(
    () => parseShippedRates(`${header}\n2026-02-30,India,USD,0.01,0.01,0.01,n/a,n/a\n`, { unit: 'message', source: 's.csv' }),
    /s\.csv line 2, column "effective_from": "2026-02-30"/,
  );
  assert.throws(() => parseShippedRates('', { unit: 'message', source: 's.csv' }), /empty file/);
});

test('the default book holds both shipped files', () => {
  const rows = book.rows();
  assert.ok(rows.some((r) => r.unit === 'message' && r.source === 'reference/rates-usd-pmp.csv'));
  assert.equal(rows.filter((r) => r.unit === 'conversation').length, 3);
  assert.ok(rows.every((r) => Object.isFrozen(r) && Object.isFrozen(r.rates)));
});
