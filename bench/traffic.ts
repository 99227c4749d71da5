/**
 * Webhook traffic for the benchmark: delivered PMP statuses with pricing, recipients from a few
 * countries, a mix of categories and pricing types, built with the test suite's `status` and
 * `envelope` builders so they are shaped exactly like the bodies the tests post.
 *
 * For the HTTP runs, bodies are pre-rendered templates whose message ids and recipient numbers are
 * filled in per request, so every request carries new message ids at the cost of a few string
 * concatenations in the load generator (the same for the service and the baseline).
 */
import { envelope, status, type StatusSpec } from '../test/helpers.ts';

/** Recipient number prefixes (country calling code + a mobile range) and how many digits follow. */
export const RECIPIENTS: { country: string; prefix: string; digits: number; weight: number }[] = [
  { country: 'DE', prefix: '49151', digits: 8, weight: 14 },
  { country: 'GB', prefix: '447400', digits: 6, weight: 8 },
  { country: 'IN', prefix: '9198', digits: 8, weight: 22 },
  { country: 'BR', prefix: '55119', digits: 8, weight: 16 },
  { country: 'US', prefix: '1415', digits: 7, weight: 10 },
  { country: 'ID', prefix: '62812', digits: 8, weight: 10 },
  { country: 'ES', prefix: '346', digits: 8, weight: 6 },
  { country: 'IT', prefix: '393', digits: 9, weight: 5 },
  { country: 'NG', prefix: '234803', digits: 7, weight: 5 },
  { country: 'AE', prefix: '97150', digits: 7, weight: 4 },
];

/** Category and pricing type of a delivered PMP message, with how often each occurs. */
export const MIX: { category: string; type: string; weight: number }[] = [
  { category: 'marketing', type: 'regular', weight: 40 },
  { category: 'utility', type: 'regular', weight: 18 },
  { category: 'utility', type: 'free_customer_service', weight: 7 },
  { category: 'authentication', type: 'regular', weight: 12 },
  { category: 'authentication-international', type: 'regular', weight: 3 },
  { category: 'service', type: 'free_customer_service', weight: 17 },
  { category: 'marketing', type: 'free_entry_point', weight: 3 },
];

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function weighted<T extends { weight: number }>(items: T[], rnd: () => number): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let x = rnd() * total;
  for (const i of items) {
    x -= i.weight;
    if (x < 0) return i;
  }
  return items[items.length - 1];
}

/** A wamid-like id, unique per (tag, n): `wamid.` + base64url-ish characters, 60 long. */
export function messageId(tag: string, n: number): string {
  const core = `${tag}${n.toString(36)}`;
  return `wamid.HBgL${core.padStart(50, 'A')}`;
}

/** A delivered PMP status as the test builders make it. */
export function deliveredSpec(id: string, ts: number, recipient: string, mix: { category: string; type: string }): StatusSpec {
  return {
    id,
    status: 'delivered',
    ts,
    recipient,
    // Graph v24 sends `conversation` only inside free-entry-point windows.
    ...(mix.type === 'free_entry_point' ? { conv: { id: `fep.${id}`, origin: 'free_entry_point' } } : {}),
    pricing: { model: 'PMP', type: mix.type, category: mix.category, billable: mix.type === 'regular' },
  };
}

// ---- templated HTTP bodies -------------------------------------------------------------------

const ID = '__ID__';
const RCPT = '__R__';

interface Template {
  /** Literal text around the slots: lits.length === slots.length + 1. */
  lits: string[];
  /** For each slot: 'id', or the recipient's digit count (number). */
  slots: ('id' | number)[];
}

function compile(json: string, digitsOfRecipient: number[]): Template {
  const parts = json.split(/(__ID__|__R__)/);
  const lits: string[] = [];
  const slots: ('id' | number)[] = [];
  let r = 0;
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) lits.push(parts[i]);
    else slots.push(parts[i] === ID ? 'id' : digitsOfRecipient[r++]);
  }
  return { lits, slots };
}

export interface BodyFactory {
  statusesPerBody: number;
  /** A new body: fresh message ids, varied recipient numbers. */
  next(): string;
  /** How many bodies were made. */
  readonly made: number;
  /** Bytes of a typical body. */
  readonly sampleBytes: number;
}

/**
 * Bodies of `statusesPerBody` delivered PMP statuses for one phone number, timestamped `ts`
 * (seconds). `variants` templates rotate so countries and categories mix across and within bodies.
 */
export function bodyFactory(opts: { statusesPerBody: number; phoneNumberId: string; wabaId: string; ts: number; tag: string; seed?: number; variants?: number }): BodyFactory {
  const rnd = prng(opts.seed ?? 42);
  const templates: Template[] = [];
  for (let v = 0; v < (opts.variants ?? 16); v++) {
    const digits: number[] = [];
    const statuses = [];
    for (let k = 0; k < opts.statusesPerBody; k++) {
      const who = weighted(RECIPIENTS, rnd);
      const mix = weighted(MIX, rnd);
      digits.push(who.digits);
      statuses.push(status(deliveredSpec(ID, opts.ts - Math.floor(rnd() * 300), `${who.prefix}${RCPT}`, mix)));
    }
    const body = JSON.stringify(envelope(statuses, { phoneNumberId: opts.phoneNumberId, wabaId: opts.wabaId }));
    templates.push(compile(body, digits));
  }
  let made = 0;
  let seq = 0;
  const sample = fill(templates[0], () => messageId(opts.tag, 0), () => 0);
  return {
    statusesPerBody: opts.statusesPerBody,
    get made() { return made; },
    sampleBytes: Buffer.byteLength(sample),
    next() {
      const t = templates[made++ % templates.length];
      return fill(t, () => messageId(opts.tag, seq++), (d) => (seq * 7919) % 10 ** d);
    },
  };
}

function fill(t: Template, id: () => string, recipient: (digits: number) => number): string {
  let out = t.lits[0];
  for (let i = 0; i < t.slots.length; i++) {
    const s = t.slots[i];
    out += (s === 'id' ? id() : String(recipient(s)).padStart(s, '0')) + t.lits[i + 1];
  }
  return out;
}
