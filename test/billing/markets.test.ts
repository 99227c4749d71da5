/**
 * Market rules: the price depends on the recipient's country (for +1 also the area code, for +7
 * the range), mapped to a Meta pricing market by a table whose mappings change on given days.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import metadata from 'libphonenumber-js/metadata.min.json';
import {
  COUNTRY_CACHE_LIMIT,
  OTHER_MARKET,
  clearCountryCache,
  countryCacheStats,
  countryOfNumber,
  isCountryCode,
  marketMappings,
  marketOf,
  marketsOn,
  resolveCountryUncached,
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

// --- the prefix cache answers exactly as the full parse ------------------------------------------
//
// countryOfNumber caches an answer under the shortest leading digits that settle it (per length).
// Each generated number is followed by its ten neighbours: same length, same digits before a random
// position, each digit 0–9 there, then a random tail. Once the first has made (or found) a cached
// prefix, a prefix too short to settle the answer gives some neighbour a wrong answer.

const SEED = 20260315;
const PLANS = metadata.countries as unknown as Record<string, unknown[]>;
const NON_GEOGRAPHIC = (metadata as unknown as { nonGeographic: Record<string, unknown[]> }).nonGeographic;
const CALLING_CODES = [...Object.keys(metadata.country_calling_codes), ...Object.keys(NON_GEOGRAPHIC)];
const digitString = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((ds) => ds.join(''));

function withNeighbours(numbers: fc.Arbitrary<string>): fc.Arbitrary<string[]> {
  return fc.tuple(numbers, fc.nat(), digitString(15, 15)).map(([n, at, tail]) => {
    const i = at % n.length;
    return [n, ...Array.from({ length: 10 }, (_, d) => (n.slice(0, i) + d + tail).slice(0, n.length))];
  });
}

function agrees(numbers: string[]): void {
  for (const n of numbers) assert.equal(countryOfNumber(n), resolveCountryUncached(n), n);
}

let mismatchesBefore = 0;
function cold(): void {
  clearCountryCache();
  mismatchesBefore = countryCacheStats().replayMismatches;
}
/** The replay never disagreed with the full parse (the leaf guard never had to step in). */
function noReplayMismatch(): void {
  assert.equal(countryCacheStats().replayMismatches, mismatchesBefore);
}

test('property: random digit strings of 7–15 digits resolve as the full parse does', () => {
  cold();
  fc.assert(fc.property(withNeighbours(digitString(7, 15)), agrees), { seed: SEED, numRuns: 3000 });
  noReplayMismatch();
});

test('property: every calling code in the metadata with random national parts resolves as the full parse does', () => {
  cold();
  for (const code of CALLING_CODES) {
    const numbers = digitString(Math.max(1, 7 - code.length), 15 - code.length).map((national) => code + national);
    fc.assert(fc.property(withNeighbours(numbers), agrees), { seed: SEED, numRuns: 20 });
  }
  noReplayMismatch();
});

test('property: every calling code with national parts drawn from its countries\' own patterns resolves as the full parse does', () => {
  // Random digits rarely hit what the metadata tells apart (+358 18 AX vs FI, +1 268 AG, +44 1481
  // GG, +590 590 27 BL…): national parts are drawn from each country's general, leading-digits,
  // per-type and national-prefix patterns, then kept at their length or cut / extended at random.
  cold();
  for (const code of CALLING_CODES) {
    const countries = (metadata.country_calling_codes as Record<string, string[] | undefined>)[code] ?? [];
    const plans = [...countries.map((c) => PLANS[c]), NON_GEOGRAPHIC[code]].filter((p): p is unknown[] => Array.isArray(p));
    const patterns: string[] = [];
    for (const p of plans) {
      if (typeof p[2] === 'string') patterns.push(p[2]);
      if (typeof p[10] === 'string') patterns.push(`(?:${p[10]})\\d*`);
      for (const prefix of [p[7], p[5]]) {
        if (typeof prefix === 'string' && prefix !== '') patterns.push(`(?:${prefix.replace(/\$/g, '')})\\d*`);
      }
      for (const t of Array.isArray(p[11]) ? p[11] : []) {
        if (Array.isArray(t) && typeof t[0] === 'string' && t[0] !== '') patterns.push(t[0]);
      }
    }
    const min = Math.max(1, 7 - code.length);
    const max = 15 - code.length;
    const national = fc.constantFrom(...patterns).chain((p) => fc.stringMatching(new RegExp(`^(?:${p})$`)));
    const numbers = fc
      .tuple(national, fc.integer({ min, max }), fc.boolean(), digitString(15, 15))
      .map(([drawn, length, keep, tail]) =>
        code + (keep && drawn.length >= min && drawn.length <= max ? drawn : (drawn + tail).slice(0, length)));
    fc.assert(fc.property(withNeighbours(numbers), agrees), { seed: SEED, numRuns: 10 * patterns.length });
  }
  noReplayMismatch();
});

test('property: a leading + and separators do not change the answer', () => {
  const formatted = fc
    .tuple(digitString(7, 15), fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '-', '(', ')', '.')), { maxLength: 4 }), fc.boolean())
    .map(([n, inserts, plus]) => {
      let s = n;
      for (const [at, sep] of inserts) s = s.slice(0, at % (s.length + 1)) + sep + s.slice(at % (s.length + 1));
      return { plain: n, formatted: (plus ? '+' : '') + s };
    });
  cold();
  fc.assert(
    fc.property(formatted, ({ plain, formatted }) => {
      assert.equal(countryOfNumber(formatted), resolveCountryUncached(formatted), formatted);
      assert.equal(countryOfNumber(formatted), countryOfNumber(plain), formatted);
    }),
    { seed: SEED, numRuns: 2000 },
  );
  noReplayMismatch();
});

test('hard cases: shared calling codes, national prefixes, Mexico\'s 521, the main-country fallback, +7 6xx', () => {
  const cases: Array<[string, string | null]> = [
    // +1: area code, then the exchange's first digit (NANP exchanges start with 2–9; 0/1 only
    // fit the US general pattern, so CA 613 0… falls back to US).
    ['12025550123', 'US'], ['16135550123', 'CA'], ['16130550123', 'US'], ['16131550123', 'US'],
    ['16475550123', 'CA'], ['18005550123', 'US'], ['19005550123', 'US'], ['13052012345', 'US'],
    ['18095550123', 'DO'], ['18295550123', 'DO'], ['18495550123', 'DO'], ['16585550123', 'JM'],
    ['18765550123', 'JM'], ['17875550123', 'PR'], ['19395550123', 'PR'], ['12423570000', 'BS'],
    ['12684641234', 'AG'], ['17215201234', 'SX'], ['16492311234', 'TC'],
    ['11234567890', null], ['10000000000', null], ['1305201234', null], // national prefix 1 / too short
    // +7: RU vs KZ by leading digits, the 6xx override, the trunk '8' libphonenumber strips.
    ['77011234567', 'KZ'], ['77172123456', 'KZ'], ['76012345678', 'KZ'], ['7601234567', null],
    ['760123456789', null], ['79161234567', 'RU'], ['74951234567', 'RU'], ['78800123456', 'RU'],
    ['788001234567', 'RU'], ['789161234567', 'RU'],
    // +44: GB first by type patterns, then GG / IM / JE; '0' and '180020' national prefixes.
    ['447400123456', 'GB'], ['447911123456', 'GG'], ['447781123456', 'GG'], ['447924123456', 'GB'],
    ['447797712345', 'JE'], ['441632960000', 'GB'], ['441481256789', 'GG'], ['441534456789', 'JE'],
    ['441624756789', 'IM'], ['4407911123456', 'GG'], ['4418002012345', null],
    // Other shared codes.
    ['4791234567', 'NO'], ['4779123456', 'SJ'], ['4780123456', 'NO'],
    ['61412345678', 'AU'], ['61891621234', 'CC'], ['61891641234', 'CX'],
    ['262692123456', 'RE'], ['262639012345', 'YT'], ['262269601234', 'YT'],
    ['590690001234', 'GP'], ['590590271234', 'BL'], ['590590871234', 'BL'], ['590590071234', 'MF'], ['590590011234', 'GP'],
    ['5999123456', 'CW'], ['5993181234', 'BQ'],
    ['390612345678', 'IT'], ['390669812345', 'VA'], ['390669912345', 'IT'], ['3906698123456', 'VA'],
    ['358412345678', 'FI'], ['358101234567', 'FI'], ['358181234567', 'AX'], ['212650123456', 'MA'], ['2125288123456', null],
    ['2902123', 'SH'], ['2908123', 'TA'], ['29081234', null],
    // Mexico: 52 1 + 10 digits loses the '1'; 12 or 14 digits keep it.
    ['5215512345678', 'MX'], ['525512345678', 'MX'], ['5211234567890', 'MX'], ['521551234567', 'MX'],
    ['52155123456789', null], ['+52 1 55 1234 5678', 'MX'],
    // The calling code's main country when the metadata has no range for a possible number.
    ['12005551234', 'US'], ['447000000000', 'GB'],
  ];
  for (const pass of ['cold', 'cached']) {
    if (pass === 'cold') cold();
    for (const [n, expected] of cases) {
      assert.equal(resolveCountryUncached(n), expected, `${n} (full parse)`);
      assert.equal(countryOfNumber(n), expected, `${n} (${pass})`);
    }
  }
  noReplayMismatch();
});

test('the prefix cache stays bounded', () => {
  clearCountryCache();
  // +7 8…: settled only by the whole number (libphonenumber may strip the trunk '8'), so each is an entry.
  for (let i = 0; i < COUNTRY_CACHE_LIMIT + 5_000; i++) countryOfNumber(`78${String(i * 7919).padStart(9, '0').slice(-9)}`);
  assert.ok(countryCacheStats().cacheEntries < COUNTRY_CACHE_LIMIT + 16);
  // Realistic numbers need few entries: 20,000 distinct +49 15x mobiles settle on one prefix.
  clearCountryCache();
  for (let i = 0; i < 20_000; i++) assert.equal(countryOfNumber(`49151${String(i).padStart(8, '0')}`), 'DE');
  assert.ok(countryCacheStats().cacheEntries < 10, JSON.stringify(countryCacheStats()));
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
