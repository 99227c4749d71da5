/**
 * Money rules: amounts are exact integer micros from rate card to JSON response; nothing is rounded
 * silently and no binary float ever holds a rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMicros, microsToDecimalString, microsToJson, parseMoney } from '../../src/billing/money.ts';

test('rates below one cent parse exactly (Colombia utility 0.0008 USD = 800 micros)', () => {
  assert.equal(parseMoney('0.0008'), 800);
  assert.equal(parseMoney('13'), 13_000_000);
  assert.equal(parseMoney(' 0.0250 '), 25_000);
  assert.equal(parseMoney('0.000001'), 1);
  assert.equal(parseMoney('0'), 0);
  assert.equal(parseMoney('.5'), 500_000);
  assert.equal(parseMoney('7.'), 7_000_000);
  assert.equal(parseMoney('0007.10'), 7_100_000);
  // 0.1 + 0.2 style float drift cannot happen: each decimal is assembled from its digits.
  assert.equal(parseMoney('0.1') + parseMoney('0.2'), parseMoney('0.3'));
});

test('values in Meta CSVs may carry a currency marker, spaces or US grouping', () => {
  assert.equal(parseMoney('$0.02'), 20_000);
  assert.equal(parseMoney('US$ 0.0411'), 41_100);
  assert.equal(parseMoney('₹0.7846'), 784_600);
  assert.equal(parseMoney('Rp 586.33'), 586_330_000);
  assert.equal(parseMoney('0.0200 USD'), 20_000);
  assert.equal(parseMoney('0.05\u00a0€'), 50_000);
  assert.equal(parseMoney('2,250.50'), 2_250_500_000);
  assert.equal(parseMoney('1,234,567'), 1_234_567_000_000);
});

test('trailing zeros past the sixth decimal are exact and accepted', () => {
  assert.equal(parseMoney('0.02500000'), 25_000);
});

test('refuses anything that is not an exact non-negative amount, with a clear message', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['n/a', /not an amount/],
    ['N/A', /not an amount/],
    ['abc', /not a decimal/],
    ['NaN', /not a decimal/],
    ['Infinity', /not a decimal/],
    ['1e-4', /negative|not a decimal/],
    ['1e5', /not a decimal/],
    ['5e', /not a decimal/],
    ['.', /not a decimal/],
    ['1.2.3', /not a decimal/],
    ['0,025', /not a decimal/], // a European decimal comma is not guessed at
    ['1,23', /not a decimal/],
    ['-0.02', /negative/],
    ['$-1', /negative/],
    ['0.0000001', /more than 6 decimals/],
    ['0.12345678', /more than 6 decimals/],
    ['9007199255', /too large/],
    ['12345678901', /too large/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseMoney(text), message, `parseMoney(${JSON.stringify(text)})`);
  }
  // The largest amount that fits exactly still parses.
  assert.equal(parseMoney('9007199254.740991'), Number.MAX_SAFE_INTEGER);
  assert.throws(() => parseMoney('9007199254.740992'), /too large/);
});

test('decimal text is the shortest exact form, negative allowed', () => {
  assert.equal(microsToDecimalString(800), '0.0008');
  assert.equal(microsToDecimalString(13_000_000), '13');
  assert.equal(microsToDecimalString(1), '0.000001');
  assert.equal(microsToDecimalString(0), '0');
  assert.equal(microsToDecimalString(-0), '0');
  assert.equal(microsToDecimalString(-800), '-0.0008');
  assert.equal(microsToDecimalString(-13_500_000), '-13.5');
  assert.equal(microsToDecimalString(12_345_678_901), '12345.678901');
  assert.equal(microsToDecimalString(Number.MAX_SAFE_INTEGER), '9007199254.740991');
  assert.throws(() => microsToDecimalString(0.5), RangeError);
  assert.throws(() => microsToDecimalString(Number.MAX_SAFE_INTEGER + 1), RangeError);
});

test('parse and print round-trip', () => {
  for (const text of ['0.0008', '13', '0.025', '12345.678901', '0.000001', '9007199254.740991']) {
    assert.equal(microsToDecimalString(parseMoney(text)), text);
  }
});

test('JSON numbers carry the exact decimal (no 0.30000000000000004, no 1e-7 style exponent)', () => {
  const known: Array<[number, string]> = [
    [1, '0.000001'],
    [800, '0.0008'],
    [2_500_000, '2.5'],
    [12_345_678_901, '12345.678901'],
    [13_000_000, '13'],
    [300_000, '0.3'],
    [-1, '-0.000001'],
    [999_999_999_999_999, '999999999.999999'],
  ];
  for (const [m, text] of known) {
    assert.equal(String(microsToJson(m)), text);
    assert.equal(JSON.stringify({ cost: microsToJson(m) }), `{"cost":${text}}`);
  }
  assert.equal(JSON.stringify(microsToJson(-0)), '0');
});

test('JSON numbers are exact for 100k pseudo-random amounts of every magnitude below 1e15 micros', () => {
  // Deterministic LCG (Numerical Recipes constants) so a failure is reproducible.
  let seed = 0x2545f491;
  const next = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < 100_000; i++) {
    const digits = 1 + (i % 15); // 1..15 digits: 0.000001 up to 999,999,999.999999
    const m = Math.floor(next() * 10 ** digits) * (next() < 0.1 ? -1 : 1);
    const json = String(microsToJson(m));
    assert.ok(!/e/i.test(json), `exponent form for ${m}: ${json}`);
    assert.equal(json, microsToDecimalString(m), `micros ${m}`);
    assert.equal(parseMoney(json.replace('-', '')), Math.abs(m));
  }
});

test('beyond 1e15 micros a JSON number is returned only when exact, else RangeError', () => {
  assert.equal(String(microsToJson(1_000_000_000_000_000)), '1000000000');
  assert.equal(String(microsToJson(9_007_199_254_000_000)), '9007199254');
  // The nearest doubles to these decimals print as …733294 and …740992: no exact JSON number.
  assert.throws(() => microsToJson(8_793_492_783_733_293), RangeError);
  assert.throws(() => microsToJson(Number.MAX_SAFE_INTEGER), /send it as a string/);
});

test('isMicros accepts only safe integers', () => {
  assert.equal(isMicros(800), true);
  assert.equal(isMicros(-800), true);
  assert.equal(isMicros(0.5), false);
  assert.equal(isMicros(Number.MAX_SAFE_INTEGER + 1), false);
  assert.equal(isMicros('800'), false);
});
