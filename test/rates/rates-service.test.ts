/**
 * Operator rate cards and volume tiers, on SQLite and PostgreSQL: an operator's card for the same
 * market, currency and date replaces the shipped default (the RateBook then answers the
 * operator's rate); uploads persist across a restart; every load calls onChange in its transaction and afterChange after it (the meter's
 * re-pricing); a bad upload changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadDefaultRateBook, type RateLookup } from '../../src/billing/rate-cards.ts';
import { loadDefaultTierBook } from '../../src/billing/volume-tiers.ts';
import { AppError } from '../../src/errors.ts';
import { createRatesService } from '../../src/rates/rates-service.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { createServices } from '../../src/services.ts';
import { DIALECTS, freshStore, type TestStore } from '../helpers.ts';
import { META_CARD_USD } from './fixtures.ts';

const q = (market: string, category: 'marketing' | 'utility' | 'service' | 'authentication_international', day: string, unit: 'message' | 'conversation' = 'message') =>
  ({ unit, market, currency: 'USD', category, day });
const rateOf = (r: RateLookup) => {
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.rate;
};

async function rejectsWith(p: Promise<unknown>, status: number, code: string, detail: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AppError, String(e));
    assert.equal(e.status, status);
    assert.equal(e.code, code);
    assert.ok(e.details.some((d) => detail.test(d)), JSON.stringify(e.details));
    return true;
  });
}

for (const dialect of DIALECTS) {
  describe(`rates service [${dialect}]`, () => {
    let ts: TestStore;
    let store: Store;
    before(async () => {
      ts = await freshStore(dialect);
      store = await openStore(ts.url);
    });
    after(async () => {
      await store.close();
      await ts.cleanup();
    });

    function newService() {
      const rates = loadDefaultRateBook();
      const tiers = loadDefaultTierBook();
      const calls: string[] = [];
      const service = createRatesService({
        store, rates, tiers,
        // Inside the load's transaction (the meter records its re-pricing job there)…
        onChange: async (trx) => {
          await trx.selectFrom('meta').select('key').execute();
          calls.push('in transaction');
        },
        // …and after the commit, when the books already hold the change.
        afterChange: () => calls.push(`after: ${rates.rows().length}`),
        now: () => 1_790_000_000,
      });
      return { rates, tiers, service, calls };
    }

    test("an operator's card for the same market, currency and date replaces the shipped default", async () => {
      const { rates, service, calls } = newService();
      await service.load();
      // Shipped 2026-10-01 Rest of Africa: marketing 0.0225, utility 0.0040, service 0.0040.
      assert.equal(rateOf(rates.rateFor(q('Rest of Africa', 'marketing', '2026-10-15'))), 22_500);
      const result = await service.loadRateCard(META_CARD_USD, { effectiveFrom: '2026-10-01', unit: 'message', filename: 'usd-2026-10.csv' });
      assert.deepEqual(result, { rows: 2, markets: ['India', 'Rest of Africa'], currencies: ['USD'] });
      assert.equal(rateOf(rates.rateFor(q('Rest of Africa', 'marketing', '2026-10-15'))), 30_000);
      assert.equal(rateOf(rates.rateFor(q('Rest of Africa', 'utility', '2026-10-15'))), 5_000);
      assert.equal(rateOf(rates.rateFor(q('India', 'authentication_international', '2026-10-01'))), 30_400);
      const r = rates.rateFor(q('Rest of Africa', 'marketing', '2026-10-15'));
      assert.ok(r.ok && r.source.startsWith('operator upload usd-2026-10.csv at '), JSON.stringify(r));
      // The older card and other markets keep the defaults.
      assert.equal(rateOf(rates.rateFor(q('Rest of Africa', 'marketing', '2026-09-30'))), 22_500);
      assert.equal(rateOf(rates.rateFor(q('Italy', 'marketing', '2026-10-15'))), 79_500);
      assert.deepEqual(calls, ['in transaction', `after: ${rates.rows().length}`], 'onChange ran once inside the load, afterChange once after it');

      const listed = service.listRateCards({ market: 'rest of africa', unit: 'message' });
      assert.deepEqual(listed.map((l) => [l.effectiveFrom, l.shippedDefault, l.replaced]), [
        ['2026-01-01', true, false],
        ['2026-10-01', true, true],
        ['2026-10-01', false, false],
      ]);
      assert.equal(listed[2].loadedAt, new Date(1_790_000_000_000).toISOString());
      assert.deepEqual(listed[2].rates, { marketing: 30_000, utility: 5_000, authentication: 5_000, service: 5_000 });
    });

    test('uploads persist: a new service on the same store loads them on top of the defaults', async () => {
      const { rates, service, calls } = newService();
      const loaded = await service.load();
      assert.equal(loaded.rateCardRows, 2);
      assert.equal(rateOf(rates.rateFor(q('Rest of Africa', 'marketing', '2026-10-15'))), 30_000);
      assert.equal(rateOf(rates.rateFor(q('India', 'service', '2026-11-01'))), 1_400);
      assert.equal(calls.length, 0, 'loading at start does not re-price');
      assert.equal(service.listRateCards({ market: 'India', currency: 'usd' }).filter((l) => !l.shippedDefault).length, 1);
    });

    test('a second upload for the same key replaces the first whole, n/a included, also after a restart', async () => {
      const { rates, service, calls } = newService();
      await service.load();
      const card = 'Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nRest of Africa,USD,0.0310,n/a,0.0051,n/a,n/a\n';
      assert.deepEqual(await service.loadRateCard(card, { effectiveFrom: '2026-10-01', unit: 'message' }), { rows: 1, markets: ['Rest of Africa'], currencies: ['USD'] });
      assert.equal(calls.length, 2);
      assert.equal(rateOf(rates.rateFor(q('Rest of Africa', 'marketing', '2026-10-15'))), 31_000);
      assert.equal(rates.rateFor(q('Rest of Africa', 'utility', '2026-10-15')).ok, false);
      // India, absent from this upload, keeps the first upload's row.
      assert.equal(rateOf(rates.rateFor(q('India', 'marketing', '2026-10-15'))), 11_800);

      const again = newService();
      await again.service.load();
      assert.equal(rateOf(again.rates.rateFor(q('Rest of Africa', 'marketing', '2026-10-15'))), 31_000);
      const utility = again.rates.rateFor(q('Rest of Africa', 'utility', '2026-10-15'));
      assert.equal(utility.ok, false, 'n/a in the operator card, not the shipped 0.0040');
      assert.equal(again.service.listRateCards({ market: 'Rest of Africa' }).filter((l) => !l.shippedDefault).length, 1);
    });

    test('CBP v1 cards (Business-Initiated, User-Initiated) load per conversation', async () => {
      const { rates, service } = newService();
      await service.load();
      const card = 'Market,Currency,Business-Initiated,User-Initiated\nGermany,EUR,0.1300,0.0750\n';
      assert.deepEqual(await service.loadRateCard(card, { effectiveFrom: '2022-02-01', unit: 'conversation' }), { rows: 1, markets: ['Germany'], currencies: ['EUR'] });
      const bi = rates.rateFor({ unit: 'conversation', market: 'Germany', currency: 'EUR', category: 'business_initiated', day: '2022-03-01' });
      assert.equal(rateOf(bi), 130_000);
      const again = newService();
      await again.service.load();
      assert.equal(rateOf(again.rates.rateFor({ unit: 'conversation', market: 'Germany', currency: 'EUR', category: 'user_initiated', day: '2023-05-31' })), 75_000);
    });

    test('a bad card is refused naming its line; nothing is stored and onChange does not run', async () => {
      const { rates, service, calls } = newService();
      await service.load();
      const before = JSON.stringify(rates.rows());
      const bad = 'Title\nMarket,Currency,Marketing,Utility\nRest of Africa,USD,0.0400,0.0060\nIndia,USD,0.01,1.2.3\n';
      await rejectsWith(service.loadRateCard(bad, { effectiveFrom: '2026-10-01', unit: 'message', filename: 'x.csv' }), 400, 'invalid_csv', /^x\.csv line 4, column "Utility": bad rate "1\.2\.3"/);
      await rejectsWith(service.loadRateCard('Market,Currency,Marketing\nX,USD,n/a\n', { effectiveFrom: '2026-10-01', unit: 'message' }), 400, 'invalid_csv', /every cell of the card is n\/a/);
      await rejectsWith(service.loadRateCard('just,text\n', { effectiveFrom: '2026-10-01', unit: 'message' }), 400, 'invalid_csv', /no header row starting with "Market,Currency"/);
      await rejectsWith(service.loadRateCard(META_CARD_USD, { effectiveFrom: '2026-13-01', unit: 'message' }), 400, 'invalid_parameter', /^effective_from: /);
      await rejectsWith(service.loadRateCard(META_CARD_USD, { effectiveFrom: '2026-10-01', unit: 'minute' }), 400, 'invalid_parameter', /^unit: /);
      assert.equal(JSON.stringify(rates.rows()), before);
      assert.equal(calls.length, 0);
      const again = newService();
      assert.equal((await again.service.load()).rateCardRows, 3, 'still the rows stored above (Rest of Africa, India, Germany)');
    });

    test('volume tiers: an upload replaces the shipped example for its key, persists, and re-prices', async () => {
      const { tiers, service, calls } = newService();
      await service.load();
      const upload = [
        'market,currency,category,from,to,rate',
        'Rest of Africa,USD,utility,0,250000,0.0040',
        'Rest of Africa,USD,utility,250001,,0.0035',
        'India,USD,authentication-international,1,1000,0.0304',
        'India,USD,authentication-international,1001,,0.0290',
      ].join('\n');
      const result = await service.loadVolumeTiers(upload, { effectiveFrom: '2026-10-01', filename: 'tiers.csv' });
      assert.deepEqual(result, { rows: 4, schedules: 2, markets: ['India', 'Rest of Africa'], currencies: ['USD'] });
      assert.equal(calls.length, 2);
      const africa = tiers.scheduleFor({ market: 'Rest of Africa', currency: 'USD', category: 'utility', day: '2026-10-01' })!;
      assert.deepEqual(africa.tiers, [{ from: 0, to: 250_000, rate: 4_000 }, { from: 250_001, to: null, rate: 3_500 }]);
      assert.match(africa.source, /^operator upload tiers\.csv at /);

      const listed = service.listVolumeTiers({ market: 'Rest of Africa' });
      assert.deepEqual(listed.map((s) => [s.shippedDefault, s.replaced, s.tiers.length]), [[true, true, 6], [false, false, 2]]);

      const again = newService();
      assert.equal((await again.service.load()).volumeTierRows, 4);
      const india = again.tiers.scheduleFor({ market: 'India', currency: 'USD', category: 'authentication_international', day: '2027-01-01' })!;
      assert.deepEqual(india.tiers.map((t) => t.rate), [30_400, 29_000]);
      assert.equal(again.tiers.scheduleFor({ market: 'Rest of Africa', currency: 'USD', category: 'utility', day: '2026-10-01' })!.tiers.length, 2);
      assert.deepEqual(again.service.listVolumeTiers({ category: 'authentication-international' }).map((s) => s.market), ['India']);
    });

    test('a bad tier table is refused naming its line and stores nothing', async () => {
      const { tiers, service, calls } = newService();
      await service.load();
      const before = JSON.stringify(tiers.rows());
      await rejectsWith(
        service.loadVolumeTiers('market,currency,category,from,to,rate\nX,USD,utility,0,10,0.01\nX,USD,utility,11,20,0.01\n', { effectiveFrom: '2026-10-01' }),
        400, 'invalid_csv', /^volume tiers line 3: the last of the utility tiers of X USD ends at 20/,
      );
      assert.equal(JSON.stringify(tiers.rows()), before);
      assert.equal(calls.length, 0);
    });

    test('concurrent uploads are applied one at a time, in call order', async () => {
      const { rates, service, calls } = newService();
      await service.load();
      const card = (rate: string) => `Market,Currency,Marketing\nNowhere,USD,${rate}\n`;
      await Promise.all([
        service.loadRateCard(card('0.01'), { effectiveFrom: '2026-10-01', unit: 'message' }),
        service.loadRateCard(card('0.02'), { effectiveFrom: '2026-10-01', unit: 'message' }),
        service.loadRateCard(card('0.03'), { effectiveFrom: '2026-10-01', unit: 'message' }),
      ]);
      assert.equal(calls.length, 6);
      assert.equal(rateOf(rates.rateFor(q('Nowhere', 'marketing', '2026-10-01'))), 30_000);
      const again = newService();
      await again.service.load();
      assert.equal(rateOf(again.rates.rateFor(q('Nowhere', 'marketing', '2026-10-01'))), 30_000);
    });
  });

  describe(`services wiring [${dialect}]`, () => {
    test('createServices exposes tiers and ratesService, loads stored rows on restart, and re-prices after each load', async () => {
      const ts = await freshStore(dialect);
      try {
        const first = await createServices({ databaseUrl: ts.url });
        let repriced = 0;
        const kick = first.queue.kickJobs.bind(first.queue);
        first.queue.kickJobs = () => {
          repriced++;
          kick();
        };
        const jobs = () => first.store.db.selectFrom('meter_jobs').select('kind').execute();
        await first.ratesService.loadRateCard(META_CARD_USD, { effectiveFrom: '2026-10-01', unit: 'message' });
        await first.queue.drain();
        assert.deepEqual(await jobs(), [], 'the re-pricing job ran to its end');
        assert.equal(repriced, 1);
        await first.ratesService.loadVolumeTiers('market,currency,category,from,to,rate\nIndia,USD,utility,0,,0.0014\n', { effectiveFrom: '2026-10-01' });
        assert.equal(repriced, 2);
        assert.equal(first.books.tiers, first.tiers, 'the meter prices with the same tier book');
        await first.close();

        const second = await createServices({ databaseUrl: ts.url });
        try {
          assert.equal(rateOf(second.rates.rateFor(q('Rest of Africa', 'marketing', '2026-12-01'))), 30_000);
          assert.ok(second.tiers.scheduleFor({ market: 'India', currency: 'USD', category: 'utility', day: '2026-10-31' }));
          assert.ok(second.tiers.scheduleFor({ market: 'Rest of Africa', currency: 'USD', category: 'utility', day: '2026-10-31' }), 'shipped example still there');
        } finally {
          await second.close();
        }
      } finally {
        await ts.cleanup();
      }
    });

    test('the real re-pricing runs after a load', async () => {
      const ts = await freshStore(dialect);
      const services = await createServices({ databaseUrl: ts.url });
      try {
        const result = await services.ratesService.loadRateCard(META_CARD_USD, { effectiveFrom: '2026-10-01', unit: 'message' });
        assert.equal(result.rows, 2);
      } finally {
        await services.close();
        await ts.cleanup();
      }
    });
  });
}
