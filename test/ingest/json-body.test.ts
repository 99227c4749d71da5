/**
 * Tests for parseJsonBody: empty and invalid bodies, the BOM, and the byte-level depth scan
 * (strings and escapes respected, deep bodies stopped before JSON.parse, big bodies fast).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BodyError, parseJsonBody, type BodyErrorCode } from '../../src/ingest/json-body.ts';

const FIXTURES = new URL('../fixtures/webhooks/', import.meta.url);
const readFixture = (rel: string): Buffer => readFileSync(fileURLToPath(new URL(rel, FIXTURES)));
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function assertBodyError(raw: Buffer | string, maxDepth: number, code: BodyErrorCode): BodyError {
  const buf = typeof raw === 'string' ? Buffer.from(raw) : raw;
  let caught: unknown;
  try {
    parseJsonBody(buf, { maxDepth });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BodyError, `expected BodyError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.ok(caught.message.length > 0);
  assert.ok(Array.isArray(caught.details));
  return caught;
}

const parse = (raw: string, maxDepth = 64): unknown => parseJsonBody(Buffer.from(raw), { maxDepth });

test('parses a real webhook body', () => {
  const body = parseJsonBody(readFixture('meta-docs/status_failed_131049.json'), { maxDepth: 64 }) as {
    object: string;
  };
  assert.equal(body.object, 'whatsapp_business_account');
});

test('empty bodies: zero bytes, whitespace only, BOM only', () => {
  for (const raw of [Buffer.alloc(0), Buffer.from(' \r\n\t'), BOM, Buffer.concat([BOM, Buffer.from('\n')])]) {
    assertBodyError(raw, 64, 'empty_body');
  }
});

test('a UTF-8 BOM is stripped', () => {
  const raw = readFixture('pywa/status_played_cbp_service.json');
  assert.deepEqual(parseJsonBody(Buffer.concat([BOM, raw]), { maxDepth: 64 }), parseJsonBody(raw, { maxDepth: 64 }));
  assert.deepEqual(parse('\ufeff{"a":1}'), { a: 1 });
});

test('only one BOM is stripped', () => {
  assertBodyError(Buffer.concat([BOM, BOM, Buffer.from('{}')]), 64, 'invalid_json');
});

test('bindambc-java/textMessageStatusRead.json (stray `{` at the end) is invalid JSON, with the position', () => {
  const raw = readFixture('bindambc-java/textMessageStatusRead.json');
  const err = assertBodyError(raw, 64, 'invalid_json');
  const stray = raw.toString('utf8').lastIndexOf('{');
  assert.equal(err.details.length, 1);
  assert.match(err.details[0], new RegExp(`position ${stray}\\b`));
});

test('invalid JSON carries the parser message', () => {
  for (const raw of ['{', 'nul', "{'a':1}", '{"a":1,}', '"unterminated', '}{', ']']) {
    const err = assertBodyError(raw, 64, 'invalid_json');
    assert.ok(err.details[0].length > 0);
  }
});

test('scalars are valid JSON bodies (shape is checked elsewhere)', () => {
  assert.equal(parse('42', 0), 42);
  assert.equal(parse('"x"', 0), 'x');
  assert.equal(parse('null', 0), null);
});

test('depth: exactly maxDepth passes, one more is too deep', () => {
  assert.deepEqual(parse('[[[]]]', 3), [[[]]]);
  assert.deepEqual(parse('{"a":{"b":[1]}}', 3), { a: { b: [1] } });
  const err = assertBodyError('[[[[]]]]', 3, 'too_deep');
  assert.match(err.message, /3/);
  assert.match(err.details[0], /depth 4 reached at byte 3/);
  assertBodyError('{"a":{"b":[{}]}}', 3, 'too_deep');
  assertBodyError('{}', 0, 'too_deep');
});

test('depth counts nesting, not the number of containers', () => {
  assert.equal((parse(`[${'[],'.repeat(10_000)}[]]`, 2) as unknown[]).length, 10_001);
});

test('brackets inside strings do not count, escapes are respected', () => {
  assert.deepEqual(parse('{"a":"[[[[{{{{"}', 1), { a: '[[[[{{{{' });
  // An escaped quote does not end the string: the brackets after it are still inside.
  assert.deepEqual(parse('{"a":"\\"[[[["}', 1), { a: '"[[[[' });
  // An escaped backslash does not escape the quote after it: the string ends there.
  assert.deepEqual(parse('["\\\\",[[]]]', 3), ['\\', [[]]]);
  assertBodyError('["\\\\",[[]]]', 2, 'too_deep');
  // \u escapes of brackets and quotes are just text.
  assert.deepEqual(parse('{"a":"\\u005b\\u0022["}', 1), { a: '["[' });
  // Multi-byte UTF-8 (incl. bytes that follow 0x5c/0x22 in other encodings) cannot fool the scan.
  assert.deepEqual(parse('{"a":"ü€𝄞 \u00a0 ["}', 1), { a: 'ü€𝄞 \u00a0 [' });
  // Keys are strings too.
  assert.deepEqual(parse('{"[[[":1}', 1), { '[[[': 1 });
});

test('depth 10,000 of `[` is rejected without a stack overflow', () => {
  const n = 10_000;
  assertBodyError('['.repeat(n) + ']'.repeat(n), 64, 'too_deep');
  assertBodyError('['.repeat(n), 64, 'too_deep');
  assertBodyError('{"a":'.repeat(n) + '1' + '}'.repeat(n), 64, 'too_deep');
  assertBodyError('['.repeat(1_000_000), 64, 'too_deep');
});

test('maxDepth must be a non-negative integer', () => {
  for (const maxDepth of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => parseJsonBody(Buffer.from('{}'), { maxDepth }), RangeError);
  }
});

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + v.reduce((m: number, x) => Math.max(m, depthOf(x)), 0);
  if (v !== null && typeof v === 'object') return 1 + Object.values(v).reduce((m: number, x) => Math.max(m, depthOf(x)), 0);
  return 0;
}

test('property: the scan measures the same depth as the parsed value', () => {
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: 'binary' }), fc.boolean(), (value, pretty) => {
      const text = JSON.stringify(value, null, pretty ? 2 : undefined);
      const depth = depthOf(value);
      assert.deepEqual(parse(text, depth), JSON.parse(text));
      if (depth > 0) assertBodyError(text, depth - 1, 'too_deep');
    }),
    { numRuns: 2000 },
  );
});

test('a 3 MB body is scanned and parsed quickly', (t) => {
  const status = (i: number) => ({
    id: `wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA${i}=`,
    status: 'delivered',
    timestamp: '1750030073',
    recipient_id: '16505551234',
    biz_opaque_callback_data: 'x\\"[{'.repeat(540),
    pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' },
  });
  const raw = Buffer.from(
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '1', changes: [{ field: 'messages', value: { statuses: Array.from({ length: 1000 }, (_, i) => status(i)) } }] }],
    }),
  );
  assert.ok(raw.length >= 3_000_000, `body is ${raw.length} bytes`);

  parseJsonBody(raw, { maxDepth: 64 }); // warm-up
  const started = performance.now();
  const body = parseJsonBody(raw, { maxDepth: 64 }) as { entry: Array<{ changes: Array<{ value: { statuses: unknown[] } }> }> };
  const total = performance.now() - started;
  // The depth scan alone: trailing `[`s make it throw at the very end, before JSON.parse runs.
  const tooDeep = Buffer.concat([raw, Buffer.from('['.repeat(65))]);
  const scanStarted = performance.now();
  assertBodyError(tooDeep, 64, 'too_deep');
  const scan = performance.now() - scanStarted;
  t.diagnostic(`${raw.length} bytes: parseJsonBody ${total.toFixed(1)} ms, depth scan alone ${scan.toFixed(1)} ms`);
  assert.equal(body.entry[0].changes[0].value.statuses.length, 1000);
  assert.ok(total < 1000, `took ${total} ms`);
});
