/**
 * Injection-shaped values in every path parameter and every documented query parameter of every
 * operation of /openapi.json, on SQLite and PostgreSQL, with valid credentials, so that the value
 * itself decides the answer:
 *
 * - never a 5xx; every error in the envelope;
 * - a path id that does not match its documented schema → 400 naming it (partner_id of a partner
 *   route: 404, since the credentials check, which compares it with the caller's partner, runs
 *   before validation: src/api/app.ts); a well-formed id that does not exist → 404;
 * - a query value the documented schema refuses → 400 naming the parameter; one it accepts →
 *   the operation's own answer (a free-text filter then matches nothing; the webhook challenge
 *   is echoed as text/plain, verbatim);
 * - list filters and sort carrying SQL → 400 or an empty page, never another partner's rows;
 * - the store is unchanged after each operation's probes (rows of partners, keys, users, clients,
 *   channels, and the count of status_events).
 *
 * "Accepts" is decided by the document's own schemas (support.ts `schemaAccepts`, types coerced
 * as the app's validator does, non-finite numbers refused).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DIALECTS, startApp, type TestApp } from '../helpers.ts';
import {
  assertEnvelope, buildWorld, call, counts, credsOf, Failures, INJECTIONS, loadDocument, MAX_PARAM_LENGTH, PATH_FILLERS, RAW_PATH_SEGMENTS, schemaAccepts, snapshot, urlOf, VERIFY_TOKEN,
  type Op, type OpCase, type World,
} from './support.ts';

const show = (v: unknown) => JSON.stringify(v).slice(0, 60);

for (const dialect of DIALECTS) {
  describe(`injection-shaped path and query parameters [${dialect}]`, () => {
    let t: TestApp;
    let w: World;
    let ops: Op[];
    let cases: Map<Op, OpCase>;
    let initial: Awaited<ReturnType<typeof counts>>;

    before(async () => {
      t = await startApp(dialect, { verifyToken: VERIFY_TOKEN });
      ({ ops, cases } = await loadDocument(t.app));
      w = await buildWorld(t.app);
      initial = await counts(t.services);
    });
    after(async () => { await t.close(); });

    /** The operation with path `values` (encoded) and `query` merged over its valid query; its probe body. */
    const probe = (o: Op, values: Record<string, string>, query: Record<string, string | string[]> = {}) => {
      const c = cases.get(o)!;
      const body = (c.probeBody ?? c.body)?.(w);
      return call(t.app, o.method, urlOf(o, w, values, { ...c.query?.(w), ...query }), credsOf(o, w), body);
    };

    // A 501 is no server error where it is the operation's answer (a messaging provider's operation).
    const noServerError = (res: LightMyRequestResponse, where: string, ok?: number) =>
      assert.ok(res.statusCode < 500 || (res.statusCode === 501 && ok === 501), `${where} → ${res.statusCode} ${res.body.slice(0, 300)}`);

    test('path parameters: 400 naming a malformed id, 404 for a well-formed one that does not exist, never 5xx', async (tt) => {
      for (const o of ops.filter((x) => x.pathParams.length > 0)) {
        await tt.test(o.key, async () => {
          const c = cases.get(o)!;
          const failures = new Failures();
          const before = await snapshot(t.services);
          for (const p of o.pathParams) {
            const filler = PATH_FILLERS[p.name];
            for (const inj of INJECTIONS) {
              const where = `${o.key} ${p.name}=${inj.label}`;
              const encoded = encodeURIComponent(inj.value);
              const res = await probe(o, { [p.name]: encoded });
              await failures.check(() => {
                noServerError(res, where, c.ok);
                // Longer than the router takes: 414 (URI too long), in the envelope too.
                if (encoded.length > MAX_PARAM_LENGTH && res.statusCode === 414) return assertEnvelope(res, 414, where, o.op);
                const wellFormed = schemaAccepts(p.schema, inj.value);
                if (!filler.resource && wellFormed) {
                  if (res.statusCode !== c.ok) assertEnvelope(res, [400, 404], where, o.op);
                  return;
                }
                const checkedFirst = o.kind === 'partner' && p.name === 'partner_id';
                const expected = wellFormed || checkedFirst ? 404 : 400;
                const meta = assertEnvelope(res, expected, where, o.op);
                if (expected === 400) assert.ok(meta.details.some((d) => d.startsWith(`${p.name}:`)), `${where}: details do not name ${p.name}: ${JSON.stringify(meta.details)}`);
                else assert.equal(meta.error_data.code, 'not_found', where);
              });
            }
          }
          await failures.check(async () => assert.equal(await snapshot(t.services), before, `${o.key}: probing its path parameters changed the store`));
          failures.done(o.key);
        });
      }
    });

    test('raw URL segments (%00, ;, malformed escapes) in every path parameter: a 4xx envelope', async (tt) => {
      for (const o of ops.filter((x) => x.pathParams.length > 0)) {
        await tt.test(o.key, async () => {
          const failures = new Failures();
          const before = await snapshot(t.services);
          for (const p of o.pathParams) {
            for (const raw of RAW_PATH_SEGMENTS) {
              const where = `${o.key} ${p.name}=${raw.label}`;
              const res = await probe(o, { [p.name]: raw.value });
              await failures.check(() => {
                noServerError(res, where);
                assertEnvelope(res, [400, 404], where, o.op);
              });
            }
          }
          await failures.check(async () => assert.equal(await snapshot(t.services), before));
          failures.done(o.key);
        });
      }
    });

    test('query parameters: 400 naming a value the document refuses, never 5xx', async (tt) => {
      for (const o of ops.filter((x) => x.queryParams.length > 0)) {
        await tt.test(o.key, async () => {
          const c = cases.get(o)!;
          const failures = new Failures();
          const before = await snapshot(t.services);
          for (const q of o.queryParams) {
            const values: (string | string[])[] = [...INJECTIONS.map((i) => i.value), ["'", "' OR '1'='1"], ['1', '2']];
            for (const value of values) {
              const where = `${o.key} ?${q.name}=${show(value)}`;
              const res = await probe(o, {}, { [q.name]: value });
              await failures.check(() => {
                noServerError(res, where);
                if (!schemaAccepts(q.schema, value)) {
                  const meta = assertEnvelope(res, 400, where, o.op);
                  assert.ok(meta.details.some((d) => d.startsWith(q.name)), `${where}: details do not name ${q.name}: ${JSON.stringify(meta.details)}`);
                  return;
                }
                if (res.statusCode !== c.ok) {
                  assertEnvelope(res, [400, 403, 404], where, o.op);
                  return;
                }
                // Accepted: the value is data, never code.
                if (o.id === 'verifyWebhook') {
                  assert.equal(q.name, 'hub.challenge', `${where}: only the challenge may vary and still verify`);
                  assert.match(String(res.headers['content-type']), /^text\/plain/, where);
                  assert.equal(res.body, value, `${where}: the challenge is echoed verbatim`);
                  return;
                }
                const body = res.json() as Record<string, unknown>;
                for (const list of ['rate_cards', 'volume_tiers', 'clients', 'partner_channels']) {
                  if (!Array.isArray(body[list])) continue;
                  const items = body[list] as { partner_id?: string }[];
                  if (list === 'rate_cards' || list === 'volume_tiers') assert.equal(items.length, 0, `${where}: a filter of ${show(value)} matched rows`);
                  for (const item of items) if (item.partner_id !== undefined) assert.equal(item.partner_id, w.A.partner.id, `${where}: another partner's row`);
                }
              });
            }
          }
          await failures.check(async () => assert.equal(await snapshot(t.services), before, `${o.key}: probing its query changed the store`));
          failures.done(o.key);
        });
      }
    });

    test('list filters and sort carrying SQL: 400 naming the parameter, or an empty page of this partner', async (tt) => {
      const FILTERS = [
        `{"name":"' OR '1'='1"}`, `{"name":"x\\" OR 1=1 --"}`, `{'name': '\\' OR 1=1 --'}`, `{"name":"%"}`, `{"name":"_"}`, `{"name":"\\\\"}`,
        `{"id":"1 OR 1=1"}`, `{"id":"' UNION SELECT * FROM api_keys --"}`, `{"client_id":"${w.B.client.id}"}`, `{"id":"${w.B.client.id}"}`,
        `{"waba_account.id":"' OR ''='"}`, `{"setup_info.phone_number":"' OR 1=1 --"}`, `{"phone_number_id":"${w.B.channel.phone_number_id}"}`,
        `{"name; DROP TABLE clients;--":"x"}`, `{"name":{"$ne":null}}`, `{"name":["a","b"]}`, `{"__proto__":{"x":1}}`, `{"constructor":{"prototype":{"x":1}}}`,
        `[{"name":"x"}]`, `{"name":"x"} OR 1=1`, `{"name":"\\u0000"}`, `{"id":"\\u0000"}`, `{"waba_account.id":"a\\u0000b"}`, `{'name': "😀"}`, `{"name":"${'x'.repeat(300)}"}`,
      ];
      const SORTS = ['name;DROP TABLE clients', 'name) desc; --', '(select 1)', 'name,-(select password_hash from partner_users)', '-', '--name', 'name desc', 'NAME', '😀', ["name", "id; --"]];
      for (const o of ops.filter((x) => x.queryParams.some((q) => q.name === 'filters'))) {
        await tt.test(o.key, async () => {
          const failures = new Failures();
          const before = await snapshot(t.services);
          const check = (res: LightMyRequestResponse, param: string, where: string) => failures.check(() => {
            noServerError(res, where);
            if (res.statusCode === 200) {
              const body = res.json();
              const items = (body.clients ?? body.partner_channels) as { partner_id: string }[];
              if (param === 'filters') assert.equal(body.total, 0, `${where}: matched ${body.total} rows`);
              for (const item of items) assert.equal(item.partner_id, w.A.partner.id, `${where}: another partner's row`);
              return;
            }
            const meta = assertEnvelope(res, 400, where, o.op);
            assert.ok(meta.details.some((d) => d.startsWith(param)), `${where}: details do not name ${param}: ${JSON.stringify(meta.details)}`);
          });
          for (const f of FILTERS) await check(await probe(o, {}, { filters: f }), 'filters', `${o.key} ?filters=${f}`);
          for (const s of SORTS) await check(await probe(o, {}, { sort: s }), 'sort', `${o.key} ?sort=${show(s)}`);
          await failures.check(async () => assert.equal(await snapshot(t.services), before));
          failures.done(o.key);
        });
      }
    });

    test('the store is intact: every table still there, no row added or lost, the data still served', async () => {
      assert.deepEqual(await counts(t.services), initial);
      const P = `/api/v2/partners/${w.A.partner.id}`;
      const list = await call(t.app, 'GET', `${P}/clients`, w.A.key);
      assert.equal(list.statusCode, 200);
      assert.deepEqual(list.json().clients.map((c: { id: string }) => c.id).sort(), [w.A.client.id, w.A.client2.id].sort());
      assert.equal((await call(t.app, 'GET', `${P}/clients/${w.A.client.id}/channels/${w.A.channel.id}/info/usage`, w.A.key)).statusCode, 200);
    });
  });
}
