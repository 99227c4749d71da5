/**
 * `…/info/usage`'s answer as the HTTP layer sends it: Meta's `pricing_analytics` shape, from the
 * columns the message-usage service computes (src/meter/message-usage-service.ts), as objects or
 * written straight to JSON bytes.
 */
import { microsToJson } from '../billing/money.ts';
import type { PricingAnalyticsColumns, PricingDataPoint } from '../meter/message-usage-service.ts';

/** The answer as objects, data points in Meta's field order; absent fields are not there. */
export function pricingAnalyticsObject(c: PricingAnalyticsColumns) {
  const data_points: PricingDataPoint[] = [];
  for (let i = 0; i < c.length; i++) {
    const k = c.kinds[c.kind[i]];
    data_points.push({
      start: c.start[i], end: c.end[i], volume: c.volume[i], cost: microsToJson(c.micros[i]),
      ...(k.country !== undefined ? { country: k.country } : {}),
      pricing_category: k.pricing_category, pricing_type: k.pricing_type,
      ...(k.tier !== undefined ? { tier: k.tier } : {}),
      phone_number: k.phone_number,
      ...(c.unpriced[i] ? { unpriced_volume: c.unpriced[i] } : {}),
    });
  }
  return {
    pricing_analytics: { data: [{ data_points }] },
    id: c.id,
    currency: c.currency,
    granularity: c.granularity,
  };
}

/**
 * The answer as UTF-8 JSON text, byte for byte `JSON.stringify(pricingAnalyticsObject(c))`,
 * written straight into one buffer: each kind's fields and each bucket's start, end and key once as
 * bytes, then per data point those bytes copied and its numbers written as digits. A month of half
 * hours is 88,000 points and 15.7 MB: an object each, JSON.stringify and the 15 MB string written
 * to the socket cost ~300 ms (bench/reads.ts, the bare route's floor); this takes ~15. Written by hand
 * because the shape is fixed and small, and the project's serializer is JSON.stringify
 * (src/api/openapi.ts: no schema-compiled serializer to reuse); test/usage pins the bytes to
 * JSON.stringify's.
 */
export function pricingAnalyticsJson(c: PricingAnalyticsColumns): Buffer {
  // Strings as JSON.stringify writes them (escaped, non-ASCII kept), in UTF-8.
  const q = (s: string) => JSON.stringify(s);
  const kinds = c.kinds.map((k) => Buffer.from(`${k.country !== undefined ? `,"country":${q(k.country)}` : ''},"pricing_category":${q(k.pricing_category)},"pricing_type":${q(k.pricing_type)}${k.tier !== undefined ? `,"tier":${q(k.tier)}` : ''},"phone_number":${q(k.phone_number)}`));
  const head = Buffer.from('{"pricing_analytics":{"data":[{"data_points":[');
  const tail = Buffer.from(`]}]},"id":${q(c.id)},"currency":${q(c.currency)},"granularity":${q(c.granularity)}}`);
  // Room for what a point usually takes (its kind and ~65 bytes more); grown if one takes more.
  let size = head.length + tail.length;
  for (let i = 0; i < c.length; i++) size += kinds[c.kind[i]].length + 80;
  let buf: Buffer = Buffer.allocUnsafe(size);
  let at = put(buf, 0, head);
  let bucket: Uint8Array = head;
  let prefixStart = Number.NaN;
  let prefixEnd = Number.NaN;
  for (let i = 0; i < c.length; i++) {
    const kind = kinds[c.kind[i]];
    if (at + kind.length + POINT_MAX > buf.length) buf = grown(buf, at, kind.length + POINT_MAX);
    // A bucket's points are together: its start, end and the key before the volume, once.
    if (c.start[i] !== prefixStart || c.end[i] !== prefixEnd) {
      bucket = Buffer.from(`{"start":${JSON.stringify((prefixStart = c.start[i]))},"end":${JSON.stringify((prefixEnd = c.end[i]))},"volume":`);
    }
    if (i > 0) buf[at++] = 0x2c; // ,
    at = put(buf, at, bucket);
    at = putDigits(buf, at, c.volume[i]);
    at = put(buf, at, COST);
    at = putCost(buf, at, c.micros[i]);
    at = put(buf, at, kind);
    if (c.unpriced[i]) { // absent when 0
      at = put(buf, at, UNPRICED);
      at = putDigits(buf, at, c.unpriced[i]);
    }
    buf[at++] = 0x7d; // }
  }
  if (at + tail.length > buf.length) buf = grown(buf, at, tail.length);
  at = put(buf, at, tail);
  return buf.subarray(0, at);
}

const COST = Buffer.from(',"cost":');
const UNPRICED = Buffer.from(',"unpriced_volume":');
/** The most a data point takes besides its kind: a comma, braces, its keys and five numbers (JSON writes none longer than 24 characters). */
const POINT_MAX = 2 + '{"start":,"end":,"volume":'.length + COST.length + UNPRICED.length + 5 * 24;

function grown(buf: Buffer, used: number, more: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, used + more));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}

/** Copies bytes; short ones byte by byte, which is cheaper than a call to copy them. */
function put(buf: Buffer, at: number, bytes: Uint8Array): number {
  if (bytes.length > 32) {
    buf.set(bytes, at);
    return at + bytes.length;
  }
  for (let j = 0; j < bytes.length; j++) buf[at + j] = bytes[j];
  return at + bytes.length;
}

/** A string of ASCII characters (a number's). */
function putAscii(buf: Buffer, at: number, s: string): number {
  for (let j = 0; j < s.length; j++) buf[at + j] = s.charCodeAt(j);
  return at + s.length;
}

/**
 * Micros as JSON.stringify writes microsToJson's number: below 10^15 micros that number's
 * shortest decimal is the amount's own (at most 15 significant digits, which a double tells
 * apart), so its digits come from the integer (no number formatting per point); beyond, as
 * microsToJson writes it (or refuses it).
 */
function putCost(buf: Buffer, at: number, micros: number): number {
  if (!(Number.isSafeInteger(micros) && micros > -1e15 && micros < 1e15)) return putAscii(buf, at, JSON.stringify(microsToJson(micros)));
  if (micros < 0) {
    buf[at++] = 0x2d; // -
    micros = -micros;
  }
  const units = Math.floor(micros / 1_000_000);
  let fraction = micros - units * 1_000_000;
  at = putDigits(buf, at, units);
  if (fraction === 0) return at;
  buf[at++] = 0x2e; // .
  let digits = 6;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  for (let j = at + digits - 1; j >= at; j--) {
    buf[j] = 0x30 + (fraction % 10);
    fraction = Math.floor(fraction / 10);
  }
  return at + digits;
}

/** A number as JSON.stringify writes it: digit by digit when a non-negative safe integer (a count). */
function putDigits(buf: Buffer, at: number, n: number): number {
  if (!(n >= 0 && Number.isSafeInteger(n))) return putAscii(buf, at, JSON.stringify(n));
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  for (let j = at + digits - 1; j >= at; j--) {
    buf[j] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + digits;
}
