/**
 * The pricing rules of whatsapp-billing.md §1-2, each by name, end to end: rate cards and volume
 * tiers loaded through the admin API, webhooks posted over HTTP, estimates read back from
 * `…/info/balance` and explained by `…/info/charges`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, at, balance, DIALECTS, envelope, postWebhook, seedTenant, startApp, status, totals, type StatusSpec, type TestApp } from '../helpers.ts';

const KENYA = '254712345678';
const GERMANY = '4915112345678';

for (const dialect of DIALECTS) {
  describe(`pricing rules [${dialect}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
      // A small schedule so tier boundaries are reached with a handful of messages: list rate for
      // the first 3, then 0.0038 for the 4th-5th, then 0.0036.
      const res = await t.app.inject({
        method: 'POST', url: '/admin/volume-tiers?effective_from=2026-10-01',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
        payload: 'market,currency,category,from,to,rate\nRest of Africa,USD,utility,0,3,0.0040\nRest of Africa,USD,utility,4,5,0.0038\nRest of Africa,USD,utility,6,,0.0036\n',
      });
      assert.equal(res.statusCode, 201, res.body);
    });
    after(async () => { await t.close(); });

    let n = 0;
    async function tenant(opts: { timezone?: string } = {}) {
      n++;
      const phoneNumberId = `${dialect}-price-${n}`;
      const wabaId = `${dialect}-price-waba-${n}`;
      const tn = await seedTenant(t.app, { phoneNumberId, wabaId, timezone: opts.timezone });
      const send = async (...specs: StatusSpec[]) => {
        const res = await postWebhook(t.app, envelope(specs.map(status), { phoneNumberId, wabaId }));
        assert.equal(res.statusCode, 200, res.body);
      };
      return { ...tn, phoneNumberId, wabaId, send };
    }
    const utility = (id: string, ts: number, type = 'regular'): StatusSpec =>
      ({ id, status: 'delivered', ts, recipient: KENYA, pricing: { model: 'PMP', type, category: 'utility' } });

    test('volume tiers are marginal: the list rate for the first messages of the month, then each tier its own rate', async () => {
      const tn = await tenant();
      const base = at('2026-10-05T08:00:00');
      await tn.send(...Array.from({ length: 8 }, (_, i) => utility(`m${i}`, base + i * 60)));
      const m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.utility_paid_quantity, 8);
      // 3 × 0.0040 + 2 × 0.0038 + 3 × 0.0036
      assert.equal(m.utility_price, 0.0304);
      const explained = (await t.app.inject({ url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/charges`, headers: tn.headers })).json();
      assert.deepEqual(explained.charges.map((c: any) => [c.tier, c.quantity, c.rate, c.amount]), [[0, 3, 0.004, 0.012], [1, 2, 0.0038, 0.0076], [2, 3, 0.0036, 0.0108]]);
      assert.equal(explained.total_price, 0.0304);
      assert.match(explained.charges[1].rule, /volume tier 1/);
      assert.match(explained.charges[1].source, /volume tiers 2026-10-01/);
      assert.equal(explained.charges[0].market, 'Rest of Africa');
    });

    test('volume tiers: the tier a message reached follows delivery order, not arrival order', async () => {
      const tn = await tenant();
      const base = at('2026-10-06T08:00:00');
      // Posted newest first, one a day: the first three days must be the list-rate ones.
      for (let i = 5; i >= 0; i--) await tn.send(utility(`late${i}`, base + i * 86400));
      const days = (await balance(t.app, tn, 'granularity=day')).usage.map((r: any) => [r.period_date.slice(0, 10), r.utility_price]);
      assert.deepEqual(days, [
        ['2026-10-06', 0.004], ['2026-10-07', 0.004], ['2026-10-08', 0.004],
        ['2026-10-09', 0.0038], ['2026-10-10', 0.0038], ['2026-10-11', 0.0036],
      ]);
    });

    test('volume tiers: only charged messages accrue', async () => {
      const tn = await tenant();
      const base = at('2026-10-07T08:00:00');
      await tn.send(
        ...Array.from({ length: 4 }, (_, i) => utility(`free${i}`, base + i, 'free_customer_service')),
        ...Array.from({ length: 3 }, (_, i) => utility(`paid${i}`, base + 100 + i)),
      );
      const m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.utility_quantity, 7);
      assert.equal(m.utility_paid_quantity, 3);
      assert.equal(m.utility_price, 0.012, 'three charged messages, all at the list rate');
    });

    test("volume tiers reset at the start of the WABA's own month", async () => {
      const tn = await tenant({ timezone: 'Asia/Kolkata' });
      // 4 messages on 31 October (UTC) — the last two after 18:30 UTC, already November in India.
      const oct31 = at('2026-10-31T10:00:00');
      await tn.send(utility('a', oct31), utility('b', oct31 + 60), utility('c', oct31 + 9 * 3600), utility('d', oct31 + 9 * 3600 + 60));
      const m = totals(await balance(t.app, tn));
      assert.equal(m.utility_price, 0.016, 'two months of two messages each, all at the list rate');
    });

    test('marketing has no volume tiers', async () => {
      const tn = await tenant();
      const base = at('2026-10-08T08:00:00');
      await tn.send(...Array.from({ length: 7 }, (_, i) => ({ id: `mk${i}`, status: 'delivered', ts: base + i, recipient: KENYA, pricing: { model: 'PMP', type: 'regular', category: 'marketing' } })));
      assert.equal((await balance(t.app, tn)).usage[0].marketing_price, 0.1575); // 7 × 0.0225
    });

    test('a rate card change re-prices every stored estimate it covers, and unpriced units become priced when a card arrives', async () => {
      const tn = await tenant();
      // August 2025: no shipped card covers it, so the message is counted unpriced.
      await tn.send({ id: 'aug', status: 'delivered', ts: at('2025-08-05T10:00:00'), recipient: GERMANY, pricing: { model: 'PMP', type: 'regular', category: 'marketing' } });
      // October 2026: priced at the shipped card (Germany marketing 0.1365).
      await tn.send({ id: 'oct', status: 'delivered', ts: at('2026-10-09T10:00:00'), recipient: GERMANY, pricing: { model: 'PMP', type: 'regular', category: 'marketing' } });
      let rows = (await balance(t.app, tn)).usage;
      assert.deepEqual(rows.map((r: any) => [r.period_date.slice(0, 7), r.unpriced_quantity, r.marketing_price]), [['2025-08', 1, 0], ['2026-10', 0, 0.1365]]);

      const card = 'WhatsApp Business Platform rate card (USD)\nMarket,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nGermany,USD,0.1200,0.0500,0.0500,n/a,n/a\n';
      for (const date of ['2025-07-01', '2026-10-01']) {
        const res = await t.app.inject({ method: 'POST', url: `/admin/rate-cards?effective_from=${date}&unit=message`, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' }, payload: card });
        assert.equal(res.statusCode, 201, res.body);
      }
      rows = (await balance(t.app, tn)).usage;
      assert.deepEqual(rows.map((r: any) => [r.period_date.slice(0, 7), r.unpriced_quantity, r.marketing_price, r.total_price]), [['2025-08', 0, 0.12, 0.12], ['2026-10', 0, 0.12, 0.12]]);
      const explained = (await t.app.inject({ url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/charges`, headers: tn.headers })).json();
      assert.ok(explained.charges.every((c: any) => /operator upload/.test(c.source)), JSON.stringify(explained.charges));
    });

    test('an unpriced charge says why', async () => {
      const tn = await tenant();
      await tn.send({ id: 'x', status: 'delivered', ts: at('2026-02-09T10:00:00'), recipient: '', pricing: { model: 'PMP', type: 'regular', category: 'utility' } });
      const explained = (await t.app.inject({ url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/charges`, headers: tn.headers })).json();
      assert.equal(explained.unpriced_quantity, 1);
      assert.equal(explained.charges[0].rate, null);
      assert.match(explained.charges[0].unpriced_reason, /country is unknown/);
    });
  });
}
