/**
 * Tests for parseWebhook: every real payload under test/fixtures/webhooks against an explicit
 * expectation, then malformed and adversarial bodies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BodyError, parseJsonBody } from '../../src/ingest/json-body.ts';
import { parseWebhook, WebhookShapeError, type ParsedWebhook } from '../../src/ingest/webhook.ts';
import type { NormalizedStatus } from '../../src/ingest/status.ts';
import { largeWebhookBody } from '../helpers.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/webhooks/', import.meta.url));
const MAX_DEPTH = 64;

/** Relative paths (with `/`) of every fixture body, README excluded, sorted. */
function fixtureFiles(dir = FIXTURES, prefix = ''): string[] {
  const files: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + e.name;
    if (e.isDirectory()) files.push(...fixtureFiles(join(dir, e.name), `${rel}/`));
    else if (rel !== 'README.md') files.push(rel);
  }
  return files.sort();
}

const readFixture = (rel: string): Buffer => readFileSync(join(FIXTURES, rel));

// ---------------------------------------------------------------------------------------------
// Expectations, one per fixture file. Absent fields default to "absent" (null / []); every row
// is compared with deepStrictEqual on the whole NormalizedStatus, so any field regressing fails.

type Identity = Pick<NormalizedStatus, 'phoneNumberId' | 'wabaId' | 'messageId' | 'status' | 'timestamp' | 'recipient'>;

function st(fields: Identity & Partial<NormalizedStatus>): NormalizedStatus {
  return {
    recipientCountryHint: null,
    conversationId: null,
    conversationExpiration: null,
    conversationOrigin: null,
    pricingModel: null,
    pricingBillable: null,
    pricingType: null,
    pricingCategory: null,
    errorCodes: [],
    ...fields,
  };
}

function cbp(category: string, conversationId: string, conversationExpiration: number | null = null) {
  return {
    conversationId,
    conversationExpiration,
    conversationOrigin: category,
    pricingModel: 'CBP',
    pricingBillable: true,
    pricingType: null,
    pricingCategory: category,
  } satisfies Partial<NormalizedStatus>;
}

type Expectation =
  | { kind: 'invalid_json' }
  | {
      kind: 'webhook';
      statuses: NormalizedStatus[];
      refused?: Array<{ path: string; reason: RegExp[] }>;
      ignored?: { messages: number; changes: number };
    }
  | {
      kind: 'pricing_fragment';
      expect: Pick<
        NormalizedStatus,
        'conversationId' | 'conversationOrigin' | 'pricingModel' | 'pricingBillable' | 'pricingType' | 'pricingCategory'
      >;
    };

const BINDAMBC = { phoneNumberId: '409552778964973', wabaId: '880480571844883' };
const BINDAMBC_WAMID = 'wamid.nBgN6TUyN2k5NzAzM5kzNhUCABI8FDNFQjAxQkE5REI4NEUzQ5Y5QTNgAA==';
const META = { phoneNumberId: '106540352242922', wabaId: '102290129340398' };
const META_PMP_WAMID = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=';
const NETFLIE_108 = { phoneNumberId: 'CUSTOMER_PHONE_NUMBER', wabaId: '108536708899139' };
const NETFLIE_PLACEHOLDER = { phoneNumberId: 'PHONE_NUMBER_ID', wabaId: 'WHATSAPP_BUSINESS_ACCOUNT_ID' };
const PYWA = { phoneNumberId: '1122334455667', wabaId: '5467539754836534', messageId: 'wamid.xyzxyz', recipient: '972987654321' };
const PYWA_CONV = '7270432eae37498234f4444b35ffc5';
const INCOMING_ONLY: Expectation = { kind: 'webhook', statuses: [], ignored: { messages: 1, changes: 0 } };

const EXPECTED: Record<string, Expectation> = {
  'bindambc-java/mediaUploadError.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...BINDAMBC,
        messageId: 'wamid.HBgNNTUyNzk5NzAUZBQTI3MzRGRDA3MjgzMDkzNhUCABEYEjNCR2OQA=',
        status: 'failed',
        timestamp: 1677783372,
        recipient: '1111111111111',
        errorCodes: [131053],
      }),
    ],
  },
  'bindambc-java/reEngagementMessageError.json': {
    kind: 'webhook',
    statuses: [
      st({
        phoneNumberId: '109999999999999',
        wabaId: '111111111111111',
        messageId: 'wamid.HBgNN5NzAzMDkTUyNzkzNhUEjA1MjUwNCAUIyNEYUQ0OTVGNTY0MwA=',
        status: 'failed',
        timestamp: 1682651887,
        recipient: '5511111111111',
        errorCodes: [131047],
      }),
    ],
  },
  'bindambc-java/textMessageStatusDelivered.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...BINDAMBC,
        messageId: BINDAMBC_WAMID,
        status: 'delivered',
        timestamp: 1673020317,
        recipient: '1111111111111',
        ...cbp('business_initiated', '8eb644d2350611f3746e7f0985bddfc1'),
      }),
    ],
  },
  // Ends with a stray `{` after the closing brace.
  'bindambc-java/textMessageStatusRead.json': { kind: 'invalid_json' },
  'bindambc-java/textMessageStatusSent.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...BINDAMBC,
        messageId: BINDAMBC_WAMID,
        status: 'sent',
        timestamp: 1673020317,
        recipient: '1111111111111',
        ...cbp('business_initiated', '8eb644d2350611f3746e7f0985bddfc1', 1673031000),
      }),
    ],
  },

  'meta-docs-pricing-fragments/conversation_and_pricing_pmp_marketing_lite.txt': {
    kind: 'pricing_fragment',
    expect: {
      conversationId: '<CONVERSATION_ID>',
      conversationOrigin: 'marketing_lite',
      pricingModel: 'PMP',
      pricingBillable: true,
      pricingType: null,
      pricingCategory: 'marketing_lite',
    },
  },
  'meta-docs-pricing-fragments/pricing_pmp_free_customer_service_service.txt': {
    kind: 'pricing_fragment',
    expect: {
      conversationId: null,
      conversationOrigin: null,
      pricingModel: 'PMP',
      pricingBillable: false,
      pricingType: 'free_customer_service',
      pricingCategory: 'service',
    },
  },
  'meta-docs-pricing-fragments/pricing_pmp_free_customer_service_utility.txt': {
    kind: 'pricing_fragment',
    expect: {
      conversationId: null,
      conversationOrigin: null,
      pricingModel: 'PMP',
      pricingBillable: false,
      pricingType: 'free_customer_service',
      pricingCategory: 'utility',
    },
  },
  'meta-docs-pricing-fragments/pricing_pmp_regular_authentication_international.txt': {
    kind: 'pricing_fragment',
    expect: {
      conversationId: null,
      conversationOrigin: null,
      pricingModel: 'PMP',
      pricingBillable: true,
      pricingType: 'regular',
      pricingCategory: 'authentication_international',
    },
  },
  'meta-docs-pricing-fragments/pricing_pmp_regular_generic.txt': {
    kind: 'pricing_fragment',
    expect: {
      conversationId: null,
      conversationOrigin: null,
      pricingModel: 'PMP',
      pricingBillable: true,
      pricingType: 'regular',
      pricingCategory: '<PRICING_CATEGORY>',
    },
  },

  'meta-docs/incoming_text_ctwa_referral.json': INCOMING_ONLY,
  'meta-docs/incoming_text_plain.json': INCOMING_ONLY,
  'meta-docs/status_delivered_cbp_service__messages_overview.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...META,
        messageId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA',
        status: 'delivered',
        timestamp: 1750263773,
        recipient: '16505551234',
        ...cbp('service', '6ceb9d929c9bdc4f90e967a32f8639b4'),
      }),
    ],
  },
  // recipient_id "" with recipient_user_id: the hint comes from the contact matched by user_id.
  'meta-docs/status_delivered_pmp_marketing_bsuid_only.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...META,
        messageId: META_PMP_WAMID,
        status: 'delivered',
        timestamp: 1750030073,
        recipient: null,
        recipientCountryHint: 'US',
        pricingModel: 'PMP',
        pricingBillable: true,
        pricingType: 'regular',
        pricingCategory: 'marketing',
      }),
    ],
  },
  'meta-docs/status_delivered_pmp_marketing_bsuid_phone.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...META,
        messageId: META_PMP_WAMID,
        status: 'delivered',
        timestamp: 1750030073,
        recipient: '16505551234',
        recipientCountryHint: 'US',
        pricingModel: 'PMP',
        pricingBillable: true,
        pricingType: 'regular',
        pricingCategory: 'marketing',
      }),
    ],
  },
  'meta-docs/status_failed_131049.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...META,
        messageId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA',
        status: 'failed',
        timestamp: 1751142888,
        recipient: '16505551234',
        errorCodes: [131049],
      }),
    ],
  },
  'meta-docs/status_sent_no_conversation_no_pricing__v24.json': {
    kind: 'webhook',
    statuses: [
      st({ ...META, messageId: META_PMP_WAMID, status: 'sent', timestamp: 1750030073, recipient: '16505551234' }),
    ],
  },
  'meta-docs/status_sent_pmp_marketing_regular__v23.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...META,
        messageId: META_PMP_WAMID,
        status: 'sent',
        timestamp: 1750030073,
        recipient: '16505551234',
        conversationId: '72b14d6bd5407799e66f64d1b338e567',
        conversationExpiration: 1750116480,
        conversationOrigin: 'marketing',
        pricingModel: 'PMP',
        pricingBillable: true,
        pricingType: 'regular',
        pricingCategory: 'marketing',
      }),
    ],
  },

  'netflie-php/incoming_button_with_referral_and_context.json': INCOMING_ONLY,
  'netflie-php/status_delivered_cbp_authentication.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_108,
        messageId: 'wamid.ID',
        status: 'delivered',
        timestamp: 1685626673,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        ...cbp('authentication', 'CONVERSATION_ID'),
      }),
    ],
  },
  'netflie-php/status_delivered_cbp_marketing.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_108,
        messageId: 'wamid.ID',
        status: 'delivered',
        timestamp: 1685626673,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        ...cbp('marketing', 'CONVERSATION_ID'),
      }),
    ],
  },
  'netflie-php/status_delivered_cbp_marketing_2023.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_PLACEHOLDER,
        messageId: 'wamid.ID',
        status: 'delivered',
        timestamp: 1690327464,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        ...cbp('marketing', 'CONVERSATION_ID'),
      }),
    ],
  },
  'netflie-php/status_delivered_cbp_service.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_108,
        messageId: 'wamid.ID',
        status: 'delivered',
        timestamp: 1685626673,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        ...cbp('service', 'CONVERSATION_ID'),
      }),
    ],
  },
  'netflie-php/status_delivered_cbp_utility.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_108,
        messageId: 'wamid.ID',
        status: 'delivered',
        timestamp: 1685626673,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        ...cbp('utility', 'CONVERSATION_ID'),
      }),
    ],
  },
  'netflie-php/status_delivered_user_initiated_no_pricing.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_PLACEHOLDER,
        messageId: 'wamid.ID',
        status: 'delivered',
        timestamp: 1669233778,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        conversationId: 'CONVERSATION_ID',
        conversationOrigin: 'user_initiated',
      }),
    ],
  },
  'netflie-php/status_failed_131053.json': {
    kind: 'webhook',
    statuses: [
      st({
        phoneNumberId: '102944729380254',
        wabaId: '114957184830690',
        messageId: 'amid.ID',
        status: 'failed',
        timestamp: 1674912647,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        errorCodes: [131053],
      }),
    ],
  },
  'netflie-php/status_read_no_conversation.json': {
    kind: 'webhook',
    statuses: [
      st({
        phoneNumberId: 'CUSTOMER_PHONE_NUMBER',
        wabaId: '114957184830690',
        messageId: 'wamid.ID',
        status: 'read',
        timestamp: 1674914356,
        recipient: 'CUSTOMER_PHONE_NUMBER',
      }),
    ],
  },
  // expiration_timestamp as a JSON number (elsewhere a string): both end up as numbers.
  'netflie-php/status_read_user_initiated_numeric_expiration.json': {
    kind: 'webhook',
    statuses: [
      st({
        ...NETFLIE_PLACEHOLDER,
        messageId: 'wamid.ID',
        status: 'read',
        timestamp: 1669233778,
        recipient: 'CUSTOMER_PHONE_NUMBER',
        conversationId: 'CONVERSATION_ID',
        conversationExpiration: 1669233778,
        conversationOrigin: 'user_initiated',
      }),
    ],
  },

  'piusalfred-go/status_sent_cbp_user_initiated.json': {
    kind: 'webhook',
    statuses: [
      st({
        phoneNumberId: '999888777',
        wabaId: 'WHATSAPP_BUSINESS_ACCOUNT_ID',
        messageId: 'wamid.STATUSMSG',
        status: 'sent',
        timestamp: 1690000000,
        recipient: '123456789',
        ...cbp('user_initiated', 'CONVO123', 1690009999),
      }),
    ],
  },

  'pywa/incoming_text_with_ctwa_referral.json': INCOMING_ONLY,
  'pywa/status_delivered_cbp_service.json': {
    kind: 'webhook',
    statuses: [st({ ...PYWA, status: 'delivered', timestamp: 1698266945, ...cbp('service', PYWA_CONV) })],
  },
  'pywa/status_failed_130472__2023.json': {
    kind: 'webhook',
    statuses: [st({ ...PYWA, status: 'failed', timestamp: 1689380458, errorCodes: [130472] })],
  },
  'pywa/status_played_cbp_service.json': {
    kind: 'webhook',
    statuses: [st({ ...PYWA, status: 'played', timestamp: 1689380458, ...cbp('service', PYWA_CONV) })],
  },
  'pywa/status_read_cbp_service.json': {
    kind: 'webhook',
    statuses: [st({ ...PYWA, status: 'read', timestamp: 1689380458, ...cbp('service', PYWA_CONV) })],
  },
  'pywa/status_sent_cbp_service__2023.json': {
    kind: 'webhook',
    statuses: [st({ ...PYWA, status: 'sent', timestamp: 1698266945, ...cbp('service', PYWA_CONV, 1698339900) })],
  },
  'pywa/status_sent_with_biz_opaque_callback_data.json': {
    kind: 'webhook',
    statuses: [st({ ...PYWA, status: 'sent', timestamp: 1698266945, ...cbp('service', PYWA_CONV, 1698339900) })],
  },

  // `"timestamp": "TIMESTAMP"`: the status is refused, the body is not.
  'restfb-issue/restfb_issue_1240_status_sent_cbp_user_initiated.json': {
    kind: 'webhook',
    statuses: [],
    refused: [{ path: 'entry[0].changes[0].value.statuses[0]', reason: [/\btimestamp\b/, /"TIMESTAMP"/] }],
  },
};

// ---------------------------------------------------------------------------------------------
// Pricing fragments: published as HTML, not as bodies. Clean them, then embed them in a status.

function cleanFragment(text: string): Record<string, unknown> {
  const cleaned = text
    .replaceAll('\\{', '{')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('\u00a0', ' ')
    .trim();
  const json = cleaned.startsWith('"') ? `{${cleaned}}` : cleaned;
  return JSON.parse(json) as Record<string, unknown>;
}

const SYNTHETIC = { phoneNumberId: '106540352242922', wabaId: '102290129340398' };

function envelope(statuses: unknown[], value: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: SYNTHETIC.wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: SYNTHETIC.phoneNumberId },
              statuses,
              ...value,
            },
          },
        ],
      },
    ],
  };
}

function delivered(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'wamid.SYNTHETIC', status: 'delivered', timestamp: '1750030073', recipient_id: '16505551234', ...extra };
}

const SYNTHETIC_DELIVERED = st({
  ...SYNTHETIC,
  messageId: 'wamid.SYNTHETIC',
  status: 'delivered',
  timestamp: 1750030073,
  recipient: '16505551234',
});

/** Bytes → parseJsonBody → parseWebhook, as the route does it. */
function ingest(raw: Buffer | string, opts?: { phoneNumberId?: string }): ParsedWebhook {
  const buf = typeof raw === 'string' ? Buffer.from(raw) : raw;
  return parseWebhook(parseJsonBody(buf, { maxDepth: MAX_DEPTH }), opts);
}

// ---------------------------------------------------------------------------------------------

const files = fixtureFiles();

test('every fixture file has an expectation, and every expectation a file', () => {
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const file of files) {
  test(file, () => {
    const expected = EXPECTED[file];
    assert.ok(expected, `no expectation written for ${file}`);
    const raw = readFixture(file);

    if (expected.kind === 'invalid_json') {
      assert.throws(
        () => ingest(raw),
        (err: unknown) => err instanceof BodyError && err.code === 'invalid_json' && /position \d+/.test(err.details[0] ?? ''),
      );
      return;
    }

    if (expected.kind === 'pricing_fragment') {
      const fragment = cleanFragment(raw.toString('utf8'));
      assert.ok('pricing' in fragment, 'fragment has a pricing member');
      const result = ingest(JSON.stringify(envelope([delivered(fragment)])));
      assert.deepEqual(result, {
        statuses: [{ ...SYNTHETIC_DELIVERED, ...expected.expect }],
        refused: [],
        accountUpdates: [],
        ignored: { messages: 0, changes: 0 },
      });
      return;
    }

    const result = ingest(raw);
    assert.deepEqual(result.statuses, expected.statuses);
    assert.deepEqual(result.ignored, expected.ignored ?? { messages: 0, changes: 0 });
    const refused = expected.refused ?? [];
    assert.deepEqual(
      result.refused.map((r) => r.path),
      refused.map((r) => r.path),
    );
    refused.forEach((r, i) => {
      for (const pattern of r.reason) assert.match(result.refused[i].reason, pattern);
    });
  });
}

test('the bsuid-only body keeps nothing of recipient_user_id', () => {
  const result = ingest(readFixture('meta-docs/status_delivered_pmp_marketing_bsuid_only.json'));
  assert.equal(result.statuses.length, 1);
  assert.ok(!JSON.stringify(result).includes('user.9373795779eb'));
});

// ---------------------------------------------------------------------------------------------
// Bodies that are not WhatsApp webhooks at all.

function assertShapeError(body: unknown, code: string, message?: RegExp, opts?: { phoneNumberId?: string }): void {
  assert.throws(
    () => parseWebhook(body, opts),
    (err: unknown) => {
      assert.ok(err instanceof WebhookShapeError, `expected WebhookShapeError, got ${String(err)}`);
      assert.equal(err.code, code);
      if (message) assert.match(err.message, message);
      assert.ok(Array.isArray(err.details));
      return true;
    },
  );
}

test('non-object bodies are not webhooks', () => {
  for (const body of [null, undefined, [], [envelope([])], 42, 'x', true]) {
    assertShapeError(body, 'invalid_shape', /JSON object/);
  }
});

test('an object that is neither envelope nor On-Premises body is not a webhook', () => {
  assertShapeError({}, 'invalid_shape');
  assertShapeError({ hello: 'world' }, 'invalid_shape', /neither/);
});

test('object other than whatsapp_business_account is unsupported, and named', () => {
  assertShapeError({ object: 'page', entry: [] }, 'unsupported_object', /"page"/);
  assertShapeError({ object: 'instagram', entry: [] }, 'unsupported_object', /"instagram"/);
  assertShapeError({ object: 42, entry: [] }, 'unsupported_object', /42/);
  assertShapeError({ entry: [] }, 'unsupported_object', /nothing/);
});

test('entry must be an array', () => {
  for (const entry of [undefined, null, {}, 'x', 1]) {
    assertShapeError({ object: 'whatsapp_business_account', entry }, 'invalid_shape', /entry must be an array/);
  }
});

test('an empty entry array is a valid body with nothing in it', () => {
  assert.deepEqual(parseWebhook({ object: 'whatsapp_business_account', entry: [] }), {
    statuses: [],
    refused: [],
    accountUpdates: [],
    ignored: { messages: 0, changes: 0 },
  });
});

// ---------------------------------------------------------------------------------------------
// Envelope parts that are malformed: refused with their path, the rest of the body still read.

test('entries and changes that are not objects are refused with their path', () => {
  const good = envelope([delivered()]).entry as unknown[];
  const body = {
    object: 'whatsapp_business_account',
    entry: [
      null,
      42,
      { id: 'W', changes: 'nope' },
      { id: 'W' },
      { id: { nested: true }, changes: [] },
      { id: 'W', changes: [null, [], { field: 'messages', value: [] }, { field: 'messages' }, { value: {} }] },
      ...good,
    ],
  };
  const result = parseWebhook(body);
  assert.deepEqual(result.statuses, [SYNTHETIC_DELIVERED]);
  assert.deepEqual(
    result.refused.map((r) => r.path),
    [
      'entry[0]',
      'entry[1]',
      'entry[2]',
      'entry[3]',
      'entry[4]',
      'entry[5].changes[0]',
      'entry[5].changes[1]',
      'entry[5].changes[2].value',
      'entry[5].changes[3].value',
      'entry[5].changes[4]',
    ],
  );
  assert.match(result.refused[2].reason, /changes must be an array/);
  assert.match(result.refused[4].reason, /\bid\b/);
  assert.match(result.refused[7].reason, /value must be an object/);
  assert.match(result.refused[9].reason, /field/);
});

test('changes other than messages are counted as ignored, not refused', () => {
  const body = envelope([delivered()]);
  const entry = (body.entry as Array<{ changes: unknown[] }>)[0];
  entry.changes.unshift(
    { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } },
    { field: 'message_template_status_update', value: { event: 'APPROVED', message_template_id: 1 } },
    { field: 'phone_number_quality_update', value: null },
  );
  const result = parseWebhook(body);
  assert.deepEqual(result.statuses, [SYNTHETIC_DELIVERED]);
  assert.deepEqual(result.refused, []);
  assert.deepEqual(result.ignored, { messages: 0, changes: 3 });
});

test('missing metadata refuses every status of that change', () => {
  for (const metadata of [undefined, null, 'x', {}, { phone_number_id: '' }, { phone_number_id: true }]) {
    const body = envelope([delivered(), delivered({ id: 'wamid.2' })], { metadata });
    const result = parseWebhook(body);
    assert.deepEqual(result.statuses, []);
    assert.deepEqual(
      result.refused.map((r) => r.path),
      ['entry[0].changes[0].value.statuses[0]', 'entry[0].changes[0].value.statuses[1]'],
    );
    for (const r of result.refused) assert.match(r.reason, /metadata/);
  }
});

test('missing metadata does not matter when the change carries no statuses', () => {
  const body = envelope([], { metadata: undefined, messages: [{ id: 'wamid.in' }] });
  assert.deepEqual(parseWebhook(body), { statuses: [], refused: [], accountUpdates: [], ignored: { messages: 1, changes: 0 } });
});

test('numeric ids are read as strings', () => {
  const body = envelope([delivered()], { metadata: { phone_number_id: 106540352242922 } });
  (body.entry as Array<{ id: unknown }>)[0].id = 102290129340398;
  assert.deepEqual(parseWebhook(body).statuses, [SYNTHETIC_DELIVERED]);
});

test('a phone_number_id beyond 2^53 (already corrupted by JSON.parse) is refused', () => {
  const result = ingest(
    JSON.stringify(envelope([delivered()])).replace('"106540352242922"', '12345678901234567890'),
  );
  assert.deepEqual(result.statuses, []);
  assert.match(result.refused[0].reason, /phone_number_id/);
});

test('statuses that are not an array are refused with their path', () => {
  for (const statuses of [{}, 'x', 5]) {
    const result = parseWebhook(envelope(statuses as unknown as unknown[]));
    assert.deepEqual(result.statuses, []);
    assert.deepEqual(result.refused.map((r) => r.path), ['entry[0].changes[0].value.statuses']);
    assert.match(result.refused[0].reason, /statuses must be an array/);
  }
  assert.deepEqual(parseWebhook(envelope(null as unknown as unknown[])).refused, []);
});

test('messages that are not an array are reported, statuses still read', () => {
  const result = parseWebhook(envelope([delivered()], { messages: { id: 'x' } }));
  assert.deepEqual(result.statuses, [SYNTHETIC_DELIVERED]);
  assert.deepEqual(result.refused.map((r) => r.path), ['entry[0].changes[0].value.messages']);
});

test('a body with both statuses and incoming messages keeps the statuses and counts the messages', () => {
  const result = parseWebhook(
    envelope([delivered()], {
      contacts: [{ profile: { name: 'X' }, wa_id: '16505551234' }],
      messages: [{ from: '16505551234', id: 'wamid.in1', timestamp: '1750030000', type: 'text', text: { body: 'hi' } }, { id: 'wamid.in2' }],
    }),
  );
  assert.deepEqual(result.statuses, [SYNTHETIC_DELIVERED]);
  assert.deepEqual(result.ignored, { messages: 2, changes: 0 });
  assert.ok(!JSON.stringify(result).includes('hi'), 'nothing of the incoming messages is kept');
});

test('several entries and changes keep their own WABA and phone number', () => {
  const a = envelope([delivered({ id: 'wamid.a' })]);
  const b = envelope([delivered({ id: 'wamid.b' })], { metadata: { phone_number_id: 'P2' } });
  (b.entry as Array<{ id: unknown }>)[0].id = 'W2';
  const body = { object: 'whatsapp_business_account', entry: [...(a.entry as unknown[]), ...(b.entry as unknown[])] };
  const result = parseWebhook(body);
  assert.deepEqual(
    result.statuses.map((s) => [s.messageId, s.wabaId, s.phoneNumberId]),
    [
      ['wamid.a', SYNTHETIC.wabaId, SYNTHETIC.phoneNumberId],
      ['wamid.b', 'W2', 'P2'],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// One bad status among good ones: only that status is refused, with its path and the field named.

const BAD_STATUSES: Array<[string, Record<string, unknown> | null | unknown[], RegExp]> = [
  ['placeholder timestamp', delivered({ timestamp: 'TIMESTAMP' }), /timestamp.*"TIMESTAMP"/],
  ['millisecond timestamp', delivered({ timestamp: '1750030073000' }), /timestamp/],
  ['fractional timestamp', delivered({ timestamp: 1750030073.5 }), /timestamp/],
  ['exponent timestamp', delivered({ timestamp: '1.75e9' }), /timestamp/],
  ['negative timestamp', delivered({ timestamp: '-1750030073' }), /timestamp/],
  ['timestamp before 2000', delivered({ timestamp: 946684799 }), /timestamp/],
  ['timestamp after 2100', delivered({ timestamp: 4102444801 }), /timestamp/],
  ['timestamp missing', delivered({ timestamp: undefined }), /timestamp/],
  ['timestamp as object', delivered({ timestamp: { s: 1 } }), /timestamp.*object/],
  ['id missing', delivered({ id: undefined }), /\bid\b/],
  ['id empty', delivered({ id: '' }), /\bid\b/],
  ['id a number', delivered({ id: 7 }), /\bid\b/],
  ['status missing', delivered({ status: undefined }), /\bstatus\b/],
  ['status empty', delivered({ status: ' ' }), /\bstatus\b/],
  ['status a number', delivered({ status: 3 }), /\bstatus\b/],
  ['recipient_id a number', delivered({ recipient_id: 16505551234 }), /recipient_id/],
  ['recipient_user_id an object', delivered({ recipient_user_id: {} }), /recipient_user_id/],
  ['conversation a string', delivered({ conversation: 'CONV' }), /conversation/],
  ['conversation.id a number', delivered({ conversation: { id: 5 } }), /conversation\.id/],
  ['placeholder expiration', delivered({ conversation: { id: 'c', expiration_timestamp: 'TIMESTAMP' } }), /conversation\.expiration_timestamp.*"TIMESTAMP"/],
  ['conversation.origin an array', delivered({ conversation: { id: 'c', origin: [] } }), /conversation\.origin/],
  ['conversation.origin.type a number', delivered({ conversation: { id: 'c', origin: { type: 1 } } }), /conversation\.origin\.type/],
  ['pricing an array', delivered({ pricing: [] }), /pricing/],
  ['pricing.billable "yes"', delivered({ pricing: { billable: 'yes' } }), /pricing\.billable.*"yes"/],
  ['pricing.billable a number', delivered({ pricing: { billable: 1 } }), /pricing\.billable/],
  ['pricing.pricing_model a number', delivered({ pricing: { pricing_model: 2 } }), /pricing\.pricing_model/],
  ['pricing.type an object', delivered({ pricing: { type: {} } }), /pricing\.type/],
  ['pricing.category a boolean', delivered({ pricing: { category: true } }), /pricing\.category/],
  ['errors an object', delivered({ errors: { code: 1 } }), /errors/],
  ['errors[0] a string', delivered({ errors: ['x'] }), /errors\[0\]/],
  ['errors[0].code not numeric', delivered({ errors: [{ code: 'E131049' }] }), /errors\[0\]\.code/],
  ['status null', null, /not an object/],
  ['status an array', [], /not an object/],
];

for (const [name, bad, reason] of BAD_STATUSES) {
  test(`a batch of 3 with a bad middle status (${name}) keeps 2 and refuses 1`, () => {
    const body = envelope([delivered({ id: 'wamid.first' }), bad, delivered({ id: 'wamid.last' })]);
    const result = ingest(JSON.stringify(body));
    assert.deepEqual(
      result.statuses.map((s) => s.messageId),
      ['wamid.first', 'wamid.last'],
    );
    assert.equal(result.refused.length, 1);
    assert.equal(result.refused[0].path, 'entry[0].changes[0].value.statuses[1]');
    assert.match(result.refused[0].reason, reason);
  });
}

test('refusal reasons never repeat a recipient number', () => {
  const result = parseWebhook(envelope([delivered({ recipient_id: 16505551234 })]));
  assert.equal(result.refused.length, 1);
  assert.ok(!result.refused[0].reason.includes('16505551234'));
});

test('long values are cut short in reasons', () => {
  const result = parseWebhook(envelope([delivered({ timestamp: 'x'.repeat(10_000) })]));
  assert.ok(result.refused[0].reason.length < 200);
});

// ---------------------------------------------------------------------------------------------
// Lenient readings of well-meant values.

test('timestamps: decimal strings and integer numbers at the range bounds', () => {
  for (const [timestamp, expected] of [
    ['946684800', 946684800],
    [946684800, 946684800],
    ['4102444800', 4102444800],
    [4102444800, 4102444800],
    ['01750030073', 1750030073],
  ] as const) {
    assert.equal(parseWebhook(envelope([delivered({ timestamp })])).statuses[0]?.timestamp, expected);
  }
});

test('case and whitespace are normalised where the type says so; spelling is kept', () => {
  const result = parseWebhook(
    envelope([
      delivered({
        status: 'DELIVERED',
        conversation: { id: 'c1', expiration_timestamp: 1750116480, origin: { type: ' marketing ' } },
        pricing: { billable: 'false', pricing_model: ' pmp ', type: ' Regular ', category: ' business_initated ' },
        errors: [{ code: '131049' }, { code: 131050, title: 't' }, { title: 'no code' }],
      }),
    ]),
  );
  assert.deepEqual(result.statuses, [
    {
      ...SYNTHETIC_DELIVERED,
      conversationId: 'c1',
      conversationExpiration: 1750116480,
      conversationOrigin: 'marketing',
      pricingModel: 'PMP',
      pricingBillable: false,
      pricingType: 'regular',
      pricingCategory: 'business_initated',
      errorCodes: [131049, 131050],
    },
  ]);
});

test('billable given as the string "true"', () => {
  const result = parseWebhook(envelope([delivered({ pricing: { billable: 'true' } })]));
  assert.equal(result.statuses[0]?.pricingBillable, true);
});

test('unknown statuses and categories are kept as they are', () => {
  const result = parseWebhook(
    envelope([
      delivered({ id: 'w1', status: 'deleted' }),
      delivered({ id: 'w2', status: 'played' }),
      delivered({ id: 'w3', status: 'hologram_projected', pricing: { category: 'group_marketing' } }),
      delivered({ id: 'w4', pricing: { pricing_model: 'NBP', category: 'general_purpose_ai', type: 'future_type' } }),
    ]),
  );
  assert.deepEqual(result.refused, []);
  assert.deepEqual(
    result.statuses.map((s) => [s.status, s.pricingModel, s.pricingType, s.pricingCategory]),
    [
      ['deleted', null, null, null],
      ['played', null, null, null],
      ['hologram_projected', null, null, 'group_marketing'],
      ['delivered', 'NBP', 'future_type', 'general_purpose_ai'],
    ],
  );
});

test('empty or missing recipient_id gives recipient null; placeholders are kept', () => {
  const result = parseWebhook(
    envelope([
      delivered({ id: 'w1', recipient_id: '' }),
      delivered({ id: 'w2', recipient_id: undefined }),
      delivered({ id: 'w3', recipient_id: null }),
      delivered({ id: 'w4', recipient_id: 'PHONE_NUMBER' }),
    ]),
  );
  assert.deepEqual(
    result.statuses.map((s) => s.recipient),
    [null, null, null, 'PHONE_NUMBER'],
  );
});

test('country hints: by user_id or wa_id, two letters only, uppercased, never via empty keys', () => {
  const contacts = [
    { profile: { country_code: 'br' }, wa_id: '5511999999999' },
    { profile: { country_code: 'USA' }, wa_id: '16505551234' },
    { profile: { country_code: 'DE' }, wa_id: '', user_id: 'user.de' },
    { profile: { country_code: 'F1' }, wa_id: '33100000000' },
    { profile: null, wa_id: '44100000000' },
    null,
  ];
  const result = parseWebhook(
    envelope(
      [
        delivered({ id: 'br', recipient_id: '5511999999999' }),
        delivered({ id: 'usa', recipient_id: '16505551234' }),
        delivered({ id: 'de', recipient_id: '', recipient_user_id: 'user.de' }),
        delivered({ id: 'empty', recipient_id: '' }),
        delivered({ id: 'f1', recipient_id: '33100000000' }),
        delivered({ id: 'gb', recipient_id: '44100000000' }),
        delivered({ id: 'unknown-user', recipient_id: '', recipient_user_id: 'user.xx' }),
      ],
      { contacts },
    ),
  );
  assert.deepEqual(
    result.statuses.map((s) => [s.messageId, s.recipientCountryHint]),
    [
      ['br', 'BR'],
      ['usa', null],
      ['de', 'DE'],
      ['empty', null],
      ['f1', null],
      ['gb', null],
      ['unknown-user', null],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// On-Premises bodies (statuses[] at the top level, no envelope).

const ON_PREM = {
  statuses: [
    { id: 'gBGGFlB5YjhvAgnhuF1qIUvCo7A', status: 'read', timestamp: '1750030073', recipient_id: '16505551234' },
    { id: 'gBGGFlB5YjhvAgnhuF1qIUvCo7B', status: 'sent', timestamp: 'TIMESTAMP', recipient_id: '16505551234' },
  ],
};

test('On-Premises body without a phone number id from the URL is refused as a whole', () => {
  assertShapeError(ON_PREM, 'phone_number_id_required', /\/webhooks\/whatsapp\/\{phone_number_id\}/);
  assertShapeError(ON_PREM, 'phone_number_id_required', undefined, { phoneNumberId: '  ' });
});

test('On-Premises body with the phone number id from the URL', () => {
  const result = parseWebhook(ON_PREM, { phoneNumberId: '106540352242922' });
  assert.deepEqual(result.statuses, [
    st({
      phoneNumberId: '106540352242922',
      wabaId: null,
      messageId: 'gBGGFlB5YjhvAgnhuF1qIUvCo7A',
      status: 'read',
      timestamp: 1750030073,
      recipient: '16505551234',
    }),
  ]);
  assert.deepEqual(result.refused.map((r) => r.path), ['statuses[1]']);
  assert.match(result.refused[0].reason, /timestamp/);
});

test('On-Premises statuses that are not an array', () => {
  assertShapeError({ statuses: {} }, 'invalid_shape', /statuses must be an array/, { phoneNumberId: '1' });
});

test('On-Premises incoming messages alone are counted and need no phone number id', () => {
  assert.deepEqual(parseWebhook({ contacts: [], messages: [{ id: 'x' }] }), {
    statuses: [],
    refused: [],
    accountUpdates: [],
    ignored: { messages: 1, changes: 0 },
  });
});

// ---------------------------------------------------------------------------------------------
// Size and robustness.


test('a 3 MB body with 1,000 statuses parses', () => {
  const raw = largeWebhookBody(1000, 2700);
  assert.ok(raw.length >= 3_000_000, `body is ${raw.length} bytes`);
  const result = ingest(raw);
  assert.equal(result.statuses.length, 1000);
  assert.deepEqual(result.refused, []);
  assert.equal(result.statuses[999]?.timestamp, 1750030073 + 999);
  assert.equal(result.statuses[999]?.conversationExpiration, 1750116480 + 999);
});
// How long parsing takes is a figure of `npm run bench` (bench/parse.ts, beside JSON.parse of the
// same bytes), not a test: a busy machine made time limits here flaky.

/** Every path to a node of a JSON value, so a property test can replace any one of them. */
function nodePaths(value: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  const paths = [path];
  if (Array.isArray(value)) value.forEach((v, i) => paths.push(...nodePaths(v, [...path, i])));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) paths.push(...nodePaths(v, [...path, k]));
  }
  return paths;
}

function replaceAt(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[path[0]] = replaceAt(copy[path[0]], path.slice(1), replacement);
  return copy;
}

function assertOnlyShapeErrors(body: unknown): void {
  try {
    const result = parseWebhook(body, { phoneNumberId: '1' });
    assert.ok(Array.isArray(result.statuses) && Array.isArray(result.refused));
  } catch (err) {
    if (!(err instanceof WebhookShapeError)) throw err;
  }
}

test('property: any node of any real body replaced by any value never throws anything but WebhookShapeError', () => {
  const bodies = files
    .filter((f) => f.endsWith('.json') && EXPECTED[f]?.kind === 'webhook')
    .map((f) => JSON.parse(readFixture(f).toString('utf8')) as unknown);
  const withPaths = bodies.map((body) => ({ body, paths: nodePaths(body) }));
  fc.assert(
    fc.property(
      fc.nat(withPaths.length - 1),
      fc.nat(),
      fc.oneof(fc.anything(), fc.jsonValue()),
      (bodyIndex, pathIndex, replacement) => {
        const { body, paths } = withPaths[bodyIndex];
        assertOnlyShapeErrors(replaceAt(body, paths[pathIndex % paths.length], replacement));
      },
    ),
    { numRuns: 3000 },
  );
});

test('property: arbitrary values never throw anything but WebhookShapeError', () => {
  fc.assert(fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), assertOnlyShapeErrors), {
    numRuns: 2000,
  });
});
