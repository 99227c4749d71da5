/**
 * `/webhooks/whatsapp` over HTTP (Fastify `inject`), on SQLite and PostgreSQL:
 * - every real body under test/fixtures/webhooks/**.json, posted byte for byte, against an explicit
 *   expectation (status code and whole response body), then posted again (all duplicates);
 * - the Meta-docs bodies posted before their channel exists, counted once it is registered;
 * - X-Hub-Signature-256 with two app secrets (rotation), and everything that must be refused;
 * - Meta's verification handshake;
 * - bad input: every refusal is a 4xx in the Partner API's error envelope, never a 500, and
 *   stores nothing; partial batches keep the good statuses and name the refused ones.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { signBody } from '../../src/ingest/signature.ts';
import {
  ADMIN_TOKEN, addChannel, at, balance, DIALECTS, envelope, PNID, postWebhook, startApp, status, WABA,
  type TestApp, assertEnvelope } from '../helpers.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/webhooks/', import.meta.url));

/** Relative paths (with `/`) of every `.json` body under the fixtures folder, sorted. */
function jsonFixtures(dir = FIXTURES, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + e.name;
    if (e.isDirectory()) out.push(...jsonFixtures(join(dir, e.name), `${rel}/`));
    else if (e.name.endsWith('.json')) out.push(rel);
  }
  return out.sort();
}
const readFixture = (rel: string): Buffer => readFileSync(join(FIXTURES, rel));
const FIXTURE_FILES = jsonFixtures();

// ---- expectations -------------------------------------------------------------------------

type Ok = { kind: 'ok'; stored: number; messages: number; phoneNumberId: string | null };
type Err = { kind: 'error'; status: number; code: string; message: string; details: (string | RegExp)[] };

const ok = (phoneNumberId: string, stored: number, messages = 0): Ok => ({ kind: 'ok', stored, messages, phoneNumberId });
const incoming = (messages = 1): Ok => ({ kind: 'ok', stored: 0, messages, phoneNumberId: null });

/** One expectation per fixture body; a new fixture without one fails the suite. */
const EXPECTED: Record<string, Ok | Err> = {
  'bindambc-java/mediaUploadError.json': ok('409552778964973', 1),
  'bindambc-java/reEngagementMessageError.json': ok('109999999999999', 1),
  'bindambc-java/textMessageStatusDelivered.json': ok('409552778964973', 1),
  // Ends with a stray `{` after the object: invalid JSON, nothing stored.
  'bindambc-java/textMessageStatusRead.json': {
    kind: 'error', status: 400, code: 'invalid_json', message: 'request body is not valid JSON',
    // V8's wording (Node 20); later V8s append "(line … column …)".
    details: [/^Unexpected non-whitespace character after JSON at position 695\b/],
  },
  'bindambc-java/textMessageStatusSent.json': ok('409552778964973', 1),
  'meta-docs/incoming_text_ctwa_referral.json': incoming(),
  'meta-docs/incoming_text_plain.json': incoming(),
  'meta-docs/status_delivered_cbp_service__messages_overview.json': ok(PNID, 1),
  'meta-docs/status_delivered_pmp_marketing_bsuid_only.json': ok(PNID, 1),
  'meta-docs/status_delivered_pmp_marketing_bsuid_phone.json': ok(PNID, 1),
  'meta-docs/status_failed_131049.json': ok(PNID, 1),
  'meta-docs/status_sent_no_conversation_no_pricing__v24.json': ok(PNID, 1),
  'meta-docs/status_sent_pmp_marketing_regular__v23.json': ok(PNID, 1),
  'netflie-php/incoming_button_with_referral_and_context.json': incoming(),
  'netflie-php/status_delivered_cbp_authentication.json': ok('CUSTOMER_PHONE_NUMBER', 1),
  'netflie-php/status_delivered_cbp_marketing.json': ok('CUSTOMER_PHONE_NUMBER', 1),
  'netflie-php/status_delivered_cbp_marketing_2023.json': ok('PHONE_NUMBER_ID', 1),
  'netflie-php/status_delivered_cbp_service.json': ok('CUSTOMER_PHONE_NUMBER', 1),
  'netflie-php/status_delivered_cbp_utility.json': ok('CUSTOMER_PHONE_NUMBER', 1),
  'netflie-php/status_delivered_user_initiated_no_pricing.json': ok('PHONE_NUMBER_ID', 1),
  'netflie-php/status_failed_131053.json': ok('102944729380254', 1),
  'netflie-php/status_read_no_conversation.json': ok('CUSTOMER_PHONE_NUMBER', 1),
  'netflie-php/status_read_user_initiated_numeric_expiration.json': ok('PHONE_NUMBER_ID', 1),
  'piusalfred-go/status_sent_cbp_user_initiated.json': ok('999888777', 1),
  'pywa/incoming_text_with_ctwa_referral.json': incoming(),
  'pywa/status_delivered_cbp_service.json': ok('1122334455667', 1),
  'pywa/status_failed_130472__2023.json': ok('1122334455667', 1),
  'pywa/status_played_cbp_service.json': ok('1122334455667', 1),
  'pywa/status_read_cbp_service.json': ok('1122334455667', 1),
  'pywa/status_sent_cbp_service__2023.json': ok('1122334455667', 1),
  'pywa/status_sent_with_biz_opaque_callback_data.json': ok('1122334455667', 1),
  // `"timestamp": "TIMESTAMP"`: its only status is refused, so the body as a whole is a 400.
  'restfb-issue/restfb_issue_1240_status_sent_cbp_user_initiated.json': {
    kind: 'error', status: 400, code: 'invalid_statuses', message: 'No status in the body could be accepted',
    details: ['entry[0].changes[0].value.statuses[0]: timestamp must be unix seconds between 2000-01-01 and 2100-01-01, got "TIMESTAMP"'],
  },
};

// ---- helpers --------------------------------------------------------------------------------

/** Rows in the event log, all of them or one phone number's. */
async function eventCount(t: TestApp, phoneNumberId?: string): Promise<number> {
  let q = t.services.store.db.selectFrom('status_events').select((eb) => eb.fn.countAll<number>().as('n'));
  if (phoneNumberId !== undefined) q = q.where('phone_number_id', '=', phoneNumberId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/**
 * The response is exactly the Partner API's error envelope for `status`/`code`, with
 * `http_code` and `error_data.status` equal to the real status. `details` are compared
 * one by one (a RegExp matches a detail), or only checked to be strings when omitted.
 */

const okBody = (stored: number, duplicates: number, messages = 0, refused: { path: string; reason: string }[] = [], changes = 0, accountUpdates = 0) =>
  ({ success: true, stored, duplicates, account_updates: accountUpdates, refused, ignored: { messages, changes } });

const post = (t: TestApp, body: unknown, headers: Record<string, string> = {}) => postWebhook(t.app, body, headers);
const postRaw = (t: TestApp, payload: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, url = '/webhooks/whatsapp') =>
  t.app.inject({ method: 'POST', url, headers, payload });

/** A partner and one client, no channel yet (as a partner does before wiring webhooks). */
async function partnerAndClient(t: TestApp, country = 'DE') {
  const partner = (await t.app.inject({ method: 'POST', url: '/admin/partners', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'P' } })).json();
  const headers = { 'x-api-key': partner.api_key };
  const res = await t.app.inject({ method: 'POST', url: `/api/v2/partners/${partner.id}/clients`, headers, payload: { name: 'C', currency: 'USD', country, payment_mode: 'direct', timezone: 'UTC' } });
  assert.equal(res.statusCode, 201, res.body);
  return { partner, headers, client: res.json() };
}

/** A usage row with every field zero except `set` (the whole row is compared with deepEqual). */
function usageRow(periodDate: string, set: Record<string, number> = {}): Record<string, number | string> {
  const zero = [
    'authentication_paid_quantity', 'authentication_price', 'authentication_quantity',
    'marketing_paid_quantity', 'marketing_price', 'marketing_quantity',
    'service_paid_quantity', 'service_price', 'service_quantity',
    'utility_paid_quantity', 'utility_price', 'utility_quantity',
    'business_initiated_paid_quantity', 'business_initiated_price', 'business_initiated_quantity',
    'free_entry_point', 'free_quantity', 'free_tier', 'paid_quantity', 'period_date', 'quantity', 'total_price',
    'user_initiated_paid_quantity', 'user_initiated_price', 'user_initiated_quantity',
    'authentication_international_quantity', 'authentication_international_paid_quantity', 'authentication_international_price',
    'marketing_lite_quantity', 'marketing_lite_paid_quantity', 'marketing_lite_price',
    'other_quantity', 'other_paid_quantity', 'other_price',
    'unpriced_quantity', 'messages_sent', 'messages_delivered', 'unclassified_messages',
  ];
  const row: Record<string, number | string> = {};
  for (const k of zero) row[k] = k === 'period_date' ? periodDate : 0;
  for (const [k, v] of Object.entries(set)) {
    assert.ok(k in row, `unknown usage field ${k}`);
    row[k] = v;
  }
  return row;
}

// ---- tests ----------------------------------------------------------------------------------

test('every .json fixture has an expectation, and every expectation a fixture', () => {
  assert.deepEqual(FIXTURE_FILES, Object.keys(EXPECTED).sort());
});

for (const dialect of DIALECTS) {
  describe(`webhook fixtures, real bodies byte for byte [${dialect}]`, () => {
    for (const rel of FIXTURE_FILES) {
      test(rel, async () => {
        const expected = EXPECTED[rel];
        assert.ok(expected, `no expectation for ${rel}`);
        // A fresh store per body: several fixtures share message ids and would dedupe each other.
        const t = await startApp(dialect);
        try {
          const raw = readFixture(rel);
          const first = await postRaw(t, raw);
          const second = await postRaw(t, raw);
          if (expected.kind === 'error') {
            for (const res of [first, second]) {
              assertEnvelope(res, expected.status, expected.code, { message: expected.message, details: expected.details });
            }
            assert.equal(await eventCount(t), 0, 'a refused body stores nothing');
            return;
          }
          assert.equal(first.statusCode, 200, first.body);
          assert.deepEqual(first.json(), okBody(expected.stored, 0, expected.messages));
          // Meta's retry of the same body: every status is a duplicate, nothing new is stored.
          assert.equal(second.statusCode, 200, second.body);
          assert.deepEqual(second.json(), okBody(0, expected.stored, expected.messages));
          assert.equal(await eventCount(t), expected.stored);
          if (expected.phoneNumberId !== null) assert.equal(await eventCount(t, expected.phoneNumberId), expected.stored);
        } finally {
          await t.close();
        }
      });
    }

    test('meta-docs bodies posted before the channel exists are counted once it is registered', async () => {
      const t = await startApp(dialect);
      try {
        const tn = await partnerAndClient(t);
        const metaDocs = FIXTURE_FILES.filter((f) => f.startsWith('meta-docs/'));
        const replies: Record<string, unknown> = {};
        for (const rel of metaDocs) {
          const res = await postRaw(t, readFixture(rel));
          assert.equal(res.statusCode, 200, `${rel}: ${res.body}`);
          replies[rel] = res.json();
        }
        // The BSUID-only body and the one with the phone number describe the same status (same
        // wamid, status, time; the contact's country_code US and +1 650 both resolve to US), so the
        // second is a duplicate once the first is stored.
        assert.deepEqual(replies['meta-docs/status_delivered_pmp_marketing_bsuid_only.json'], okBody(1, 0));
        assert.deepEqual(replies['meta-docs/status_delivered_pmp_marketing_bsuid_phone.json'], okBody(0, 1));
        assert.equal(await eventCount(t, PNID), 5);

        // No channel claims the number yet: kept, not counted.
        assert.deepEqual((await balance(t.app, tn)).usage, []);

        const channel = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: PNID, wabaId: WABA });
        assert.equal(channel.replayed_statuses, 5);

        // What the meter does with these bodies (a US recipient, +1 650 555 1234; client USD):
        // - wamid …MUMxMAA= has three statuses: `sent` without pricing (v24), `sent` with a PMP
        //   marketing `regular` pricing and a conversation block (v23), and `delivered` PMP
        //   marketing `regular` at 1750030073 = 2025-06-15T23:27:53Z. That is before the PMP era
        //   (2025-07-01), but the meter classifies a message by its own `pricing.pricing_model`
        //   (message-unit.ts messageRole: PMP → per-message unit), not by the date: one delivered
        //   marketing message, charged (type regular, not free_*). No USD per-message rate card is
        //   in force on 2025-06-15 (the shipped cards start 2026-01-01), so the unit is paid but
        //   unpriced: marketing_paid_quantity 1, unpriced_quantity 1, price 0, never an invented rate.
        // - the CBP `service` conversation delivered 2025-06-18 (no expiration → opened at its first
        //   status) is free: service conversations are free from 2024-11-01 → free_tier 1.
        // - the `failed` status (131049, no pricing) is neither sent nor delivered usage; the
        //   incoming messages are ignored.
        const month = await balance(t.app, tn);
        assert.deepEqual(month.usage, [usageRow('2025-06-01T00:00:00Z', {
          quantity: 2, paid_quantity: 1, free_quantity: 1, free_tier: 1,
          marketing_quantity: 1, marketing_paid_quantity: 1,
          service_quantity: 1,
          unpriced_quantity: 1,
          messages_sent: 2, messages_delivered: 2,
        })]);
        const days = await balance(t.app, tn, 'granularity=day');
        assert.deepEqual(days.usage, [
          usageRow('2025-06-15T00:00:00Z', {
            quantity: 1, paid_quantity: 1, marketing_quantity: 1, marketing_paid_quantity: 1, unpriced_quantity: 1,
            messages_sent: 1, messages_delivered: 1,
          }),
          usageRow('2025-06-18T00:00:00Z', {
            quantity: 1, free_quantity: 1, free_tier: 1, service_quantity: 1, messages_sent: 1, messages_delivered: 1,
          }),
        ]);

        // Meta retrying every body after registration changes nothing.
        for (const rel of metaDocs) {
          const res = await postRaw(t, readFixture(rel));
          assert.equal(res.statusCode, 200);
          assert.equal(res.json().stored, 0, rel);
        }
        assert.deepEqual((await balance(t.app, tn)).usage, month.usage);
      } finally {
        await t.close();
      }
    });
  });

  describe(`webhook signatures, two app secrets [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect, { appSecrets: ['old', 'new'] }); });
    after(async () => { await t.close(); });

    let n = 0;
    /** A fresh one-status body as raw bytes, for its own phone number. */
    function body() {
      n++;
      const phoneNumberId = `${dialect}-sig-${n}`;
      const raw = Buffer.from(JSON.stringify(envelope([status({ id: `wamid.sig-${n}`, status: 'sent', ts: at('2026-02-10T10:00:00') })], { phoneNumberId })));
      return { raw, phoneNumberId };
    }
    const signed = (raw: Buffer, header: string | undefined) =>
      postRaw(t, raw, { 'content-type': 'application/json', ...(header === undefined ? {} : { 'x-hub-signature-256': header }) });

    async function refused(raw: Buffer, header: string | undefined, phoneNumberId: string) {
      const before = await eventCount(t);
      const res = await signed(raw, header);
      assertEnvelope(res, 401, 'invalid_signature', {
        message: 'X-Hub-Signature-256 is missing or does not match the body',
        details: ['The signature is sha256=<hex HMAC-SHA256 of the raw body with the app secret>'],
      });
      assert.equal(await eventCount(t), before, 'nothing stored');
      assert.equal(await eventCount(t, phoneNumberId), 0);
    }

    test('a body signed with the current secret is accepted', async () => {
      const b = body();
      const res = await signed(b.raw, signBody(b.raw, 'new'));
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), okBody(1, 0));
      assert.equal(await eventCount(t, b.phoneNumberId), 1);
    });

    test('a body signed with the previous secret is accepted (rotation)', async () => {
      const b = body();
      const res = await signed(b.raw, signBody(b.raw, 'old'));
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), okBody(1, 0));
      assert.equal(await eventCount(t, b.phoneNumberId), 1);
    });

    test('a signature with an upper-case hex digest is the same signature', async () => {
      const b = body();
      const sig = signBody(b.raw, 'new');
      const res = await signed(b.raw, `sha256=${sig.slice(7).toUpperCase()}`);
      assert.equal(res.statusCode, 200, res.body);
    });

    test('a signature made with another secret is refused with 401 and nothing is stored', async () => {
      const b = body();
      await refused(b.raw, signBody(b.raw, 'wrong'), b.phoneNumberId);
      await refused(b.raw, signBody(b.raw, ''), b.phoneNumberId);
      await refused(b.raw, signBody(b.raw, 'oldnew'), b.phoneNumberId);
    });

    test('a missing X-Hub-Signature-256 is refused with 401 and nothing is stored', async () => {
      const b = body();
      await refused(b.raw, undefined, b.phoneNumberId);
      await refused(b.raw, '', b.phoneNumberId);
    });

    test('malformed signature headers are refused with 401 and nothing is stored', async () => {
      const b = body();
      const good = signBody(b.raw, 'new');
      const hex = good.slice('sha256='.length);
      for (const header of [
        hex, // no prefix
        `sha1=${hex}`,
        'sha256=',
        `sha256=${hex.slice(0, 63)}`, // one digit short
        `sha256=${hex}0`, // one digit long
        `sha256=${'z'.repeat(64)}`,
        `sha256=${hex.slice(0, 62)}zz`, // Buffer.from(hex) would silently stop at "zz"
        `sha256=${hex},sha256=${hex}`,
        `sha256 ${hex}`,
        'garbage',
      ]) {
        await refused(b.raw, header, b.phoneNumberId);
      }
    });

    test('a signature of other bytes (the same JSON re-serialised) is refused with 401', async () => {
      const b = body();
      const pretty = Buffer.from(JSON.stringify(JSON.parse(b.raw.toString('utf8')), null, 2));
      assert.deepEqual(JSON.parse(pretty.toString()), JSON.parse(b.raw.toString()), 'same JSON value');
      await refused(pretty, signBody(b.raw, 'new'), b.phoneNumberId);
      await refused(b.raw, signBody(pretty, 'new'), b.phoneNumberId);
      await refused(Buffer.concat([b.raw, Buffer.from('\n')]), signBody(b.raw, 'new'), b.phoneNumberId);
    });

    test('the signature is checked before the body is read: unsigned garbage is a 401, signed garbage a 400', async () => {
      const garbage = Buffer.from('{"object": ');
      const before = await eventCount(t);
      assertEnvelope(await signed(garbage, undefined), 401, 'invalid_signature');
      assertEnvelope(await signed(garbage, signBody(garbage, 'old')), 400, 'invalid_json');
      assert.equal(await eventCount(t), before);
    });
  });

  describe(`verification handshake [${dialect}]`, () => {
    let t: TestApp;
    let off: TestApp;
    before(async () => {
      t = await startApp(dialect, { verifyToken: 'T' });
      off = await startApp(dialect);
    });
    after(async () => {
      await t.close();
      await off.close();
    });
    const get = (app: TestApp, query: string) => app.app.inject({ method: 'GET', url: `/webhooks/whatsapp?${query}` });

    test('the right token answers the challenge, exactly, with 200', async () => {
      const res = await get(t, 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=T');
      assert.equal(res.statusCode, 200);
      assert.equal(res.body, '1158201444');
      assert.match(String(res.headers['content-type']), /^text\/plain/);
    });

    test('a wrong token is a 403 envelope', async () => {
      for (const q of ['hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=X', 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=t', 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=', 'hub.mode=subscribe&hub.challenge=1158201444']) {
        const res = await get(t, q);
        assertEnvelope(res, 403, 'verification_failed', { message: 'hub.mode must be "subscribe" and hub.verify_token must match WHATSAPP_VERIFY_TOKEN' });
        assert.ok(!res.body.includes('1158201444'), 'the challenge is not echoed');
      }
    });

    test('a wrong mode is a 403 envelope', async () => {
      for (const q of ['hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=T', 'hub.challenge=1158201444&hub.verify_token=T', 'hub.mode=SUBSCRIBE&hub.challenge=1158201444&hub.verify_token=T']) {
        assertEnvelope(await get(t, q), 403, 'verification_failed');
      }
    });

    test('without a configured verify token every handshake is a 403 envelope', async () => {
      for (const q of ['hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=T', 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=', 'hub.mode=subscribe&hub.challenge=1158201444']) {
        assertEnvelope(await get(off, q), 403, 'verification_disabled', { message: 'Webhook verification is not configured: set WHATSAPP_VERIFY_TOKEN' });
      }
    });
  });

  describe(`bad input [${dialect}]`, () => {
    let t: TestApp;
    let small: TestApp;
    before(async () => {
      t = await startApp(dialect);
      small = await startApp(dialect, { webhookBodyLimit: 64 * 1024 });
    });
    after(async () => {
      await t.close();
      await small.close();
    });

    /** Posts `payload`, expects the envelope for status/code, and that nothing was stored. */
    async function rejects(payload: string | Buffer, status: number, code: string, expect: { message?: string | RegExp; details?: (string | RegExp)[]; app?: TestApp; headers?: Record<string, string>; url?: string } = {}) {
      const app = expect.app ?? t;
      const before = await eventCount(app);
      const res = await postRaw(app, payload, expect.headers ?? { 'content-type': 'application/json' }, expect.url);
      assert.ok(res.statusCode < 500, `never a 5xx: ${res.statusCode} ${res.body}`);
      const meta = assertEnvelope(res, status, code, expect);
      assert.equal(await eventCount(app), before, 'nothing stored');
      return meta;
    }

    const ts = at('2026-02-10T10:00:00');
    const good = (id: string) => status({ id, status: 'delivered', ts, pricing: { model: 'PMP', type: 'regular', category: 'utility' } });
    const S = 'entry[0].changes[0].value.statuses';

    test('malformed JSON → 400 invalid_json', async () => {
      await rejects('{"object": "whatsapp_business_account", "entry": [', 400, 'invalid_json', { message: 'request body is not valid JSON', details: [/JSON/] });
      await rejects("{'object': 'whatsapp_business_account'}", 400, 'invalid_json');
      await rejects('{"object": "whatsapp_business_account", "entry": []}}', 400, 'invalid_json');
      await rejects(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, 'invalid_json');
    });

    test('an empty body → 400 empty_body', async () => {
      await rejects('', 400, 'empty_body');
      await rejects(' \r\n\t ', 400, 'empty_body', { message: 'request body is empty', details: ['5 byte(s), none of them JSON'] });
      await rejects('', 400, 'empty_body', { headers: {} });
    });

    test('null, [], 42 and a string → 400 invalid_shape', async () => {
      await rejects('null', 400, 'invalid_shape', { message: 'webhook body must be a JSON object, got null', details: [] });
      await rejects('[]', 400, 'invalid_shape', { message: 'webhook body must be a JSON object, got an array', details: [] });
      await rejects('42', 400, 'invalid_shape', { message: 'webhook body must be a JSON object, got a number', details: [] });
      await rejects('"whatsapp_business_account"', 400, 'invalid_shape', { message: 'webhook body must be a JSON object, got a string' });
      await rejects('{}', 400, 'invalid_shape', { details: ['top-level keys: (none)'] });
    });

    test('a non-Meta object ("page") → 400 unsupported_object', async () => {
      const page = { ...envelope([good('wamid.page')]), object: 'page' };
      await rejects(JSON.stringify(page), 400, 'unsupported_object', {
        message: 'unsupported webhook object "page"; expected "whatsapp_business_account"',
        details: ['object: "page"'],
      });
      await rejects(JSON.stringify({ ...page, object: 42 }), 400, 'unsupported_object');
    });

    test('entry that is not an array → 400 invalid_shape', async () => {
      const e = envelope([good('wamid.entry')]);
      await rejects(JSON.stringify({ ...e, entry: e.entry[0] }), 400, 'invalid_shape', { message: 'entry must be an array, got an object' });
      await rejects(JSON.stringify({ ...e, entry: 'x' }), 400, 'invalid_shape', { message: 'entry must be an array, got a string' });
      await rejects(JSON.stringify({ object: 'whatsapp_business_account' }), 400, 'invalid_shape', { message: 'entry must be an array, got nothing' });
    });

    test('statuses with wrong types → 400 invalid_statuses naming each refused path', async () => {
      const base = { timestamp: String(ts), recipient_id: '4915112345678' };
      const body = envelope([
        { ...base, id: 5, status: 'sent' },
        { ...base, id: 'w1', status: 7 },
        { ...base, id: 'w2', status: 'sent', timestamp: 1.5 },
        { ...base, id: 'w3', status: 'sent', pricing: 'CBP' },
        { ...base, id: 'w4', status: 'sent', conversation: [] },
        { ...base, id: 'w5', status: 'sent', recipient_id: 4915112345678 },
        { ...base, id: 'w6', status: 'failed', errors: 'boom' },
        { ...base, id: 'w7', status: 'sent', pricing: { billable: 'maybe' } },
        'not a status',
      ] as Record<string, unknown>[]);
      await rejects(JSON.stringify(body), 400, 'invalid_statuses', {
        message: 'No status in the body could be accepted',
        details: [
          `${S}[0]: id must be a non-empty string, got 5`,
          `${S}[1]: status must be a non-empty string, got 7`,
          `${S}[2]: timestamp must be unix seconds between 2000-01-01 and 2100-01-01, got 1.5`,
          `${S}[3]: pricing must be an object, got a string`,
          `${S}[4]: conversation must be an object, got an array`,
          `${S}[5]: recipient_id must be a string, got a number`,
          `${S}[6]: errors must be an array, got a string`,
          `${S}[7]: pricing.billable must be a boolean, got "maybe"`,
          `${S}[8]: status is not an object (got a string)`,
        ],
      });
      const notArray = { object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [{ field: 'messages', value: { metadata: { phone_number_id: PNID }, statuses: {} } }] }] };
      await rejects(JSON.stringify(notArray), 400, 'invalid_statuses', { details: [`${S}: statuses must be an array, got an object`] });
      const noMetadata = { object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [{ field: 'messages', value: { statuses: [good('wamid.nometa')] } }] }] };
      await rejects(JSON.stringify(noMetadata), 400, 'invalid_statuses', { details: [`${S}[0]: metadata must be an object carrying phone_number_id, got nothing`] });
    });

    test('placeholder timestamps ("TIMESTAMP") → 400 invalid_statuses', async () => {
      const placeholder = { id: 'wamid.ph', status: 'sent', timestamp: 'TIMESTAMP', recipient_id: 'PHONE_NUMBER' };
      await rejects(JSON.stringify(envelope([placeholder])), 400, 'invalid_statuses', {
        details: [`${S}[0]: timestamp must be unix seconds between 2000-01-01 and 2100-01-01, got "TIMESTAMP"`],
      });
      const expiration = { ...good('wamid.exp'), conversation: { id: 'c', expiration_timestamp: 'TIMESTAMP', origin: { type: 'utility' } } };
      await rejects(JSON.stringify(envelope([expiration])), 400, 'invalid_statuses', {
        details: [`${S}[0]: conversation.expiration_timestamp must be unix seconds between 2000-01-01 and 2100-01-01, got "TIMESTAMP"`],
      });
      // Milliseconds and zero are placeholders too.
      await rejects(JSON.stringify(envelope([{ ...good('wamid.ms'), timestamp: String(ts * 1000) }])), 400, 'invalid_statuses');
      await rejects(JSON.stringify(envelope([{ ...good('wamid.zero'), timestamp: '0' }])), 400, 'invalid_statuses');
    });

    test('a body over the limit → 413', async () => {
      const statuses = [];
      for (let i = 0; i < 40; i++) statuses.push({ ...good(`wamid.big-${i}`), biz_opaque_callback_data: 'x'.repeat(2500) });
      const big = JSON.stringify(envelope(statuses));
      assert.ok(Buffer.byteLength(big) >= 100 * 1024, `${Buffer.byteLength(big)} bytes`);
      await rejects(big, 413, 'payload_too_large', { app: small, message: 'Request body is too large' });
      // The same body fits the default limit.
      const res = await postRaw(t, big);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().stored, 40);
    });

    test('nesting 10,000 deep → 400 too_deep', async () => {
      await rejects('['.repeat(10_000) + ']'.repeat(10_000), 400, 'too_deep', { message: 'JSON nesting exceeds 64 levels' });
      await rejects('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), 400, 'too_deep');
      // Unclosed: the depth guard stops it before JSON.parse is asked.
      await rejects('['.repeat(10_000), 400, 'too_deep');
    });

    test('a text/plain (or missing) content type with a JSON body is accepted: the webhook reads raw bytes whatever the type', async () => {
      for (const [i, headers] of ([{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}] as Record<string, string>[]).entries()) {
        const phoneNumberId = `${dialect}-ctype-${i}`;
        const res = await postRaw(t, JSON.stringify(envelope([good(`wamid.ctype-${i}`)], { phoneNumberId })), headers);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), okBody(1, 0));
        assert.equal(await eventCount(t, phoneNumberId), 1);
      }
    });

    test('a batch of 3 with the middle status bad → 200, the other 2 stored, the bad one refused by path', async () => {
      const phoneNumberId = `${dialect}-batch3`;
      const body = envelope([good('wamid.b1'), { ...good('wamid.b2'), timestamp: 'TIMESTAMP' }, good('wamid.b3')], { phoneNumberId });
      const res = await post(t, body);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), okBody(2, 0, 0, [
        { path: `${S}[1]`, reason: 'timestamp must be unix seconds between 2000-01-01 and 2100-01-01, got "TIMESTAMP"' },
      ]));
      assert.equal(await eventCount(t, phoneNumberId), 2);
      // Retried as is: the good two are duplicates, the bad one is refused again.
      const again = await post(t, body);
      assert.deepEqual(again.json(), okBody(0, 2, 0, res.json().refused));
      assert.equal(await eventCount(t, phoneNumberId), 2);
    });

    test('a 3 MB body of 1,000 statuses → 200 and 1,000 stored', async () => {
      const phoneNumberId = `${dialect}-3mb`;
      const statuses = [];
      for (let i = 0; i < 1000; i++) {
        statuses.push({ ...status({ id: `wamid.3mb-${i}`, status: 'delivered', ts: ts + i, pricing: { model: 'PMP', type: 'regular', category: 'marketing' } }), biz_opaque_callback_data: 'p'.repeat(3000) });
      }
      const raw = Buffer.from(JSON.stringify(envelope(statuses, { phoneNumberId })));
      assert.ok(raw.length >= 3 * 1024 * 1024, `${raw.length} bytes`);
      const res = await postRaw(t, raw);
      assert.equal(res.statusCode, 200, res.body.slice(0, 500));
      assert.deepEqual(res.json(), okBody(1000, 0));
      assert.equal(await eventCount(t, phoneNumberId), 1000);
    });

    test('an On-Premises body (top-level statuses) needs the phone number id in the URL', async () => {
      const phoneNumberId = `${dialect}-onprem`;
      const onPrem = JSON.stringify({ statuses: [
        { id: 'gBEGkYiEB1VXAglK1ZEqA1YKPrU', status: 'delivered', timestamp: String(ts), recipient_id: '4915112345678' },
        { id: 'gBEGkYiEB1VXAglK1ZEqA1YKPrV', status: 'read', timestamp: String(ts + 60), recipient_id: '4915112345678' },
      ] });
      await rejects(onPrem, 400, 'phone_number_id_required', {
        message: 'On-Premises webhook bodies carry no phone_number_id: post them to /webhooks/whatsapp/{phone_number_id}',
      });
      const res = await postRaw(t, onPrem, { 'content-type': 'application/json' }, `/webhooks/whatsapp/${phoneNumberId}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), okBody(2, 0));
      const rows = await t.services.store.db.selectFrom('status_events').select(['phone_number_id', 'waba_id', 'status', 'country'])
        .where('phone_number_id', '=', phoneNumberId).orderBy('seq').execute();
      assert.deepEqual(rows, [
        { phone_number_id: phoneNumberId, waba_id: null, status: 'delivered', country: 'DE' },
        { phone_number_id: phoneNumberId, waba_id: null, status: 'read', country: 'DE' },
      ]);
      // A malformed id in the URL is a 400, not a store write.
      await rejects(onPrem, 400, 'invalid_parameter', { url: '/webhooks/whatsapp/not%20an%20id' });
    });

    test('after all the bad input the process still answers /healthz', async () => {
      for (const app of [t, small]) {
        const res = await app.app.inject({ method: 'GET', url: '/healthz' });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { status: 'ok' });
      }
    });
  });
}
