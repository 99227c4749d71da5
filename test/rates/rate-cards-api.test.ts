/**
 * Rate cards and volume tiers over HTTP (admin token), on SQLite and PostgreSQL: Meta's CSV as a
 * text/csv body → 201; GET lists defaults and operator rows; a bad CSV is a 400 naming the line;
 * a bad query names the parameter; any other content type is a 415; no admin token is a 401.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { INDIA_UTILITY_TIERS as TIERS, META_CARD_USD } from './fixtures.ts';

const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const CSV = { ...ADMIN, 'content-type': 'text/csv' };

function errorOf(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  const meta = res.json().meta;
  assert.equal(meta.success, false);
  assert.equal(meta.http_code, status);
  assert.equal(meta.error_data.code, code);
  return meta as { developer_message: string; details: string[] };
}

for (const dialect of DIALECTS) {
  describe(`rate-cards API [${dialect}]`, () => {
    let t: TestApp;
    let changes = 0;
    before(async () => {
      t = await startApp(dialect);
      // Every committed load starts the re-pricing job.
      const kick = t.services.queue.kickJobs.bind(t.services.queue);
      t.services.queue.kickJobs = () => {
        changes++;
        kick();
      };
    });
    after(async () => { await t.close(); });

    const post = (url: string, payload: string, headers: Record<string, string> = CSV) => t.app.inject({ method: 'POST', url, headers, payload });
    const get = (url: string, headers: Record<string, string> = ADMIN) => t.app.inject({ method: 'GET', url, headers });

    test('POST /admin/rate-cards loads a Meta CSV → 201 with what was loaded, and re-prices', async () => {
      const res = await post('/admin/rate-cards?effective_from=2026-10-01&unit=message', META_CARD_USD);
      assert.equal(res.statusCode, 201, res.body);
      assert.deepEqual(res.json(), { effective_from: '2026-10-01', unit: 'message', rows: 2, markets: ['India', 'Rest of Africa'], currencies: ['USD'] });
      assert.equal(changes, 1);
      const r = t.services.rates.rateFor({ unit: 'message', market: 'Rest of Africa', currency: 'USD', category: 'marketing', day: '2026-10-01' });
      assert.ok(r.ok && r.rate === 30_000);
    });

    test('text/csv with a charset parameter is accepted; the filename goes into the source', async () => {
      const card = 'Market,Currency,Marketing,Utility\nGermany,EUR,"€0.1131",€0.0456\n';
      const res = await post('/admin/rate-cards?effective_from=2026-04-01&unit=message&filename=eur.csv', card, { ...ADMIN, 'content-type': 'text/csv; charset=utf-8' });
      assert.equal(res.statusCode, 201, res.body);
      const list = (await get('/admin/rate-cards?currency=eur')).json();
      assert.equal(list.count, 1);
      assert.deepEqual(list.rate_cards[0].rates, { marketing: 0.1131, utility: 0.0456 });
      assert.match(list.rate_cards[0].source, /^operator upload eur\.csv at \d{4}-/);
    });

    test('GET /admin/rate-cards lists shipped defaults and operator rows, filtered, with exact decimals', async () => {
      const res = await get('/admin/rate-cards?market=Rest%20of%20Africa&unit=message');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(body.filters, { market: 'Rest of Africa', unit: 'message' });
      assert.deepEqual(body.rate_cards.map((r: any) => [r.effective_from, r.shipped_default, r.replaced, r.source.split(' ')[0]]), [
        ['2026-01-01', true, false, 'reference/rates-usd-pmp.csv'],
        ['2026-10-01', true, true, 'reference/rates-usd-pmp.csv'],
        ['2026-10-01', false, false, 'operator'],
      ]);
      assert.deepEqual(body.rate_cards[2].rates, { marketing: 0.03, utility: 0.005, authentication: 0.005, service: 0.005 });
      assert.equal(body.rate_cards[0].loaded_at, null);
      assert.match(res.body, /"utility":0\.004\b/);

      const all = (await get('/admin/rate-cards')).json();
      assert.ok(all.count > 50, 'every shipped default is listed');
      assert.ok(all.rate_cards.some((r: any) => r.unit === 'conversation'));
      assert.equal((await get('/admin/rate-cards?unit=conversation&market=Germany')).json().count, 0);
    });

    test('a bad CSV is a 400 whose details name the line and column', async () => {
      const bad = 'Rates\nMarket,Currency,Marketing,Utility\nItaly,USD,0.07,0.03\nSpain,USD,0.06,abc\n';
      const meta = errorOf(await post('/admin/rate-cards?effective_from=2026-10-01&unit=message', bad), 400, 'invalid_csv');
      assert.equal(meta.developer_message, 'The rate card CSV is invalid');
      assert.deepEqual(meta.details, ['rate card line 4, column "Utility": bad rate "abc" (money: "abc" is not a decimal amount)']);
      const missing = errorOf(await post('/admin/rate-cards?effective_from=2026-10-01&unit=message', 'foo,bar\n1,2\n'), 400, 'invalid_csv');
      assert.match(missing.details[0], /no header row starting with "Market,Currency"/);
      assert.equal(changes, 2, 'no re-pricing for a refused upload');
    });

    test('a bad query names each parameter', async () => {
      const both = errorOf(await post('/admin/rate-cards?effective_from=2026-02-30&unit=minute', META_CARD_USD), 400, 'invalid_parameter');
      assert.ok(both.details.some((d) => d.startsWith('effective_from:')), JSON.stringify(both.details));
      assert.ok(both.details.some((d) => d.startsWith('unit:')), JSON.stringify(both.details));
      for (const day of ['2026-1-01', '01.10.2026', '2026-10-01T00:00:00Z', '']) {
        const meta = errorOf(await post(`/admin/rate-cards?effective_from=${encodeURIComponent(day)}&unit=message`, META_CARD_USD), 400, 'invalid_parameter');
        assert.ok(meta.details.some((d) => d.startsWith('effective_from:')), `${day}: ${JSON.stringify(meta.details)}`);
      }
      const missing = errorOf(await post('/admin/rate-cards', META_CARD_USD), 400, 'invalid_parameter');
      assert.ok(missing.details.some((d) => d.startsWith('effective_from:')) && missing.details.some((d) => d.startsWith('unit:')), JSON.stringify(missing.details));
      const tiers = errorOf(await post('/admin/volume-tiers?effective_from=2026-04-31', TIERS), 400, 'invalid_parameter');
      assert.ok(tiers.details.some((d) => d.startsWith('effective_from:')), JSON.stringify(tiers.details));
      const list = errorOf(await get('/admin/rate-cards?unit=minute&currency=dollars'), 400, 'invalid_parameter');
      assert.ok(list.details.some((d) => d.startsWith('unit:')) && list.details.some((d) => d.startsWith('currency:')), JSON.stringify(list.details));
    });

    test('any content type other than text/csv is a 415', async () => {
      for (const type of ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const meta = errorOf(await post('/admin/rate-cards?effective_from=2026-10-01&unit=message', META_CARD_USD, { ...ADMIN, 'content-type': type }), 415, 'unsupported_media_type');
        assert.match(meta.developer_message, /text\/csv/);
      }
      errorOf(await post('/admin/volume-tiers?effective_from=2026-10-01', '{"a":1}', { ...ADMIN, 'content-type': 'application/json' }), 415, 'unsupported_media_type');
      errorOf(await post('/admin/rate-cards?effective_from=2026-10-01&unit=message', META_CARD_USD, ADMIN), 415, 'unsupported_media_type');
      // The app's other routes still take JSON.
      assert.equal((await t.app.inject({ method: 'POST', url: '/admin/partners', headers: ADMIN, payload: { name: 'P' } })).statusCode, 201);
    });

    test('without the admin token: 401, before anything is parsed', async () => {
      for (const headers of [{ 'content-type': 'text/csv' }, { 'content-type': 'text/csv', authorization: 'Bearer wrong' }] as Record<string, string>[]) {
        errorOf(await post('/admin/rate-cards?effective_from=2026-10-01&unit=message', META_CARD_USD, headers), 401, 'unauthorized');
        errorOf(await post('/admin/volume-tiers?effective_from=nope', TIERS, headers), 401, 'unauthorized');
        errorOf(await get('/admin/rate-cards', headers), 401, 'unauthorized');
        errorOf(await get('/admin/volume-tiers', headers), 401, 'unauthorized');
      }
    });

    test('bodies up to 5 MB are read (the app default is 1 MB), larger ones are a 413', async () => {
      const notes = 'x'.repeat(2 * 1024 * 1024);
      const big = `Market,Currency,Marketing,Notes\nUruguay,USD,0.07,${notes}\n`;
      const res = await post('/admin/rate-cards?effective_from=2027-01-01&unit=message', big);
      assert.equal(res.statusCode, 201, res.body.slice(0, 300));
      const huge = `Market,Currency,Marketing,Notes\nUruguay,USD,0.07,${'x'.repeat(5 * 1024 * 1024)}\n`;
      errorOf(await post('/admin/rate-cards?effective_from=2027-01-01&unit=message', huge), 413, 'payload_too_large');
    });

    test('POST /admin/volume-tiers → 201; GET lists schedules with Meta-style tier labels', async () => {
      const res = await post('/admin/volume-tiers?effective_from=2026-10-01', TIERS);
      assert.equal(res.statusCode, 201, res.body);
      assert.deepEqual(res.json(), { effective_from: '2026-10-01', rows: 2, schedules: 1, markets: ['India'], currencies: ['USD'] });
      const list = (await get('/admin/volume-tiers')).json();
      assert.deepEqual(list.volume_tiers.map((s: any) => [s.market, s.shipped_default]), [['India', false], ['Rest of Africa', true]]);
      assert.deepEqual(list.volume_tiers[0].tiers, [
        { tier: '0:100000', from: 0, to: 100000, rate: 0.0014 },
        { tier: '100001:MAX', from: 100001, to: null, rate: 0.0012 },
      ]);
      assert.deepEqual(list.volume_tiers[1].tiers.map((x: any) => x.tier).slice(-1), ['80000001:MAX']);
      assert.equal((await get('/admin/volume-tiers?market=india&currency=USD&category=utility')).json().count, 1);
      assert.equal((await get('/admin/volume-tiers?category=authentication')).json().count, 0);
    });

    test('a bad tier table is a 400 naming the line', async () => {
      const bad = 'market,currency,category,from,to,rate\nIndia,USD,utility,0,100000,0.0014\nIndia,USD,utility,100000,,0.0012\n';
      const meta = errorOf(await post('/admin/volume-tiers?effective_from=2026-10-01', bad), 400, 'invalid_csv');
      assert.equal(meta.developer_message, 'The volume-tier CSV is invalid');
      assert.match(meta.details[0], /^volume tiers line 3: tier starts at 100000 but the previous one .* \(volume tiers line 2\) ends at 100000; expected 100001/);
    });

    test('every successful upload re-priced once', () => {
      assert.equal(changes, 4); // two cards, the 2 MB card, one tier table
    });
  });
}
