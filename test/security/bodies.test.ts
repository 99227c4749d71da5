/**
 * Hostile request bodies for every operation of /openapi.json that takes one (POST and PATCH),
 * on SQLite and PostgreSQL, with valid credentials so that the body alone decides:
 *
 * - every leaf of a valid body (every documented field, nested ones included) replaced by each
 *   injection-shaped string and by each wrong type (object, array, null, boolean, number, a
 *   number JSON cannot hold); extra properties that name server-controlled fields (mass
 *   assignment); bodies that are no object; `__proto__` and `constructor.prototype` keys; JSON
 *   nested 100 000 deep; 2 MB bodies; invalid JSON; other media types;
 * - never a 5xx; every error a 4xx in the envelope (OAuth's shape with `meta` on the token
 *   endpoint) and nothing created;
 * - a success only for a body the document's schema accepts (types coerced as the app's
 *   validator does), never for injected credentials on the token endpoint; and then exactly the
 *   rows one success creates, free-text fields stored and returned verbatim, and no
 *   server-controlled field taken from the body.
 *
 * Webhooks and CSV uploads are read by their handlers, not by a schema: any 2xx must then store
 * exactly the statuses it reports (`stored`), and loaded rates must stay finite, non-negative
 * numbers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DIALECTS, startApp, type TestApp } from '../helpers.ts';
import {
  ADMIN, assertEnvelope, buildWorld, call, counts, credsOf, delta, Failures, INJECTIONS, json, loadDocument, OPERATION_CASES, schemaAccepts, urlOf, VERIFY_TOKEN,
  type Body, type Op, type OpCase, type Table, type World,
} from './support.ts';

type Path = (string | number)[];
/** A value JSON.stringify cannot write; the payload carries the raw token instead. */
const RAW = Symbol('raw');
interface Raw { [RAW]: string; parsed: unknown }
const raw = (token: string): Raw => ({ [RAW]: token, parsed: JSON.parse(token) });
const isRaw = (v: unknown): v is Raw => typeof v === 'object' && v !== null && RAW in v;

const WRONG_TYPES: { label: string; value: unknown }[] = [
  { label: 'object', value: {} },
  { label: 'NoSQL operator', value: { $gt: '' } },
  { label: 'array', value: [] },
  { label: 'array of the injection', value: ["' OR '1'='1"] },
  { label: 'null', value: null },
  { label: 'true', value: true },
  { label: 'number 12345', value: 12345 },
  { label: 'number -1', value: -1 },
  { label: 'number 1e309 (Infinity)', value: raw('1e309') },
  { label: 'number 1e-400', value: raw('1e-400') },
  { label: 'number 99999999999999999999', value: raw('99999999999999999999') },
];

/** Webhook leaves are many and each success commits: the wrong types that differ for a hand-written parser. */
const WEBHOOK_WRONG_TYPES = ['object', 'array', 'null', 'true', 'number 12345', 'number 1e309 (Infinity)'];

const MASS_ASSIGNMENT = {
  id: 'INJECTEDid', partner_id: '', client_id: '', created_at: '1999-01-01T00:00:00.000Z', revoked_at: '2000-01-01T00:00:00.000Z',
  api_key: 'wbm_chosen_by_the_caller_0000000000', key_hash: 'x', password_hash: 'x', last4: 'zzzz', status: 'suspended', is_admin: true, role: 'admin',
  "' OR '1'='1": 'x',
};

/** Every primitive leaf of a JSON value, as paths. */
function leaves(v: unknown, path: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [path];
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
  return copy;
}

/** The payload for a value that may hold raw number tokens, and the value the server parses. */
function encode(v: unknown): { payload: string; parsed: unknown } {
  const tokens: string[] = [];
  const text = JSON.stringify(v, (_k, x) => (isRaw(x) ? `@@RAW${tokens.push(x[RAW]) - 1}@@` : x));
  const payload = text.replace(/"@@RAW(\d+)@@"/g, (_m, i: string) => tokens[Number(i)]);
  return { payload, parsed: JSON.parse(payload) };
}

/** What the server's JSON parser makes of a payload; undefined when it is no JSON. */
function parse(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    return undefined;
  }
}

interface Variant {
  label: string;
  body: Body;
  /** The value the server parses; undefined when it cannot be parsed (never valid). */
  parsed?: unknown;
  /** Leaves of the valid body were left as they were (only properties added). */
  leavesIntact: boolean;
  massAssignment?: boolean;
}

const pathLabel = (p: Path) => p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '');

function jsonVariants(base: () => unknown, withB: World): Variant[] {
  const out: Variant[] = [];
  const sample = base();
  const add = (label: string, value: unknown, leavesIntact = false, extra: Partial<Variant> = {}) => {
    const { payload, parsed } = encode(value);
    out.push({ label, body: { payload, contentType: 'application/json' }, parsed, leavesIntact, ...extra });
  };
  for (const path of leaves(sample)) {
    for (const inj of INJECTIONS) add(`${pathLabel(path)} = ${inj.label}`, setAt(base(), path, inj.value));
    for (const wrong of WRONG_TYPES) add(`${pathLabel(path)} = ${wrong.label}`, setAt(base(), path, wrong.value));
  }
  const top = (sample && typeof sample === 'object' && !Array.isArray(sample)) ? Object.keys(sample) : [];
  for (const key of top) {
    const rest = { ...(base() as Record<string, unknown>) };
    delete rest[key];
    // Leaving a field out injects nothing: it may succeed wherever the field is optional.
    add(`without ${key}`, rest, true);
  }
  add('extra properties naming server-controlled fields', { ...(base() as object), ...MASS_ASSIGNMENT, partner_id: withB.B.partner.id, client_id: withB.B.client.id }, true, { massAssignment: true });
  for (const [label, value] of [['an array', []], ['an array of the body', [base()]], ['a string', 'x'], ['a number', 12345], ['null', null], ['true', true]] as const) add(`body is ${label}`, value);
  const text = JSON.stringify(base());
  const spliced = (extra: string) => `{${extra},${text.slice(1)}`;
  const rawBody = (label: string, payload: string, leavesIntact: boolean) => out.push({ label, body: { payload, contentType: 'application/json' }, parsed: parse(payload), leavesIntact });
  rawBody('__proto__ key', spliced('"__proto__":{"polluted":"yes","is_admin":true}'), true);
  rawBody('constructor.prototype key', spliced('"constructor":{"prototype":{"polluted":"yes"}}'), true);
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  // For the schema a deep array is an array: the oracle is given a shallow one (a 100 000-deep
  // value would overflow the test's own stack, not the server's).
  const shallow = (b: unknown, path: Path) => setAt(b, path, [[]]);
  const b1 = base();
  out.push({ label: 'an extra property nested 100 000 deep', body: { payload: `{"deep":${deep(100_000)},${JSON.stringify(b1).slice(1)}`, contentType: 'application/json' }, parsed: shallow(b1, ['deep']), leavesIntact: true });
  const first = leaves(sample)[0];
  if (first) {
    const b2 = base();
    out.push({ label: `${pathLabel(first)} nested 10 000 deep`, body: { payload: encode(setAt(b2, first, '@@DEEP@@')).payload.replace('"@@DEEP@@"', deep(10_000)), contentType: 'application/json' }, parsed: shallow(b2, first), leavesIntact: false });
    add(`${pathLabel(first)} of 2 MB`, setAt(base(), first, 'x'.repeat(2 * 1024 * 1024)));
  }
  add('an extra property of 2 MB', { ...(base() as object), pad: 'x'.repeat(2 * 1024 * 1024) }, true);
  for (const [label, payload] of [['truncated JSON', text.slice(0, -3)], ['JSON with a trailing comma', `${text.slice(0, -1)},}`], ['single-quoted keys', text.replace(/"/g, "'")], ['empty', ''], ['NUL bytes', '\u0000\u0000'], ['two JSON documents', `${text}${text}`]] as const) {
    rawBody(`body is ${label}`, payload, false);
  }
  return out;
}

function mediaVariants(valid: Body): Variant[] {
  return ['application/xml', 'text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json-patch+json']
    .filter((type) => type !== valid.contentType)
    .map((type) => ({ label: `Content-Type ${type}`, body: { payload: valid.payload, contentType: type }, leavesIntact: true }));
}

/** Letters no compressor shrinks much (a store may compress a long repeated value below its limits). */
function incompressible(n: number): string {
  let x = 123456789;
  let out = '';
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out += String.fromCharCode(97 + ((x >>> 16) % 26));
  }
  return out;
}

function csvVariants(valid: string): Variant[] {
  const lines = valid.split('\n');
  const row = lines.findIndex((l) => /^(India|Rest of Africa),/.test(l));
  const cells = lines[row].split(',');
  const out: Variant[] = [];
  // Each CSV success re-prices the store: the injections that differ for a CSV cell, not all of them.
  const cellValues = ["single quote", "' OR '1'='1", ';DROP TABLE clients;--', 'NUL byte (%00)', '500 characters', '1e309', '99999999999999999999', '-1', '😀', 'RTL override', 'CRLF header'];
  const values = [...INJECTIONS.filter((i) => cellValues.includes(i.label)), { label: 'formula', value: '=HYPERLINK("http://evil")' }, { label: '@SUM', value: '@SUM(1+1)' }, { label: 'quoted quote', value: '"a""b"' }];
  // The market, the currency and the cells after them (rates, tier bounds, categories): each CSV
  // success re-prices the store, so the cells stop at four.
  for (let c = 0; c < Math.min(cells.length, 4); c++) {
    for (const v of values) {
      const changed = [...cells];
      changed[c] = v.value;
      const text = [...lines.slice(0, row), changed.join(','), ...lines.slice(row + 1)].join('\n');
      out.push({ label: `cell ${c} of row ${row} = ${v.label}`, body: { payload: text, contentType: 'text/csv' }, leavesIntact: false });
    }
  }
  for (const [label, payload] of [['empty', ''], ['NUL bytes', '\u0000\u0000'], ['2 MB of junk', `a,b\n${'x'.repeat(2 * 1024 * 1024)}`], ['6 MB (over the CSV limit)', 'x'.repeat(6 * 1024 * 1024)], ['a 16 kB market name', `${lines.slice(0, row).join('\n')}\n${incompressible(16 * 1024)},USD,1,1,1,1,1`]] as const) {
    out.push({ label: `body is ${label}`, body: { payload, contentType: 'text/csv' }, leavesIntact: false });
  }
  out.push({ label: 'a JSON body', body: json({ market: 'India' }), leavesIntact: false });
  return out;
}

function webhookVariants(base: () => unknown): Variant[] {
  const out: Variant[] = [];
  const add = (label: string, value: unknown) => {
    const { payload, parsed } = encode(value);
    out.push({ label, body: { payload, contentType: 'application/json' }, parsed, leavesIntact: false });
  };
  for (const path of leaves(base())) {
    for (const inj of INJECTIONS) add(`${pathLabel(path)} = ${inj.label}`, setAt(base(), path, inj.value));
    for (const wrong of WRONG_TYPES.filter((x) => WEBHOOK_WRONG_TYPES.includes(x.label))) add(`${pathLabel(path)} = ${wrong.label}`, setAt(base(), path, wrong.value));
  }
  for (const [label, value] of [['an array', []], ['a string', 'x'], ['null', null], ['an empty object', {}]] as const) add(`body is ${label}`, value);
  const text = JSON.stringify(base());
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  for (const [label, payload] of [
    ['nested 100 000 deep', `{"deep":${deep(100_000)},${text.slice(1)}`],
    ['__proto__ key', `{"__proto__":{"polluted":"yes"},${text.slice(1)}`],
    ['2 MB', `{"pad":"${'x'.repeat(2 * 1024 * 1024)}",${text.slice(1)}`],
    ['truncated JSON', text.slice(0, -3)],
    ['empty', ''],
    ['NUL bytes', '\u0000\u0000'],
  ] as const) out.push({ label: `body is ${label}`, body: { payload, contentType: 'application/json' }, leavesIntact: false });
  return out;
}

for (const dialect of DIALECTS) {
  describe(`hostile request bodies [${dialect}]`, () => {
    let t: TestApp;
    let w: World;
    let ops: Op[];
    let cases: Map<Op, OpCase>;

    before(async () => {
      t = await startApp(dialect, { verifyToken: VERIFY_TOKEN });
      ({ ops, cases } = await loadDocument(t.app));
      w = await buildWorld(t.app);
    });
    after(async () => { await t.close(); });

    const P = () => `/api/v2/partners/${w.A.partner.id}`;

    /** The stored form of what a success created or changed, read back through the API. */
    async function readBack(o: Op, res: LightMyRequestResponse): Promise<Record<string, unknown> | undefined> {
      const created = res.json() as Record<string, unknown>;
      const get = async (url: string, headers: Record<string, string>) => (await call(t.app, 'GET', url, headers)).json();
      switch (o.id) {
        case 'createClient': return get(`${P()}/clients/${created.id}`, w.A.key);
        case 'updateClient': return get(`${P()}/clients/${w.A.client.id}`, w.A.key);
        case 'createChannel': return get(`${P()}/clients/${w.A.client.id}/channels/${created.id}`, w.A.key);
        case 'createApiKey':
        case 'createApiKeyAsAdmin': return (await get(`${P()}/api_keys`, w.A.key)).api_keys.find((k: { id: string }) => k.id === created.id);
        case 'createPartnerUser': return (await get(`/admin/partners/${w.A.partner.id}/users`, ADMIN)).users.find((u: { id: string }) => u.id === created.id);
        default: return undefined;
      }
    }

    async function expectations(o: Op, c: OpCase, v: Variant, res: LightMyRequestResponse, changed: Partial<Record<Table, number>>) {
      const where = `${o.key} with ${v.label}`;
      assert.ok(res.statusCode < 500, `${where} → ${res.statusCode} ${res.body.slice(0, 300)}`);
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined, `${where}: Object.prototype polluted`);
      assert.equal(({} as Record<string, unknown>).is_admin, undefined, `${where}: Object.prototype polluted`);
      if (res.statusCode >= 400) {
        assertEnvelope(res, o.id === 'requestToken' ? [400, 401, 413, 415] : [400, 409, 413, 415], where, o.op);
        assert.deepEqual(changed, {}, `${where}: refused, yet rows changed`);
        return;
      }
      const kind = c.bodyKind ?? 'schema';
      if (kind === 'webhook') {
        assert.equal(res.statusCode, c.ok, `${where} → ${res.statusCode}`);
        const stored = res.json().stored as number;
        assert.deepEqual(changed, stored > 0 ? { status_events: stored } : {}, `${where}: stored ${stored} statuses, rows changed ${JSON.stringify(changed)}`);
        return;
      }
      assert.equal(res.statusCode, c.ok, `${where} → ${res.statusCode}`);
      if (kind === 'csv') {
        assert.deepEqual(changed, {}, where);
        return;
      }
      assert.ok(v.parsed !== undefined && schemaAccepts(o.body?.schema, v.parsed), `${where}: accepted (${res.statusCode}) a body the document refuses: ${v.body.payload.slice(0, 200)}`);
      if (c.injectedMaySucceed === false) assert.ok(v.leavesIntact, `${where}: an injected value succeeded (${res.statusCode})`);
      assert.deepEqual(changed, c.creates ?? {}, `${where}: rows changed ${JSON.stringify(changed)}`);
      if (res.statusCode === 204 || o.id === 'requestToken') return;
      const sent = v.parsed as Record<string, unknown>;
      const answer = res.json() as Record<string, unknown>;
      const stored = await readBack(o, res);
      for (const field of c.literal ?? []) {
        if (typeof sent[field] !== 'string') continue;
        assert.equal(answer[field], sent[field], `${where}: ${field} answered as ${JSON.stringify(answer[field])?.slice(0, 80)}`);
        if (stored) assert.equal(stored[field], sent[field], `${where}: ${field} stored as ${JSON.stringify(stored[field])?.slice(0, 80)}`);
      }
      if (v.massAssignment) {
        for (const obj of [answer, stored].filter((x): x is Record<string, unknown> => x !== undefined)) {
          assert.notEqual(obj.id, MASS_ASSIGNMENT.id, `${where}: id taken from the body`);
          if ('partner_id' in obj) assert.equal(obj.partner_id, w.A.partner.id, `${where}: partner_id taken from the body`);
          if ('client_id' in obj) assert.equal(obj.client_id, w.A.client.id, `${where}: client_id taken from the body`);
          assert.notEqual(obj.created_at, MASS_ASSIGNMENT.created_at, `${where}: created_at taken from the body`);
          if ('revoked_at' in obj) assert.equal(obj.revoked_at, null, `${where}: revoked_at taken from the body`);
          if ('status' in obj) assert.notEqual(obj.status, MASS_ASSIGNMENT.status, `${where}: status taken from the body`);
          if ('last4' in obj) assert.notEqual(obj.last4, MASS_ASSIGNMENT.last4, `${where}: last4 taken from the body`);
          for (const k of ['key_hash', 'password_hash', 'is_admin', 'role']) assert.ok(!(k in obj), `${where}: ${k} answered`);
        }
        if ('api_key' in answer) assert.notEqual(answer.api_key, MASS_ASSIGNMENT.api_key, `${where}: api_key taken from the body`);
        assert.equal((await call(t.app, 'GET', `${P()}/clients`, { 'x-api-key': MASS_ASSIGNMENT.api_key })).statusCode, 401, `${where}: the caller's chosen key authenticates`);
      }
    }

    for (const kindName of ['schema', 'webhook', 'csv'] as const) {
      test(`${kindName === 'schema' ? 'JSON bodies validated by the document' : kindName === 'webhook' ? 'webhook bodies' : 'CSV uploads'}: 4xx envelope or an exact success, never 5xx`, async (tt) => {
        for (const o of ops.filter((x) => x.body && (cases.get(x)!.bodyKind ?? 'schema') === kindName)) {
          await tt.test(o.key, async () => {
            const c = cases.get(o)!;
            const full = c.fullBody ?? c.body!;
            const base = () => JSON.parse(String(full(w).payload)) as unknown;
            const valid = full(w);
            const variants = kindName === 'schema' ? [...jsonVariants(base, w), ...mediaVariants(valid)]
              : kindName === 'webhook' ? webhookVariants(base)
                : [...csvVariants(String(valid.payload)), ...mediaVariants(valid)];
            if (o.id === 'requestToken') {
              // The token endpoint also reads forms: the same injections, form-encoded.
              for (const field of ['username', 'password', 'grant_type']) {
                for (const inj of INJECTIONS.filter((i) => ["single quote", "' OR '1'='1", 'NUL byte (%00)', '😀', 'CRLF header'].includes(i.label))) {
                  const form = { ...(base() as Record<string, string>), [field]: inj.value };
                  variants.push({ label: `form ${field} = ${inj.label}`, body: { payload: new URLSearchParams(form).toString(), contentType: 'application/x-www-form-urlencoded' }, parsed: form, leavesIntact: false });
                }
              }
            }
            const failures = new Failures();
            const send = (v: Variant) => call(t.app, o.method, urlOf(o, w, {}, c.query?.(w) ?? {}), credsOf(o, w), v.body);
            // An operation that creates nothing and stores no field (the token endpoint) is probed
            // eight at a time: its password checks are deliberately slow. Every other one singly,
            // so that each response explains the rows it changed.
            const batch = !c.creates && !c.literal && kindName === 'schema' ? 8 : 1;
            for (let i = 0; i < variants.length; i += batch) {
              const group = variants.slice(i, i + batch);
              const before = await counts(t.services);
              const answers = await Promise.all(group.map(send));
              const changed = delta(before, await counts(t.services));
              for (const [j, v] of group.entries()) await failures.check(() => expectations(o, c, v, answers[j], changed));
            }
            // The valid body itself still succeeds: the variants were refused for what they changed.
            const res = await call(t.app, o.method, urlOf(o, w, {}, c.query?.(w) ?? {}), credsOf(o, w), full(w));
            await failures.check(() => assert.equal(res.statusCode, c.ok, `${o.key} with its valid body → ${res.statusCode} ${res.body.slice(0, 300)}`));
            failures.done(`${o.key}: ${variants.length} bodies`);
          });
        }
      });
    }

    test("a webhook that cannot be stored fails alone: the others committed with it are stored", async () => {
      const o = ops.find((x) => x.id === 'receiveWebhook')!;
      const clean = () => OPERATION_CASES.receiveWebhook.body!(w);
      const poisoned = (value: string) => {
        const body = JSON.parse(String(clean().payload));
        body.entry[0].changes[0].value.statuses[0].status = value;
        return { payload: JSON.stringify(body), contentType: 'application/json' };
      };
      const failures = new Failures();
      for (const inj of INJECTIONS) {
        const before = await counts(t.services);
        const [bad, ...good] = await Promise.all([poisoned(inj.value), clean(), clean(), clean()].map((body) => call(t.app, 'POST', '/webhooks/whatsapp', {}, body)));
        const changed = delta(before, await counts(t.services));
        await failures.check(() => {
          for (const res of good) assert.equal(res.statusCode, 200, `a clean webhook sent with one whose status is ${inj.label} → ${res.statusCode} ${res.body.slice(0, 200)}`);
          assert.ok(bad.statusCode < 500, `a webhook whose status is ${inj.label} → ${bad.statusCode} ${bad.body.slice(0, 200)}`);
          if (bad.statusCode >= 400) assertEnvelope(bad, 400, `a webhook whose status is ${inj.label}`, o.op);
          const stored = [bad, ...good].filter((r) => r.statusCode === 200).reduce((n, r) => n + (r.json().stored as number), 0);
          assert.deepEqual(changed, stored > 0 ? { status_events: stored } : {});
        });
      }
      failures.done('concurrent webhooks');
    });

    test("after every body, partner A's and B's data still read: no stored row breaks a read", async () => {
      const failures = new Failures();
      for (const tn of [w.A, w.B]) {
        const P = `/api/v2/partners/${tn.partner.id}`;
        const reads = [`${P}/clients`, `${P}/channels`, `${P}/api_keys`, `${P}/clients?limit=1000`];
        const clients = await call(t.app, 'GET', `${P}/clients?limit=1000`, tn.key);
        if (clients.statusCode === 200) {
          for (const c of clients.json().clients as { id: string }[]) reads.push(`${P}/clients/${c.id}`, `${P}/clients/${c.id}/channels`, `${P}/clients/${c.id}/info/balance`, `${P}/clients/${c.id}/info/charges`, `${P}/clients/${c.id}/info/tiers`);
        }
        for (const url of reads) {
          const res = await call(t.app, 'GET', url, tn.key);
          await failures.check(() => assert.equal(res.statusCode, 200, `GET ${url} → ${res.statusCode} ${res.body.slice(0, 200)}`));
        }
        const users = await call(t.app, 'GET', `/admin/partners/${tn.partner.id}/users`, ADMIN);
        await failures.check(() => assert.equal(users.statusCode, 200, `users of ${tn.partner.id} → ${users.statusCode}`));
      }
      failures.done('reads after the hostile bodies');
    });

    test('loaded rates stay finite, non-negative numbers', async () => {
      const cards = (await call(t.app, 'GET', '/admin/rate-cards', ADMIN)).json();
      const tiers = (await call(t.app, 'GET', '/admin/volume-tiers', ADMIN)).json();
      const rates = [
        ...cards.rate_cards.flatMap((r: { rates: Record<string, unknown> }) => Object.values(r.rates)),
        ...tiers.volume_tiers.flatMap((s: { tiers: { rate: unknown }[] }) => s.tiers.map((x) => x.rate)),
      ];
      assert.ok(rates.length > 0);
      const bad = rates.filter((r) => typeof r !== 'number' || !Number.isFinite(r) || r < 0);
      assert.deepEqual(bad, [], 'rates that are no finite, non-negative number');
    });
  });
}
