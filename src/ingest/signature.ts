/**
 * X-Hub-Signature-256 check for webhook bodies: `sha256=<hex HMAC-SHA256(app secret, raw body)>`.
 * Several secrets may be configured at once so an app secret can be rotated without losing traffic.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256=';
const HEX_DIGEST_LENGTH = 64; // 32 bytes of SHA-256, hex-encoded
// Buffer.from(…, 'hex') silently stops at the first non-hex character, so validate first.
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;

/** The header value Meta would send for `raw` signed with `secret`. */
export function signBody(raw: Buffer, secret: string): string {
  return PREFIX + createHmac('sha256', secret).update(raw).digest('hex');
}

/**
 * True when `header` is the HMAC of the exact received bytes under any of `secrets`.
 * Must be given the raw body: re-serialised JSON would not match.
 */
export function verifySignature(
  raw: Buffer,
  header: string | undefined,
  secrets: readonly string[],
): boolean {
  if (typeof header !== 'string') return false;
  const value = header.trim();
  if (value.length !== PREFIX.length + HEX_DIGEST_LENGTH) return false;
  if (value.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return false;
  const hex = value.slice(PREFIX.length);
  if (!HEX_DIGEST.test(hex)) return false;
  const received = Buffer.from(hex, 'hex');

  let matched = false;
  for (const secret of secrets) {
    // An empty key is a configuration mistake, and anyone could compute HMACs with it.
    if (typeof secret !== 'string' || secret.length === 0) continue;
    const expected = createHmac('sha256', secret).update(raw).digest();
    // Compare against every secret (no early return) so timing does not depend on which matched.
    matched = timingSafeEqual(expected, received) || matched;
  }
  return matched;
}
