/**
 * `…/info/balance` (client and channel) over HTTP, on SQLite and PostgreSQL: the seed's response
 * shape field for field, granularity and date bounds, query validation, the app filter, and
 * prices as exact decimals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  addChannel, at, DIALECTS, envelope, postWebhook, seedTenant, startApp, status,
  type StatusSpec, type TestApp, assertEnvelope } from '../helpers.ts';

/** The seed's top-level fields, in the seed's order. */
const TOP_LEVEL = [
  'balance', 'currency', 'last_renewal', 'bi_price_for_currency_and_client_country',
  'ui_price_for_currency_and_client_country', 'estimated_template_cost', 'granularity', 'usage',
];

/** Every field of the seed's usage row (checking-usage-and-statistics.md). */
const SEED_ROW_FIELDS = [
  'authentication_paid_quantity', 'authentication_price', 'authentication_quantity',
  'marketing_paid_quantity', 'marketing_price', 'marketing_quantity',
  'service_paid_quantity', 'service_price', 'service_quantity',
  'utility_paid_quantity', 'utility_price', 'utility_quantity',
  'business_initiated_paid_quantity', 'business_initiated_price', 'business_initiated_quantity',
  'free_entry_point', 'free_quantity', 'free_tier', 'paid_quantity', 'period_date', 'quantity', 'total_price',
  'user_initiated_paid_quantity', 'user_initiated_price', 'user_initiated_quantity',
];
const SEED_QUANTITIES = SEED_ROW_FIELDS.filter((f) => f.endsWith('quantity') || f === 'free_tier' || f === 'free_entry_point');
const SEED_PRICES = SEED_ROW_FIELDS.filter((f) => f.endsWith('_price'));


function assertNamesParameter(res: LightMyRequestResponse, param: string) {
  const meta = assertEnvelope(res, 400, 'invalid_parameter');
  assert.ok(meta.details.some((d) => d.startsWith(`${param}:`) || d.startsWith(`${param} `)), `details name ${param}: ${JSON.stringify(meta.details)}`);
}

const DAY_ISO = /^\d{4}-\d{2}-\d{2}T00:00:00Z$/;

for (const dialect of DIALECTS) {
  describe(`info/balance [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    let n = 0;
    /** A fresh partner, client (USD, Germany) and channel with its own phone number and WABA. */
    async function tenant(opts: { appId?: string; country?: string } = {}) {
      n++;
      const phoneNumberId = `${dialect}-bal-${n}`;
      const tn = await seedTenant(t.app, { phoneNumberId, wabaId: `${dialect}-bal-waba-${n}`, appId: opts.appId, country: opts.country });
      return { ...tn, phoneNumberId, send: (...specs: StatusSpec[]) => send(phoneNumberId, specs) };
    }
    type Tenant = Awaited<ReturnType<typeof tenant>>;
    async function send(phoneNumberId: string, specs: StatusSpec[]) {
      const res = await postWebhook(t.app, envelope(specs.map(status), { phoneNumberId }));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().stored, specs.length);
    }
    let m = 0;
    /** `count` delivered PMP `regular` messages of `category` at `ts` (one second apart). */
    const delivered = (ts: number, count = 1, category = 'utility', recipient = '4915112345678'): StatusSpec[] =>
      Array.from({ length: count }, (_, i) => ({ id: `wamid.${dialect}-${++m}`, status: 'delivered', ts: ts + i, recipient, pricing: { model: 'PMP', type: 'regular', category } }));

    const get = (tn: Tenant, query = '', path = '') =>
      t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}${path}/info/balance${query ? `?${query}` : ''}`, headers: tn.headers });
    async function usageOf(tn: Tenant, query = '', path = '') {
      const res = await get(tn, query, path);
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }
    const rows = async (tn: Tenant, query = '', path = '') =>
      (await usageOf(tn, query, path)).usage.map((r: Record<string, unknown>) => [r.period_date, r.quantity]);

    test("the response has exactly the seed's top-level fields, in order; balance is 0 (nothing booked) and last_renewal null", async () => {
      const tn = await tenant();
      await tn.send(...delivered(at('2026-02-10T10:00:00')));
      for (const body of [await usageOf(tn), await usageOf(tn, '', `/channels/${tn.channel.id}`)]) {
        assert.deepEqual(Object.keys(body), TOP_LEVEL);
        assert.equal(body.balance, 0, 'a number (typed clients read a decimal): nothing is booked');
        assert.equal(body.last_renewal, null);
        assert.equal(body.currency, 'USD');
        // List prices today for a German client in USD: marketing 0.1365 on every shipped card
        // since 2026-01-01; service has a rate (0.055) only from the 2026-10-01 card on.
        const today = new Date().toISOString().slice(0, 10);
        assert.equal(body.bi_price_for_currency_and_client_country, 0.1365);
        assert.equal(body.ui_price_for_currency_and_client_country, today >= '2026-10-01' ? 0.055 : 0);
        assert.equal(body.estimated_template_cost, 0.1365);
        assert.equal(body.granularity, 'month');
        assert.ok(Array.isArray(body.usage));
      }
      // No usage at all: still the same shape, usage an empty list.
      const empty = await tenant();
      const body = await usageOf(empty);
      assert.deepEqual(Object.keys(body), TOP_LEVEL);
      assert.deepEqual(body.usage, []);
    });

    test("each usage row has every field of the seed's row; quantities are integers, prices numbers", async () => {
      const tn = await tenant();
      await tn.send(
        ...delivered(at('2026-02-10T10:00:00'), 2, 'utility'),
        ...delivered(at('2026-02-11T10:00:00'), 1, 'marketing'),
        ...delivered(at('2026-03-01T10:00:00'), 1, 'authentication'),
        { id: 'wamid.free', status: 'delivered', ts: at('2026-03-02T10:00:00'), pricing: { model: 'PMP', type: 'free_customer_service', category: 'service' } },
        { id: 'wamid.cbp', status: 'delivered', ts: at('2024-03-02T10:00:00'), conv: { id: 'conv-1', exp: at('2024-03-03T10:00:00'), origin: 'marketing' }, pricing: { model: 'CBP', category: 'marketing' } },
      );
      for (const granularity of ['day', 'month']) {
        const body = await usageOf(tn, `granularity=${granularity}`);
        assert.ok(body.usage.length >= 3);
        for (const row of body.usage) {
          for (const f of SEED_ROW_FIELDS) assert.ok(f in row, `${granularity} row lacks ${f}`);
          for (const f of SEED_QUANTITIES) assert.ok(Number.isInteger(row[f]), `${f} = ${row[f]} is not an integer`);
          for (const f of SEED_PRICES) assert.ok(typeof row[f] === 'number' && Number.isFinite(row[f]), `${f} = ${row[f]} is not a number`);
          assert.equal(typeof row.period_date, 'string');
          // Every numeric field of the row (additive ones included) is a number, never null or a string.
          for (const [k, v] of Object.entries(row)) if (k !== 'period_date') assert.equal(typeof v, 'number', k);
          assert.equal(row.quantity, row.paid_quantity + row.free_quantity);
          assert.equal(row.free_quantity, row.free_tier + row.free_entry_point);
        }
      }
    });

    test('granularity DAY, Day, day, MONTH, Month, mOnTh are accepted and echoed lowercase; month is the default', async () => {
      const tn = await tenant();
      await tn.send(...delivered(at('2026-02-10T10:00:00')), ...delivered(at('2026-02-12T10:00:00')));
      for (const g of ['DAY', 'Day', 'day', 'dAY']) {
        const body = await usageOf(tn, `granularity=${g}`);
        assert.equal(body.granularity, 'day');
        assert.deepEqual(body.usage.map((r: any) => r.period_date), ['2026-02-10T00:00:00Z', '2026-02-12T00:00:00Z']);
      }
      for (const g of ['MONTH', 'Month', 'month', 'mOnTh']) {
        const body = await usageOf(tn, `granularity=${g}`);
        assert.equal(body.granularity, 'month');
        assert.deepEqual(body.usage.map((r: any) => [r.period_date, r.quantity]), [['2026-02-01T00:00:00Z', 2]]);
      }
      const dflt = await usageOf(tn);
      assert.equal(dflt.granularity, 'month');
      assert.deepEqual(dflt.usage, (await usageOf(tn, 'granularity=month')).usage);
    });

    test("period_date is the bucket's start, YYYY-MM-DDT00:00:00Z (UTC)", async () => {
      const tn = await tenant();
      // 23:59:59 UTC on the last day of January, and 00:00:00 on the first of February.
      await tn.send(...delivered(at('2026-01-31T23:59:59')), ...delivered(at('2026-02-01T00:00:00')), ...delivered(at('2026-02-28T23:30:00')));
      const days = await usageOf(tn, 'granularity=day');
      for (const r of days.usage) assert.match(r.period_date, DAY_ISO);
      assert.deepEqual(days.usage.map((r: any) => [r.period_date, r.quantity]), [
        ['2026-01-31T00:00:00Z', 1], ['2026-02-01T00:00:00Z', 1], ['2026-02-28T00:00:00Z', 1],
      ]);
      const months = await usageOf(tn, 'granularity=month');
      for (const r of months.usage) assert.match(r.period_date, /^\d{4}-\d{2}-01T00:00:00Z$/);
      assert.deepEqual(months.usage.map((r: any) => [r.period_date, r.quantity]), [['2026-01-01T00:00:00Z', 1], ['2026-02-01T00:00:00Z', 2]]);
    });

    test('only buckets with usage appear', async () => {
      const tn = await tenant();
      await tn.send(...delivered(at('2026-02-03T10:00:00')), ...delivered(at('2026-02-10T10:00:00'), 2), ...delivered(at('2026-05-20T10:00:00')));
      // A failed message is no usage of any kind: its day has no bucket.
      await tn.send({ id: 'wamid.failed', status: 'failed', ts: at('2026-02-20T10:00:00'), pricing: { model: 'PMP', type: 'regular', category: 'utility' } });
      assert.deepEqual(await rows(tn, 'granularity=day'), [['2026-02-03T00:00:00Z', 1], ['2026-02-10T00:00:00Z', 2], ['2026-05-20T00:00:00Z', 1]]);
      assert.deepEqual(await rows(tn, 'granularity=month'), [['2026-02-01T00:00:00Z', 3], ['2026-05-01T00:00:00Z', 1]]);
      // A message only sent is not a billing unit, but the seed's "messages sent" makes its day a bucket.
      await tn.send({ id: 'wamid.sent', status: 'sent', ts: at('2026-04-04T10:00:00'), pricing: { model: 'PMP', type: 'regular', category: 'utility' } });
      const april = (await usageOf(tn, 'granularity=day')).usage.find((r: any) => r.period_date === '2026-04-04T00:00:00Z');
      assert.equal(april.quantity, 0);
      assert.equal(april.messages_sent, 1);
      assert.equal(april.messages_delivered, 0);
    });

    test('start_date/end_date with day granularity: every day bucket that overlaps the range is included whole', async () => {
      const tn = await tenant();
      await tn.send(
        ...delivered(at('2026-03-04T23:59:59')), // the day before the range
        ...delivered(at('2026-03-05T08:00:00')), // start's day, before start's time
        ...delivered(at('2026-03-05T13:00:00'), 2), // start's day, after start's time
        ...delivered(at('2026-03-15T12:00:00')),
        ...delivered(at('2026-03-25T20:00:00'), 3), // end's day, after end's time
        ...delivered(at('2026-03-26T00:00:00')), // the day after the range
      );
      const range = `start_date=${at('2026-03-05T12:00:00')}&end_date=${at('2026-03-25T06:00:00')}&granularity=day`;
      assert.deepEqual(await rows(tn, range), [['2026-03-05T00:00:00Z', 3], ['2026-03-15T00:00:00Z', 1], ['2026-03-25T00:00:00Z', 3]]);
      // Bounds are inclusive: a range of one instant still selects that instant's day.
      const instant = at('2026-03-15T00:00:00');
      assert.deepEqual(await rows(tn, `start_date=${instant}&end_date=${instant}&granularity=day`), [['2026-03-15T00:00:00Z', 1]]);
      // end_date one second before a day leaves that day out; start_date one second after a day, too.
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-05T00:00:00')}&end_date=${at('2026-03-14T23:59:59')}&granularity=day`), [['2026-03-05T00:00:00Z', 3]]);
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-25T00:00:00')}&granularity=day`), [['2026-03-25T00:00:00Z', 3], ['2026-03-26T00:00:00Z', 1]]);
      // Only one bound given: the other is open (0 and 2099-12-31).
      assert.deepEqual(await rows(tn, `end_date=${at('2026-03-05T00:00:00')}&granularity=day`), [['2026-03-04T00:00:00Z', 1], ['2026-03-05T00:00:00Z', 3]]);
    });

    test('start_date in mid-month with month granularity: the month bucket overlapping the range is included whole', async () => {
      const tn = await tenant();
      await tn.send(...delivered(at('2026-02-20T10:00:00')), ...delivered(at('2026-03-05T10:00:00')), ...delivered(at('2026-03-25T10:00:00'), 2), ...delivered(at('2026-04-10T10:00:00')));
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-15T00:00:00')}&granularity=month`), [['2026-03-01T00:00:00Z', 3], ['2026-04-01T00:00:00Z', 1]]);
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-31T23:59:59')}&granularity=month`), [['2026-03-01T00:00:00Z', 3], ['2026-04-01T00:00:00Z', 1]]);
      // Day buckets are untouched by a start_date that cuts a month.
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-15T00:00:00')}&granularity=day`), [['2026-03-25T00:00:00Z', 2], ['2026-04-10T00:00:00Z', 1]]);
    });

    test('end_date in mid-month with month granularity: the month bucket overlapping the range is included whole', async () => {
      const tn = await tenant();
      await tn.send(...delivered(at('2026-02-20T10:00:00')), ...delivered(at('2026-03-05T10:00:00')), ...delivered(at('2026-03-25T10:00:00'), 2), ...delivered(at('2026-04-10T10:00:00')));
      // The same rule as for start_date (whole buckets that overlap [start_date, end_date]): a
      // March row means all of March, whichever side of the range cuts through it.
      assert.deepEqual(await rows(tn, `end_date=${at('2026-03-15T00:00:00')}&granularity=month`), [['2026-02-01T00:00:00Z', 1], ['2026-03-01T00:00:00Z', 3]]);
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-10T00:00:00')}&end_date=${at('2026-03-20T00:00:00')}&granularity=month`), [['2026-03-01T00:00:00Z', 3]]);
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-31T23:59:59')}&end_date=${at('2026-04-01T00:00:00')}&granularity=month`), [['2026-03-01T00:00:00Z', 3], ['2026-04-01T00:00:00Z', 1]]);
      // A range inside March that misses all of March's days with usage still overlaps March.
      assert.deepEqual(await rows(tn, `start_date=${at('2026-03-01T00:00:00')}&end_date=${at('2026-03-02T00:00:00')}&granularity=month`), [['2026-03-01T00:00:00Z', 3]]);
    });

    test('start_date after end_date → 400; equal is a valid range', async () => {
      const tn = await tenant();
      const meta = assertEnvelope(await get(tn, `start_date=${at('2026-03-02T00:00:00')}&end_date=${at('2026-03-01T00:00:00')}`), 400, 'invalid_parameter');
      assert.ok(meta.details.some((d) => d.includes('start_date') && d.includes('end_date')), JSON.stringify(meta.details));
      // Only start_date given, after the default end (2099-12-31).
      assertEnvelope(await get(tn, 'start_date=4102444800'), 400, 'invalid_parameter');
      assert.equal((await get(tn, 'start_date=1772323200&end_date=1772323200')).statusCode, 200);
      // The channel endpoint applies the same rule.
      assertEnvelope(await get(tn, 'start_date=2&end_date=1', `/channels/${tn.channel.id}`), 400, 'invalid_parameter');
    });

    test('non-numeric, negative, fractional or empty dates → 400 naming the parameter', async () => {
      const tn = await tenant();
      for (const param of ['start_date', 'end_date']) {
        for (const value of ['abc', '-1', '-1772323200', '1.5', '1e9', '', '2026-03-01', '0x10', '123456789012']) {
          assertNamesParameter(await get(tn, `${param}=${encodeURIComponent(value)}`), param);
        }
      }
      assertNamesParameter(await get(tn, 'start_date=abc', `/channels/${tn.channel.id}`), 'start_date');
    });

    test("an unknown granularity ('week', 'days', '') → 400 naming granularity", async () => {
      const tn = await tenant();
      for (const g of ['week', 'WEEK', 'days', 'months', 'year', 'half_hour', '']) {
        assertNamesParameter(await get(tn, `granularity=${g}`), 'granularity');
      }
      assertNamesParameter(await get(tn, 'granularity=week', `/channels/${tn.channel.id}`), 'granularity');
    });

    test('malformed app ids → 400 naming the parameter', async () => {
      const tn = await tenant();
      for (const param of ['app_id', 'app_ids']) {
        for (const value of ['', ',', '214,', ',214', '214,,231', '214 231', '214;231', 'a/b']) {
          assertNamesParameter(await get(tn, `${param}=${encodeURIComponent(value)}`), param);
        }
      }
    });

    test("app_id and app_ids filter the client's channels by their app_id", async () => {
      const tn = await tenant({ appId: '214' });
      const ch231 = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: `${tn.phoneNumberId}-231`, wabaId: `${tn.phoneNumberId}-w`, appId: '231' });
      const ch241 = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: `${tn.phoneNumberId}-241`, wabaId: `${tn.phoneNumberId}-w`, appId: '241' });
      const ts = at('2026-02-10T10:00:00');
      await tn.send(...delivered(ts, 1));
      await send(ch231.phone_number_id, delivered(ts, 2));
      await send(ch241.phone_number_id, delivered(ts, 4));
      const quantity = async (query: string) => (await usageOf(tn, query)).usage.map((r: any) => r.quantity);
      assert.deepEqual(await quantity(''), [7]);
      assert.deepEqual(await quantity('app_id=214'), [1]);
      assert.deepEqual(await quantity('app_ids=214'), [1]);
      assert.deepEqual(await quantity('app_ids=214,231'), [3]);
      assert.deepEqual(await quantity('app_id=214,231'), [3]);
      assert.deepEqual(await quantity('app_ids=231,241'), [6]);
      assert.deepEqual(await quantity('app_ids=214,231,241'), [7]);
      // Both spellings at once: the union.
      assert.deepEqual(await quantity('app_id=214&app_ids=241'), [5]);
      // An app no channel sends through: no usage (not all usage).
      assert.deepEqual(await quantity('app_id=999'), []);
    });

    test('an app filter answers exactly the sum of the kept channels, whichever way it is computed', async () => {
      // Seven channels; 261 is the app of two of them; 271's channel is registered after its
      // traffic (replayed then). A filter keeping most channels is answered as the client's rollup
      // less the other channels' rows, a smaller one as the kept channels' rows: both must be the
      // sum of what each kept channel's own endpoint reports, to the unit and to the micro.
      const tn = await tenant({ appId: '214' });
      const chans: { id: string; phone_number_id: string; app: string }[] = [{ id: tn.channel.id, phone_number_id: tn.phoneNumberId, app: '214' }];
      for (const app of ['231', '241', '251', '261', '261']) {
        const ch = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: `${tn.phoneNumberId}-${chans.length}`, wabaId: `${tn.phoneNumberId}-w`, appId: app });
        chans.push({ id: ch.id, phone_number_id: ch.phone_number_id, app });
      }
      const US = '16505551234';
      const IN = '919876543210';
      const traffic = (k: number): StatusSpec[] => [
        ...delivered(at(`2026-02-${String(10 + k).padStart(2, '0')}T10:00:00`), 1 + k, 'utility'),
        ...delivered(at('2026-02-20T08:00:00'), 1 + (k % 3), 'marketing', k % 2 ? US : IN),
        ...delivered(at('2026-03-03T12:00:00'), 2, 'authentication', k % 2 ? IN : '4915112345678'),
        { id: `wamid.${dialect}-free-${++m}`, status: 'delivered', ts: at('2026-03-04T09:00:00'), pricing: { model: 'PMP', type: 'free_customer_service', category: 'service' } },
        { id: `wamid.${dialect}-sent-${++m}`, status: 'sent', ts: at('2026-03-05T09:00:00'), pricing: { model: 'PMP', type: 'regular', category: 'utility' } },
      ];
      for (const [k, ch] of chans.entries()) await send(ch.phone_number_id, traffic(k));
      // The late channel's traffic, one day of it its own (2026-03-20), then the channel.
      const latePhone = `${tn.phoneNumberId}-late`;
      await send(latePhone, [...traffic(6), ...delivered(at('2026-03-20T10:00:00'), 3, 'marketing', US)]);
      const late = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: latePhone, wabaId: `${tn.phoneNumberId}-w`, appId: '271' });
      assert.ok(late.replayed_statuses > 0);
      chans.push({ id: late.id, phone_number_id: latePhone, app: '271' });

      const micros = (v: number) => Math.round(v * 1e6);
      for (const granularity of ['day', 'month']) {
        const own = new Map<string, Record<string, unknown>[]>();
        for (const ch of chans) own.set(ch.id, (await usageOf(tn, `granularity=${granularity}`, `/channels/${ch.id}`)).usage);
        /** The kept channels' own rows, summed field by field per period (prices in micros). */
        const expected = (apps: string[]) => {
          const sums = new Map<string, Record<string, number>>();
          for (const ch of chans.filter((c) => apps.includes(c.app))) {
            for (const row of own.get(ch.id)!) {
              const sum = sums.get(row.period_date as string) ?? {};
              for (const [k, v] of Object.entries(row)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + (k.endsWith('_price') ? micros(v) : v);
              sums.set(row.period_date as string, sum);
            }
          }
          return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([period_date, sum]) => {
            const row: Record<string, unknown> = { period_date };
            for (const [k, v] of Object.entries(sum)) row[k] = k.endsWith('_price') ? v / 1e6 : v;
            return row;
          });
        };
        const cases: [string, string[]][] = [
          ['app_ids=214,231,241,251,261', ['214', '231', '241', '251', '261']], // all but the late one
          ['app_ids=214,231,241,251,271', ['214', '231', '241', '251', '271']], // all but both 261 channels
          ['app_ids=231,241,251,261,271,999', ['231', '241', '251', '261', '271']], // an app no channel has
          ['app_ids=214,214,231,241,261,271,261', ['214', '231', '241', '261', '271']], // duplicates
          ['app_id=214&app_ids=231,241,251,261', ['214', '231', '241', '251', '261']], // both spellings
          ['app_ids=214,231', ['214', '231']],
          ['app_ids=251,271', ['251', '271']],
          ['app_ids=214,231,241,251,261,271', ['214', '231', '241', '251', '261', '271']],
          ['app_id=999', []],
        ];
        for (const [filter, apps] of cases) {
          const got = (await usageOf(tn, `granularity=${granularity}&${filter}`)).usage;
          const want = expected(apps);
          assert.equal(got.length, want.length, `${granularity} ${filter}: ${got.map((r: any) => r.period_date)}`);
          got.forEach((row: Record<string, unknown>, i: number) => {
            assert.deepEqual(Object.keys(row).sort(), Object.keys(want[i]).sort());
            for (const k of Object.keys(row)) assert.equal(row[k], want[i][k], `${granularity} ${filter} ${row.period_date} ${k}`);
          });
        }
        // The unfiltered answer is every channel's.
        assert.deepEqual((await usageOf(tn, `granularity=${granularity}`)).usage, (await usageOf(tn, `granularity=${granularity}&app_ids=214,231,241,251,261,271`)).usage);
      }
      // A day only the excluded channel had usage on is no bucket (not a bucket of zeros); the
      // rest of the client's days are.
      const days = (await usageOf(tn, 'granularity=day&app_ids=214,231,241,251,261')).usage.map((r: any) => r.period_date);
      assert.ok(!days.includes('2026-03-20T00:00:00Z'));
      assert.ok(days.includes('2026-03-05T00:00:00Z')); // messages sent, none delivered: still usage
      assert.ok((await usageOf(tn, 'granularity=day')).usage.some((r: any) => r.period_date === '2026-03-20T00:00:00Z'));
    });

    test("the channel endpoint returns only that channel's usage", async () => {
      const tn = await tenant({ appId: '214' });
      const other = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: `${tn.phoneNumberId}-b`, wabaId: `${tn.phoneNumberId}-w`, appId: '231' });
      await tn.send(...delivered(at('2026-02-10T10:00:00'), 1), ...delivered(at('2026-03-10T10:00:00'), 1, 'marketing'));
      await send(other.phone_number_id, [...delivered(at('2026-02-11T10:00:00'), 2), ...delivered(at('2026-04-10T10:00:00'), 5)]);
      assert.deepEqual(await rows(tn, 'granularity=day', `/channels/${tn.channel.id}`), [['2026-02-10T00:00:00Z', 1], ['2026-03-10T00:00:00Z', 1]]);
      assert.deepEqual(await rows(tn, 'granularity=day', `/channels/${other.id}`), [['2026-02-11T00:00:00Z', 2], ['2026-04-10T00:00:00Z', 5]]);
      assert.deepEqual(await rows(tn, 'granularity=month'), [['2026-02-01T00:00:00Z', 3], ['2026-03-01T00:00:00Z', 1], ['2026-04-01T00:00:00Z', 5]]);
      const own = await usageOf(tn, 'granularity=month', `/channels/${tn.channel.id}`);
      assert.deepEqual(Object.keys(own), TOP_LEVEL);
      assert.equal(own.usage[1].marketing_quantity, 1);
      assert.equal(own.usage[1].marketing_price, 0.1365);
      // The app filter on a channel endpoint selects that channel or nothing.
      assert.deepEqual(await rows(tn, 'app_id=214', `/channels/${tn.channel.id}`), [['2026-02-01T00:00:00Z', 1], ['2026-03-01T00:00:00Z', 1]]);
      assert.deepEqual(await rows(tn, 'app_id=231', `/channels/${tn.channel.id}`), []);
    });

    test('prices are exact decimals, never binary-float sums', async () => {
      const tn = await tenant();
      // Germany, USD card of 2026-01-01: utility 0.0550, marketing 0.1365 per delivered message.
      await tn.send(...delivered(at('2026-02-10T10:00:00'), 3, 'utility'));
      await tn.send(...delivered(at('2026-02-12T10:00:00'), 7, 'marketing'));
      // A US recipient (North America): utility 0.0034; 3 × 0.0034 in floats is 0.010199999999999999.
      await tn.send(...delivered(at('2026-02-14T10:00:00'), 3, 'utility', '16505551234'));
      const days = (await usageOf(tn, 'granularity=day')).usage;
      assert.deepEqual(days.map((r: any) => [r.period_date, r.utility_price, r.marketing_price, r.total_price]), [
        ['2026-02-10T00:00:00Z', 0.165, 0, 0.165],
        ['2026-02-12T00:00:00Z', 0, 0.9555, 0.9555],
        ['2026-02-14T00:00:00Z', 0.0102, 0, 0.0102],
      ]);
      const month = (await usageOf(tn, 'granularity=month')).usage;
      assert.equal(month.length, 1);
      assert.equal(month[0].utility_quantity, 6);
      assert.equal(month[0].utility_paid_quantity, 6);
      assert.equal(month[0].utility_price, 0.1752); // 0.165 + 0.0102
      assert.equal(month[0].marketing_price, 0.9555);
      assert.equal(month[0].total_price, 1.1307);
      // The JSON text itself carries the exact decimal.
      const text = (await get(tn, 'granularity=month')).body;
      assert.match(text, /"utility_price":0\.1752[,}]/);
      assert.match(text, /"total_price":1\.1307[,}]/);
    });
  });
}
