/**
 * The pricing rules of the billing reference §1-2, each by name, end to end: rate cards and volume
 * tiers loaded through the admin API, webhooks posted over HTTP, estimates read back from
 * `…/info/balance` and explained by `…/info/charges`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, at, balance, DIALECTS, envelope, loadVolumeTiers, postWebhook, seedTenant, startApp, status, type StatusSpec, type TestApp, totals } from '../helpers.ts';

const KENYA = '254712345678';
const GERMANY = '4915112345678';
const FRANCE = '33612345678';

for (const dialect of DIALECTS) {
  describe(`pricing rules [${dialect}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
      // A small schedule so tier boundaries are reached with a handful of messages: list rate for
      // the first 3, then 0.0038 for the 4th-5th, then 0.0036.
      await loadVolumeTiers(t.app, 'market,currency,category,from,to,rate\nRest of Africa,USD,utility,0,3,0.0040\nRest of Africa,USD,utility,4,5,0.0038\nRest of Africa,USD,utility,6,,0.0036\n');
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

    const loadCard = async (query: string, csv: string) => {
      const res = await t.app.inject({ method: 'POST', url: `/admin/rate-cards?${query}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' }, payload: csv });
      assert.equal(res.statusCode, 201, res.body);
    };

    test('CBP v1: business- and user-initiated conversations are priced from a 2022 card with Business-Initiated and User-Initiated columns', async () => {
      const tn = await tenant();
      await loadCard('effective_from=2022-06-01&unit=conversation', 'Conversation-based pricing, USD\nMarket,Currency,Business-Initiated,User-Initiated\nGermany,USD,0.1365,0.0730\n');
      const base = at('2022-09-01T00:00:00');
      const specs: StatusSpec[] = [];
      // 1,002 conversations: the first 1,000 of the month are free, the last two (one of each direction) are paid.
      for (let i = 0; i < 1002; i++) {
        const dir = i === 1001 ? 'user_initiated' : 'business_initiated';
        specs.push({ id: `c${i}`, status: 'delivered', ts: base + i * 60 + 1, recipient: GERMANY, conv: { id: `v1p-${i}`, exp: base + i * 60 + 86400, origin: dir }, pricing: { model: 'CBP', category: dir } });
      }
      for (let i = 0; i < specs.length; i += 250) await tn.send(...specs.slice(i, i + 250));
      const m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.free_tier, 1000);
      assert.equal(m.business_initiated_paid_quantity, 1);
      assert.equal(m.business_initiated_price, 0.1365);
      assert.equal(m.user_initiated_price, 0.073);
      assert.equal(m.total_price, 0.2095);
    });

    test('market mappings change on their dates: Hong Kong is Rest of Asia Pacific until 2026-06-30 and its own market from 2026-07-01', async () => {
      const tn = await tenant();
      const hk = '85291234567';
      await tn.send(
        { id: 'june', status: 'delivered', ts: at('2026-06-30T12:00:00'), recipient: hk, pricing: { model: 'PMP', type: 'regular', category: 'utility' } },
        { id: 'july', status: 'delivered', ts: at('2026-07-01T12:00:00'), recipient: hk, pricing: { model: 'PMP', type: 'regular', category: 'utility' } },
      );
      const explained = (await t.app.inject({ url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/charges`, headers: tn.headers })).json();
      assert.deepEqual(explained.charges.map((c: any) => [c.local_date, c.market, c.rate]), [['2026-06-30', 'Rest of Asia Pacific', 0.0113], ['2026-07-01', 'Hong Kong', 0.026]]);
    });

    test('from 2026-10-01 service messages Meta marks regular are charged at the market\'s service rate; free ones stay free', async () => {
      const tn = await tenant();
      const ts = at('2026-10-12T09:00:00');
      await tn.send(
        { id: 's1', status: 'delivered', ts, recipient: FRANCE, pricing: { model: 'PMP', type: 'regular', category: 'service' } },
        { id: 's2', status: 'delivered', ts, recipient: FRANCE, pricing: { model: 'PMP', type: 'free_customer_service', category: 'service' } },
        { id: 'u1', status: 'delivered', ts, recipient: FRANCE, pricing: { model: 'PMP', type: 'regular', category: 'utility' } },
      );
      const m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.service_quantity, 2);
      assert.equal(m.service_paid_quantity, 1);
      assert.equal(m.service_price, 0.03);
      assert.equal(m.utility_price, 0.03);
    });

    test("the client's currency: prices come from the card in that currency, and no conversion is invented", async () => {
      n++;
      const phoneNumberId = `${dialect}-eur-${n}`;
      const tn = await seedTenant(t.app, { phoneNumberId, wabaId: `${dialect}-eur-waba-${n}`, currency: 'EUR' });
      const send = (id: string) => postWebhook(t.app, envelope([status({ id, status: 'delivered', ts: at('2026-11-02T09:00:00'), recipient: GERMANY, pricing: { model: 'PMP', type: 'regular', category: 'marketing' } })], { phoneNumberId, wabaId: `${dialect}-eur-waba-${n}` }));
      assert.equal((await send('e1')).statusCode, 200);
      let m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.unpriced_quantity, 1, 'no EUR card: unpriced, not converted from USD');
      assert.equal(m.total_price, 0);
      await loadCard('effective_from=2026-10-01&unit=message', 'Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nGermany,EUR,0.1131,0.0456,0.0456,n/a,0.0456\n');
      m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.unpriced_quantity, 0);
      assert.equal(m.marketing_price, 0.1131);
      const b = await balance(t.app, tn);
      assert.equal(b.currency, 'EUR');
      assert.equal(b.estimated_template_cost, 0.1131);
    });

    test('volume tiers: WABAs in one business portfolio share their tiers, and a portfolio set later re-meters what was counted', async () => {
      const tn = await tenant();
      const second = `${tn.phoneNumberId}-second-waba`;
      const res = await t.app.inject({ method: 'POST', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/channels`, headers: tn.headers,
        payload: { phone_number: '+4930123457', phone_number_id: second, waba_id: `${tn.wabaId}-2`, app_id: '215' } });
      assert.equal(res.statusCode, 201, res.body);
      const base = at('2026-10-13T08:00:00');
      await tn.send(...Array.from({ length: 3 }, (_, i) => utility(`w1-${i}`, base + i * 60)));
      const other = await postWebhook(t.app, envelope(Array.from({ length: 3 }, (_, i) => status(utility(`w2-${i}`, base + 30 + i * 60))), { phoneNumberId: second, wabaId: `${tn.wabaId}-2` }));
      assert.equal(other.statusCode, 200);
      // Separate WABAs, no portfolio: each accrues its own 3 messages, all at the list rate.
      assert.equal((await balance(t.app, tn)).usage[0].utility_price, 0.024);
      const patch = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: { business_portfolio_id: 'BP-shared' } });
      assert.equal(patch.statusCode, 200, patch.body);
      // One portfolio: 6 messages in one group → 3 × 0.0040 + 2 × 0.0038 + 1 × 0.0036.
      assert.equal((await balance(t.app, tn)).usage[0].utility_price, 0.0232);
      const tiers = await t.services.meter.tierStatus!({ portfolioOrWabaId: 'BP-shared', market: 'Rest of Africa', category: 'utility', month: '2026-10' });
      assert.deepEqual(tiers, { count: 6, tier: '6:MAX' });
    });

    test("authentication-international: an eligible business abroad pays the international rate from its start time; at home it does not", async () => {
      const tn = await tenant();
      const india = '919876543210';
      const auth = (id: string, ts: number): StatusSpec => ({ id, status: 'delivered', ts, recipient: india, pricing: { model: 'PMP', type: 'regular', category: 'authentication' } });
      await tn.send(auth('before', at('2026-02-01T10:00:00')), auth('after', at('2026-02-20T10:00:00')));
      let m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.authentication_international_quantity, 0);
      // The client (based in DE) becomes eligible from 2026-02-15 for every country.
      const patch = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers,
        payload: { auth_international_eligibility: { start_time: at('2026-02-15T00:00:00') } } });
      assert.equal(patch.statusCode, 200, patch.body);
      m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.authentication_quantity, 2);
      assert.equal(m.authentication_international_quantity, 1, 'only the message delivered after the start time');
      assert.equal(m.authentication_price, 0.0294); // 0.0014 + 0.0280 (India, 2026-01 card)
      // A business based in India messaging India is never charged the international rate.
      const home = await seedTenant(t.app, { phoneNumberId: `${dialect}-home-${n}`, wabaId: `${dialect}-home-waba-${n}`, country: 'IN' });
      const patchHome = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${home.partner.id}/clients/${home.client.id}`, headers: home.headers,
        payload: { auth_international_eligibility: { start_time: at('2026-01-01T00:00:00') } } });
      assert.equal(patchHome.statusCode, 200);
      await postWebhook(t.app, envelope([status(auth('home', at('2026-02-21T10:00:00')))], { phoneNumberId: `${dialect}-home-${n}`, wabaId: `${dialect}-home-waba-${n}` }));
      const h = (await balance(t.app, home)).usage[0];
      assert.equal(h.authentication_international_quantity, 0);
      assert.equal(h.authentication_price, 0.0014);
    });

    test('CBP v2: conversations are priced per category and market from the per-conversation card (Indonesia marketing 0.0411, Malaysia utility 0.0200)', async () => {
      const tn = await tenant();
      const base = at('2024-09-10T08:00:00');
      const conv = (id: string, category: string, recipient: string): StatusSpec =>
        ({ id, status: 'delivered', ts: base, recipient, conv: { id: `c-${id}`, exp: base + 86400, origin: category }, pricing: { model: 'CBP', category } });
      await tn.send(conv('id-mk', 'marketing', '6281234567890'), conv('my-ut', 'utility', '60123456789'), conv('de-mk', 'marketing', GERMANY));
      const m = (await balance(t.app, tn)).usage[0];
      assert.equal(m.marketing_paid_quantity, 2);
      assert.equal(m.marketing_price, 0.0411, 'Germany has no per-conversation card: unpriced, not guessed');
      assert.equal(m.utility_price, 0.02);
      assert.equal(m.unpriced_quantity, 1);
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
