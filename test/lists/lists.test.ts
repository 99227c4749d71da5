/**
 * The Partner API's list endpoints on SQLite and PostgreSQL: `GET …/clients`, the partner-wide
 * `GET …/channels` and `GET …/clients/{id}/channels`, with every form of `sort` (asc, desc,
 * repeated, comma-separated, unknown field), `filters` (JSON, Python-style single quotes,
 * form-encoded with `+` and lowercase escapes, nested keys, unknown keys) and `limit`/`offset`
 * bounds, in the envelope real clients read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp } from '../helpers.ts';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A 400 in the envelope whose details name each of `fields` (a detail starts with `<field>:`). */
function assert400(res: LightMyRequestResponse, fields: string[], mentions: string[] = []) {
  assert.equal(res.statusCode, 400, res.body);
  const meta = res.json().meta;
  assert.equal(meta.http_code, 400);
  assert.equal(meta.error_data.code, 'invalid_parameter');
  for (const f of fields) assert.ok(meta.details.some((d: string) => d.startsWith(`${f}:`)), `details name ${f}: ${JSON.stringify(meta.details)}`);
  for (const m of mentions) assert.ok(meta.details.some((d: string) => d.includes(m)), `details mention ${m}: ${JSON.stringify(meta.details)}`);
  return meta.details as string[];
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

for (const dialect of DIALECTS) {
  describe(`list endpoints [${dialect}]`, () => {
    let t: TestApp;
    let P: { id: string; headers: Record<string, string> };
    let Q: { id: string; headers: Record<string, string> };
    const clients: Record<string, any> = {};
    const channels: Record<string, any> = {};

    const get = (url: string, headers = P.headers) => t.app.inject({ method: 'GET', url, headers });
    const ok = async (url: string, headers = P.headers) => {
      const res = await get(url, headers);
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      return res.json();
    };
    const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

    async function partner(name: string) {
      const res = await t.app.inject({ method: 'POST', url: '/admin/partners', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name } });
      assert.equal(res.statusCode, 201, res.body);
      const p = res.json();
      return { id: p.id as string, headers: { 'x-api-key': p.api_key as string } };
    }
    async function client(p: typeof P, body: Record<string, unknown>) {
      const res = await t.app.inject({ method: 'POST', url: `/api/v2/partners/${p.id}/clients`, headers: p.headers, payload: { payment_mode: 'direct', ...body } });
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }
    async function channel(p: typeof P, clientId: string, body: Record<string, unknown>) {
      const res = await t.app.inject({ method: 'POST', url: `/api/v2/partners/${p.id}/clients/${clientId}/channels`, headers: p.headers, payload: { app_id: '214', ...body } });
      assert.equal(res.statusCode, 201, res.body);
      const { replayed_statuses: _r, ...view } = res.json();
      return view;
    }
    const pause = () => new Promise((r) => setTimeout(r, 3));

    before(async () => {
      t = await startApp(dialect);
      P = await partner('P');
      Q = await partner('Q');
      clients.acme = await client(P, { name: 'Acme GmbH', currency: 'EUR', country: 'DE' });
      await pause();
      clients.beta = await client(P, { name: 'Beta Shop', currency: 'USD', country: 'US' });
      await pause();
      clients.labs = await client(P, { name: 'acme labs', currency: 'USD', country: 'IN', payment_mode: 'partner' });
      await pause();
      clients.other = await client(Q, { name: 'Acme Elsewhere', currency: 'EUR', country: 'DE' });
      channels.a1 = await channel(P, clients.acme.id, { phone_number: '+49 30 1234567', phone_number_id: `${dialect}-l-a1`, waba_id: 'W1' });
      await pause();
      channels.a2 = await channel(P, clients.acme.id, { phone_number: '+49 (30) 765-4321', phone_number_id: `${dialect}-l-a2`, waba_id: 'W2', app_id: '231' });
      await pause();
      channels.b1 = await channel(P, clients.beta.id, { phone_number: '+1 555 0100', phone_number_id: `${dialect}-l-b1`, waba_id: 'W0' });
      channels.o1 = await channel(Q, clients.other.id, { phone_number: '+49 30 1234567', phone_number_id: `${dialect}-l-o1`, waba_id: 'W1' });
    });
    after(async () => { await t.close(); });

    const names = (body: { clients: { name: string }[] }) => body.clients.map((c) => c.name);
    const ids = (body: { partner_channels: { id: string }[] }) => body.partner_channels.map((c) => c.id);
    const clientsUrl = () => `/api/v2/partners/${P.id}/clients`;
    const channelsUrl = () => `/api/v2/partners/${P.id}/channels`;

    // ---- envelope, paging --------------------------------------------------------------------

    test('default client list: the envelope, sorted by created_at, only the partner\'s clients', async () => {
      const body = await ok(clientsUrl());
      assert.deepEqual(Object.keys(body), ['count', 'filters', 'sort', 'limit', 'offset', 'total', 'clients']);
      assert.deepEqual({ ...body, clients: undefined }, { count: 3, filters: {}, sort: ['created_at'], limit: 100, offset: 0, total: 3, clients: undefined });
      assert.deepEqual(body.clients, [clients.acme, clients.beta, clients.labs]);
      for (const c of body.clients) {
        assert.equal(c.status, 'active');
        assert.match(c.created_at, ISO_INSTANT);
      }
    });

    test('limit and offset: count is the page, total all matches; bounds are checked', async () => {
      const first = await ok(`${clientsUrl()}?limit=2`);
      assert.equal(first.count, 2);
      assert.equal(first.total, 3);
      assert.equal(first.limit, 2);
      const second = await ok(`${clientsUrl()}?limit=2&offset=2`);
      assert.deepEqual([second.count, second.total, second.offset], [1, 3, 2]);
      assert.deepEqual([...first.clients, ...second.clients], [clients.acme, clients.beta, clients.labs]);
      const past = await ok(`${clientsUrl()}?offset=50`);
      assert.deepEqual([past.count, past.total, past.clients.length], [0, 3, 0]);
      assert.equal((await ok(`${clientsUrl()}?limit=1000`)).limit, 1000);
      assert400(await get(`${clientsUrl()}?limit=1001`), ['limit']);
      assert400(await get(`${clientsUrl()}?limit=0`), ['limit']);
      assert400(await get(`${clientsUrl()}?limit=-5`), ['limit']);
      assert400(await get(`${clientsUrl()}?limit=ten`), ['limit']);
      assert400(await get(`${clientsUrl()}?offset=-1`), ['offset']);
      assert400(await get(`${clientsUrl()}?offset=99999999999999999999`), ['offset']);
      assert400(await get(`${clientsUrl()}?limit=0&offset=-1`), ['limit', 'offset']);
      // The same bounds on both channel lists.
      assert400(await get(`${channelsUrl()}?limit=1001`), ['limit']);
      assert400(await get(`${clientsUrl()}/${clients.acme.id}/channels?offset=-1`), ['offset']);
    });

    test('paging one row at a time walks the sorted list without gaps or repeats', async () => {
      for (const sort of ['name', '-currency', 'payment_mode,-name']) {
        const all = await ok(`${clientsUrl()}?${q({ sort })}`);
        const walked = [];
        for (let offset = 0; offset < all.total; offset++) walked.push(...(await ok(`${clientsUrl()}?${q({ sort, limit: '1', offset: String(offset) })}`)).clients);
        assert.deepEqual(walked, all.clients, sort);
      }
    });

    // ---- sort --------------------------------------------------------------------------------

    test('sort=field ascending and -field descending (code-point order on both engines)', async () => {
      const asc = await ok(`${clientsUrl()}?sort=name`);
      assert.deepEqual(asc.sort, ['name']);
      assert.deepEqual(names(asc), ['Acme GmbH', 'Beta Shop', 'acme labs'].sort(byCodePoint));
      const desc = await ok(`${clientsUrl()}?sort=-name`);
      assert.deepEqual(desc.sort, ['-name']);
      assert.deepEqual(names(desc), ['acme labs', 'Beta Shop', 'Acme GmbH']);
      const newest = await ok(`${clientsUrl()}?sort=-created_at`);
      assert.deepEqual(newest.clients, [clients.labs, clients.beta, clients.acme]);
      // `+name` arrives as " name" (form encoding): ascending.
      assert.deepEqual(names(await ok(`${clientsUrl()}?sort=+name`)), names(asc));
      assert.deepEqual(names(await ok(`${clientsUrl()}?sort=%2Bname`)), names(asc));
    });

    test('sort lists: repeated parameters and comma-separated give the same order and echo', async () => {
      const repeated = await ok(`${clientsUrl()}?sort=currency&sort=-name`);
      const comma = await ok(`${clientsUrl()}?${q({ sort: 'currency,-name' })}`);
      const spaced = await ok(`${clientsUrl()}?sort=currency%2C+-name`);
      for (const body of [repeated, comma, spaced]) {
        assert.deepEqual(body.sort, ['currency', '-name']);
        assert.deepEqual(names(body), ['Acme GmbH', 'acme labs', 'Beta Shop']);
      }
      // A field named twice: the first mention decides.
      assert.deepEqual((await ok(`${clientsUrl()}?sort=name,-name`)).sort, ['name']);
    });

    test('unknown sort fields → 400 naming sort and each field; nothing else is sortable', async () => {
      const details = assert400(await get(`${clientsUrl()}?sort=nope,-name,-bogus`), ['sort'], ['"nope"', '"bogus"']);
      assert.equal(details.length, 2);
      assert400(await get(`${clientsUrl()}?${q({ sort: "name;drop table clients" })}`), ['sort']);
      assert400(await get(`${clientsUrl()}?sort=api_key`), ['sort'], ['"api_key"']);
      assert400(await get(`${clientsUrl()}?sort=partner_id`), ['sort']);
      assert400(await get(`${channelsUrl()}?sort=name`), ['sort'], ['"name"']);
      assert400(await get(`${clientsUrl()}?${q({ sort: Array.from({ length: 11 }, () => 'name').join(',') })}`), ['sort']);
      // The table is intact.
      assert.equal((await ok(clientsUrl())).total, 3);
    });

    // ---- filters -----------------------------------------------------------------------------

    test('filters as a JSON string: name is a case-insensitive substring; echoed as parsed', async () => {
      const body = await ok(`${clientsUrl()}?${q({ filters: '{"name":"acme"}' })}`);
      assert.deepEqual(body.filters, { name: 'acme' });
      assert.deepEqual([body.count, body.total], [2, 2]);
      assert.deepEqual(body.clients, [clients.acme, clients.labs]);
      assert.deepEqual(names(await ok(`${clientsUrl()}?${q({ filters: '{"name":"GMBH"}' })}`)), ['Acme GmbH']);
      // LIKE wildcards are literal characters.
      for (const name of ['%', '_', 'Acme%', '\\']) assert.equal((await ok(`${clientsUrl()}?${q({ filters: JSON.stringify({ name }) })}`)).total, 0, name);
      // Injection-shaped values are values.
      assert.equal((await ok(`${clientsUrl()}?${q({ filters: JSON.stringify({ name: "' OR 1=1 --" }) })}`)).total, 0);
      assert.equal((await ok(`${clientsUrl()}?${q({ filters: JSON.stringify({ id: "x'; DROP TABLE clients; --" }) })}`)).total, 0);
      assert.equal((await ok(clientsUrl())).total, 3);
    });

    test("filters in Python's single-quoted form, raw and form-encoded (+ for space, lowercase hex)", async () => {
      const raw = await ok(`${clientsUrl()}?${q({ filters: "{'name': 'Beta Shop'}" })}`);
      assert.deepEqual(raw.filters, { name: 'Beta Shop' });
      assert.deepEqual(raw.clients, [clients.beta]);
      const form = await ok(`${clientsUrl()}?filters=%7b%27name%27%3a+%27beta+shop%27%7d`);
      assert.deepEqual(form.filters, { name: 'beta shop' });
      assert.deepEqual(form.clients, [clients.beta]);
      // Python's repr of a string holding a quote uses double quotes; True/None spellings parse.
      const mixed = await ok(`${clientsUrl()}?${q({ filters: `{'name': "acme", 'currency': 'usd'}` })}`);
      assert.deepEqual(mixed.clients, [clients.labs]);
      const escaped = await ok(`${clientsUrl()}?${q({ filters: "{'name': 'O\\'Brien'}" })}`);
      assert.deepEqual([escaped.filters, escaped.total], [{ name: "O'Brien" }, 0]);
      // JSON form-encoded the same way.
      const json = await ok(`${clientsUrl()}?filters=%7b%22payment_mode%22%3a+%22partner%22%7d`);
      assert.deepEqual(json.clients, [clients.labs]);
    });

    test('client filters: id, client_id, status, currency, country, and by channel (waba_account.id, setup_info.phone_number)', async () => {
      const f = async (filters: Record<string, unknown>) => (await ok(`${clientsUrl()}?${q({ filters: JSON.stringify(filters) })}`)).clients;
      assert.deepEqual(await f({ id: clients.beta.id }), [clients.beta]);
      assert.deepEqual(await f({ client_id: clients.beta.id }), [clients.beta]);
      assert.deepEqual(await f({ id: clients.other.id }), [], "another partner's client is never listed");
      assert.deepEqual(await f({ status: 'active' }), [clients.acme, clients.beta, clients.labs]);
      assert.deepEqual(await f({ status: 'ACTIVE' }), [clients.acme, clients.beta, clients.labs]);
      assert.deepEqual(await f({ status: 'inactive' }), []);
      assert.deepEqual(await f({ currency: 'usd' }), [clients.beta, clients.labs]);
      assert.deepEqual(await f({ country: 'IN' }), [clients.labs]);
      assert.deepEqual(await f({ 'waba_account.id': 'W2' }), [clients.acme]);
      assert.deepEqual(await f({ waba_account: { id: 'W0' } }), [clients.beta]);
      assert.deepEqual(await f({ 'waba_account.id': 'W1' }), [clients.acme], "the other partner's channel on W1 does not count");
      assert.deepEqual(await f({ 'setup_info.phone_number': '+15550100' }), [clients.beta]);
      assert.deepEqual(await f({ 'setup_info.phone_number': '4930 7654321' }), [clients.acme]);
      assert.deepEqual(await f({ 'setup_info.phone_number': 'no digits' }), []);
      // Several keys: all must match.
      assert.deepEqual(await f({ name: 'acme', currency: 'EUR' }), [clients.acme]);
      // Numbers are read as their text.
      assert.deepEqual(await f({ 'waba_account.id': 12 }), []);
    });

    test('unknown filter keys, non-string values and malformed filters → 400 naming each', async () => {
      const bad = (filters: string) => get(`${clientsUrl()}?${q({ filters })}`);
      assert400(await bad('{"nope":"x"}'), ['filters.nope'], ['filterable keys']);
      assert400(await bad("{'color': 'red', 'name': 'x', 'size': 1}"), ['filters.color', 'filters.size']);
      assert400(await bad('{"name":null}'), ['filters.name']);
      assert400(await bad('{"name":true}'), ['filters.name']);
      assert400(await bad('{"name":["a"]}'), ['filters.name']);
      assert400(await bad('{"name":'), ['filters']);
      assert400(await bad("{'name': 'x'"), ['filters']);
      assert400(await bad('["name"]'), ['filters']);
      assert400(await bad('"name"'), ['filters']);
      assert400(await bad('name=Acme'), ['filters']);
      assert400(await bad(JSON.stringify({ name: 'x'.repeat(300) })), ['filters.name']);
      assert400(await bad(JSON.stringify({ name: 'a\u0000b' })), ['filters.name']);
      assert400(await bad('{"__proto__":{"polluted":"yes"}}'), ['filters.__proto__.polluted']);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      // A bad sort and a bad filter in one request: one 400 naming both.
      assert400(await get(`${clientsUrl()}?${q({ sort: 'nope', filters: '{"nope":"x"}' })}`), ['sort', 'filters.nope']);
      // Channel keys that clients do not have.
      assert400(await bad('{"phone_number_id":"x"}'), ['filters.phone_number_id']);
      // An empty filters parameter is no filter.
      assert.equal((await ok(`${clientsUrl()}?filters=`)).total, 3);
    });

    // ---- channels ----------------------------------------------------------------------------

    test("the partner-wide channel list: every channel of the partner, in the shape clients read", async () => {
      const body = await ok(channelsUrl());
      assert.deepEqual(Object.keys(body), ['count', 'filters', 'sort', 'limit', 'offset', 'total', 'partner_channels']);
      assert.deepEqual({ ...body, partner_channels: undefined }, { count: 3, filters: {}, sort: ['created_at'], limit: 100, offset: 0, total: 3, partner_channels: undefined });
      assert.deepEqual(body.partner_channels, [channels.a1, channels.a2, channels.b1]);
      assert.equal(body.partner_channels[0].waba_account.id, 'W1');
      for (const ch of body.partner_channels) {
        assert.equal(ch.status, 'ready');
        assert.equal(ch.account_mode, 'live');
        assert.equal(ch.waba_account.fb_account_status, 'verified');
        assert.match(ch.created_at, ISO_INSTANT);
        assert.equal(ch.setup_info.phone_number, ch.phone_number);
        assert.equal(ch.integration.app_id, ch.app_id);
      }
      // The other partner sees only its own.
      const theirs = await ok(`/api/v2/partners/${Q.id}/channels`, Q.headers);
      assert.deepEqual(ids(theirs), [channels.o1.id]);
      // Another partner's key on this partner's list → 404.
      assert.equal((await get(channelsUrl(), Q.headers)).statusCode, 404);
      assert.equal((await get(channelsUrl(), {})).statusCode, 401);
    });

    test('channel sorting, by flat and nested names', async () => {
      const byWaba = await ok(`${channelsUrl()}?sort=-waba_account.id`);
      assert.deepEqual(byWaba.sort, ['-waba_account.id']);
      assert.deepEqual(ids(byWaba), [channels.a2.id, channels.a1.id, channels.b1.id]);
      assert.deepEqual(ids(await ok(`${channelsUrl()}?sort=waba_id`)), [channels.b1.id, channels.a1.id, channels.a2.id]);
      assert.deepEqual(ids(await ok(`${channelsUrl()}?sort=setup_info.phone_number`)), [channels.a2.id, channels.a1.id, channels.b1.id].sort((x, y) => {
        const phone = (id: string) => [channels.a1, channels.a2, channels.b1].find((c) => c.id === id).phone_number;
        return byCodePoint(phone(x), phone(y));
      }));
      assert.deepEqual(ids(await ok(`${channelsUrl()}?sort=-integration.app_id&sort=created_at`)), [channels.a2.id, channels.a1.id, channels.b1.id]);
      assert.deepEqual(ids(await ok(`${channelsUrl()}?sort=client_id,-created_at`)), [clients.acme.id, clients.beta.id].sort(byCodePoint)[0] === clients.acme.id
        ? [channels.a2.id, channels.a1.id, channels.b1.id]
        : [channels.b1.id, channels.a2.id, channels.a1.id]);
    });

    test('channel filters: waba_account.id, setup_info.phone_number, client_id, id, status, name (the client\'s)', async () => {
      const f = async (filters: string) => ids(await ok(`${channelsUrl()}?${q({ filters })}`));
      assert.deepEqual(await f('{"waba_account.id":"W2"}'), [channels.a2.id]);
      assert.deepEqual(await f('{"waba_account":{"id":"W1"}}'), [channels.a1.id]);
      assert.deepEqual(await f("{'setup_info.phone_number': '+49 30 1234567'}"), [channels.a1.id]);
      assert.deepEqual(await f('{"setup_info":{"phone_number":"4930 765 4321"}}'), [channels.a2.id]);
      assert.deepEqual(await f(`{"client_id":"${clients.acme.id}"}`), [channels.a1.id, channels.a2.id]);
      assert.deepEqual(await f(`{"id":"${channels.b1.id}"}`), [channels.b1.id]);
      assert.deepEqual(await f(`{"id":"${channels.o1.id}"}`), []);
      assert.deepEqual(await f("{'status': 'ready'}"), [channels.a1.id, channels.a2.id, channels.b1.id]);
      assert.deepEqual(await f("{'status': 'running'}"), []);
      assert.deepEqual(await f("{'status': 'stopped'}"), []);
      assert.deepEqual(await f('{"name":"beta"}'), [channels.b1.id]);
      assert.deepEqual(await f('{"integration.app_id":"231"}'), [channels.a2.id]);
      assert.deepEqual(await f(`{"phone_number_id":"${dialect}-l-b1"}`), [channels.b1.id]);
      const form = await ok(`${channelsUrl()}?filters=%7b%27waba_account.id%27%3a+%27W0%27%7d`);
      assert.deepEqual([form.filters, ids(form)], [{ 'waba_account.id': 'W0' }, [channels.b1.id]]);
      assert400(await get(`${channelsUrl()}?${q({ filters: '{"currency":"EUR"}' })}`), ['filters.currency']);
    });

    test("one client's channel list takes the same parameters; another partner's or an unknown client → 404", async () => {
      const url = `${clientsUrl()}/${clients.acme.id}/channels`;
      const all = await ok(url);
      assert.deepEqual([all.count, all.total, all.sort], [2, 2, ['created_at']]);
      assert.deepEqual(all.partner_channels, [channels.a1, channels.a2]);
      assert.equal(all.partner_channels[0].waba_account.id, 'W1');
      const sorted = await ok(`${url}?sort=-created_at&limit=1`);
      assert.deepEqual([sorted.count, sorted.total, ids(sorted)], [1, 2, [channels.a2.id]]);
      const filtered = await ok(`${url}?${q({ filters: "{'waba_account.id': 'W2'}" })}`);
      assert.deepEqual(ids(filtered), [channels.a2.id]);
      // A client filter naming another client yields nothing, never the other client's channels.
      assert.equal((await ok(`${url}?${q({ filters: JSON.stringify({ client_id: clients.beta.id }) })}`)).total, 0);
      assert.equal((await ok(`${clientsUrl()}/${clients.labs.id}/channels`)).total, 0);
      assert.equal((await get(`${clientsUrl()}/${clients.other.id}/channels`)).statusCode, 404);
      assert.equal((await get(`${clientsUrl()}/nosuchCL/channels`)).statusCode, 404);
      assert.equal((await get(`/api/v2/partners/${Q.id}/clients/${clients.other.id}/channels`)).statusCode, 404);
      assert400(await get(`${url}?sort=bogus`), ['sort']);
    });
  });
}
