/**
 * Tests for the X-Hub-Signature-256 check: a known HMAC vector, secret rotation, and every way a
 * header can be wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signBody, verifySignature } from '../../src/ingest/signature.ts';

const body = readFileSync(
  fileURLToPath(new URL('../fixtures/webhooks/meta-docs/status_sent_pmp_marketing_regular__v23.json', import.meta.url)),
);
const SECRET = 'app-secret-current';
const OLD_SECRET = 'app-secret-previous';

test('signBody matches RFC 4231 test case 2', () => {
  assert.equal(
    signBody(Buffer.from('what do ya want for nothing?'), 'Jefe'),
    'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
});

test('right secret passes', () => {
  assert.equal(verifySignature(body, signBody(body, SECRET), [SECRET]), true);
});

test('rotation: a body signed with the second configured secret passes', () => {
  assert.equal(verifySignature(body, signBody(body, OLD_SECRET), [SECRET, OLD_SECRET]), true);
  assert.equal(verifySignature(body, signBody(body, SECRET), [SECRET, OLD_SECRET]), true);
});

test('wrong secret fails', () => {
  assert.equal(verifySignature(body, signBody(body, 'someone-else'), [SECRET, OLD_SECRET]), false);
  assert.equal(verifySignature(body, signBody(body, OLD_SECRET), [SECRET]), false);
});

test('one changed byte fails: the signature covers the raw bytes', () => {
  const header = signBody(body, SECRET);
  const tampered = Buffer.from(body);
  tampered[tampered.length - 2] ^= 0x01;
  assert.equal(verifySignature(tampered, header, [SECRET]), false);
  const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))));
  assert.equal(verifySignature(reserialised, header, [SECRET]), false);
});

test('missing header fails', () => {
  assert.equal(verifySignature(body, undefined, [SECRET]), false);
  assert.equal(verifySignature(body, '', [SECRET]), false);
});

test('malformed headers fail', () => {
  const hex = signBody(body, SECRET).slice('sha256='.length);
  for (const header of [
    hex, // no prefix
    `sha1=${hex}`,
    `sha256:${hex}`,
    `sha256=${hex.slice(0, 63)}`, // short
    `sha256=${hex}0`, // long
    `sha256=${hex.slice(0, 62)}zz`, // not hex (Buffer.from would silently truncate it)
    `sha256=${hex.slice(0, 32)}`,
    'sha256=',
    `sha256=${hex},sha256=${hex}`,
  ]) {
    assert.equal(verifySignature(body, header, [SECRET]), false, header);
  }
});

test('prefix case, hex case and surrounding whitespace are tolerated', () => {
  const hex = signBody(body, SECRET).slice('sha256='.length);
  assert.equal(verifySignature(body, `SHA256=${hex.toUpperCase()}`, [SECRET]), true);
  assert.equal(verifySignature(body, ` sha256=${hex} `, [SECRET]), true);
});

test('no secrets, or only empty ones, never pass', () => {
  assert.equal(verifySignature(body, signBody(body, SECRET), []), false);
  assert.equal(verifySignature(body, signBody(body, ''), ['']), false);
});

test('an empty body can be signed and verified', () => {
  const empty = Buffer.alloc(0);
  assert.equal(verifySignature(empty, signBody(empty, SECRET), [SECRET]), true);
});
