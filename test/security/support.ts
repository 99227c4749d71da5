/**
 * Shared pieces of the security tests: the operations of the app's own `/openapi.json` with one
 * case each (valid query and body, what a success creates), path-parameter fillers (this
 * partner's ids, another partner's, ids that do not exist), the injection-shaped values, the
 * error-envelope check, a schema oracle built from the document, and snapshots of the store.
 *
 * Everything is driven by the document: an operation added later without a case here, or with a
 * path parameter no filler knows, fails by name (see `casesOf`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { FORMATS } from '../../src/api/formats.ts';
import type { Services } from '../../src/services.ts';
import { ADMIN_TOKEN, envelope, status, WABA } from '../helpers.ts';
import { INDIA_UTILITY_TIERS, META_CARD_USD } from '../rates/fixtures.ts';
import { fetchDocument, operationsOf, responseFor, type OpenApiDocument, type Operation, type Schema } from '../openapi/support.ts';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

export const VERIFY_TOKEN = 'security-verify-token-5d1c0a';
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const PASSWORD = 'Security-Passw0rd-9f3e';

// ---- injection-shaped values ----------------------------------------------------------------

export interface Injection { label: string; value: string }

/** Values a hostile or broken client sends, in any parameter or string field. */
export const INJECTIONS: Injection[] = [
  { label: "single quote", value: "'" },
  { label: "' OR '1'='1", value: "' OR '1'='1" },
  { label: ';DROP TABLE clients;--', value: ';DROP TABLE clients;--' },
  { label: 'NUL byte (%00)', value: '\u0000' },
  { label: 'literal "%00"', value: '%00' },
  { label: '500 characters', value: 'A'.repeat(500) },
  { label: '1e309', value: '1e309' },
  { label: 'Infinity', value: 'Infinity' },
  { label: '99999999999999999999', value: '99999999999999999999' },
  { label: '-1', value: '-1' },
  { label: 'ü', value: 'ü' },
  { label: '😀', value: '😀' },
  { label: 'RTL mark', value: '\u200F' },
  { label: 'RTL override', value: 'abc\u202Efed' },
  { label: '../../etc/passwd', value: '../../etc/passwd' },
  { label: 'CRLF header', value: 'a\r\nX-Injected: 1' },
  { label: 'JSON breakout', value: '"}],"x":{"' },
];

/** Raw (not percent-encoded) URL segments: the router and the URL decoder see them as sent. */
export const RAW_PATH_SEGMENTS: Injection[] = [
  { label: 'raw %00', value: '%00' },
  { label: 'raw ;', value: ';' },
  { label: "raw '", value: "'" },
  { label: 'raw ../../etc/passwd', value: '../../etc/passwd' },
  { label: 'raw malformed escape %ZZ', value: '%ZZ' },
  { label: 'raw truncated escape %E0%A4%A', value: '%E0%A4%A' },
];

// ---- the error envelope ---------------------------------------------------------------------

export interface Meta { developer_message: string; details: string[]; error_data: { code: string; message: string; real_message: string; status: number } }

/**
 * The Partner API's error envelope (the Partner API contract), with `http_code` equal to the status; on the
 * token endpoint (documented with OAuth's `error`/`error_description`), those two come first and
 * the envelope's `meta` alongside.
 */
export function assertEnvelope(res: LightMyRequestResponse, expected: number | number[], where: string, op?: Operation): Meta {
  const statuses = [expected].flat();
  const ctx = `${where} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  assert.ok(statuses.includes(res.statusCode), `${ctx}\n  expected ${statuses.join(' or ')}`);
  assert.match(String(res.headers['content-type'] ?? ''), /^application\/json/, `${ctx}\n  content-type ${res.headers['content-type']}`);
  let body: Record<string, unknown>;
  try {
    body = res.json();
  } catch {
    assert.fail(`${ctx}\n  body is not JSON`);
  }
  const oauth = op ? isOAuthStyle(op, res.statusCode) : false;
  assert.deepEqual(Object.keys(body), oauth ? ['error', 'error_description', 'meta'] : ['meta'], `${ctx}\n  not the error envelope`);
  if (oauth) {
    assert.equal(typeof body.error, 'string', ctx);
    assert.ok(String(body.error_description).length > 0, ctx);
  }
  const meta = body.meta as Record<string, unknown>;
  assert.deepEqual(Object.keys(meta), ['success', 'http_code', 'developer_message', 'details', 'error_data'], ctx);
  assert.equal(meta.success, false, ctx);
  assert.equal(meta.http_code, res.statusCode, ctx);
  assert.equal(typeof meta.developer_message, 'string', ctx);
  assert.ok((meta.developer_message as string).length > 0, ctx);
  assert.ok(Array.isArray(meta.details) && meta.details.every((d) => typeof d === 'string'), ctx);
  const m = meta.developer_message as string;
  const data = meta.error_data as Meta['error_data'];
  assert.equal(typeof data?.code, 'string', ctx);
  assert.ok(data.code.length > 0, ctx);
  assert.deepEqual(data, { code: data.code, message: m, real_message: m, status: res.statusCode }, ctx);
  return meta as unknown as Meta;
}

/** True when the document gives this operation's error at `status` OAuth's shape (the token endpoint). */
export function isOAuthStyle(op: Operation, status: number): boolean {
  const schema = responseFor(op, status)?.response.content?.['application/json']?.schema as { properties?: Record<string, unknown> } | undefined;
  return Boolean(schema?.properties && 'error' in schema.properties && 'meta' in schema.properties);
}

// ---- operations and their cases -------------------------------------------------------------

export type Kind = 'partner' | 'admin' | 'public';

export interface Op {
  method: string;
  /** OpenAPI path, `/a/{b}`. */
  path: string;
  id: string;
  op: Operation;
  kind: Kind;
  pathParams: { name: string; schema: Schema }[];
  queryParams: { name: string; required: boolean; schema: Schema }[];
  /** The documented request body (JSON or CSV), if any. */
  body?: { types: string[]; schema?: Schema };
  key: string;
}

/** Who may call it, read from the document's `security` (ApiKeyAuth = partner, Bearer alone = admin). */
function kindOf(op: Operation): Kind {
  const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
  if (schemes.includes('ApiKeyAuth')) return 'partner';
  if (schemes.includes('BearerAuth')) return 'admin';
  return 'public';
}

export function opsOf(doc: OpenApiDocument): Op[] {
  return operationsOf(doc).map(({ method, path, op }) => {
    const params = op.parameters ?? [];
    const content = op.requestBody?.content;
    return {
      method,
      path,
      op,
      id: op.operationId ?? `${method} ${path}`,
      kind: kindOf(op),
      pathParams: params.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
      queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, required: p.required === true, schema: p.schema ?? {} })),
      body: content ? { types: Object.keys(content), schema: content['application/json']?.schema } : undefined,
      key: `${method} ${path}`,
    };
  });
}

export interface Body { payload: string | Buffer; contentType: string }
export const json = (v: unknown): Body => ({ payload: JSON.stringify(v), contentType: 'application/json' });
export const csv = (text: string): Body => ({ payload: text, contentType: 'text/csv' });

/** Tables whose rows the tests count (clients, channels and status_events, and the credential tables). */
export const TABLES = ['partners', 'api_keys', 'channel_api_keys', 'partner_users', 'clients', 'channels', 'status_events', 'registration_conflicts'] as const;
export type Table = (typeof TABLES)[number];

/**
 * How a body is read: `schema` = validated by the documented JSON schema (the oracle below
 * applies); `webhook` = raw bytes parsed by the handler; `csv` = a CSV upload.
 */
export type BodyKind = 'schema' | 'webhook' | 'csv';

export interface OpCase {
  /** Query parameters a valid request needs. */
  query?: (w: World) => Record<string, string>;
  /** A valid body (fresh on every call: unique ids, names). */
  body?: (w: World) => Body;
  bodyKind?: BodyKind;
  /** A valid body with every optional field too (default: `body`): the body tests vary each of its leaves. */
  fullBody?: (w: World) => Body;
  /** A body that changes nothing, for requests that probe the path or query (default: `body`). */
  probeBody?: (w: World) => Body;
  /** Rows a success adds, by table (a webhook: see `stored`). */
  creates?: Partial<Record<Table, number>>;
  /** String fields a success stores and returns exactly as sent. */
  literal?: string[];
  /** Status of a valid request (public operations are called without credentials). */
  ok: number;
  /** False when no injected value can ever succeed (the token endpoint: only real credentials). */
  injectedMaySucceed?: boolean;
}

let serial = 0;
export const unique = (prefix: string) => `${prefix}${process.pid}x${++serial}`;

const onPremStatus = () => ({ statuses: [status({ id: unique('wamid.SEC'), status: 'delivered', ts: 1762419990, recipient: '919876543210', pricing: { category: 'marketing', type: 'regular' } })] });

/**
 * One case per operationId of the document. A route added later needs a line here: `casesOf`
 * fails naming it until it has one.
 */
export const OPERATION_CASES: Record<string, OpCase> = {
  getHealth: { ok: 200 },
  getOpenApiDocument: { ok: 200 },
  createPartner: { ok: 201, body: () => json({ name: unique('partner ') }), bodyKind: 'schema', creates: { partners: 1, api_keys: 1 }, literal: ['name'] },
  getPartner: { ok: 200 },
  updatePartner: {
    ok: 200, bodyKind: 'schema', literal: ['name'], body: () => json({ name: unique('partner ') }),
    fullBody: () => json({ name: unique('partner '), webhook_url: 'https://hooks.example/wabameter', partner_redirect_url: 'https://partner.example/back', logo_url: 'https://partner.example/logo.png' }),
  },
  getPartnerWebhookUrl: { ok: 200 },
  setPartnerWebhookUrl: { ok: 200, bodyKind: 'schema', literal: ['webhook_url'], body: () => json({ webhook_url: `https://hooks.example/${unique('h')}` }) },
  listRegistrationConflicts: { ok: 200 },
  // A messaging provider's operations: every well-formed call answers 501.
  listMessageTemplates: { ok: 501 },
  createMessageTemplate: { ok: 501 },
  deleteMessageTemplate: { ok: 501 },
  requestChannelCancellation: { ok: 501 },
  sendMessage: { ok: 501 },
  sendMessageV1: { ok: 501 },
  uploadMedia: { ok: 501 },
  uploadMediaV1: { ok: 501 },
  getTemplatesConfig: { ok: 501 },
  setTemplatesConfig: { ok: 501 },
  getWebhookConfig: { ok: 501 },
  setWebhookConfig: { ok: 501 },
  listChannelApiKeys: { ok: 200 },
  createChannelApiKey: { ok: 201, bodyKind: 'schema', creates: { channel_api_keys: 1 }, literal: ['name'], body: () => json({ name: unique('reader ') }) },
  revokeChannelApiKeys: { ok: 200 },
  revokeChannelApiKey: { ok: 200 },
  listClients: { ok: 200 },
  createClient: {
    ok: 201, bodyKind: 'schema', creates: { clients: 1 }, literal: ['name'],
    body: () => json({ name: unique('client '), currency: 'USD', country: 'DE', payment_mode: 'direct' }),
    fullBody: () => json({
      name: unique('client '), currency: 'EUR', country: 'IN', payment_mode: 'partner', timezone: 'Asia/Kolkata', business_portfolio_id: 'BP-1',
      auth_international_eligibility: { start_time: 1719792000, exception_countries: [{ country_code: 'ID', start_time: 1717200000 }] },
    }),
  },
  listChannels: { ok: 200 },
  getClient: { ok: 200 },
  updateClient: {
    ok: 200, bodyKind: 'schema', literal: ['name'], body: () => json({ name: unique('renamed ') }),
    fullBody: () => json({ name: unique('renamed '), business_portfolio_id: 'BP-2', auth_international_eligibility: { start_time: 1719792000, exception_countries: [{ country_code: 'ID', start_time: 1717200000 }] } }),
  },
  listClientChannels: { ok: 200 },
  createChannel: {
    ok: 201, bodyKind: 'schema', creates: { channels: 1 },
    body: () => json({ phone_number: '+49 30 1234567', phone_number_id: unique('sec-'), waba_id: WABA, app_id: '214' }),
    fullBody: () => json({ phone_number: '+49 30 1234567', phone_number_id: unique('sec-'), waba_id: WABA, app_id: '214', timezone: 'Europe/Berlin' }),
  },
  getChannel: { ok: 200 },
  listApiKeys: { ok: 200 },
  createApiKey: { ok: 201, bodyKind: 'schema', creates: { api_keys: 1 }, literal: ['name'], body: () => json({ name: unique('key ') }) },
  revokeApiKey: { ok: 204 },
  createApiKeyAsAdmin: { ok: 201, bodyKind: 'schema', creates: { api_keys: 1 }, literal: ['name'], body: () => json({ name: unique('recovery ') }) },
  listPartnerUsers: { ok: 200 },
  createPartnerUser: {
    ok: 201, bodyKind: 'schema', creates: { partner_users: 1 }, literal: ['username'],
    // Not PASSWORD: a user the body tests create (named "-1", say) must not answer the token tests' logins.
    body: () => json({ username: `${unique('sec')}@example.com`, password: unique('Other-Passw0rd-') }),
  },
  revokePartnerUser: { ok: 204 },
  requestToken: {
    ok: 200, bodyKind: 'schema', injectedMaySucceed: false,
    body: (w) => json({ username: w.A.user.username, password: PASSWORD }),
    fullBody: (w) => json({ grant_type: 'password', username: w.A.user.username, password: PASSWORD }),
  },
  getClientCharges: { ok: 200 },
  getChannelCharges: { ok: 200 },
  getClientBalance: { ok: 200 },
  getChannelBalance: { ok: 200 },
  getChannelUsage: { ok: 200 },
  getClientTiers: { ok: 200 },
  listRateCards: { ok: 200 },
  uploadRateCard: { ok: 201, bodyKind: 'csv', query: () => ({ effective_from: '2026-10-01', unit: 'message' }), body: () => csv(META_CARD_USD) },
  listVolumeTiers: { ok: 200 },
  uploadVolumeTiers: { ok: 201, bodyKind: 'csv', query: () => ({ effective_from: '2026-10-01' }), body: () => csv(INDIA_UTILITY_TIERS) },
  verifyWebhook: { ok: 200, query: () => ({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }) },
  receiveWebhook: {
    ok: 200, bodyKind: 'webhook',
    body: (w) => json(envelope([status({ id: unique('wamid.SEC'), status: 'delivered', ts: 1762419990, recipient: '4915112345678', pricing: { category: 'utility', type: 'regular' } })], { phoneNumberId: w.A.channel.phone_number_id })),
    probeBody: () => json({ object: 'whatsapp_business_account', entry: [] }),
    // A status and a volume-tier announcement (account_update) in one notification.
    fullBody: () => {
      const body = JSON.parse(readFileSync(new URL('../fixtures/account-update/status_and_tier_update.json', import.meta.url), 'utf8'));
      body.entry[0].changes[0].value.statuses[0].id = unique('wamid.SEC');
      return json(body);
    },
  },
  receiveWebhookForPhoneNumber: {
    ok: 200, bodyKind: 'webhook', body: () => json(onPremStatus()), probeBody: () => json({ statuses: [] }),
    fullBody: () => json({ statuses: [status({ id: unique('wamid.SEC'), status: 'sent', ts: 1762419990, recipient: '919876543210', conv: { id: unique('conv'), exp: 1762506390, origin: 'marketing' }, pricing: { category: 'marketing', type: 'regular', model: 'PMP' } })] }),
  },
};

/** Every operation with its case; fails naming the operations that have none. */
export function casesOf(ops: Op[]): Map<Op, OpCase> {
  const missing = ops.filter((o) => !OPERATION_CASES[o.id]).map((o) => `${o.key} (operationId ${o.id})`);
  assert.deepEqual(missing, [], `operations of /openapi.json without a case in test/security/support.ts OPERATION_CASES:\n${missing.join('\n')}`);
  const incomplete: string[] = [];
  for (const o of ops) {
    const c = OPERATION_CASES[o.id];
    if (o.body && !c.body) incomplete.push(`${o.key}: documents a request body; the case gives none`);
    if (!o.body && c.body) incomplete.push(`${o.key}: the case gives a body the document does not`);
    for (const q of o.queryParams.filter((p) => p.required)) if (!c.query?.(WORLD_PLACEHOLDER)[q.name]) incomplete.push(`${o.key}: required query parameter ${q.name} has no value`);
    for (const p of o.pathParams) if (!PATH_FILLERS[p.name]) incomplete.push(`${o.key}: path parameter ${p.name} has no filler in PATH_FILLERS`);
  }
  assert.deepEqual(incomplete, [], incomplete.join('\n'));
  return new Map(ops.map((o) => [o, OPERATION_CASES[o.id]]));
}

// ---- the tenants the tests run against ------------------------------------------------------

export interface Tenant {
  partner: { id: string; api_key: string };
  key: Record<string, string>;
  /** The id of the partner's first key. */
  keyId: string;
  client: { id: string };
  channel: { id: string; phone_number_id: string };
  /** A second client of the same partner, with its own channel. */
  client2: { id: string };
  channel2: { id: string; phone_number_id: string };
  user: { id: string; username: string };
  bearer: Record<string, string>;
  /** A key of this partner that only DELETE …/api_keys/{key_id} probes aim at: it must stay live. */
  victim: { id: string; api_key: string };
  /** A channel API key of `channel`, for DELETE …/channels/{channel_id}/api_keys/{channel_key_id}. */
  channelKey: { id: string; api_key: string };
}

export interface World { A: Tenant; B: Tenant }

/** Only for `casesOf`'s check that required query parameters have values (they do not read the world). */
const WORLD_PLACEHOLDER = {} as World;

export async function call(app: FastifyInstance, method: string, url: string, headers: Record<string, string> = {}, body?: Body): Promise<LightMyRequestResponse> {
  return app.inject({
    method: method as 'GET',
    url,
    headers: { ...(body ? { 'content-type': body.contentType } : {}), ...headers },
    ...(body ? { payload: body.payload } : {}),
  });
}

async function ok(res: Promise<LightMyRequestResponse>, status: number) {
  const r = await res;
  assert.equal(r.statusCode, status, r.body.slice(0, 400));
  return r.body ? r.json() : undefined;
}

async function tenant(app: FastifyInstance, name: string): Promise<Tenant> {
  const partner = await ok(call(app, 'POST', '/admin/partners', ADMIN, json({ name })), 201);
  const key = { 'x-api-key': partner.api_key };
  const P = `/api/v2/partners/${partner.id}`;
  const keyId = (await ok(call(app, 'GET', `${P}/api_keys`, key), 200)).api_keys[0].id;
  const client = await ok(call(app, 'POST', `${P}/clients`, key, json({ name: `${name} client`, currency: 'USD', country: 'DE', payment_mode: 'direct' })), 201);
  const client2 = await ok(call(app, 'POST', `${P}/clients`, key, json({ name: `${name} client 2`, currency: 'EUR', country: 'IN', payment_mode: 'partner' })), 201);
  const channel = await ok(call(app, 'POST', `${P}/clients/${client.id}/channels`, key, OPERATION_CASES.createChannel.body!({} as World)), 201);
  const channel2 = await ok(call(app, 'POST', `${P}/clients/${client2.id}/channels`, key, OPERATION_CASES.createChannel.body!({} as World)), 201);
  const username = `${unique(name.toLowerCase())}@example.com`;
  const user = await ok(call(app, 'POST', `/admin/partners/${partner.id}/users`, ADMIN, json({ username, password: PASSWORD })), 201);
  const pair = await ok(call(app, 'POST', '/api/v2/token', {}, json({ username, password: PASSWORD })), 200);
  const victim = await ok(call(app, 'POST', `${P}/api_keys`, key, json({ name: 'victim' })), 201);
  const channelKey = await ok(call(app, 'POST', `${P}/channels/${channel.id}/api_keys`, key, json({ name: 'reader' })), 201);
  return { partner, key, keyId, client, channel, client2, channel2, user, bearer: { authorization: `Bearer ${pair.access_token}` }, victim, channelKey };
}

/** Partners A and B, each with two clients, a channel each, a user with a bearer token, keys; and a stored status for A's channel. */
export async function buildWorld(app: FastifyInstance): Promise<World> {
  const A = await tenant(app, 'Alpha');
  const B = await tenant(app, 'Bravo');
  const w = { A, B };
  await ok(call(app, 'POST', '/webhooks/whatsapp', {}, OPERATION_CASES.receiveWebhook.body!(w)), 200);
  return w;
}

// ---- path parameters --------------------------------------------------------------------------

export interface Filler {
  /** A resource id: one that does not exist, or is another partner's, is a 404. */
  resource: boolean;
  own(w: World): string;
  /** The same kind of id, of partner B. */
  other?(w: World): string;
  /** An id of this partner that is not under this path (a channel of the partner's other client). */
  sibling?(w: World): string;
  missing?: string;
}

export const PATH_FILLERS: Record<string, Filler> = {
  partner_id: { resource: true, own: (w) => w.A.partner.id, other: (w) => w.B.partner.id, missing: 'nonexistentPA' },
  client_id: { resource: true, own: (w) => w.A.client.id, other: (w) => w.B.client.id, missing: 'nonexistentCL' },
  channel_id: { resource: true, own: (w) => w.A.channel.id, other: (w) => w.B.channel.id, sibling: (w) => w.A.channel2.id, missing: 'nonexistentCH' },
  key_id: { resource: true, own: (w) => w.A.victim.id, other: (w) => w.B.victim.id, missing: 'nonexistentAK' },
  channel_key_id: { resource: true, own: (w) => w.A.channelKey.id, other: (w) => w.B.channelKey.id, missing: 'nonexistentCK' },
  user_id: { resource: true, own: (w) => w.A.user.id, other: (w) => w.B.user.id, missing: 'nonexistentPU' },
  // Ids in the paths of a messaging provider's operations (answered 501 whatever they name).
  waba_account_id: { resource: false, own: () => WABA },
  template_id: { resource: false, own: () => 'template1' },
  // Meta's phone number id of a webhook: any well-formed id is accepted (statuses of numbers not
  // registered yet are kept for replay), so it is no resource.
  phone_number_id: { resource: false, own: (w) => w.A.channel.phone_number_id },
};

/** The operation's URL with `values` for some path parameters (already encoded) and this partner's own ids for the rest. */
export function urlOf(o: Op, w: World, values: Record<string, string> = {}, query: Record<string, string | string[]> = {}): string {
  const path = o.path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? encodeURIComponent(PATH_FILLERS[name].own(w)));
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) qs.append(k, one);
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** Credentials of partner A for the operation: its key (partner routes), the admin token, or none. */
export function credsOf(o: Op, w: World, via: 'key' | 'bearer' = 'key'): Record<string, string> {
  if (o.kind === 'partner') return via === 'key' ? w.A.key : w.A.bearer;
  if (o.kind === 'admin') return ADMIN;
  return {};
}

// ---- what the document accepts ---------------------------------------------------------------

const ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: true, allowUnionTypes: true });
addFormats(ajv);
for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, check);
ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

function finite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(finite);
  if (v && typeof v === 'object') return Object.values(v).every(finite);
  return true;
}

/**
 * True when the documented schema accepts `value` the way the app's validator reads it (types
 * coerced: a query string "5" is an integer), and the coerced value is a finite, real value: a
 * limit of "1e309" coerces to Infinity, which no integer parameter means.
 */
export function schemaAccepts(schema: Schema | undefined, value: unknown): boolean {
  if (!schema) return true;
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) compiled.set(key, (validate = ajv.compile({ type: 'object', properties: { v: schema } })));
  const data = { v: structuredClone(value) };
  return validate(data) && finite(data.v);
}

// ---- the store ---------------------------------------------------------------------------------

export type Counts = Record<Table, number>;

export async function counts(services: Services): Promise<Counts> {
  const cols = TABLES.map((t) => sql`(select count(*) from ${sql.table(t)}) as ${sql.ref(t)}`);
  const { rows } = await sql<Record<Table, number | string>>`select ${sql.join(cols)}`.execute(services.store.db);
  return Object.fromEntries(TABLES.map((t) => [t, Number(rows[0][t])])) as Counts;
}

/** Everything a request could change in the tenant and credential tables, and how many statuses there are. */
export async function snapshot(services: Services): Promise<string> {
  const db = services.store.db;
  const parts: unknown[] = [await counts(services)];
  for (const t of ['partners', 'api_keys', 'partner_users', 'clients', 'channels'] as const) {
    const { rows } = await sql`select * from ${sql.table(t)} order by id`.execute(db);
    parts.push(rows);
  }
  return JSON.stringify(parts);
}

/** `after - before` for the tables that changed. */
export function delta(before: Counts, after: Counts): Partial<Record<Table, number>> {
  const d: Partial<Record<Table, number>> = {};
  for (const t of TABLES) if (after[t] !== before[t]) d[t] = after[t] - before[t];
  return d;
}

export async function loadDocument(app: FastifyInstance) {
  const doc = await fetchDocument(app);
  const ops = opsOf(doc);
  const cases = casesOf(ops);
  return { doc, ops, cases };
}

// ---- reporting every failure of a table, not only the first -----------------------------------

/** Collects the failures of many probes, so that one run reports them all. */
export class Failures {
  readonly list: string[] = [];

  async check(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.list.push(message.split('\n').filter((l) => l.trim() !== '').slice(0, 3).join(' | ').slice(0, 600));
    }
  }

  done(what: string): void {
    assert.ok(this.list.length === 0, `${what}: ${this.list.length} failure(s)\n${this.list.join('\n')}`);
  }
}

/** Fastify's default `maxParamLength`: a longer path parameter is refused by the router (414). */
export const MAX_PARAM_LENGTH = 100;
