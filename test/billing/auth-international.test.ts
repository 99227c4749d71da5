/**
 * authInternationalApplies: Meta's authentication-international rule, one test per condition
 * (pricing/authentication-international-rates): the recipient's country has an
 * authentication-international rate, the business is eligible, it is based in another country
 * than the recipient, and the message was delivered on or after the start time for that country
 * (an exception country's own start time, else the general one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authInternationalApplies, authInternationalDecision, duplicateExceptionCountries, eligibilityStartTime,
  normalizeEligibility, parseEligibility, serializeEligibility, type AuthInternationalInput,
} from '../../src/billing/auth-international.ts';

const JUN_1_2024 = 1717200000; // 2024-06-01T00:00:00Z
const JUL_1_2024 = 1719792000; // 2024-07-01T00:00:00Z
const AUG_1_2024 = 1722470400; // 2024-08-01T00:00:00Z

const eligibility = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }] };
const base: AuthInternationalInput = {
  eligibility,
  businessCountry: 'IN',
  recipientCountry: 'ID',
  deliveredAt: AUG_1_2024,
  marketHasInternationalRate: true,
};

test("Meta's example: a business based in Indonesia messaging a +62 user is not charged the international rate", () => {
  const input = { ...base, businessCountry: 'ID', recipientCountry: 'ID' };
  assert.equal(authInternationalApplies(input), false);
  assert.equal(authInternationalDecision(input).rule, 'same_country');
});

test("Meta's example: a business based in India messaging a +62 user is charged the international rate", () => {
  assert.equal(authInternationalApplies({ ...base, businessCountry: 'IN', recipientCountry: 'ID' }), true);
  assert.deepEqual(authInternationalDecision(base), { applies: true, rule: 'applies', startTime: JUN_1_2024 });
});

test('condition 1: the recipient country must have an authentication-international rate', () => {
  const input = { ...base, marketHasInternationalRate: false };
  assert.equal(authInternationalApplies(input), false);
  assert.equal(authInternationalDecision(input).rule, 'no_international_rate');
});

test('condition 2: the business must be eligible (no eligibility → never international)', () => {
  for (const e of [null, undefined]) {
    const input = { ...base, eligibility: e };
    assert.equal(authInternationalApplies(input), false);
    assert.equal(authInternationalDecision(input).rule, 'not_eligible');
  }
});

test('condition 3: the business must be based in another country than the recipient (case does not matter)', () => {
  assert.equal(authInternationalApplies({ ...base, businessCountry: 'id', recipientCountry: 'ID' }), false);
  assert.equal(authInternationalApplies({ ...base, businessCountry: 'DE', recipientCountry: 'ID' }), true);
  // An unknown country on either side cannot establish "another country": not international.
  for (const [businessCountry, recipientCountry] of [[null, 'ID'], ['IN', null], ['', 'ID'], ['IN', undefined]]) {
    const input = { ...base, businessCountry, recipientCountry };
    assert.equal(authInternationalApplies(input), false);
    assert.equal(authInternationalDecision(input).rule, 'unknown_country');
  }
});

test('condition 4: delivered on or after the general start time when the country is not an exception', () => {
  const india = { ...base, businessCountry: 'DE', recipientCountry: 'IN' };
  assert.equal(authInternationalApplies({ ...india, deliveredAt: JUL_1_2024 - 1 }), false);
  assert.deepEqual(authInternationalDecision({ ...india, deliveredAt: JUL_1_2024 - 1 }), { applies: false, rule: 'before_start_time', startTime: JUL_1_2024 });
  assert.equal(authInternationalApplies({ ...india, deliveredAt: JUL_1_2024 }), true, 'exactly at the start time counts');
  assert.equal(authInternationalApplies({ ...india, deliveredAt: AUG_1_2024 }), true);
});

test("condition 4: an exception country's own start time replaces the general one (earlier)", () => {
  // Indonesia starts 2024-06-01 although the general start is 2024-07-01.
  const mid = JUN_1_2024 + 86400 * 10;
  assert.equal(authInternationalApplies({ ...base, recipientCountry: 'ID', deliveredAt: mid }), true);
  assert.equal(authInternationalApplies({ ...base, recipientCountry: 'ID', deliveredAt: JUN_1_2024 - 1 }), false);
  // India in the same month is not yet international: it follows the general start time.
  assert.equal(authInternationalApplies({ ...base, businessCountry: 'DE', recipientCountry: 'IN', deliveredAt: mid }), false);
});

test("condition 4: an exception country's own start time replaces the general one (later)", () => {
  const late = { start_time: JUN_1_2024, exception_countries: [{ country_code: 'eg', start_time: AUG_1_2024 }] };
  const input = { ...base, eligibility: late, businessCountry: 'AE', recipientCountry: 'EG' };
  assert.equal(authInternationalApplies({ ...input, deliveredAt: JUL_1_2024 }), false, 'the general start passed, Egypt\'s has not');
  assert.equal(authInternationalApplies({ ...input, deliveredAt: AUG_1_2024 }), true);
  assert.equal(eligibilityStartTime(late, 'EG'), AUG_1_2024);
  assert.equal(eligibilityStartTime(late, 'eg'), AUG_1_2024);
  assert.equal(eligibilityStartTime(late, 'NG'), JUN_1_2024);
  // Without exception_countries every country uses the general start time.
  assert.equal(eligibilityStartTime({ start_time: JUL_1_2024 }, 'ID'), JUL_1_2024);
});

test('the stored form: upper-case codes, exceptions sorted and always present; parse(serialize(e)) = normalize(e)', () => {
  const e = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'in', start_time: AUG_1_2024 }, { country_code: 'ID', start_time: JUN_1_2024 }] };
  const text = serializeEligibility(e);
  assert.equal(text, `{"start_time":${JUL_1_2024},"exception_countries":[{"country_code":"ID","start_time":${JUN_1_2024}},{"country_code":"IN","start_time":${AUG_1_2024}}]}`);
  assert.deepEqual(parseEligibility(text), normalizeEligibility(e));
  assert.deepEqual(normalizeEligibility({ start_time: 1 }), { start_time: 1, exception_countries: [] });
  assert.equal(parseEligibility(null), null);
  assert.equal(parseEligibility(''), null);
  assert.throws(() => parseEligibility('{"exception_countries":[]}'), /not an eligibility/);
  assert.deepEqual(duplicateExceptionCountries({ start_time: 1, exception_countries: [{ country_code: 'ID', start_time: 1 }, { country_code: 'id', start_time: 2 }] }), ['ID']);
  assert.deepEqual(duplicateExceptionCountries(e), []);
});
