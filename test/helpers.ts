/**
 * Test scaffolding: real stores (a fresh SQLite file, or a fresh PostgreSQL schema), the real
 * app, and builders for webhook bodies shaped like Meta's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/api/app.ts';
import { createServices, type Services } from '../src/services.ts';
import type { RateBook } from '../src/billing/rate-cards.ts';
import type { RateLimitRule, RateLimitStore } from '../src/api/rate-limit.ts';
import type { AuthSettings } from '../src/auth/auth-service.ts';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Every store the suite runs against (Kysely's own tests loop the same way). */
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type TestDialect = (typeof DIALECTS)[number];

export interface TestStore {
  url: string;
  cleanup(): Promise<void>;
}

let counter = 0;

export async function freshStore(dialect: TestDialect): Promise<TestStore> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'wabameter-'));
    return { url: `sqlite:${join(dir, 'test.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_${process.pid}_${Date.now()}_${counter++}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    url,
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  };
}

export const ADMIN_TOKEN = 'test-admin-token';

export interface TestApp {
  services: Services;
  app: FastifyInstance;
  /** The store's URL (a second service may open it, as another process would). */
  url: string;
  close(): Promise<void>;
}

/** The suite's balance rate limit: generous, so tests that read balances often are not refused. */
export const TEST_BALANCE_RATE_LIMIT: RateLimitRule = { limit: 100_000, windowMs: 30_000 };

export interface StartAppOptions {
  appSecrets?: string[];
  verifyToken?: string;
  rates?: RateBook;
  webhookBodyLimit?: number;
  /** Limit on `…/info/balance` (default TEST_BALANCE_RATE_LIMIT; null = none; the service's default is 5 per 30 s). */
  balanceRateLimit?: RateLimitRule | null;
  /** Counter store of that limit (default: the process's memory). */
  rateLimitStore?: RateLimitStore;
  /** Clock in milliseconds for the rate limit and token expiry (default Date.now). */
  nowMs?: () => number;
  /** Token lifetimes in seconds. */
  auth?: Partial<AuthSettings>;
  logLevel?: string;
  logStream?: { write(line: string): unknown };
}

export async function startApp(dialect: TestDialect, opts: StartAppOptions = {}): Promise<TestApp> {
  const store = await freshStore(dialect);
  const services = await createServices({ databaseUrl: store.url, rates: opts.rates, auth: { ...opts.auth, nowMs: opts.nowMs } });
  const app = await buildApp(services, {
    adminToken: ADMIN_TOKEN,
    appSecrets: opts.appSecrets ?? [],
    verifyToken: opts.verifyToken ?? null,
    webhookBodyLimit: opts.webhookBodyLimit ?? 16 * 1024 * 1024,
    balanceRateLimit: opts.balanceRateLimit === undefined ? TEST_BALANCE_RATE_LIMIT : opts.balanceRateLimit,
    rateLimitStore: opts.rateLimitStore,
    nowMs: opts.nowMs,
    logLevel: opts.logLevel,
    logStream: opts.logStream,
  });
  return {
    services,
    app,
    url: store.url,
    async close() {
      await app.close();
      await services.close();
      await store.cleanup();
    },
  };
}

/** Loads a volume-tier table through the admin API (as an operator would), in force from `effectiveFrom`. */
export async function loadVolumeTiers(app: FastifyInstance, csv: string, effectiveFrom = '2026-10-01'): Promise<void> {
  const res = await app.inject({
    method: 'POST', url: `/admin/volume-tiers?effective_from=${effectiveFrom}`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' }, payload: csv,
  });
  if (res.statusCode !== 201) throw new Error(`volume tiers not loaded: ${res.statusCode} ${res.body}`);
}

/** A partner with one client and one channel, created through the API. */
export async function seedTenant(app: FastifyInstance, opts: { phoneNumberId?: string; wabaId?: string; timezone?: string; currency?: string; country?: string; appId?: string } = {}) {
  const partner = (await app.inject({ method: 'POST', url: '/admin/partners', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'P' } })).json();
  const headers = { 'x-api-key': partner.api_key };
  const client = (await app.inject({
    method: 'POST', url: `/api/v2/partners/${partner.id}/clients`, headers,
    payload: { name: 'C', currency: opts.currency ?? 'USD', country: opts.country ?? 'DE', payment_mode: 'direct', timezone: opts.timezone ?? 'UTC' },
  })).json();
  const channel = await addChannel(app, partner, client.id, opts);
  return { partner, headers, client, channel };
}

export async function addChannel(app: FastifyInstance, partner: { id: string; api_key: string }, clientId: string, opts: { phoneNumberId?: string; wabaId?: string; timezone?: string; appId?: string } = {}) {
  const res = await app.inject({
    method: 'POST', url: `/api/v2/partners/${partner.id}/clients/${clientId}/channels`, headers: { 'x-api-key': partner.api_key },
    payload: { phone_number: '+4930123456', phone_number_id: opts.phoneNumberId ?? PNID, waba_id: opts.wabaId ?? WABA, app_id: opts.appId ?? '214', ...(opts.timezone ? { timezone: opts.timezone } : {}) },
  });
  if (res.statusCode !== 201) throw new Error(`channel not created: ${res.body}`);
  return res.json();
}

export const PNID = '106540352242922';
export const WABA = '102290129340398';

/** Unix seconds of an ISO date-time (UTC unless it says otherwise). */
export const at = (iso: string) => Math.floor(Date.parse(iso.endsWith('Z') || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`) / 1000);
export const H = 3600;

export interface StatusSpec {
  id: string;
  status: string;
  ts: number;
  recipient?: string;
  conv?: { id: string; exp?: number | string; origin?: string };
  pricing?: { model?: string; type?: string; category?: string; billable?: boolean };
}

export function status(s: StatusSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { id: s.id, status: s.status, timestamp: String(s.ts), recipient_id: s.recipient ?? '4915112345678' };
  if (s.conv) {
    out.conversation = {
      id: s.conv.id,
      ...(s.conv.exp != null ? { expiration_timestamp: s.conv.exp } : {}),
      origin: { type: s.conv.origin ?? s.pricing?.category ?? 'marketing' },
    };
  }
  if (s.pricing) {
    out.pricing = {
      billable: s.pricing.billable ?? true,
      pricing_model: s.pricing.model ?? 'PMP',
      ...(s.pricing.type ? { type: s.pricing.type } : {}),
      category: s.pricing.category ?? 'marketing',
    };
  }
  return out;
}

export function envelope(statuses: Record<string, unknown>[], opts: { phoneNumberId?: string; wabaId?: string } = {}) {
  return {
    object: 'whatsapp_business_account',
    entry: [{
      id: opts.wabaId ?? WABA,
      changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: opts.phoneNumberId ?? PNID }, statuses } }],
    }],
  };
}

/** A Cloud API body with `count` statuses, each padded with `padding` bytes of callback data (3 MB ≈ 1,000 × 2,700). */
export function largeWebhookBody(count: number, padding: number): Buffer {
  const statuses = Array.from({ length: count }, (_, i) => ({
    id: `wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA${i}=`,
    status: ['sent', 'delivered', 'read'][i % 3],
    timestamp: String(1750030073 + i),
    recipient_id: `1650555${String(i).padStart(4, '0')}`,
    biz_opaque_callback_data: 'x'.repeat(padding),
    conversation: { id: `conv${i}`, expiration_timestamp: String(1750116480 + i), origin: { type: 'marketing' } },
    pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' },
  }));
  return Buffer.from(JSON.stringify(envelope(statuses)));
}

export async function postWebhook(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
}

/** Balance of the seeded client, all time, by month unless asked otherwise. */
export async function balance(app: FastifyInstance, t: { partner: { id: string }; headers: Record<string, string>; client: { id: string } }, query = 'granularity=month') {
  const res = await app.inject({ method: 'GET', url: `/api/v2/partners/${t.partner.id}/clients/${t.client.id}/info/balance?${query}`, headers: t.headers });
  if (res.statusCode !== 200) throw new Error(`balance ${res.statusCode}: ${res.body}`);
  return res.json();
}

/** The sum of every usage row's numeric fields. */
export function totals(b: { usage: Record<string, unknown>[] }): Record<string, number> {
  const t: Record<string, number> = {};
  for (const row of b.usage) {
    for (const [k, v] of Object.entries(row)) if (typeof v === 'number') t[k] = Math.round(((t[k] ?? 0) + v) * 1e6) / 1e6;
  }
  return t;
}

/**
 * Asserts a response is the Partner API's error envelope with this status (and code, message,
 * details when given), exactly: no other top-level fields, `http_code` equal to the status.
 */
export interface EnvelopeMeta {
  success: false;
  http_code: number;
  developer_message: string;
  details: string[];
  error_data: { code: string; message: string; real_message: string; status: number };
}

export function assertEnvelope(
  res: LightMyRequestResponse, status: number, code?: string,
  expect: { message?: string | RegExp; details?: (string | RegExp)[] } = {},
): EnvelopeMeta {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['meta'], res.body);
  const meta: EnvelopeMeta = body.meta;
  assert.deepEqual(Object.keys(meta), ['success', 'http_code', 'developer_message', 'details', 'error_data']);
  assert.equal(meta.success, false);
  assert.equal(meta.http_code, status);
  assert.equal(typeof meta.developer_message, 'string');
  assert.ok(meta.developer_message.length > 0);
  assert.ok(Array.isArray(meta.details));
  for (const d of meta.details) assert.equal(typeof d, 'string');
  if (code !== undefined) assert.equal(meta.error_data.code, code);
  assert.deepEqual(meta.error_data, { code: meta.error_data.code, message: meta.developer_message, real_message: meta.developer_message, status });
  if (expect.message instanceof RegExp) assert.match(meta.developer_message, expect.message);
  else if (expect.message !== undefined) assert.equal(meta.developer_message, expect.message);
  if (expect.details) {
    assert.equal(meta.details.length, expect.details.length, JSON.stringify(meta.details));
    expect.details.forEach((d, i) => (d instanceof RegExp ? assert.match(meta.details[i], d) : assert.equal(meta.details[i], d)));
  }
  return meta;
}
