/**
 * Reading Meta's volume-tier announcements back (pure): of duplicates the smaller
 * tier_update_time is official (the billing reference §1), a climb during the month keeps its
 * newest tier, categories and regions are folded, and the meter's tier is compared with Meta's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { marketOfRegion, metaTiers, tierBounds, tierDifference, type VolumeTierAnnouncement } from '../../src/accounts/volume-tiers.ts';

const W = '102290129340398';
const row = (over: Partial<VolumeTierAnnouncement> = {}): VolumeTierAnnouncement => ({
  waba_id: W, pricing_category: 'UTILITY', tier: '100001:1000000', effective_month: '2025-11', region: 'INDIA', tier_update_time: 1762331373, ...over,
});

test('duplicated announcements: the smaller tier_update_time is official, whatever order they arrived in', () => {
  const [t] = metaTiers([row({ tier_update_time: 1762331999 }), row({ tier_update_time: 1762331373 }), row({ tier_update_time: 1762331500 })]);
  assert.equal(t.meta_tier, '100001:1000000');
  assert.equal(t.meta_tier_update_time, 1762331373);
  assert.deepEqual(t.meta_tier_updates, [{ tier: '100001:1000000', tier_update_time: 1762331373 }]);
});

test('a climb during the month: the newest tier is current, each at its official (smallest) time', () => {
  const tiers = metaTiers([
    row({ tier: '1000001:4500000', tier_update_time: 1763000000 }),
    row({ tier: '100001:1000000', tier_update_time: 1762331373 }),
    // A late duplicate of the first tier does not make it current again.
    row({ tier: '100001:1000000', tier_update_time: 1763500000 }),
  ]);
  assert.equal(tiers.length, 1);
  assert.equal(tiers[0].meta_tier, '1000001:4500000');
  assert.equal(tiers[0].meta_tier_update_time, 1763000000);
  assert.deepEqual(tiers[0].meta_tier_updates, [
    { tier: '100001:1000000', tier_update_time: 1762331373 },
    { tier: '1000001:4500000', tier_update_time: 1763000000 },
  ]);
});

test('one row per WABA × category × month × region; category and region spellings are folded', () => {
  const tiers = metaTiers([
    row(),
    row({ pricing_category: 'utility', region: 'India', tier_update_time: 1762331374 }),
    row({ pricing_category: 'AUTHENTICATION' }),
    row({ pricing_category: 'AUTHENTICATION-INTERNATIONAL', region: 'INDONESIA' }),
    row({ effective_month: '2025-12', tier_update_time: 1764547200 }),
    row({ waba_id: '999', region: 'REST_OF_AFRICA' }),
  ]);
  assert.deepEqual(tiers.map((t) => [t.effective_month, t.waba_id, t.pricing_category, t.region, t.market, t.meta_tier_update_time]), [
    ['2025-11', W, 'authentication', 'INDIA', 'India', 1762331373],
    ['2025-11', W, 'authentication_international', 'INDONESIA', 'Indonesia', 1762331373],
    ['2025-11', W, 'utility', 'INDIA', 'India', 1762331373],
    ['2025-11', '999', 'utility', 'REST_OF_AFRICA', 'Rest of Africa', 1762331373],
    ['2025-12', W, 'utility', 'INDIA', 'India', 1764547200],
  ]);
});

test("Meta's region names map to the meter's markets", () => {
  assert.equal(marketOfRegion('INDIA'), 'India');
  assert.equal(marketOfRegion('REST_OF_AFRICA'), 'Rest of Africa');
  assert.equal(marketOfRegion('Rest of Central & Eastern Europe'), 'Rest of Central & Eastern Europe');
  assert.equal(marketOfRegion('REST_OF_CENTRAL_AND_EASTERN_EUROPE'), 'Rest of Central & Eastern Europe');
  assert.equal(marketOfRegion('NORTH_AMERICA'), 'North America');
  assert.equal(marketOfRegion('UAE'), 'United Arab Emirates');
  assert.equal(marketOfRegion('UNITED_ARAB_EMIRATES'), 'United Arab Emirates');
  assert.equal(marketOfRegion('OTHER'), 'Other');
  assert.equal(marketOfRegion('IN'), 'India');
  assert.equal(marketOfRegion('ATLANTIS'), null);
});

test('tier bounds and the difference between the meter and Meta', () => {
  assert.deepEqual(tierBounds('100001:1000000'), { lower: 100001, upper: 1000000 });
  assert.deepEqual(tierBounds('0:MAX'), { lower: 0, upper: null });
  assert.equal(tierBounds('x'), null);
  assert.equal(tierBounds('5:1'), null);
  assert.equal(tierDifference('100001:1000000', null), 'not computed');
  assert.equal(tierDifference('100001:1000000', '100001:1000000'), 'same tier');
  assert.equal(tierDifference('100001:1000000', '0:100000'), "meter is below Meta's tier");
  assert.equal(tierDifference('100001:1000000', '1000001:4500000'), "meter is above Meta's tier");
  assert.equal(tierDifference('100001:1000000', 'tier 2'), 'tiers not comparable');
});
