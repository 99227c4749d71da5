/**
 * `…/info/usage` sends JSON the service writes itself (pricingAnalyticsJson), compressed when the
 * client asks for it.
 *
 * The writer, without a store: its bytes are exactly those of JSON.stringify of the same answer as
 * objects, for the edge cases (country, tier and unpriced_volume absent or present; costs from 0
 * to large exact amounts; strings JSON must escape, or that are not ASCII; no data point; a buffer
 * that must grow) and for random answers.
 *
 * On SQLite and PostgreSQL: the route's body is byte for byte JSON.stringify of the service's
 * objects at every granularity and filter; with Accept-Encoding gzip, br or deflate the body is
 * compressed (with Vary) and inflates to the same bytes; no Accept-Encoding, identity, an encoding
 * the route does not offer, and an answer under the threshold are sent as they are.
 */
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { COMPRESS_THRESHOLD } from '../../src/api/routes/usage.ts';
import { pricingAnalyticsJson, pricingAnalyticsObject } from '../../src/api/pricing-analytics-json.ts';
import type { PricingAnalyticsColumns, PricingKind, UsageGranularity } from '../../src/meter/message-usage-service.ts';
import { at, DIALECTS, seedTenant, type StatusSpec, type TestApp } from '../helpers.ts';
import { startUsageFixture } from './support.ts';

interface Point { start: number; end: number; volume: number; micros: number; unpriced: number; kind: number }

function columns(kinds: PricingKind[], points: Point[], head: { id?: string; currency?: string; granularity?: UsageGranularity } = {}): PricingAnalyticsColumns {
  return {
    id: head.id ?? '102290129340398', currency: head.currency ?? 'USD', granularity: head.granularity ?? 'half_hour', kinds, length: points.length,
    start: Float64Array.from(points, (p) => p.start),
    end: Float64Array.from(points, (p) => p.end),
    volume: Float64Array.from(points, (p) => p.volume),
    micros: Float64Array.from(points, (p) => p.micros),
    unpriced: Float64Array.from(points, (p) => p.unpriced),
    kind: Int32Array.from(points, (p) => p.kind),
  };
}

/** The writer's bytes against JSON.stringify's of the objects, as bytes (UTF-8) and as text. */
function assertSameJson(c: PricingAnalyticsColumns): void {
  const want = Buffer.from(JSON.stringify(pricingAnalyticsObject(c)), 'utf8');
  const got = pricingAnalyticsJson(c);
  assert.equal(got.toString('utf8'), want.toString('utf8'));
  assert.ok(got.equals(want), 'the same bytes');
}

const PHONE = '4930123456';
const KINDS: PricingKind[] = [
  { country: 'DE', pricing_category: 'MARKETING', pricing_type: 'REGULAR', tier: '0:MAX', phone_number: PHONE },
  { country: 'IN', pricing_category: 'SERVICE', pricing_type: 'FREE_CUSTOMER_SERVICE', phone_number: PHONE }, // free: no tier
  { pricing_category: 'UTILITY', pricing_type: 'REGULAR', tier: '3:MAX', phone_number: PHONE }, // unknown country
  { pricing_category: 'AUTHENTICATION', pricing_type: 'FREE_ENTRY_POINT', phone_number: PHONE }, // neither
];

describe('pricingAnalyticsJson: the bytes of JSON.stringify', () => {
  test('fields absent or present, costs from 0 to large exact amounts (and negative ones), counts of every length', () => {
    const micros = [0, 1, 10, 800, 136_500, 999_999, 1_000_000, 13_000_000, 123_456_789_012_345, 999_999_999_999_999, 1e15, 1e15 + 1_000_000, -1, -136_500, -0];
    const counts = [1, 9, 10, 99, 100, 4_294_967_296, Number.MAX_SAFE_INTEGER];
    const points: Point[] = [];
    let i = 0;
    for (const m of micros) {
      for (const n of counts) {
        const start = 1_793_491_200 + Math.floor(i / 4) * 1800;
        points.push({ start, end: start + 1800, volume: n, micros: m, unpriced: i % 3 === 0 ? 0 : counts[i % counts.length], kind: i % KINDS.length });
        i++;
      }
    }
    // Buckets of one start and another end, one after the other (the writer writes a bucket once).
    points.push({ start: 0, end: 1800, volume: 1, micros: 1, unpriced: 0, kind: 0 }, { start: 0, end: 86_400, volume: 2, micros: 2, unpriced: 0, kind: 0 });
    const c = columns(KINDS, points);
    assertSameJson(c);
    // What the edge cases are: each field absent somewhere and present somewhere.
    const dps = JSON.parse(pricingAnalyticsJson(c).toString('utf8')).pricing_analytics.data[0].data_points as Record<string, unknown>[];
    for (const field of ['country', 'tier', 'unpriced_volume']) {
      assert.ok(dps.some((d) => field in d) && dps.some((d) => !(field in d)), field);
    }
    assert.deepEqual(Object.keys(dps.find((d) => 'country' in d && 'tier' in d && 'unpriced_volume' in d)!), ['start', 'end', 'volume', 'cost', 'country', 'pricing_category', 'pricing_type', 'tier', 'phone_number', 'unpriced_volume']);
    assert.deepEqual(dps.slice(0, 3).map((d) => d.cost), [0, 0, 0]);
    assert.equal(dps.find((d) => d.cost !== 0)!.cost, 0.000001);
  });

  test('strings JSON escapes, and strings that are not ASCII, as JSON.stringify writes them', () => {
    const odd: PricingKind[] = [
      { country: 'D"E', pricing_category: 'GROUP_\\MARKETING', pricing_type: 'FREE_\u2028_\u0001\t', tier: '0:MAX', phone_number: '' },
      { pricing_category: 'CATÉGORIE_é', pricing_type: 'FREE_😀', tier: '\ud800', phone_number: '+49 30 123' },
    ];
    const c = columns(odd, [
      { start: 0, end: 1800, volume: 1, micros: 136_500, unpriced: 0, kind: 0 },
      { start: 0, end: 1800, volume: 2, micros: 0, unpriced: 2, kind: 1 },
    ], { id: 'waba "1" é', currency: 'EUR', granularity: 'day' });
    assertSameJson(c);
  });

  test('no data point', () => {
    assertSameJson(columns(KINDS, []));
    assert.equal(pricingAnalyticsJson(columns([], [], { granularity: 'month' })).toString(),
      '{"pricing_analytics":{"data":[{"data_points":[]}]},"id":"102290129340398","currency":"USD","granularity":"month"}');
  });

  test('points longer than the room made for them: the buffer grows', () => {
    const long: PricingKind = { country: 'IN', pricing_category: 'X'.repeat(5000), pricing_type: 'REGULAR', tier: '0:MAX', phone_number: PHONE };
    const points: Point[] = Array.from({ length: 3000 }, (_, i) => ({
      start: 4_102_358_400, end: 4_102_360_200, volume: Number.MAX_SAFE_INTEGER - i, micros: 999_999_999_999_999 - i, unpriced: Number.MAX_SAFE_INTEGER, kind: i % 2,
    }));
    const c = columns([KINDS[0], long], points);
    assertSameJson(c);
    assert.ok(pricingAnalyticsJson(c).length > 3000 * 190, 'far over a kind and 80 bytes per point');
  });

  test('random answers', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const kind = fc.record({
      country: fc.option(text, { nil: undefined }), pricing_category: text, pricing_type: text, tier: fc.option(text, { nil: undefined }), phone_number: text,
    }).map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== undefined)) as unknown as PricingKind);
    const count = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.maxSafeNat());
    fc.assert(fc.property(fc.array(kind, { minLength: 1, maxLength: 6 }), fc.array(fc.record({
      start: fc.nat(), length: fc.integer({ min: 1, max: 31 * 86_400 }), volume: count, micros: fc.oneof(fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }), fc.integer({ min: -999_999, max: 999_999 })),
      unpriced: fc.oneof(fc.constant(0), count), kind: fc.nat(),
    }), { maxLength: 40 }), text, (kinds, raw, id) => {
      const points = raw.map((p) => ({ start: p.start, end: p.start + p.length, volume: p.volume, micros: p.micros, unpriced: p.unpriced, kind: p.kind % kinds.length }));
      assertSameJson(columns(kinds, points, { id }));
    }), { numRuns: 1000 });
  });
});

const GERMANY = '4915112345678';
const INDIA = '919876543210';
const UNKNOWN = '999123'; // no country: charged, no market, unpriced

const pmp = (id: string, iso: string, recipient: string, category: string, type: string): StatusSpec =>
  ({ id, status: 'delivered', ts: at(iso), recipient, pricing: { model: 'PMP', type, category } });

/** Charged, free, tiered, unpriced (an unknown category; an unknown country) messages of October 2026. */
const TRAFFIC: StatusSpec[] = [
  pmp('m1', '2026-10-05T10:05:00', GERMANY, 'marketing', 'regular'),
  pmp('m2', '2026-10-05T10:40:00', GERMANY, 'marketing', 'regular'),
  pmp('m3', '2026-10-05T10:10:00', GERMANY, 'utility', 'free_customer_service'),
  pmp('m4', '2026-10-05T12:00:00', INDIA, 'service', 'free_customer_service'),
  pmp('u1', '2026-10-05T11:00:00', INDIA, 'utility', 'regular'),
  pmp('u2', '2026-10-05T11:10:00', INDIA, 'utility', 'regular'),
  pmp('u3', '2026-10-05T11:20:00', INDIA, 'utility', 'regular'),
  pmp('u4', '2026-10-06T09:30:00', INDIA, 'utility', 'regular'),
  pmp('g1', '2026-10-06T09:40:00', GERMANY, 'group_marketing', 'regular'),
  pmp('x1', '2026-10-07T14:00:00', UNKNOWN, 'utility', 'regular'),
  pmp('x2', '2026-10-07T14:10:00', UNKNOWN, 'marketing', 'free_entry_point'),
];

const INFLATE: Record<string, (b: Buffer) => Buffer> = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync };

for (const dialect of DIALECTS) {
  describe(`channel info/usage: the JSON sent, compressed or not [${dialect}]`, () => {
    let t: TestApp;
    let tn: Awaited<ReturnType<typeof seedTenant>>;
    let base: string;
    const phoneNumberId = `${dialect}-usage-json`;
    const wabaId = `${dialect}-usage-json-waba`;

    before(async () => {
      ({ t, tn, base } = await startUsageFixture(dialect, { phoneNumberId, wabaId }, TRAFFIC));
    });
    after(async () => { await t.close(); });

    const get = (query: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url: `${base}?${query}`, headers: { ...tn.headers, ...headers } });

    test('the body is byte for byte JSON.stringify of the answer as objects', async () => {
      const client = await t.services.tenants.getClient(tn.partner.id, tn.client.id);
      const channel = await t.services.tenants.getChannel(tn.partner.id, tn.client.id, tn.channel.id);
      const OCT = at('2026-10-01T00:00:00');
      const NOV = at('2026-11-01T00:00:00');
      const fields = new Set<string>();
      for (const granularity of ['half_hour', 'day', 'month'] as const) {
        for (const countries of [undefined, ['IN'], ['FR']]) {
          const query = `granularity=${granularity}&start_date=${OCT}&end_date=${NOV - 1}${countries ? `&country_codes=${countries.join(',')}` : ''}`;
          const res = await get(query);
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
          const objects = pricingAnalyticsObject(await t.services.messageUsage.pricingAnalyticsColumns(client, channel, { start: OCT, end: NOV - 1, granularity, countries }));
          assert.equal(res.body, JSON.stringify(objects), query);
          assert.equal(Number(res.headers['content-length']), res.rawPayload.length);
          for (const d of objects.pricing_analytics.data[0].data_points) for (const f of ['country', 'tier', 'unpriced_volume']) if (f in d) fields.add(f);
        }
      }
      // The traffic has points with each optional field and points without (unknown country, free, priced).
      assert.deepEqual([...fields].sort(), ['country', 'tier', 'unpriced_volume']);
      const day = (await get(`granularity=day&start_date=${OCT}&end_date=${NOV - 1}`)).json().pricing_analytics.data[0].data_points as Record<string, unknown>[];
      assert.ok(day.some((d) => !('country' in d)) && day.some((d) => !('tier' in d)) && day.some((d) => !('unpriced_volume' in d)));
    });

    test('Accept-Encoding gzip, br, deflate: compressed, and inflates to the same bytes', async () => {
      const query = 'granularity=half_hour';
      const plain = await get(query);
      assert.equal(plain.statusCode, 200, plain.body);
      assert.ok(plain.rawPayload.length > COMPRESS_THRESHOLD, `the answer (${plain.rawPayload.length} bytes) is over the threshold`);
      assert.equal(plain.headers['content-encoding'], undefined);
      for (const [accept, encoding] of [['gzip', 'gzip'], ['br', 'br'], ['deflate', 'deflate'], ['gzip, deflate', 'gzip'], ['gzip, deflate, br', 'br'], ['br;q=0.5, gzip', 'gzip'], ['*', 'gzip']] as const) {
        const res = await get(query, { 'accept-encoding': accept });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['content-encoding'], encoding, accept);
        assert.match(String(res.headers.vary), /accept-encoding/i);
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
        assert.ok(res.rawPayload.length < plain.rawPayload.length, `${accept}: ${res.rawPayload.length} bytes`);
        assert.ok(INFLATE[encoding](res.rawPayload).equals(plain.rawPayload), `${accept}: inflates to the plain answer`);
      }
    });

    test('sent as it is: no Accept-Encoding, identity, an encoding not offered, an answer under the threshold, an error', async () => {
      const plain = await get('granularity=day');
      for (const accept of ['identity', 'compress', 'zstd;q=1, identity;q=0.5', 'gzip;q=0']) {
        const res = await get('granularity=day', { 'accept-encoding': accept });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['content-encoding'], undefined, accept);
        assert.ok(res.rawPayload.equals(plain.rawPayload), accept);
      }
      // One half hour: a data point, under the threshold.
      const small = await get(`granularity=half_hour&start_date=${at('2026-10-05T12:00:00')}&end_date=${at('2026-10-05T12:29:59')}`, { 'accept-encoding': 'gzip, br' });
      assert.equal(small.statusCode, 200, small.body);
      assert.ok(small.rawPayload.length < COMPRESS_THRESHOLD);
      assert.equal(small.headers['content-encoding'], undefined);
      assert.equal(small.json().pricing_analytics.data[0].data_points.length, 1);
      const bad = await get('granularity=week', { 'accept-encoding': 'gzip' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().meta.http_code, 400);
    });
  });
}
