/**
 * `account_update` webhooks through `POST /webhooks/whatsapp` (no app secret configured, so the
 * bodies are posted unsigned), on SQLite and PostgreSQL:
 * - tier announcements and eligibility updates are stored before the 200, which counts them in
 *   `account_updates`; Meta's retries are dropped, differing announcements all kept;
 * - an eligibility update becomes the eligibility of the client whose channel has the WABA
 *   (latest received wins; a retry of an older one changes nothing);
 * - updates for a WABA nobody claims are stored anyway and show up once a channel claims it;
 * - `GET …/info/tiers` lists Meta's tier per WABA × category × month × region, with
 *   `computed_tier: null` / "not computed" until the meter provides `tierStatus`.
 *
 * Bodies come from test/fixtures/account-update/, constructed from the documented shape of these
 * webhooks (see the README there), and from builders below.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { TierStatusQuery } from '../../src/accounts/meter-hooks.ts';
import { addChannel, DIALECTS, PNID, postWebhook, seedTenant, startApp, WABA, type TestApp } from '../helpers.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/account-update/${name}`, import.meta.url));

const JUN_1_2024 = 1717200000;
const JUL_1_2024 = 1719792000;

function tierBody(wabaId: string, info: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: wabaId, time: 1762331380, changes: [{ field: 'account_update', value: { event: 'VOLUME_BASED_PRICING_TIER_UPDATE', volume_tier_info: {
      tier_update_time: 1762331373, pricing_category: 'UTILITY', tier: '100001:1000000', effective_month: '2025-11', region: 'INDIA', ...info,
    } } }] }],
  };
}
function eligibilityBody(wabaId: string, eligibility: unknown, time = 1716768000) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: wabaId, time, changes: [{ field: 'account_update', value: { event: 'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE', auth_international_rate_eligibility: eligibility } }] }],
  };
}
const accountOnly = (n: number, changes = 0) =>
  ({ success: true, stored: 0, duplicates: 0, account_updates: n, refused: [], ignored: { messages: 0, changes } });

for (const dialect of DIALECTS) {
  describe(`account_update webhooks [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    const post = async (body: unknown) => {
      const res = await postWebhook(t.app, body);
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const tierRows = (wabaId: string) => t.services.store.db.selectFrom('volume_tier_updates')
      .select(['waba_id', 'pricing_category', 'tier', 'effective_month', 'region', 'tier_update_time'])
      .where('waba_id', '=', wabaId).orderBy('id').execute();
    const eligibilityRows = (wabaId: string) => t.services.store.db.selectFrom('auth_intl_eligibility_updates')
      .select(['waba_id', 'start_time', 'exception_countries', 'event_time']).where('waba_id', '=', wabaId).orderBy('id').execute();
    let n = 0;
    /** A partner, client and channel on a WABA of its own. */
    async function tenant(wabaId = `${dialect}-W${++n}`, clientExtra: Record<string, unknown> = {}) {
      const tn = await seedTenant(t.app, { phoneNumberId: `${dialect}-P${++n}`, wabaId, country: 'IN' });
      if (Object.keys(clientExtra).length > 0) {
        const res = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: clientExtra });
        assert.equal(res.statusCode, 200, res.body);
      }
      return { ...tn, wabaId };
    }
    const getClient = async (tn: Awaited<ReturnType<typeof tenant>>) =>
      (await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers })).json();
    const tiers = async (tn: { partner: { id: string }; client: { id: string }; headers: Record<string, string> }, query = '') => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/tiers${query}`, headers: tn.headers });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };

    // ---- storage and deduplication -----------------------------------------------------------

    test('a body with only a tier announcement → 200 with account_updates: 1, stored; the same body again stores nothing new', async () => {
      const raw = fixture('tier_update_utility_india.json');
      const before = (await tierRows(WABA)).length;
      assert.deepEqual(await post(raw), accountOnly(1));
      assert.deepEqual(await post(raw), accountOnly(1));
      const rows = await tierRows(WABA);
      assert.equal(rows.length - before, 1);
      assert.deepEqual(rows[rows.length - 1], {
        waba_id: WABA, pricing_category: 'UTILITY', tier: '100001:1000000', effective_month: '2025-11', region: 'INDIA', tier_update_time: 1762331373,
      });
    });

    test('announcements that differ in any field are all kept (a duplicate with another tier_update_time too)', async () => {
      const w = `${dialect}-dup`;
      await post(tierBody(w, {}));
      await post(tierBody(w, { tier_update_time: 1762331999 }));
      await post(tierBody(w, { region: 'EGYPT' }));
      await post(tierBody(w, { pricing_category: 'AUTHENTICATION' }));
      await post(tierBody(w, { effective_month: '2025-12' }));
      await post(tierBody(w, { tier: '1000001:4500000', tier_update_time: 1763000000 }));
      await post(tierBody(w, {})); // a retry of the first
      assert.equal((await tierRows(w)).length, 6);
    });

    test('several announcements in one body, and a status beside one, are all stored', async () => {
      assert.deepEqual(await post(fixture('tier_update_two_markets.json')), accountOnly(2));
      const res = await post(fixture('status_and_tier_update.json'));
      assert.deepEqual(res, { success: true, stored: 1, duplicates: 0, account_updates: 1, refused: [], ignored: { messages: 0, changes: 0 } });
      const events = await t.services.store.db.selectFrom('status_events').select('status').where('phone_number_id', '=', PNID).execute();
      assert.deepEqual(events.map((e) => e.status), ['delivered']);
      const rows = await tierRows(WABA);
      assert.ok(rows.some((r) => r.tier === '1000001:4500000' && r.region === 'INDIA'));
      assert.ok(rows.some((r) => r.region === 'REST_OF_AFRICA' && r.tier_update_time === 1763539150));
    });

    test('other account_update events are ignored (200, nothing stored)', async () => {
      const before = (await tierRows(WABA)).length;
      assert.deepEqual(await post(fixture('account_update_other_events.json')), accountOnly(0, 2));
      assert.equal((await tierRows(WABA)).length, before);
    });

    test('a body whose only account update is malformed → 400 naming it, nothing stored', async () => {
      const w = `${dialect}-bad`;
      const res = await postWebhook(t.app, tierBody(w, { tier: 'lots' }));
      assert.equal(res.statusCode, 400, res.body);
      const meta = res.json().meta;
      assert.equal(meta.error_data.code, 'invalid_statuses');
      assert.deepEqual(meta.details, ['entry[0].changes[0].value.volume_tier_info: tier must be "LOWER:UPPER", got "lots"']);
      assert.equal((await tierRows(w)).length, 0);
      // Beside a good one: 200, the good one stored, the bad one named in refused.
      const body = tierBody(w, { tier: 'lots' });
      body.entry[0].changes.push(tierBody(w, {}).entry[0].changes[0]);
      const ok = await post(body);
      assert.equal(ok.account_updates, 1);
      assert.deepEqual(ok.refused.map((r: { path: string }) => r.path), ['entry[0].changes[0].value.volume_tier_info']);
      assert.equal((await tierRows(w)).length, 1);
    });

    test('an eligibility update is stored; its retry is not stored again', async () => {
      const raw = fixture('auth_intl_eligibility_update.json');
      const before = (await eligibilityRows(WABA)).length;
      assert.deepEqual(await post(raw), accountOnly(1));
      assert.deepEqual(await post(raw), accountOnly(1));
      const rows = await eligibilityRows(WABA);
      assert.equal(rows.length - before, 1);
      assert.deepEqual(rows[rows.length - 1], {
        waba_id: WABA, start_time: JUL_1_2024, exception_countries: JSON.stringify([{ country_code: 'ID', start_time: JUN_1_2024 }]), event_time: 1716768000,
      });
    });

    // ---- eligibility applied to the client ---------------------------------------------------

    test("an eligibility update for a claimed WABA becomes the client's auth_international_eligibility; latest received wins", async () => {
      const tn = await tenant();
      const first = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }] };
      await post(eligibilityBody(tn.wabaId, first));
      assert.deepEqual((await getClient(tn)).auth_international_eligibility, first);

      const second = { start_time: JUN_1_2024, exception_countries: [] };
      await post(eligibilityBody(tn.wabaId, second, 1716768001));
      assert.deepEqual((await getClient(tn)).auth_international_eligibility, second);

      // Meta retries the first one: already stored, so it does not take over again.
      await post(eligibilityBody(tn.wabaId, first));
      assert.deepEqual((await getClient(tn)).auth_international_eligibility, second);

      // A PATCH after the webhook wins in turn, until the next update arrives.
      const manual = { start_time: JUL_1_2024 + 1, exception_countries: [] };
      const res = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: { auth_international_eligibility: manual } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual((await getClient(tn)).auth_international_eligibility, manual);
      const third = { start_time: JUL_1_2024 + 2, exception_countries: [{ country_code: 'NG', start_time: JUL_1_2024 }] };
      await post(eligibilityBody(tn.wabaId, third, 1716768002));
      assert.deepEqual((await getClient(tn)).auth_international_eligibility, third);
    });

    test('an eligibility update reaches the meter: the channel directory is reloaded and pricingProfileChanged told, in the transaction', async () => {
      const tn = await tenant();
      const calls: string[][] = [];
      let loads = 0;
      const meter = t.services.meter as unknown as { pricingProfileChanged?: (trx: unknown, ids: string[]) => Promise<void> };
      const channels = t.services.channels;
      const load = channels.load.bind(channels);
      channels.load = async (db) => { loads++; return load(db); };
      meter.pricingProfileChanged = async (_trx, ids) => { calls.push(ids); };
      try {
        await post(eligibilityBody(tn.wabaId, { start_time: JUL_1_2024 }));
        assert.deepEqual(calls, [[tn.client.id]]);
        assert.equal(loads, 1);
        // An update for a WABA nobody claims changes no client.
        await post(eligibilityBody(`${dialect}-nobody`, { start_time: JUL_1_2024 }));
        assert.deepEqual(calls, [[tn.client.id]]);
        assert.equal(loads, 1);
      } finally {
        delete meter.pricingProfileChanged;
        channels.load = load;
      }
    });

    // ---- WABAs nobody claims yet -------------------------------------------------------------

    test('updates for a WABA nobody claims are stored, and reported once a channel claims it', async () => {
      const w = `${dialect}-later`;
      const eligibility = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }] };
      assert.deepEqual(await post(tierBody(w, {})), accountOnly(1));
      assert.deepEqual(await post(eligibilityBody(w, eligibility)), accountOnly(1));
      assert.equal((await tierRows(w)).length, 1);
      assert.equal((await eligibilityRows(w)).length, 1);

      // A client without an eligibility claims the WABA: it takes the stored one.
      const tn = await seedTenant(t.app, { phoneNumberId: `${dialect}-later-P`, wabaId: `${dialect}-other`, country: 'IN' });
      assert.equal(tn.client.auth_international_eligibility, null);
      assert.deepEqual((await tiers(tn)).tiers, []);
      await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: `${dialect}-later-P2`, wabaId: w });
      assert.deepEqual((await getClient({ ...tn, wabaId: w })).auth_international_eligibility, eligibility);
      const listed = (await tiers(tn)).tiers;
      assert.deepEqual(listed.map((r: { waba_id: string; meta_tier: string }) => [r.waba_id, r.meta_tier]), [[w, '100001:1000000']]);

      // A client that already has an eligibility keeps its own when it claims such a WABA.
      const w2 = `${dialect}-later2`;
      await post(eligibilityBody(w2, { start_time: JUN_1_2024 }));
      const own = { start_time: JUL_1_2024 + 7, exception_countries: [] };
      const tn2 = await tenant(undefined, { auth_international_eligibility: own });
      await addChannel(t.app, tn2.partner, tn2.client.id, { phoneNumberId: `${dialect}-later-P3`, wabaId: w2 });
      assert.deepEqual((await getClient(tn2)).auth_international_eligibility, own);
    });

    // ---- GET …/info/tiers --------------------------------------------------------------------

    test("…/info/tiers lists Meta's tier with computed_tier null and \"not computed\" when the meter provides no tierStatus", async () => {
      const tn = await tenant();
      await post(tierBody(tn.wabaId, { tier_update_time: 1762331999 }));
      await post(tierBody(tn.wabaId, {})); // the duplicate with the smaller time is official
      await post(tierBody(tn.wabaId, { pricing_category: 'AUTHENTICATION', region: 'REST_OF_AFRICA', tier: '0:100000', tier_update_time: 1762000000 }));
      await post(tierBody(tn.wabaId, { effective_month: '2025-12', tier_update_time: 1764547300 }));
      // The meter without a tierStatus (whatever the current meter provides).
      const meter = t.services.meter as { tierStatus?: unknown };
      const provided = Object.getOwnPropertyDescriptor(meter, 'tierStatus');
      delete meter.tierStatus;
      let body;
      try {
        body = await tiers(tn);
      } finally {
        if (provided) Object.defineProperty(meter, 'tierStatus', provided);
      }
      assert.deepEqual(Object.keys(body), ['client_id', 'business_portfolio_id', 'month', 'count', 'tiers']);
      assert.equal(body.count, 3);
      assert.deepEqual(body.tiers[0], {
        waba_id: tn.wabaId,
        pricing_category: 'authentication',
        effective_month: '2025-11',
        region: 'REST_OF_AFRICA',
        market: 'Rest of Africa',
        meta_tier: '0:100000',
        meta_tier_update_time: 1762000000,
        meta_tier_updates: [{ tier: '0:100000', tier_update_time: 1762000000 }],
        portfolio_or_waba_id: tn.wabaId,
        computed_tier: null,
        computed_count: null,
        difference: 'not computed',
      });
      assert.deepEqual(body.tiers.map((r: Record<string, unknown>) => [r.effective_month, r.pricing_category, r.region, r.meta_tier, r.meta_tier_update_time]), [
        ['2025-11', 'authentication', 'REST_OF_AFRICA', '0:100000', 1762000000],
        ['2025-11', 'utility', 'INDIA', '100001:1000000', 1762331373],
        ['2025-12', 'utility', 'INDIA', '100001:1000000', 1764547300],
      ]);

      const november = await tiers(tn, '?month=2025-11');
      assert.equal(november.month, '2025-11');
      assert.deepEqual(november.tiers.map((r: { effective_month: string }) => r.effective_month), ['2025-11', '2025-11']);
      assert.deepEqual((await tiers(tn, '?month=2024-01')).tiers, []);
    });

    test("…/info/tiers asks the meter's tierStatus for the accrual group (business portfolio, else the WABA) and says how they differ", async () => {
      const tn = await tenant();
      await post(tierBody(tn.wabaId, {}));
      await post(tierBody(tn.wabaId, { pricing_category: 'AUTHENTICATION', tier: '0:100000' }));
      await post(tierBody(tn.wabaId, { region: 'EGYPT', tier: '1000001:4500000' }));
      const asked: TierStatusQuery[] = [];
      const meter = t.services.meter as unknown as { tierStatus?: (q: TierStatusQuery) => Promise<{ count: number; tier: string } | null> };
      const provided = Object.getOwnPropertyDescriptor(meter, 'tierStatus');
      meter.tierStatus = async (q) => {
        asked.push(q);
        if (q.market === 'India' && q.category === 'utility') return { count: 250_000, tier: '100001:1000000' };
        if (q.market === 'India') return { count: 150_000, tier: '100001:1000000' };
        return null;
      };
      try {
        const byWaba = (await tiers(tn)).tiers;
        assert.deepEqual(byWaba.map((r: Record<string, unknown>) => [r.pricing_category, r.region, r.computed_tier, r.computed_count, r.difference]), [
          ['authentication', 'INDIA', '100001:1000000', 150000, "meter is above Meta's tier"],
          ['utility', 'EGYPT', null, null, 'not computed'],
          ['utility', 'INDIA', '100001:1000000', 250000, 'same tier'],
        ]);
        assert.deepEqual(asked.map((q) => q.portfolioOrWabaId), [tn.wabaId, tn.wabaId, tn.wabaId]);
        assert.deepEqual(asked[2], { portfolioOrWabaId: tn.wabaId, market: 'India', category: 'utility', month: '2025-11' });

        // With a business portfolio, the portfolio is the accrual group.
        const res = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: { business_portfolio_id: 'BP-7' } });
        assert.equal(res.statusCode, 200, res.body);
        asked.length = 0;
        const byPortfolio = await tiers(tn);
        assert.equal(byPortfolio.business_portfolio_id, 'BP-7');
        assert.deepEqual(asked.map((q) => q.portfolioOrWabaId), ['BP-7', 'BP-7', 'BP-7']);
        assert.ok(byPortfolio.tiers.every((r: { portfolio_or_waba_id: string }) => r.portfolio_or_waba_id === 'BP-7'));
      } finally {
        delete meter.tierStatus;
        if (provided) Object.defineProperty(meter, 'tierStatus', provided);
      }
    });

    test('…/info/tiers: a bad month → 400 naming it; another partner → 404; an unknown client → 404', async () => {
      const tn = await tenant();
      for (const q of ['?month=2025-13', '?month=2025-1', '?month=November']) {
        const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/tiers${q}`, headers: tn.headers });
        assert.equal(res.statusCode, 400, res.body);
        assert.ok(res.json().meta.details.some((d: string) => d.startsWith('month:')), res.body);
      }
      const other = await tenant();
      const res = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/tiers`, headers: other.headers });
      assert.equal(res.statusCode, 404, res.body);
      const mine = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${other.partner.id}/clients/${tn.client.id}/info/tiers`, headers: other.headers });
      assert.equal(mine.statusCode, 404, mine.body);
      const none = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/nosuchCL/info/tiers`, headers: tn.headers });
      assert.equal(none.statusCode, 404, none.body);
      const noKey = await t.app.inject({ method: 'GET', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/info/tiers` });
      assert.equal(noKey.statusCode, 401, noKey.body);
    });
  });
}
