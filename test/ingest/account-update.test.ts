/**
 * parseWebhook on `account_update` changes: VOLUME_BASED_PRICING_TIER_UPDATE and
 * AUTH_INTL_PRICE_ELIGIBILITY_UPDATE become typed AccountUpdate records; other account_update
 * events and other fields stay counted as ignored; a recognised event with a malformed payload is
 * refused with its path, the rest of the body still read.
 *
 * The bodies under test/fixtures/account-update/ are constructed from the documented shape of
 * these webhooks (see the README there), not captured from real traffic.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseWebhook } from '../../src/ingest/webhook.ts';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/account-update/${name}`, import.meta.url), 'utf8'));

const WABA = '102290129340398';

function accountUpdateBody(value: unknown, entry: Record<string, unknown> = { id: WABA, time: 1762331380 }) {
  return { object: 'whatsapp_business_account', entry: [{ ...entry, changes: [{ field: 'account_update', value }] }] };
}
const tierInfo = (over: Record<string, unknown> = {}) => ({
  tier_update_time: 1762331373, pricing_category: 'UTILITY', tier: '100001:1000000', effective_month: '2025-11', region: 'INDIA', ...over,
});
const tierUpdate = (over: Record<string, unknown> = {}) => ({ event: 'VOLUME_BASED_PRICING_TIER_UPDATE', volume_tier_info: tierInfo(over) });
const eligibility = (e: unknown) => ({ event: 'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE', auth_international_rate_eligibility: e });
const PATH = 'entry[0].changes[0].value';

test('a VOLUME_BASED_PRICING_TIER_UPDATE becomes a typed record (entry.id = the WABA id)', () => {
  assert.deepEqual(parseWebhook(fixture('tier_update_utility_india.json')), {
    statuses: [],
    refused: [],
    accountUpdates: [{
      event: 'VOLUME_BASED_PRICING_TIER_UPDATE',
      wabaId: WABA,
      eventTime: 1762331380,
      pricingCategory: 'UTILITY',
      tier: '100001:1000000',
      effectiveMonth: '2025-11',
      region: 'INDIA',
      tierUpdateTime: 1762331373,
    }],
    ignored: { messages: 0, changes: 0 },
  });
});

test('several tier announcements in one entry are read in order; a tier_update_time given as a digit string is read', () => {
  const parsed = parseWebhook(fixture('tier_update_two_markets.json'));
  assert.deepEqual(parsed.refused, []);
  assert.deepEqual(parsed.accountUpdates.map((u) => u.event === 'VOLUME_BASED_PRICING_TIER_UPDATE' && [u.pricingCategory, u.region, u.tier, u.tierUpdateTime]), [
    ['AUTHENTICATION', 'INDONESIA', '1000001:4500000', 1763539100],
    ['UTILITY', 'REST_OF_AFRICA', '100001:1000000', 1763539150],
  ]);
});

test('an AUTH_INTL_PRICE_ELIGIBILITY_UPDATE becomes a typed record with the eligibility in Meta\'s shape', () => {
  assert.deepEqual(parseWebhook(fixture('auth_intl_eligibility_update.json')), {
    statuses: [],
    refused: [],
    accountUpdates: [{
      event: 'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE',
      wabaId: WABA,
      eventTime: 1716768000,
      eligibility: { start_time: 1719792000, exception_countries: [{ country_code: 'ID', start_time: 1717200000 }] },
    }],
    ignored: { messages: 0, changes: 0 },
  });
});

test('eligibility: exception_countries absent or null → an empty list; codes upper-cased and sorted; no entry.time → eventTime null', () => {
  for (const exceptions of [undefined, null]) {
    const parsed = parseWebhook(accountUpdateBody(eligibility({ start_time: 1719792000, exception_countries: exceptions }), { id: WABA }));
    assert.deepEqual(parsed.accountUpdates, [{
      event: 'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE', wabaId: WABA, eventTime: null,
      eligibility: { start_time: 1719792000, exception_countries: [] },
    }]);
  }
  const parsed = parseWebhook(accountUpdateBody(eligibility({
    start_time: '1719792000',
    exception_countries: [{ country_code: 'in', start_time: 1722470400 }, { country_code: 'ID', start_time: '1717200000' }],
  })));
  assert.deepEqual(parsed.accountUpdates[0].event === 'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE' && parsed.accountUpdates[0].eligibility, {
    start_time: 1719792000,
    exception_countries: [{ country_code: 'ID', start_time: 1717200000 }, { country_code: 'IN', start_time: 1722470400 }],
  });
});

test('other account_update events and other fields are counted in ignored.changes, not refused', () => {
  const parsed = parseWebhook(fixture('account_update_other_events.json'));
  assert.deepEqual(parsed, { statuses: [], refused: [], accountUpdates: [], ignored: { messages: 0, changes: 2 } });
  // An account_update without an event or with a value that is not an object: nothing to read.
  for (const value of [null, 'x', [], {}, { event: 42 }, { event: 'PARTNER_ADDED' }]) {
    assert.deepEqual(parseWebhook(accountUpdateBody(value)).ignored, { messages: 0, changes: 1 }, JSON.stringify(value));
  }
  const body = accountUpdateBody(tierUpdate());
  (body.entry[0].changes as unknown[]).push({ field: 'message_template_status_update', value: { event: 'APPROVED' } }, { field: 'phone_number_quality_update', value: {} });
  const mixed = parseWebhook(body);
  assert.equal(mixed.accountUpdates.length, 1);
  assert.deepEqual(mixed.ignored, { messages: 0, changes: 2 });
});

test('the event name is read whatever its case and surrounding spaces', () => {
  const parsed = parseWebhook(accountUpdateBody({ ...tierUpdate(), event: ' volume_based_pricing_tier_update ' }));
  assert.equal(parsed.accountUpdates.length, 1);
});

test('a status and a tier announcement in one body are both read', () => {
  const parsed = parseWebhook(fixture('status_and_tier_update.json'));
  assert.equal(parsed.statuses.length, 1);
  assert.equal(parsed.statuses[0].wabaId, WABA);
  assert.equal(parsed.accountUpdates.length, 1);
  assert.deepEqual(parsed.refused, []);
});

test('a tier announcement with a malformed field is refused with its path and the field named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ tier_update_time: undefined }, /^tier_update_time must be unix seconds/],
    [{ tier_update_time: 'soon' }, /^tier_update_time must be unix seconds.*"soon"/],
    [{ tier_update_time: 1762331373000 }, /^tier_update_time must be unix seconds/],
    [{ pricing_category: '' }, /^pricing_category must be a non-empty string/],
    [{ pricing_category: 3 }, /^pricing_category must be a non-empty string, got 3/],
    [{ tier: '100001-1000000' }, /^tier must be "LOWER:UPPER"/],
    [{ tier: undefined }, /^tier must be "LOWER:UPPER", got nothing/],
    [{ effective_month: '2025-13' }, /^effective_month must be "YYYY-MM"/],
    [{ effective_month: '11/2025' }, /^effective_month must be "YYYY-MM"/],
    [{ region: '  ' }, /^region must be a non-empty string/],
    [{ region: 'X'.repeat(101) }, /^region must be a non-empty string/],
  ];
  for (const [over, reason] of cases) {
    const parsed = parseWebhook(accountUpdateBody(tierUpdate(over)));
    assert.deepEqual(parsed.accountUpdates, [], JSON.stringify(over));
    assert.equal(parsed.refused.length, 1);
    assert.equal(parsed.refused[0].path, `${PATH}.volume_tier_info`);
    assert.match(parsed.refused[0].reason, reason);
  }
  for (const info of [undefined, null, 'x', []]) {
    const parsed = parseWebhook(accountUpdateBody({ event: 'VOLUME_BASED_PRICING_TIER_UPDATE', volume_tier_info: info }));
    assert.deepEqual(parsed.refused, [{ path: `${PATH}.volume_tier_info`, reason: `volume_tier_info must be an object, got ${info === undefined ? 'nothing' : info === null ? 'null' : Array.isArray(info) ? 'an array' : 'a string'}` }]);
  }
});

test('an eligibility update with a malformed field is refused with its path and the field named', () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /^auth_international_rate_eligibility must be an object, got nothing/],
    [{}, /^start_time must be unix seconds/],
    [{ start_time: -1 }, /^start_time must be unix seconds/],
    [{ start_time: 1719792000, exception_countries: {} }, /^exception_countries must be an array, got an object/],
    [{ start_time: 1719792000, exception_countries: [null] }, /^exception_countries\[0\] must be an object/],
    [{ start_time: 1719792000, exception_countries: [{ country_code: 'IDN', start_time: 1717200000 }] }, /^exception_countries\[0\]\.country_code must be an ISO 3166-1 alpha-2 code, got "IDN"/],
    [{ start_time: 1719792000, exception_countries: [{ country_code: 'ID' }] }, /^exception_countries\[0\]\.start_time must be unix seconds/],
    [{ start_time: 1719792000, exception_countries: [{ country_code: 'ID', start_time: 1717200000 }, { country_code: 'id', start_time: 1717200001 }] }, /^exception_countries\[1\]\.country_code ID is listed twice/],
  ];
  for (const [e, reason] of cases) {
    const parsed = parseWebhook(accountUpdateBody(eligibility(e)));
    assert.deepEqual(parsed.accountUpdates, [], JSON.stringify(e));
    assert.equal(parsed.refused.length, 1);
    assert.equal(parsed.refused[0].path, `${PATH}.auth_international_rate_eligibility`);
    assert.match(parsed.refused[0].reason, reason);
  }
});

test('a recognised event in an entry without an id is refused: an update naming no account cannot be kept', () => {
  for (const id of [undefined, null, '', '  ']) {
    const parsed = parseWebhook(accountUpdateBody(tierUpdate(), { id }));
    assert.deepEqual(parsed.accountUpdates, []);
    assert.deepEqual(parsed.refused, [{ path: PATH, reason: "VOLUME_BASED_PRICING_TIER_UPDATE needs the entry's id (the WABA id), which is missing" }]);
  }
  // An id given as a JSON integer is read as a string.
  const numeric = parseWebhook(accountUpdateBody(tierUpdate(), { id: 102290129340398 }));
  assert.equal(numeric.accountUpdates[0].wabaId, WABA);
});

test('one bad announcement does not stop the others in the body', () => {
  const body = accountUpdateBody(tierUpdate({ tier: 'x' }));
  (body.entry[0].changes as unknown[]).push({ field: 'account_update', value: tierUpdate({ region: 'EGYPT' }) });
  const parsed = parseWebhook(body);
  assert.deepEqual(parsed.refused.map((r) => r.path), [`${PATH}.volume_tier_info`]);
  assert.deepEqual(parsed.accountUpdates.map((u) => u.event === 'VOLUME_BASED_PRICING_TIER_UPDATE' && u.region), ['EGYPT']);
});

test('an odd entry.time is not a reason to refuse: eventTime is null', () => {
  for (const time of ['yesterday', -5, 1.5, {}]) {
    const parsed = parseWebhook(accountUpdateBody(tierUpdate(), { id: WABA, time }));
    assert.equal(parsed.accountUpdates[0].eventTime, null);
  }
});
