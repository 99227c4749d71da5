/**
 * Identifiers and secrets. Ids follow 360dialog's shape: a short opaque string ending in its kind
 * (`…PA` partner, `…CL` client, `…CH` channel, `…AK` API key, `…CK` channel API key, `…PU` partner user, `…TK` token pair).
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] % ALPHABET.length];
  return out;
}

export type IdKind = 'PA' | 'CL' | 'CH' | 'AK' | 'CK' | 'PU' | 'TK';
export const newId = (kind: IdKind) => `${randomString(10)}${kind}`;

/** A secret shown once; the store keeps only `hashSecret(secret)`. */
export const newApiKey = () => `wbm_${randomBytes(24).toString('base64url')}`;
export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');
