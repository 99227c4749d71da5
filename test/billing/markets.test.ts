/**
 * Market rules: the price depends on the recipient's country (for +1 also the area code, for +7
 * the range), mapped to a Meta pricing market by a table whose mappings change on given days.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  OTHER_MARKET,
  countryOfNumber,
  isCountryCode,
  marketMappings,
  marketOf,
  marketsOn,
} from '../../src/billing/markets.ts';

test('WhatsApp recipient ids (digits without +) resolve to their country', () => {
  assert.equal(countryOfNumber('16505551234'), 'US');
  assert.equal(countryOfNumber('4915112345678'), 'DE');
  assert.equal(countryOfNumber('919876543210'), 'IN');
  assert.equal(countryOfNumber('5511987654321'), 'BR');
  assert.equal(countryOfNumber('263771234567'), 'ZW');
  assert.equal(countryOfNumber('6281234567890'), 'ID');
  // A leading '+' or separators (as some BSPs store them) do not change the answer.
  assert.equal(countryOfNumber('+49 151 1234-5678'), 'DE');
});

test("Mexican WhatsApp ids keep the old mobile '1' (521…) and still resolve to Mexico", () => {
  // Regression: the demo's 521… recipients resolved to null and were priced as unknown.
  assert.equal(countryOfNumber('5215512345678'), 'MX');
  assert.equal(countryOfNumber('525512345678'), 'MX');
  assert.equal(countryOfNumber('5491123456789'), 'AR');
});

test('+1 numbers resolve by area code: US and CA vs DO 809/829/849, JM 658/876, PR 787/939', () => {
  assert.equal(countryOfNumber('12025550123'), 'US');
  assert.equal(countryOfNumber('16135550123'), 'CA');
  assert.equal(countryOfNumber('14165550123'), 'CA');
  for (const area of ['809', '829', '849']) assert.equal(countryOfNumber(`1${area}5550123`), 'DO', area);
  for (const area of ['658', '876']) assert.equal(countryOfNumber(`1${area}5550123`), 'JM', area);
  for (const area of ['787', '939']) assert.equal(countryOfNumber(`1${area}5550123`), 'PR', area);
  assert.equal(countryOfNumber('12423570000'), 'BS'); // another NANP country: its own code
});

test('+7 numbers: Kazakhstan is 6xx and 7xx (Meta\'s table), the rest is Russia', () => {
  assert.equal(countryOfNumber('77011234567'), 'KZ');
  assert.equal(countryOfNumber('77172123456'), 'KZ');
  assert.equal(countryOfNumber('76012345678'), 'KZ'); // not in libphonenumber's KZ patterns
  assert.equal(countryOfNumber('79161234567'), 'RU');
  assert.equal(countryOfNumber('74951234567'), 'RU');
});

test('a possible number in a range unknown to the metadata falls back to the calling code\'s main country', () => {
  assert.equal(countryOfNumber('12005551234'), 'US'); // area code 200 is unassigned
  assert.equal(countryOfNumber('447000000000'), 'GB');
  // …but not when it breaks the numbering plan's shape (NANP numbers never start with 0 or 1).
  assert.equal(countryOfNumber('10000000000'), null);
});

test('placeholders and garbage are not numbers', () => {
  for (const s of ['CUSTOMER_PHONE_NUMBER', 'PHONE_NUMBER', '', '   ', '123456789', '0', '7', '12345',
    '1234567890123456789', '+', 'abc12345678', '2227001234']) {
    assert.equal(countryOfNumber(s), null, JSON.stringify(s));
  }
  assert.equal(countryOfNumber(undefined as unknown as string), null);
  // Non-geographic calling codes (Inmarsat +870) have no country.
  assert.equal(countryOfNumber('870773111632'), null);
});

test('repeated look-ups (cache) give the same answer', () => {
  for (let i = 0; i < 3; i++) {
    assert.equal(countryOfNumber('18095550123'), 'DO');
    assert.equal(countryOfNumber('123456789'), null);
  }
});

test('standalone and grouped markets', () => {
  const day = '2026-03-15';
  assert.equal(marketOf('US', day), 'North America');
  assert.equal(marketOf('CA', day), 'North America');
  for (const c of ['DO', 'JM', 'PR']) assert.equal(marketOf(c, day), 'Rest of Latin America', c);
  assert.equal(marketOf('DE', day), 'Germany');
  assert.equal(marketOf('AE', day), 'United Arab Emirates');
  assert.equal(marketOf('AT', day), 'Rest of Western Europe');
  assert.equal(marketOf('KE', day), 'Rest of Africa');
});

test('countries not listed are Other; an unknown country is null, never Other', () => {
  assert.equal(marketOf('IS', '2026-03-15'), OTHER_MARKET);
  assert.equal(marketOf('FJ', '2026-03-15'), 'Other');
  assert.equal(marketOf('BS', '2026-03-15'), 'Other');
  assert.equal(marketOf(null, '2026-03-15'), null);
  assert.equal(marketOf('de', '2026-03-15'), null);
  assert.equal(marketOf('Germany', '2026-03-15'), null);
});

test('Zimbabwe is Other until 2025-09-30 and Rest of Africa from 2025-10-01 (inclusive dates)', () => {
  assert.equal(marketOf('ZW', '2025-07-01'), 'Other');
  assert.equal(marketOf('ZW', '2025-09-30'), 'Other');
  assert.equal(marketOf('ZW', '2025-10-01'), 'Rest of Africa');
  assert.equal(marketOf(countryOfNumber('263771234567'), '2025-10-01'), 'Rest of Africa');
});

test('HK HU PL QA RO SG become standalone markets on 2026-07-01', () => {
  const before: Record<string, string> = {
    HK: 'Rest of Asia Pacific', SG: 'Rest of Asia Pacific', HU: 'Rest of Central & Eastern Europe',
    PL: 'Rest of Central & Eastern Europe', RO: 'Rest of Central & Eastern Europe', QA: 'Rest of Middle East',
  };
  const after: Record<string, string> = {
    HK: 'Hong Kong', SG: 'Singapore', HU: 'Hungary', PL: 'Poland', RO: 'Romania', QA: 'Qatar',
  };
  for (const c of Object.keys(before)) {
    assert.equal(marketOf(c, '2026-06-30'), before[c], `${c} on 2026-06-30`);
    assert.equal(marketOf(c, '2026-07-01'), after[c], `${c} on 2026-07-01`);
  }
});

test('BD IQ KZ KW MA NP OM LK UA become standalone markets on 2026-10-01; KZ priced as Russia before', () => {
  const before: Record<string, string> = {
    BD: 'Rest of Asia Pacific', NP: 'Rest of Asia Pacific', LK: 'Rest of Asia Pacific',
    IQ: 'Rest of Middle East', KW: 'Rest of Middle East', OM: 'Rest of Middle East',
    MA: 'Rest of Africa', UA: 'Rest of Central & Eastern Europe', KZ: 'Russia',
  };
  const after: Record<string, string> = {
    BD: 'Bangladesh', NP: 'Nepal', LK: 'Sri Lanka', IQ: 'Iraq', KW: 'Kuwait', OM: 'Oman',
    MA: 'Morocco', UA: 'Ukraine', KZ: 'Kazakhstan',
  };
  for (const c of Object.keys(before)) {
    assert.equal(marketOf(c, '2026-09-30'), before[c], `${c} on 2026-09-30`);
    assert.equal(marketOf(c, '2026-10-01'), after[c], `${c} on 2026-10-01`);
  }
  assert.equal(marketOf(countryOfNumber('77011234567'), '2026-09-30'), 'Russia');
  assert.equal(marketOf(countryOfNumber('77011234567'), '2026-10-01'), 'Kazakhstan');
});

test('the shipped table loads and lists the markets in force on a day', () => {
  assert.ok(marketMappings().length >= 150);
  assert.ok(marketMappings().every((m) => isCountryCode(m.iso2)));
  const march = marketsOn('2026-03-15');
  assert.ok(march.includes('Other') && march.includes('Russia') && !march.includes('Poland'));
  assert.ok(marketsOn('2026-10-01').includes('Kazakhstan'));
});

test('isCountryCode accepts the upper-case ISO2 shape only', () => {
  assert.equal(isCountryCode('DE'), true);
  assert.equal(isCountryCode('de'), false);
  assert.equal(isCountryCode('DEU'), false);
  assert.equal(isCountryCode(''), false);
  assert.equal(isCountryCode('D1'), false);
});
