/**
 * Deterministic demo traffic: WhatsApp Cloud API status webhooks as Meta would have posted them to
 * a busy business, so the dashboard and the API show something true-to-life on first start.
 *
 * What comes out, per channel (business phone number), in this order:
 *   1. CBP v1 sample month, 2023-03 (UTC): `business_initiated` / `user_initiated` conversations and
 *      a few `referral_conversion` (free entry point, 72 h, billable false). The first channel's
 *      WABA opens 1,300 conversations so the 1,000-per-WABA free tier shows.
 *   2. CBP v2 sample month, 2024-09 (UTC): marketing, utility, authentication, service and free
 *      entry point conversations. The first channel opens 1,180 service conversations so the
 *      1,000-service-conversation free tier shows.
 *   3. Early PMP, 2025-08, at a lower volume, for the August days that the recent window misses.
 *   4. Recent PMP traffic: `recentDays` days ending at `now` (never before 2025-07-01).
 *
 * Realism built in: weekly and daily rhythm (in each recipient's time zone), marketing sent in
 * campaign bursts, customer-service windows (service replies and free utility follow-ups),
 * authentication-international for eligible markets, Graph v23 `conversation` objects until
 * 2025-10-01 and v24 omission afterwards (except free entry point), failures (131049 for
 * marketing, 131026 otherwise), `read` without `delivered`, pricing on `sent` and on one of
 * `delivered`/`read` (sometimes on all three), numeric `expiration_timestamp`, duplicates in a
 * later body and `delivered` posted in an earlier body than its `sent`.
 *
 * Bodies carry one channel each, at most 200 statuses, grouped by hour of arrival, so the stream is
 * roughly chronological. No status has a timestamp after `now`; statuses of the CBP sample months
 * stay inside their month. Same options → byte-identical output (seeded mulberry32, no clock).
 */

export interface DemoChannel {
  phoneNumberId: string;
  wabaId: string;
  displayPhoneNumber: string;
  /** relative weights of recipient countries, ISO2 → weight */
  audience: Record<string, number>;
  /** average business-initiated messages per day in the PMP era */
  dailyVolume: number;
}

export interface DemoTrafficOptions {
  channels: DemoChannel[];
  /** unix seconds */
  now: number;
  seed: number;
  /** days of PMP-era traffic ending at `now` */
  recentDays: number;
}

// ---------------------------------------------------------------------------------------------
// Calendar

const DAY = 86_400;
const HOUR = 3_600;
const utc = (y: number, m: number, d = 1): number => Date.UTC(y, m - 1, d) / 1000;

const CBP_V1_MONTH = { start: utc(2023, 3), end: utc(2023, 4) };
const CBP_V2_MONTH = { start: utc(2024, 9), end: utc(2024, 10) };
const PMP_START = utc(2025, 7);
const EARLY_PMP_MONTH = { start: utc(2025, 8), end: utc(2025, 9) };
/** From here the app's webhooks are Graph v24: `conversation` only inside free-entry-point windows. */
const GRAPH_V24_FROM = utc(2025, 10);

const CONVERSATION_WINDOW = 24 * HOUR;
const FREE_ENTRY_POINT_WINDOW = 72 * HOUR;

/** Sunday-first weekday weights (business traffic dips at the weekend), normalised to mean 1. */
const WEEKDAY_RAW = [0.62, 1.08, 1.12, 1.1, 1.08, 1.05, 0.8];
const WEEKDAY = WEEKDAY_RAW.map((w) => (w * 7) / WEEKDAY_RAW.reduce((a, b) => a + b, 0));
const weekdayOf = (dayStart: number): number => (Math.floor(dayStart / DAY) + 4) % 7;

/** Relative activity per local hour of day. */
const DIURNAL = [
  0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.7, 1.2, 1.6, 1.8, 1.9, 1.8, 1.7, 1.7, 1.7, 1.6, 1.6, 1.5, 1.4, 1.2, 0.9, 0.6,
  0.3,
];
const DIURNAL_CUM = (() => {
  const out: number[] = [];
  let acc = 0;
  for (const w of DIURNAL) out.push((acc += w));
  return out.map((c) => c / acc);
})();

// ---------------------------------------------------------------------------------------------
// Seeded randomness

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
  /** Roughly standard normal (Irwin–Hall of 4). */
  normal(): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * Math.sqrt(3);
  }
}

/** A 32-bit seed from the user's seed and a few stream coordinates. */
function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const v of [lo, hi]) {
      h = Math.imul(h ^ v, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const HEX = '0123456789abcdef';

/** `wamid.` + 40 base64 characters (30 bytes), starting like Meta's `HBgL…` ids. */
function wamid(rng: Rng): string {
  let s = 'wamid.HBgL';
  for (let i = 0; i < 36; i++) s += B64[rng.int(64)];
  return s;
}

function hex32(rng: Rng): string {
  let s = '';
  for (let i = 0; i < 32; i++) s += HEX[rng.int(16)];
  return s;
}

// ---------------------------------------------------------------------------------------------
// Recipients

/**
 * Mobile number plans per country: E.164 digits without '+'. In a template `#` is any digit, `N` is
 * 2–9 and `[…]` a digit class; each country's templates were checked with libphonenumber-js/max to
 * resolve to the country (and to be valid mobiles, except MX: WhatsApp ids for Mexico keep the old
 * `521` mobile prefix, which libphonenumber resolves to MX but no longer calls valid).
 * `tz` is the standard UTC offset in minutes, used only for the daily rhythm.
 */
const NUMBER_PLANS: Record<string, { tz: number; templates: string[] }> = {
  AE: { tz: 240, templates: ['9715[024568]#######'] },
  AR: { tz: -180, templates: ['54911[2-8]#######'] },
  AT: { tz: 60, templates: ['43664#######', '43676#######', '43660#######', '43699#######', '43680#######'] },
  BE: { tz: 60, templates: ['324[7-9]#######'] },
  BR: { tz: -180, templates: ['55[1-8]19[6-9]#######'] },
  CA: { tz: -300, templates: ['1416N######', '1604N######', '1514N######'] },
  CH: { tz: 60, templates: ['417[5-9]#######'] },
  CL: { tz: -240, templates: ['569[458]#######'] },
  CO: { tz: -300, templates: ['5731########', '5732[0-3]#######'] },
  DE: { tz: 60, templates: ['4915[1257-9]########', '4916[023]#######', '4917#########', '4917########'] },
  DO: { tz: -240, templates: ['1809N######', '1829N######', '1849N######'] },
  EG: { tz: 120, templates: ['201[0125]########'] },
  ES: { tz: 60, templates: ['346########', '347[1-4]#######'] },
  FR: { tz: 60, templates: ['336[0-24-8]#######', '337[3-9]#######'] },
  GB: { tz: 0, templates: ['4474[0-46-9]#######', '4475[3-9]#######', '4477[1-7]#######', '4479[4-9]#######'] },
  GH: { tz: 0, templates: ['23324#######', '23354#######'] },
  ID: { tz: 420, templates: ['6281[1-3]#######', '6281[1-3]########', '6285[2-7]########', '6287[78]########', '6289[5-9]#######'] },
  IE: { tz: 0, templates: ['3538[35-79]#######'] },
  IL: { tz: 120, templates: ['97253#######', '97254[2-9]######'] },
  IN: { tz: 330, templates: ['919#########', '919#########', '917[024]########', '918[45]########', '916[09]########'] },
  IT: { tz: 60, templates: ['393[2-9]########'] },
  JM: { tz: -300, templates: ['1876[348]######'] },
  KE: { tz: 180, templates: ['2547[0-2]#######'] },
  MX: { tz: -360, templates: ['52155########', '52133########', '52181########'] },
  MY: { tz: 480, templates: ['6012#######', '6016#######', '6019#######', '6011[1-5]#######'] },
  NG: { tz: 60, templates: ['23480[3-9]#######', '23481[0-7]#######', '23470[3-9]#######', '23490[3-9]#######'] },
  NL: { tz: 60, templates: ['316[1-5]#######'] },
  PE: { tz: -300, templates: ['519[4-9]#######'] },
  PH: { tz: 480, templates: ['639[2-35-7]########'] },
  PK: { tz: 300, templates: ['923[0-24]########'] },
  PL: { tz: 60, templates: ['48[56]0#######', '4851#######', '4853#######', '4857#######', '4866#######', '4869#######', '4872#######', '4873#######', '4878#######', '4879#######', '4888#######'] },
  PR: { tz: -240, templates: ['1787N######', '1939N######'] },
  PT: { tz: 0, templates: ['3519[1236]#######'] },
  RU: { tz: 180, templates: ['79[0-2]########', '793[1-9]#######'] },
  SA: { tz: 180, templates: ['9665[03-689]#######'] },
  SE: { tz: 60, templates: ['467[0236]#######'] },
  TR: { tz: 180, templates: ['905[3-5]########'] },
  US: { tz: -300, templates: ['1415N######', '1212N######', '1646N######', '1312N######', '1213N######', '1310N######', '1617N######', '1305N######', '1206N######', '1512N######', '1718N######', '1404N######', '1650N######'] },
  ZA: { tz: 120, templates: ['27[67][1-4]#######', '278[2-4]#######'] },
};

/** Countries the generator can emit recipients for (ISO 3166-1 alpha-2). */
export const DEMO_RECIPIENT_COUNTRIES: readonly string[] = Object.freeze(Object.keys(NUMBER_PLANS).sort());

/** Markets with an authentication-international rate (until 2026-10). */
const AUTH_INTERNATIONAL = new Set(['EG', 'IN', 'ID', 'MY', 'NG', 'PK', 'SA', 'ZA', 'AE']);

type CompiledTemplate = string[][];

function compileTemplate(t: string): CompiledTemplate {
  const out: string[][] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '#') out.push([...'0123456789']);
    else if (c === 'N') out.push([...'23456789']);
    else if (c === '[') {
      const j = t.indexOf(']', i);
      const body = t.slice(i + 1, j);
      const set: string[] = [];
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === '-') {
          for (let d = Number(body[k]); d <= Number(body[k + 2]); d++) set.push(String(d));
          k += 2;
        } else set.push(body[k]);
      }
      out.push(set);
      i = j;
    } else out.push([c]);
  }
  return out;
}

const COMPILED: Record<string, CompiledTemplate[]> = Object.fromEntries(
  Object.entries(NUMBER_PLANS).map(([cc, p]) => [cc, p.templates.map(compileTemplate)]),
);

interface DemoUser {
  number: string;
  country: string;
  /** UTC offset in seconds */
  tz: number;
}

function drawNumber(rng: Rng, country: string): string {
  const template = rng.pick(COMPILED[country]);
  let s = '';
  for (const options of template) s += options.length === 1 ? options[0] : options[rng.int(options.length)];
  return s;
}

class Audience {
  private readonly countries: string[];
  private readonly cum: number[];
  readonly mainTz: number;
  constructor(audience: Record<string, number>, label: string) {
    const entries = Object.entries(audience).filter(([, w]) => w > 0);
    if (entries.length === 0) throw new Error(`demo traffic: ${label} has no audience with a positive weight`);
    for (const [cc, w] of entries) {
      if (!Number.isFinite(w)) throw new Error(`demo traffic: ${label} has a non-finite weight for ${cc}`);
      if (!NUMBER_PLANS[cc]) {
        throw new Error(`demo traffic: ${label}: no number plan for country "${cc}" (known: ${DEMO_RECIPIENT_COUNTRIES.join(' ')})`);
      }
    }
    const total = entries.reduce((a, [, w]) => a + w, 0);
    this.countries = entries.map(([cc]) => cc);
    let acc = 0;
    this.cum = entries.map(([, w]) => (acc += w) / total);
    let main = entries[0];
    for (const e of entries) if (e[1] > main[1]) main = e;
    this.mainTz = NUMBER_PLANS[main[0]].tz * 60;
  }
  country(rng: Rng): string {
    const u = rng.next();
    for (let i = 0; i < this.cum.length; i++) if (u < this.cum[i]) return this.countries[i];
    return this.countries[this.countries.length - 1];
  }
}

/** A channel's customers for one segment: a fixed pool, some customers far more active than others. */
class UserPool {
  private readonly users: DemoUser[] = [];
  constructor(
    rng: Rng,
    private readonly audience: Audience,
    size: number,
    private readonly taken: Set<string>,
  ) {
    for (let i = 0; i < size; i++) this.users.push(this.fresh(rng));
  }
  /** A customer not in the pool (nor in any pool of this run). */
  fresh(rng: Rng): DemoUser {
    for (;;) {
      const country = this.audience.country(rng);
      const number = drawNumber(rng, country);
      if (this.taken.has(number)) continue;
      this.taken.add(number);
      return { number, country, tz: NUMBER_PLANS[country].tz * 60 };
    }
  }
  /** Skewed towards the front of the pool: regulars and occasional customers. */
  pick(rng: Rng): DemoUser {
    return this.users[Math.floor(this.users.length * Math.pow(rng.next(), 1.6))];
  }
}

// ---------------------------------------------------------------------------------------------
// Status JSON

interface ConversationJson {
  id: string;
  expiration_timestamp?: string | number;
  origin: { type: string };
}
interface PricingJson {
  billable: boolean;
  pricing_model: string;
  type?: string;
  category: string;
}
interface ErrorJson {
  code: number;
  title: string;
  message: string;
  error_data: { details: string };
  href?: string;
}
interface StatusJson {
  id: string;
  status: string;
  timestamp: string;
  recipient_id: string;
  conversation?: ConversationJson;
  pricing?: PricingJson;
  errors?: ErrorJson[];
}

const ERR_ECOSYSTEM: ErrorJson = {
  code: 131049,
  title: 'This message was not delivered to maintain healthy ecosystem engagement.',
  message: 'This message was not delivered to maintain healthy ecosystem engagement.',
  error_data: { details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.' },
  href: '/documentation/business-messaging/whatsapp/support/error-codes',
};
const ERR_UNDELIVERABLE: ErrorJson = {
  code: 131026,
  title: 'Message undeliverable',
  message: 'Message undeliverable',
  error_data: { details: 'Message Undeliverable.' },
};

interface ConversationRef {
  id: string;
  expiration: number;
  origin: string;
}

interface MessagePlan {
  t0: number;
  user: DemoUser;
  conversation: ConversationRef | null;
  pricing: PricingJson | null;
  readProb: number;
  failure: ErrorJson | null;
  /** Forced delivery time (the message that opens a CBP conversation). */
  deliverAt?: number;
  /** Emit `expiration_timestamp` as a number (the quirk some payloads show). */
  expirationAsNumber?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Bodies

const BODY_WINDOW = HOUR;
const MAX_STATUSES_PER_BODY = 200;

interface Pending {
  arrival: number;
  seq: number;
  ch: number;
  status: StatusJson;
}

/** Collects statuses with their arrival time and posts them as hourly per-channel bodies. */
class Sink {
  private pending: Pending[] = [];
  private seq = 0;
  constructor(
    private readonly channels: DemoChannel[],
    /** statuses stamped after this are not emitted (not happened yet / outside the sample) */
    public limit: number,
  ) {}

  push(ch: number, status: StatusJson, arrival: number): boolean {
    if (Number(status.timestamp) > this.limit) return false;
    this.pending.push({ arrival, seq: this.seq++, ch, status });
    return true;
  }

  /** Bodies for everything that arrived before `before` (nothing later may arrive earlier). */
  *drain(before: number): Generator<object> {
    const ready: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.pending) (p.arrival < before ? ready : rest).push(p);
    this.pending = rest;
    ready.sort((a, b) => {
      const ba = Math.floor(a.arrival / BODY_WINDOW);
      const bb = Math.floor(b.arrival / BODY_WINDOW);
      return ba - bb || a.ch - b.ch || a.arrival - b.arrival || a.seq - b.seq;
    });
    let i = 0;
    while (i < ready.length) {
      const bucket = Math.floor(ready[i].arrival / BODY_WINDOW);
      const ch = ready[i].ch;
      let j = i;
      while (j < ready.length && j - i < MAX_STATUSES_PER_BODY && ready[j].ch === ch && Math.floor(ready[j].arrival / BODY_WINDOW) === bucket) j++;
      yield this.envelope(ch, ready.slice(i, j).map((p) => p.status));
      i = j;
    }
  }

  private envelope(ch: number, statuses: StatusJson[]): object {
    const c = this.channels[ch];
    return {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: c.wabaId,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: c.displayPhoneNumber, phone_number_id: c.phoneNumberId },
                statuses,
              },
              field: 'messages',
            },
          ],
        },
      ],
    };
  }
}

function clonePricing(p: PricingJson): PricingJson {
  return p.type === undefined
    ? { billable: p.billable, pricing_model: p.pricing_model, category: p.category }
    : { billable: p.billable, pricing_model: p.pricing_model, type: p.type, category: p.category };
}

function cloneStatus(s: StatusJson): StatusJson {
  const c: StatusJson = { id: s.id, status: s.status, timestamp: s.timestamp, recipient_id: s.recipient_id };
  if (s.conversation) {
    const { id, expiration_timestamp, origin } = s.conversation;
    c.conversation =
      expiration_timestamp === undefined ? { id, origin: { type: origin.type } } : { id, expiration_timestamp, origin: { type: origin.type } };
  }
  if (s.pricing) c.pricing = clonePricing(s.pricing);
  if (s.errors) c.errors = s.errors.map((e) => ({ ...e, error_data: { ...e.error_data } }));
  return c;
}

/** Seconds from delivery to read: at once, within the hour, or much later. */
function readDelay(rng: Rng): number {
  const r = rng.next();
  if (r < 0.35) return 2 + rng.int(90);
  if (r < 0.8) return 60 + Math.floor(rng.exp(1800));
  return 600 + Math.floor(rng.exp(6 * HOUR));
}

/** One message's status lifecycle (sent → delivered → read, or sent → failed) with its quirks. */
function emitMessage(sink: Sink, ch: number, rng: Rng, m: MessagePlan): void {
  const id = wamid(rng);
  const status = (name: string, ts: number): StatusJson => ({
    id,
    status: name,
    timestamp: String(ts),
    recipient_id: m.user.number,
  });
  const withMeta = (s: StatusJson, withExpiration: boolean): StatusJson => {
    if (m.conversation) {
      const { id: conversationId, expiration, origin } = m.conversation;
      s.conversation = withExpiration
        ? { id: conversationId, expiration_timestamp: m.expirationAsNumber ? expiration : String(expiration), origin: { type: origin } }
        : { id: conversationId, origin: { type: origin } };
    }
    if (m.pricing) s.pricing = clonePricing(m.pricing);
    return s;
  };

  const sent = withMeta(status('sent', m.t0), true);
  const posted: Pending[] = [];
  const post = (s: StatusJson, arrival: number): void => {
    if (sink.push(ch, s, arrival)) posted.push({ arrival, seq: 0, ch, status: s });
  };

  if (m.failure) {
    const failedAt = m.t0 + 1 + Math.floor(rng.exp(20));
    const failed = status('failed', failedAt);
    if (rng.chance(0.3)) withMeta(failed, false);
    failed.errors = [{ ...m.failure, error_data: { ...m.failure.error_data } }];
    post(sent, m.t0);
    post(failed, failedAt);
  } else {
    const deliveredAt =
      m.deliverAt ?? m.t0 + (rng.chance(0.86) ? 1 + rng.int(12) : Math.min(7 * DAY, 30 + Math.floor(rng.exp(1.5 * HOUR))));
    const noDelivered = rng.chance(0.02);
    const readAt = noDelivered || rng.chance(m.readProb) ? deliveredAt + readDelay(rng) : null;
    const metaOnDelivered = !noDelivered && rng.chance(0.9);
    const metaOnRead = readAt !== null && (noDelivered || !metaOnDelivered || rng.chance(0.25));
    const sentLate = !noDelivered && rng.chance(0.006);

    post(sent, sentLate ? deliveredAt + HOUR + rng.int(HOUR) : m.t0);
    if (!noDelivered) {
      const delivered = status('delivered', deliveredAt);
      if (metaOnDelivered) withMeta(delivered, false);
      post(delivered, deliveredAt);
    }
    if (readAt !== null) {
      const read = status('read', readAt);
      if (metaOnRead) withMeta(read, false);
      post(read, readAt);
    }
  }

  // Meta warns of duplicates: the same status again, in a later body.
  if (posted.length > 0 && rng.chance(0.01)) {
    const original = posted[rng.int(posted.length)];
    sink.push(ch, cloneStatus(original.status), original.arrival + HOUR + rng.int(5 * HOUR));
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers for the segments

/** A second of the day `dayStart` at a local hour drawn from the daily rhythm. */
function diurnalTime(rng: Rng, dayStart: number, tz: number): number {
  const u = rng.next();
  let h = 0;
  while (h < 23 && u >= DIURNAL_CUM[h]) h++;
  const local = h * HOUR + rng.int(HOUR);
  return dayStart + ((((local - tz) % DAY) + DAY) % DAY);
}

/** Split `total` into integer parts proportional to `weights` (largest remainder, exact sum). */
function spread(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w / sum) * total);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]]++;
  return out;
}

/** Daily weights over [start, end): weekly rhythm plus day-to-day noise. */
function dayWeights(rng: Rng, start: number, days: number): number[] {
  const w: number[] = [];
  for (let d = 0; d < days; d++) w.push(WEEKDAY[weekdayOf(start + d * DAY)] * Math.exp(0.12 * rng.normal()));
  return w;
}

interface SegmentContext {
  opts: DemoTrafficOptions;
  audiences: Audience[];
  taken: Set<string>;
}

// ---------------------------------------------------------------------------------------------
// CBP sample months

interface CbpKind {
  /** `conversation.origin.type` */
  origin: string;
  /** `pricing.category` */
  category: string;
  billable: boolean;
  window: number;
  /** messages per conversation: probabilities of 1, 2, 3, 4 */
  messages: [number, number, number, number];
  readProb: number;
  failure: ErrorJson;
}

const CBP_V1_KINDS: Record<string, CbpKind> = {
  business_initiated: { origin: 'business_initiated', category: 'business_initiated', billable: true, window: CONVERSATION_WINDOW, messages: [0.6, 0.25, 0.1, 0.05], readProb: 0.6, failure: ERR_UNDELIVERABLE },
  user_initiated: { origin: 'user_initiated', category: 'user_initiated', billable: true, window: CONVERSATION_WINDOW, messages: [0.3, 0.35, 0.2, 0.15], readProb: 0.8, failure: ERR_UNDELIVERABLE },
  referral_conversion: { origin: 'referral_conversion', category: 'referral_conversion', billable: false, window: FREE_ENTRY_POINT_WINDOW, messages: [0.25, 0.3, 0.25, 0.2], readProb: 0.85, failure: ERR_UNDELIVERABLE },
};

const CBP_V2_KINDS: Record<string, CbpKind> = {
  marketing: { origin: 'marketing', category: 'marketing', billable: true, window: CONVERSATION_WINDOW, messages: [0.85, 0.15, 0, 0], readProb: 0.5, failure: ERR_ECOSYSTEM },
  utility: { origin: 'utility', category: 'utility', billable: true, window: CONVERSATION_WINDOW, messages: [0.65, 0.3, 0.05, 0], readProb: 0.65, failure: ERR_UNDELIVERABLE },
  authentication: { origin: 'authentication', category: 'authentication', billable: true, window: CONVERSATION_WINDOW, messages: [0.9, 0.1, 0, 0], readProb: 0.7, failure: ERR_UNDELIVERABLE },
  service: { origin: 'service', category: 'service', billable: true, window: CONVERSATION_WINDOW, messages: [0.3, 0.35, 0.2, 0.15], readProb: 0.85, failure: ERR_UNDELIVERABLE },
  referral_conversion: { origin: 'referral_conversion', category: 'referral_conversion', billable: false, window: FREE_ENTRY_POINT_WINDOW, messages: [0.25, 0.3, 0.25, 0.2], readProb: 0.85, failure: ERR_UNDELIVERABLE },
};

function messageCount(rng: Rng, p: [number, number, number, number]): number {
  let u = rng.next();
  for (let i = 0; i < 4; i++) {
    if (u < p[i]) return i + 1;
    u -= p[i];
  }
  return 1;
}

/** Conversations per kind for a channel in a CBP sample month. */
function cbpPlan(era: 1 | 2, ch: number, dailyVolume: number): Record<string, number> {
  const dv = Math.max(0, dailyVolume);
  if (era === 1) {
    const total = ch === 0 ? 1300 : Math.min(950, Math.max(60, Math.round(dv * 5)));
    const referral = Math.max(1, Math.round(total * 0.03));
    const business = Math.round((total - referral) * 0.52);
    return { business_initiated: business, user_initiated: total - referral - business, referral_conversion: referral };
  }
  if (ch === 0) {
    return {
      service: 1180,
      marketing: Math.max(300, Math.round(dv * 4)),
      utility: Math.max(200, Math.round(dv * 3)),
      authentication: Math.max(100, Math.round(dv * 1.5)),
      referral_conversion: Math.max(12, Math.round(dv * 0.2)),
    };
  }
  return {
    service: Math.min(900, Math.max(20, Math.round(dv * 3.5))),
    marketing: Math.round(dv * 3),
    utility: Math.round(dv * 2),
    authentication: Math.round(dv),
    referral_conversion: Math.max(2, Math.round(dv * 0.15)),
  };
}

function* cbpMonth(ctx: SegmentContext, era: 1 | 2): Generator<object> {
  const { opts } = ctx;
  const month = era === 1 ? CBP_V1_MONTH : CBP_V2_MONTH;
  const limit = Math.min(opts.now, month.end - 1);
  if (limit < month.start + DAY / 2) return; // `now` before the sample month: nothing to show yet
  const kinds = era === 1 ? CBP_V1_KINDS : CBP_V2_KINDS;
  const numericExpiration = era === 1 ? 0.1 : 0.05;
  const sink = new Sink(opts.channels, limit);
  const days = Math.round((month.end - month.start) / DAY);

  interface ChannelState {
    rng: Rng;
    pool: UserPool;
    perDay: Record<string, number[]>;
    /** user|origin → expiration of the last conversation opened */
    open: Map<string, number>;
  }
  const states: ChannelState[] = opts.channels.map((c, ch) => {
    const rng = new Rng(mixSeed(opts.seed, 0xcb9, era, ch));
    const plan = cbpPlan(era, ch, c.dailyVolume);
    const total = Object.values(plan).reduce((a, b) => a + b, 0);
    const pool = new UserPool(rng, ctx.audiences[ch], Math.max(50, Math.round(total * 0.85)), ctx.taken);
    const perDay: Record<string, number[]> = {};
    for (const kind of Object.keys(plan)) perDay[kind] = spread(plan[kind], dayWeights(rng, month.start, days));
    return { rng, pool, perDay, open: new Map() };
  });

  for (let d = 0; d < days; d++) {
    const dayStart = month.start + d * DAY;
    const lo = dayStart + 60;
    const hi = Math.min(dayStart + DAY, limit) - 120;
    if (hi <= lo) break;
    for (let ch = 0; ch < opts.channels.length; ch++) {
      const st = states[ch];
      const rng = st.rng;
      const planned: { open: number; kind: CbpKind; user: DemoUser; neverOpened: boolean; i: number }[] = [];
      for (const [name, counts] of Object.entries(st.perDay)) {
        const kind = kinds[name];
        for (let k = 0; k < counts[d]; k++) {
          const user = st.pool.pick(rng);
          planned.push({ open: Math.min(hi, Math.max(lo, diurnalTime(rng, dayStart, user.tz))), kind, user, neverOpened: false, i: planned.length });
        }
        // Business-initiated attempts that never reached the user: a conversation id on `sent`
        // and `failed` only, which must not count as usage.
        if (kind.origin !== 'referral_conversion' && kind.origin !== 'user_initiated' && kind.origin !== 'service') {
          const attempts = Math.floor(counts[d] * 0.02 + rng.next());
          for (let k = 0; k < attempts; k++) {
            const user = st.pool.pick(rng);
            planned.push({ open: Math.min(hi, Math.max(lo, diurnalTime(rng, dayStart, user.tz))), kind, user, neverOpened: true, i: planned.length });
          }
        }
      }
      planned.sort((a, b) => a.open - b.open || a.i - b.i);

      for (const p of planned) {
        const { kind, open } = p;
        // One open conversation per user and category: pick another customer when this one has one.
        let user = p.user;
        for (let tries = 0; (st.open.get(`${user.number}|${kind.origin}`) ?? 0) > open; tries++) {
          user = tries < 6 ? st.pool.pick(rng) : st.pool.fresh(rng);
        }
        const conversation: ConversationRef = { id: hex32(rng), expiration: open + kind.window, origin: kind.origin };
        const pricing: PricingJson = { billable: kind.billable, pricing_model: 'CBP', category: kind.category };
        if (p.neverOpened) {
          emitMessage(sink, ch, rng, {
            t0: open,
            user,
            conversation,
            pricing,
            readProb: 0,
            failure: kind.failure,
            expirationAsNumber: rng.chance(numericExpiration),
          });
          continue;
        }
        st.open.set(`${user.number}|${kind.origin}`, conversation.expiration);
        const n = messageCount(rng, kind.messages);
        const end = Math.min(conversation.expiration, limit + 1) - 60;
        const times = [open - 1 - rng.int(4)];
        for (let k = 1; k < n; k++) times.push(open + 30 + Math.floor(Math.pow(rng.next(), 2) * Math.max(0, end - open - 30)));
        times.sort((a, b) => a - b);
        for (let k = 0; k < n; k++) {
          emitMessage(sink, ch, rng, {
            t0: times[k],
            user,
            conversation,
            pricing,
            readProb: kind.readProb,
            failure: k > 0 && rng.chance(0.015) ? kind.failure : null,
            deliverAt: k === 0 ? open : undefined,
            expirationAsNumber: rng.chance(numericExpiration),
          });
        }
      }
    }
    yield* sink.drain(dayStart + DAY);
  }
  yield* sink.drain(Infinity);
}

// ---------------------------------------------------------------------------------------------
// PMP

type PmpKind = 'marketing' | 'utility' | 'utility_free' | 'authentication' | 'service' | 'fep';

interface PmpPlanned {
  t0: number;
  kind: PmpKind;
  user: DemoUser;
  /** free entry point: the thread's conversation and the message's category */
  fep?: { conversation: ConversationRef; category: string };
  i: number;
}

const READ_PROB: Record<string, number> = {
  marketing: 0.5,
  utility: 0.65,
  authentication: 0.7,
  'authentication-international': 0.7,
  service: 0.85,
};

function* pmp(ctx: SegmentContext): Generator<object> {
  const { opts } = ctx;
  const now = opts.now;
  if (now < PMP_START) return;
  const recentStart = Math.max(PMP_START, now - Math.max(0, opts.recentDays) * DAY);
  const earlyEnd = Math.min(EARLY_PMP_MONTH.end, recentStart, now + 1);
  const hasEarly = earlyEnd > EARLY_PMP_MONTH.start;
  const hasRecent = opts.recentDays > 0;
  if (!hasEarly && !hasRecent) return;

  const sink = new Sink(opts.channels, now);
  const from = hasEarly ? EARLY_PMP_MONTH.start : recentStart;
  const firstDay = Math.floor(from / DAY) * DAY;
  const lastDay = Math.floor(now / DAY) * DAY;
  const recentFirstDay = Math.floor(recentStart / DAY) * DAY;
  const recentSpan = Math.max(DAY, lastDay - recentFirstDay);

  interface ChannelState {
    rng: Rng;
    pool: UserPool;
    /** user|origin → the Graph v23 conversation currently open */
    conversations: Map<string, ConversationRef & { open: number }>;
  }
  const states: ChannelState[] = opts.channels.map((c, ch) => {
    const rng = new Rng(mixSeed(opts.seed, 0x9a9, ch));
    const pool = new UserPool(rng, ctx.audiences[ch], Math.max(300, Math.round(Math.max(0, c.dailyVolume) * 20)), ctx.taken);
    return { rng, pool, conversations: new Map() };
  });

  for (let dayStart = firstDay; dayStart <= lastDay; dayStart += DAY) {
    let windowStart: number;
    let factor: number;
    if (dayStart + DAY > recentStart && hasRecent) {
      windowStart = Math.max(dayStart, recentStart);
      factor = 0.92 + (0.16 * (dayStart - recentFirstDay)) / recentSpan; // a business that grows
    } else if (hasEarly && dayStart < earlyEnd) {
      windowStart = Math.max(dayStart, EARLY_PMP_MONTH.start);
      factor = 0.55;
    } else continue;

    for (let ch = 0; ch < opts.channels.length; ch++) {
      const st = states[ch];
      const rng = st.rng;
      const channel = opts.channels[ch];
      const planned = planPmpDay(rng, st.pool, ctx.audiences[ch], channel.dailyVolume * factor, dayStart);
      planned.sort((a, b) => a.t0 - b.t0 || a.i - b.i);
      for (const p of planned) {
        // Threads, follow-ups and late campaigns may run into the next day: they belong to this one.
        if (p.t0 < windowStart || p.t0 > now) continue;
        emitPmpMessage(sink, ch, rng, st.conversations, p);
      }
    }
    yield* sink.drain(dayStart + DAY);
  }
  yield* sink.drain(Infinity);
}

/** The messages one channel sends on one day (some may fall in later days: follow-ups, threads). */
function planPmpDay(rng: Rng, pool: UserPool, audience: Audience, volume: number, dayStart: number): PmpPlanned[] {
  const out: PmpPlanned[] = [];
  const add = (t0: number, kind: PmpKind, user: DemoUser, fep?: PmpPlanned['fep']): void => {
    out.push({ t0, kind, user, fep, i: out.length });
  };
  const templates = Math.max(0, Math.round(Math.max(0, volume) * WEEKDAY[weekdayOf(dayStart)] * Math.exp(0.1 * rng.normal())));
  const marketing = Math.round(templates * 0.5);
  const utility = Math.round(templates / 3);
  const authentication = templates - marketing - utility;
  const service = Math.round(templates / 9);

  // Marketing: one to three campaigns a day, each a burst at a business hour of the main market.
  if (marketing > 0) {
    const campaigns = Math.min(marketing, 1 + (marketing > 30 ? 1 : 0) + (marketing > 80 ? 1 : 0) + (rng.chance(0.3) ? 1 : 0) - (rng.chance(0.3) ? 1 : 0));
    const sizes = spread(marketing, Array.from({ length: Math.max(1, campaigns) }, () => 0.5 + rng.next()));
    for (const size of sizes) {
      const localStart = (9 + rng.int(10)) * HOUR + rng.int(HOUR);
      const start = dayStart + ((((localStart - audience.mainTz) % DAY) + DAY) % DAY);
      const duration = 5 * 60 + rng.int(35 * 60);
      for (let k = 0; k < size; k++) add(start + rng.int(duration), 'marketing', pool.pick(rng));
    }
  }

  // Service: customers write, agents answer inside the 24 h window (1–3 replies); most of the
  // threads get a utility template (order update, receipt) while the window is still open: free.
  let followUps = 0;
  for (let left = service; left > 0; ) {
    const user = pool.pick(rng);
    const userMessage = diurnalTime(rng, dayStart, user.tz);
    const windowEnd = userMessage + CONVERSATION_WINDOW;
    const replies = Math.min(left, 1 + (rng.chance(0.3) ? 1 : 0) + (rng.chance(0.1) ? 1 : 0));
    left -= replies;
    let t = userMessage + 20 + Math.floor(rng.exp(600));
    for (let k = 0; k < replies && t < windowEnd - 60; k++) {
      add(t, 'service', user);
      t += 30 + Math.floor(rng.exp(300));
    }
    const room = windowEnd - 120 - (t + 300);
    if (followUps < utility && room > 0 && rng.chance(0.6)) {
      add(t + 300 + rng.int(room), 'utility_free', user);
      followUps++;
    }
  }

  for (let k = 0; k < utility - followUps; k++) {
    const user = pool.pick(rng);
    add(diurnalTime(rng, dayStart, user.tz), 'utility', user);
  }
  for (let k = 0; k < authentication; k++) {
    const user = pool.pick(rng);
    add(diurnalTime(rng, dayStart, user.tz), 'authentication', user);
  }

  // Free entry point: a click-to-WhatsApp ad opens a 72 h window in which everything is free.
  const threads = Math.floor(templates * 0.01 + rng.next());
  for (let k = 0; k < threads; k++) {
    const user = pool.fresh(rng);
    const clicked = diurnalTime(rng, dayStart, user.tz);
    const conversation: ConversationRef = { id: hex32(rng), expiration: clicked + FREE_ENTRY_POINT_WINDOW, origin: 'referral_conversion' };
    const n = 1 + rng.int(3);
    let t = clicked + 20 + Math.floor(rng.exp(300));
    for (let m = 0; m < n && t < conversation.expiration - 60; m++) {
      const category = m === 0 || rng.chance(0.8) ? 'service' : rng.chance(0.5) ? 'utility' : 'marketing';
      add(t, 'fep', user, { conversation, category });
      t += 600 + Math.floor(rng.exp(12 * HOUR));
    }
  }
  return out;
}

function emitPmpMessage(
  sink: Sink,
  ch: number,
  rng: Rng,
  conversations: Map<string, ConversationRef & { open: number }>,
  p: PmpPlanned,
): void {
  const v23 = p.t0 < GRAPH_V24_FROM;
  let type: string;
  let category: string;
  let origin: string;
  switch (p.kind) {
    case 'marketing':
      [type, category, origin] = ['regular', 'marketing', 'marketing'];
      break;
    case 'utility':
      [type, category, origin] = ['regular', 'utility', 'utility'];
      break;
    case 'utility_free':
      [type, category, origin] = ['free_customer_service', 'utility', 'service'];
      break;
    case 'service':
      [type, category, origin] = ['free_customer_service', 'service', 'service'];
      break;
    case 'authentication':
      // Eligible businesses pay the international rate in these markets (most, not all, here).
      if (AUTH_INTERNATIONAL.has(p.user.country) && rng.chance(0.8)) {
        [type, category, origin] = ['regular', 'authentication-international', 'authentication_international'];
      } else [type, category, origin] = ['regular', 'authentication', 'authentication'];
      break;
    case 'fep':
      [type, category, origin] = ['free_entry_point', p.fep!.category, 'referral_conversion'];
      break;
  }

  let conversation: ConversationRef | null = null;
  if (p.fep) conversation = p.fep.conversation;
  else if (v23) {
    const key = `${p.user.number}|${origin}`;
    const open = conversations.get(key);
    if (open && open.open <= p.t0 && p.t0 < open.expiration) conversation = open;
    else {
      const opened = p.t0 + 2 + rng.int(10);
      const fresh = { id: hex32(rng), expiration: opened + CONVERSATION_WINDOW, origin, open: p.t0 };
      if (!open || open.open <= p.t0) conversations.set(key, fresh);
      conversation = fresh;
    }
  }

  const failure =
    p.kind === 'marketing' ? (rng.chance(0.05) ? ERR_ECOSYSTEM : null) : p.kind === 'fep' || p.kind === 'service' ? (rng.chance(0.005) ? ERR_UNDELIVERABLE : null) : rng.chance(0.01) ? ERR_UNDELIVERABLE : null;

  emitMessage(sink, ch, rng, {
    t0: p.t0,
    user: p.user,
    conversation: conversation ? { id: conversation.id, expiration: conversation.expiration, origin: conversation.origin } : null,
    pricing: { billable: type === 'regular', pricing_model: 'PMP', type, category },
    readProb: READ_PROB[category] ?? 0.6,
    failure,
  });
}

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Cloud API webhook bodies of demo traffic for `opts.channels`, roughly chronological: the CBP v1
 * sample month (2023-03), the CBP v2 sample month (2024-09), then PMP traffic (2025-08 at a lower
 * volume where the recent window does not cover it, and `recentDays` days ending at `now`).
 * Deterministic for equal options. Throws on an audience country without a number plan
 * (see DEMO_RECIPIENT_COUNTRIES) or on non-finite options.
 */
export function* demoWebhookBodies(opts: DemoTrafficOptions): Generator<object> {
  if (!Number.isFinite(opts.now) || !Number.isFinite(opts.seed) || !Number.isFinite(opts.recentDays)) {
    throw new Error('demo traffic: now, seed and recentDays must be finite numbers');
  }
  const audiences = opts.channels.map((c, i) => {
    if (!Number.isFinite(c.dailyVolume) || c.dailyVolume < 0) throw new Error(`demo traffic: channel ${i} has an invalid dailyVolume`);
    return new Audience(c.audience, `channel ${i} (${c.phoneNumberId})`);
  });
  if (opts.channels.length === 0) return;
  const ctx: SegmentContext = { opts: { ...opts, now: Math.floor(opts.now) }, audiences, taken: new Set() };
  yield* cbpMonth(ctx, 1);
  yield* cbpMonth(ctx, 2);
  yield* pmp(ctx);
}
