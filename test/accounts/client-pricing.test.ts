/**
 * A client's pricing profile over HTTP, on SQLite and PostgreSQL: `business_portfolio_id` and
 * `auth_international_eligibility` (Meta's auth_international_rate_eligibility shape) accepted on
 * POST …/clients, returned on GET, changed with PATCH …/clients/{client_id} (a partial update of
 * name and these two), every bad field named; another partner's client is a 404; the columns the
 * meter reads (allChannelContexts) and the hook it is told through (pricingProfileChanged).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { allChannelContexts } from '../../src/store/tenants-store.ts';
import { ADMIN_TOKEN, addChannel, DIALECTS, startApp, type TestApp, assertEnvelope } from '../helpers.ts';

const JUN_1_2024 = 1717200000;
const JUL_1_2024 = 1719792000;


/** A 400 whose details name each of `fields` (a detail starts with `<field>:`). */
function assertNamesFields(res: LightMyRequestResponse, fields: string[]) {
  const meta = assertEnvelope(res, 400, 'invalid_parameter');
  for (const f of fields) assert.ok(meta.details.some((d) => d.startsWith(`${f}:`)), `details name ${f}: ${JSON.stringify(meta.details)}`);
  return meta;
}

for (const dialect of DIALECTS) {
  describe(`client pricing profile [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    const req = (method: 'GET' | 'POST' | 'PATCH', url: string, headers: Record<string, string>, payload?: unknown) =>
      t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

    async function newPartner() {
      const res = await t.app.inject({ method: 'POST', url: '/admin/partners', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'P' } });
      const p = res.json() as { id: string; api_key: string };
      return { ...p, headers: { 'x-api-key': p.api_key } };
    }
    type Partner = Awaited<ReturnType<typeof newPartner>>;
    const validClient = { name: 'Acme', currency: 'USD', country: 'IN', payment_mode: 'direct' };
    async function newClient(p: Partner, extra: Record<string, unknown> = {}) {
      const res = await req('POST', `/api/v2/partners/${p.id}/clients`, p.headers, { ...validClient, ...extra });
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }
    const clientUrl = (p: Partner, id: string) => `/api/v2/partners/${p.id}/clients/${id}`;
    const patch = (p: Partner, id: string, body: unknown) => req('PATCH', clientUrl(p, id), p.headers, body);

    test('without the new fields a client has business_portfolio_id null and auth_international_eligibility null', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      assert.equal(c.business_portfolio_id, null);
      assert.equal(c.auth_international_eligibility, null);
      assert.deepEqual((await req('GET', clientUrl(p, c.id), p.headers)).json(), c);
    });

    test('POST accepts both fields and GET returns them; the eligibility in its stored form (codes upper case, exceptions sorted)', async () => {
      const p = await newPartner();
      const c = await newClient(p, {
        business_portfolio_id: '1234567890',
        auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ng', start_time: JUL_1_2024 + 86400 }, { country_code: 'ID', start_time: JUN_1_2024 }] },
      });
      const expected = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }, { country_code: 'NG', start_time: JUL_1_2024 + 86400 }] };
      assert.equal(c.business_portfolio_id, '1234567890');
      assert.deepEqual(c.auth_international_eligibility, expected);
      const got = (await req('GET', clientUrl(p, c.id), p.headers)).json();
      assert.deepEqual(got, c);
      const list = (await req('GET', `/api/v2/partners/${p.id}/clients`, p.headers)).json();
      assert.deepEqual(list.clients, [c]);
      // Without exception_countries: an empty list.
      const d = await newClient(p, { auth_international_eligibility: { start_time: JUL_1_2024 } });
      assert.deepEqual(d.auth_international_eligibility, { start_time: JUL_1_2024, exception_countries: [] });
    });

    test('POST: each bad new field → 400 naming it, nothing created', async () => {
      const p = await newPartner();
      const post = (extra: Record<string, unknown>) => req('POST', `/api/v2/partners/${p.id}/clients`, p.headers, { ...validClient, ...extra });
      assertNamesFields(await post({ business_portfolio_id: '' }), ['business_portfolio_id']);
      assertNamesFields(await post({ business_portfolio_id: 'has space' }), ['business_portfolio_id']);
      assertNamesFields(await post({ business_portfolio_id: {} }), ['business_portfolio_id']);
      assertNamesFields(await post({ auth_international_eligibility: 'yes' }), ['auth_international_eligibility']);
      assertNamesFields(await post({ auth_international_eligibility: {} }), ['auth_international_eligibility.start_time']);
      assertNamesFields(await post({ auth_international_eligibility: { start_time: 1719792000000 } }), ['auth_international_eligibility.start_time']);
      assertNamesFields(await post({ auth_international_eligibility: { start_time: 'soon' } }), ['auth_international_eligibility.start_time']);
      assertNamesFields(await post({ auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: {} } }), ['auth_international_eligibility.exception_countries']);
      assertNamesFields(await post({ auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'Indonesia', start_time: JUN_1_2024 }] } }),
        ['auth_international_eligibility.exception_countries.0.country_code']);
      assertNamesFields(await post({ auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID' }] } }),
        ['auth_international_eligibility.exception_countries.0.start_time']);
      assertNamesFields(await post({ auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }, { country_code: 'id', start_time: JUL_1_2024 }] } }),
        ['auth_international_eligibility.exception_countries']);
      // Several at once, with an old field: one 400 naming every one.
      assertNamesFields(await post({ currency: 'EURO', business_portfolio_id: '', auth_international_eligibility: { start_time: 'x' } }),
        ['currency', 'business_portfolio_id', 'auth_international_eligibility.start_time']);
      assert.equal((await req('GET', `/api/v2/partners/${p.id}/clients`, p.headers)).json().total, 0);
    });

    test('PATCH changes only the fields given; null clears an optional field', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      // modified_at moves with each change; everything else is compared whole.
      const same = (body: Record<string, unknown>) => {
        assert.ok(String(body.modified_at) >= c.modified_at);
        return { ...body, modified_at: c.modified_at };
      };
      let res = await patch(p, c.id, { business_portfolio_id: 'BP1' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(same(res.json()), { ...c, business_portfolio_id: 'BP1' });

      const eligibility = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }] };
      res = await patch(p, c.id, { auth_international_eligibility: eligibility });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(same(res.json()), { ...c, business_portfolio_id: 'BP1', auth_international_eligibility: eligibility });

      res = await patch(p, c.id, { name: 'Renamed' });
      assert.deepEqual(same(res.json()), { ...c, name: 'Renamed', business_portfolio_id: 'BP1', auth_international_eligibility: eligibility });

      res = await patch(p, c.id, { business_portfolio_id: null, auth_international_eligibility: null });
      assert.deepEqual(same(res.json()), { ...c, name: 'Renamed' });
      assert.deepEqual(same((await req('GET', clientUrl(p, c.id), p.headers)).json()), { ...c, name: 'Renamed' });
    });

    test('PATCH: each bad field → 400 naming it, and nothing changes', async () => {
      const p = await newPartner();
      const c = await newClient(p, { business_portfolio_id: 'BP1' });
      assertNamesFields(await patch(p, c.id, { name: '' }), ['name']);
      assertNamesFields(await patch(p, c.id, { business_portfolio_id: 'a/b' }), ['business_portfolio_id']);
      assertNamesFields(await patch(p, c.id, { auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'XX', start_time: JUN_1_2024 }] } }),
        ['auth_international_eligibility.exception_countries.0.country_code']);
      assertNamesFields(await patch(p, c.id, { auth_international_eligibility: { start_time: JUL_1_2024, extra: 1 } }), ['auth_international_eligibility']);
      // Fields PATCH cannot change are named, not silently dropped.
      const meta = assertNamesFields(await patch(p, c.id, { name: 'x', currency: 'EUR', country: 'DE' }), ['currency', 'country']);
      assert.match(meta.details[0], /PATCH accepts name, business_portfolio_id, auth_international_eligibility, organisation, contact_info, partner_payload, max_channels/);
      // An empty body changes nothing and says so.
      assertEnvelope(await patch(p, c.id, {}), 400, 'invalid_parameter');
      assertEnvelope(await req('PATCH', clientUrl(p, c.id), { ...p.headers, 'content-type': 'application/json' }, '[]'), 400, 'invalid_parameter');
      assert.deepEqual((await req('GET', clientUrl(p, c.id), p.headers)).json(), c);
    });

    test("PATCH of another partner's client, or an unknown one → 404; without a key → 401", async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const other = await newPartner();
      assertEnvelope(await req('PATCH', clientUrl(p, c.id), other.headers, { name: 'x' }), 404, 'not_found');
      // Their own partner path, this partner's client id.
      assertEnvelope(await patch(other, c.id, { name: 'x' }), 404, 'not_found');
      assertEnvelope(await patch(p, 'nosuchCL', { name: 'x' }), 404, 'not_found');
      assertEnvelope(await req('PATCH', clientUrl(p, c.id), {}, { name: 'x' }), 401, 'unauthorized');
      assert.deepEqual((await req('GET', clientUrl(p, c.id), p.headers)).json(), c);
    });

    test("allChannelContexts carries the client's business_portfolio_id, country and eligibility (JSON text) for every channel", async () => {
      const p = await newPartner();
      const eligibility = { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }] };
      const c = await newClient(p, { business_portfolio_id: 'BP-ctx', auth_international_eligibility: eligibility });
      const ch = await addChannel(t.app, p, c.id, { phoneNumberId: `${dialect}-ctx-1`, wabaId: 'W-ctx' });
      const rows = await allChannelContexts(t.services.store.db);
      const mine = rows.find((r) => r.phone_number_id === ch.phone_number_id);
      assert.deepEqual(mine, {
        phone_number_id: ch.phone_number_id, waba_id: 'W-ctx', timezone: 'UTC', client_id: c.id, currency: 'USD',
        business_portfolio_id: 'BP-ctx', country: 'IN', auth_international_eligibility: JSON.stringify(eligibility),
      });
    });

    test('getPricingProfile(clientId): country, business portfolio and the decoded eligibility; undefined for an unknown client', async () => {
      const p = await newPartner();
      const c = await newClient(p, { business_portfolio_id: 'BP-prof', auth_international_eligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'id', start_time: JUN_1_2024 }] } });
      assert.deepEqual(await t.services.tenants.getPricingProfile(c.id), {
        clientId: c.id, country: 'IN', businessPortfolioId: 'BP-prof',
        authInternationalEligibility: { start_time: JUL_1_2024, exception_countries: [{ country_code: 'ID', start_time: JUN_1_2024 }] },
      });
      const plain = await newClient(p);
      assert.deepEqual(await t.services.tenants.getPricingProfile(plain.id), { clientId: plain.id, country: 'IN', businessPortfolioId: null, authInternationalEligibility: null });
      assert.equal(await t.services.tenants.getPricingProfile('nosuchCL'), undefined);
    });

    test('a change of business portfolio or eligibility tells the meter (pricingProfileChanged, in the transaction); a rename does not', async () => {
      const p = await newPartner();
      const c = await newClient(p);
      const calls: string[][] = [];
      const meter = t.services.meter as unknown as { pricingProfileChanged?: (trx: unknown, ids: string[]) => Promise<void> };
      meter.pricingProfileChanged = async (trx, ids) => {
        assert.ok(trx, 'called with the transaction');
        calls.push(ids);
      };
      try {
        await patch(p, c.id, { name: 'Renamed' });
        assert.deepEqual(calls, []);
        await patch(p, c.id, { business_portfolio_id: 'BP2' });
        await patch(p, c.id, { business_portfolio_id: 'BP2' }); // unchanged: not told again
        await patch(p, c.id, { auth_international_eligibility: { start_time: JUL_1_2024 } });
        assert.deepEqual(calls, [[c.id], [c.id]]);
      } finally {
        delete meter.pricingProfileChanged;
      }
    });
  });
}
