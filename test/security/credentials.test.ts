/**
 * Who may call what, for every operation of the app's own /openapi.json, on SQLite and
 * PostgreSQL:
 *
 * - no credentials → 401 in the envelope on every secured operation (partner and admin), even
 *   with a malformed request (the caller learns nothing about valid requests); public operations
 *   answer without credentials, whatever credentials they are sent;
 * - a revoked API key, a revoked or expired bearer token → 401 on every secured operation;
 * - another partner's key or token on this partner's paths, this partner's credentials with
 *   another partner's client, channel, key or user ids in the path, ids that do not exist → 404,
 *   with the same answer whether the id exists elsewhere or nowhere (existence does not leak);
 * - the admin token on partner routes and partner credentials on admin routes → 401 (the admin
 *   token is no partner credential and vice versa: fresh credentials of the right kind would help,
 *   which is when src/api/auth.ts answers 401);
 * - none of these requests changes the store, and every key, user and token they aimed at still
 *   works afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { manualClock } from '../auth/auth-helpers.ts';
import {
  ADMIN, assertEnvelope, buildWorld, call, credsOf, json, loadDocument, PASSWORD, PATH_FILLERS, snapshot, unique, urlOf, VERIFY_TOKEN,
  type Op, type OpCase, type World,
} from './support.ts';

const ACCESS_TTL = 600;

for (const dialect of DIALECTS) {
  describe(`credentials on every operation [${dialect}]`, () => {
    let t: TestApp;
    let w: World;
    let ops: Op[];
    let cases: Map<Op, OpCase>;
    const clock = manualClock();

    before(async () => {
      t = await startApp(dialect, { verifyToken: VERIFY_TOKEN, nowMs: clock.now, auth: { accessTokenTtl: ACCESS_TTL } });
      ({ ops, cases } = await loadDocument(t.app));
      w = await buildWorld(t.app);
    });
    after(async () => { await t.close(); });

    const secured = () => ops.filter((o) => o.kind !== 'public');
    const partnerOps = () => ops.filter((o) => o.kind === 'partner');
    const adminOps = () => ops.filter((o) => o.kind === 'admin');
    /** A valid request of the operation with `headers` (and path values, if given). */
    const request = (o: Op, headers: Record<string, string>, values: Record<string, string> = {}) => {
      const c = cases.get(o)!;
      return call(t.app, o.method, urlOf(o, w, values, c.query?.(w) ?? {}), headers, c.body?.(w));
    };

    test('every operation has a case, and the document secures /admin and partner routes', () => {
      assert.ok(ops.length >= 30, `${ops.length} operations`);
      for (const o of ops) {
        const expected = o.path.startsWith('/admin/') ? 'admin' : o.path.startsWith('/api/v2/partners/{partner_id}') ? 'partner' : 'public';
        assert.equal(o.kind, expected, `${o.key}: documented as ${o.kind}`);
      }
      assert.deepEqual(ops.filter((o) => o.kind === 'public').map((o) => o.id).sort(),
        ['getHealth', 'getOpenApiDocument', 'getTemplatesConfig', 'getWebhookConfig', 'receiveWebhook', 'receiveWebhookForPhoneNumber', 'requestToken',
          'sendMessage', 'sendMessageV1', 'setTemplatesConfig', 'setWebhookConfig', 'uploadMedia', 'uploadMediaV1', 'verifyWebhook']);
    });

    // ---- 1. no credentials ----------------------------------------------------------------------

    test('no credentials → 401 on every secured operation, even for a malformed request', async (tt) => {
      for (const o of secured()) {
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          const meta = assertEnvelope(await request(o, {}), 401, `${o.key} without credentials`, o.op);
          assert.equal(meta.error_data.code, 'unauthorized');
          assert.match(meta.developer_message, o.kind === 'admin' ? /Admin token/ : /X-API-Key|Bearer/);
          // Injected path parameters, a bad query and a body that is not JSON: still 401 first.
          const values = Object.fromEntries(o.pathParams.map((p) => [p.name, encodeURIComponent("' OR '1'='1")]));
          const query = Object.fromEntries(o.queryParams.map((q) => [q.name, "'"]));
          const res = await call(t.app, o.method, urlOf(o, w, values, query), { 'content-type': 'application/json' }, o.body ? { payload: '{"name":', contentType: 'application/json' } : undefined);
          assert.equal(assertEnvelope(res, 401, `${o.key} malformed, without credentials`, o.op).error_data.code, 'unauthorized');
          // Unknown credentials of every kind.
          const unknown: Record<string, string>[] = [{ 'x-api-key': 'wbm_unknownkey' }, { authorization: 'Bearer wbt_unknowntoken' }, { authorization: 'Bearer x' }, { 'x-api-key': "' OR '1'='1" }];
          for (const headers of unknown) {
            assertEnvelope(await request(o, headers), 401, `${o.key} with ${JSON.stringify(headers)}`, o.op);
          }
          assert.equal(await snapshot(t.services), before, `${o.key}: a refused request changed the store`);
        });
      }
    });

    test('public operations answer without credentials, whatever credentials they are sent', async (tt) => {
      for (const o of ops.filter((x) => x.kind === 'public')) {
        await tt.test(o.key, async () => {
          const c = cases.get(o)!;
          for (const headers of [{}, { 'x-api-key': 'wbm_unknownkey' }, { authorization: 'Bearer wbt_unknowntoken' }, ADMIN, w.A.key]) {
            const res = await request(o, headers);
            assert.equal(res.statusCode, c.ok, `${o.key} with ${JSON.stringify(headers)}: ${res.body.slice(0, 300)}`);
          }
        });
      }
      // The reference page is public too (it is not an operation of the document).
      const docs = await call(t.app, 'GET', '/docs');
      assert.equal(docs.statusCode, 200);
      assert.match(String(docs.headers['content-type']), /text\/html/);
    });

    // ---- 2. revoked and expired credentials ------------------------------------------------------

    test('a revoked API key → 401 on every secured operation', async (tt) => {
      const P = `/api/v2/partners/${w.A.partner.id}`;
      const created = await call(t.app, 'POST', `${P}/api_keys`, w.A.key, json({ name: 'to be revoked' }));
      assert.equal(created.statusCode, 201, created.body);
      const key = created.json() as { id: string; api_key: string };
      const K = { 'x-api-key': key.api_key };
      assert.equal((await call(t.app, 'GET', `${P}/api_keys`, K)).statusCode, 200, 'the new key works');
      assert.equal((await call(t.app, 'DELETE', `${P}/api_keys/${key.id}`, w.A.key)).statusCode, 204);
      const listed = (await call(t.app, 'GET', `${P}/api_keys`, w.A.key)).json().api_keys.find((k: { id: string }) => k.id === key.id);
      assert.ok(listed.revoked_at, 'listed as revoked');
      assert.ok(!JSON.stringify(listed).includes(key.api_key), 'the list never shows the secret');
      for (const o of secured()) {
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          const meta = assertEnvelope(await request(o, K), 401, `${o.key} with a revoked key`, o.op);
          assert.equal(meta.error_data.code, 'unauthorized');
          if (o.kind === 'partner') assert.match(meta.developer_message, /revoked/i);
          assert.equal(await snapshot(t.services), before, `${o.key}: a revoked key changed the store`);
        });
      }
    });

    test("a revoked user's bearer token → 401 on every secured operation; its refresh token → 401", async (tt) => {
      const username = `${unique('revoked')}@example.com`;
      const user = (await call(t.app, 'POST', `/admin/partners/${w.A.partner.id}/users`, ADMIN, json({ username, password: PASSWORD }))).json();
      const pair = (await call(t.app, 'POST', '/api/v2/token', {}, json({ username, password: PASSWORD }))).json();
      const bearer = { authorization: `Bearer ${pair.access_token}` };
      assert.equal((await call(t.app, 'GET', `/api/v2/partners/${w.A.partner.id}/clients`, bearer)).statusCode, 200, 'the token works');
      assert.equal((await call(t.app, 'DELETE', `/admin/partners/${w.A.partner.id}/users/${user.id}`, ADMIN)).statusCode, 204);
      for (const o of secured()) {
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          const meta = assertEnvelope(await request(o, bearer), 401, `${o.key} with a revoked token`, o.op);
          if (o.kind === 'partner') assert.match(meta.developer_message, /revoked/i);
          assert.equal(await snapshot(t.services), before);
        });
      }
      const token = ops.find((o) => o.id === 'requestToken')!;
      const refresh = await call(t.app, 'POST', '/api/v2/token', {}, json({ refresh_token: pair.refresh_token }));
      assertEnvelope(refresh, 401, 'refresh token of a revoked user', token.op);
      assertEnvelope(await call(t.app, 'POST', '/api/v2/token', {}, json({ username, password: PASSWORD })), 401, 'login of a revoked user', token.op);
    });

    // ---- 3. other partners' credentials and ids, ids that do not exist ----------------------------

    test("another partner's key or token on this partner's paths → 404 on every partner operation", async (tt) => {
      for (const o of partnerOps()) {
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          for (const [what, headers] of [['key', w.B.key], ['bearer token', w.B.bearer]] as const) {
            const meta = assertEnvelope(await request(o, headers), 404, `${o.key} with partner B's ${what}`, o.op);
            assert.equal(meta.error_data.code, 'not_found');
          }
          assert.equal(await snapshot(t.services), before);
        });
      }
    });

    test("this partner's credentials with another partner's ids, or ids that do not exist → 404, the same answer for both", async (tt) => {
      for (const o of [...partnerOps(), ...adminOps()]) {
        // The administrator acts on every partner: B's partner_id is a valid admin path.
        const params = o.pathParams.map((p) => p.name).filter((n) => PATH_FILLERS[n].resource && !(o.kind === 'admin' && n === 'partner_id'));
        const adminPartner = o.kind === 'admin' && o.pathParams.some((p) => p.name === 'partner_id');
        if (params.length === 0 && !adminPartner) continue;
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          for (const via of o.kind === 'partner' ? (['key', 'bearer'] as const) : (['key'] as const)) {
            const headers = credsOf(o, w, via);
            const probe = async (values: Record<string, string>, what: string) => {
              const meta = assertEnvelope(await request(o, headers, values), 404, `${o.key} (${via}) with ${what}`, o.op);
              assert.equal(meta.error_data.code, 'not_found');
              return meta;
            };
            for (const name of params) {
              const f = PATH_FILLERS[name];
              const other = await probe({ [name]: f.other!(w) }, `B's ${name}`);
              const missing = await probe({ [name]: f.missing! }, `a ${name} that does not exist`);
              assert.deepEqual(other, missing, `${o.key}: B's ${name} and a missing one are told apart (existence leaks)`);
              // Only a path that names the client too puts its other client's channel out of reach.
              if (f.sibling && params.includes('client_id')) await probe({ [name]: f.sibling(w) }, `a ${name} of A's other client`);
            }
            if (params.length > 1) {
              const allOther = Object.fromEntries(params.map((n) => [n, PATH_FILLERS[n].other!(w)]));
              const allMissing = Object.fromEntries(params.map((n) => [n, PATH_FILLERS[n].missing!]));
              assert.deepEqual(await probe(allOther, `B's ${params.join(' and ')}`), await probe(allMissing, `missing ${params.join(' and ')}`));
            }
            if (adminPartner) await probe({ partner_id: PATH_FILLERS.partner_id.missing! }, 'a partner that does not exist');
          }
          assert.equal(await snapshot(t.services), before, `${o.key}: a 404 changed the store`);
        });
      }
    });

    test('the admin token on partner routes, partner credentials on admin routes → 401', async (tt) => {
      for (const o of secured()) {
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          const wrong: Record<string, string>[] = o.kind === 'partner'
            ? [ADMIN, { 'x-api-key': ADMIN_TOKEN }]
            : [w.A.key, w.A.bearer, { authorization: `Bearer ${w.A.partner.api_key}` }, w.B.key, { 'x-api-key': ADMIN_TOKEN }];
          for (const headers of wrong) {
            const meta = assertEnvelope(await request(o, headers), 401, `${o.key} with ${Object.keys(headers).join()}`, o.op);
            assert.equal(meta.error_data.code, 'unauthorized');
          }
          assert.equal(await snapshot(t.services), before);
        });
      }
    });

    test('every key, user and token the probes aimed at still works', async () => {
      for (const tn of [w.A, w.B]) {
        const P = `/api/v2/partners/${tn.partner.id}`;
        for (const headers of [tn.key, { 'x-api-key': tn.victim.api_key }, tn.bearer]) {
          assert.equal((await call(t.app, 'GET', `${P}/clients/${tn.client.id}`, headers)).statusCode, 200);
        }
        const keys = (await call(t.app, 'GET', `${P}/api_keys`, tn.key)).json().api_keys as { id: string; revoked_at: string | null }[];
        assert.equal(keys.find((k) => k.id === tn.victim.id)?.revoked_at, null);
        const users = (await call(t.app, 'GET', `/admin/partners/${tn.partner.id}/users`, ADMIN)).json().users as { id: string; revoked_at: string | null }[];
        assert.equal(users.find((u) => u.id === tn.user.id)?.revoked_at, null);
        const client = (await call(t.app, 'GET', `${P}/clients/${tn.client.id}`, tn.key)).json();
        assert.match(client.name, /client$/, 'no PATCH probe renamed the client');
      }
    });

    // Last: it moves the clock past every access token's lifetime.
    test('an expired bearer token → 401 on every secured operation; a spent refresh token → 401', async (tt) => {
      const pair = (await call(t.app, 'POST', '/api/v2/token', {}, json({ username: w.A.user.username, password: PASSWORD }))).json();
      const bearer = { authorization: `Bearer ${pair.access_token}` };
      assert.equal((await call(t.app, 'GET', `/api/v2/partners/${w.A.partner.id}/clients`, bearer)).statusCode, 200);
      clock.advance((ACCESS_TTL + 1) * 1000);
      for (const o of secured()) {
        await tt.test(o.key, async () => {
          const before = await snapshot(t.services);
          const meta = assertEnvelope(await request(o, bearer), 401, `${o.key} with an expired token`, o.op);
          if (o.kind === 'partner') assert.match(meta.developer_message, /expired/i);
          assert.equal(await snapshot(t.services), before);
        });
      }
      const token = ops.find((o) => o.id === 'requestToken')!;
      const renewed = await call(t.app, 'POST', '/api/v2/token', {}, json({ refresh_token: pair.refresh_token }));
      assert.equal(renewed.statusCode, 200, renewed.body);
      assertEnvelope(await call(t.app, 'POST', '/api/v2/token', {}, json({ refresh_token: pair.refresh_token })), 401, 'a refresh token used twice', token.op);
      assert.equal((await call(t.app, 'GET', `/api/v2/partners/${w.A.partner.id}/clients`, { authorization: `Bearer ${renewed.json().access_token}` })).statusCode, 200);
    });
  });
}
