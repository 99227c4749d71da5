import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parsePhoneNumber } from 'libphonenumber-js/max';
import {
  DEMO_RECIPIENT_COUNTRIES,
  demoWebhookBodies,
  type DemoChannel,
  type DemoTrafficOptions,
} from '../../src/demo/traffic.ts';

const utc = (y: number, m: number, d = 1, h = 0): number => Date.UTC(y, m - 1, d, h) / 1000;
const DAY = 86_400;

const CBP_V1 = { start: utc(2023, 3), end: utc(2023, 4) };
const CBP_V2 = { start: utc(2024, 9), end: utc(2024, 10) };
const PMP_FROM = utc(2025, 8);
const V24_FROM = utc(2025, 10);
const NOW = utc(2025, 11, 15, 10);

const channel = (i: number, audience: Record<string, number>, dailyVolume = 150): DemoChannel => ({
  phoneNumberId: `10654035224292${i}`,
  wabaId: `10229012934039${i}`,
  displayPhoneNumber: `1555078388${i}`,
  audience,
  dailyVolume,
});

const OPTIONS: DemoTrafficOptions = {
  channels: [
    channel(0, { DE: 5, GB: 2, ES: 1, IN: 1 }),
    channel(1, { IN: 6, ID: 2, NG: 1, AE: 1, US: 1 }),
    channel(2, { BR: 4, MX: 3, US: 2, DO: 1 }),
  ],
  now: NOW,
  seed: 42,
  recentDays: 90,
};

// ---------------------------------------------------------------------------------------------
// Summary of a run (kept here: only the tests need it)

interface StatusJson {
  id: string;
  status: string;
  timestamp: string;
  recipient_id: string;
  conversation?: { id: string; expiration_timestamp?: string | number; origin: { type: string } };
  pricing?: { billable: boolean; pricing_model: string; type?: string; category: string };
  errors?: { code: number; title: string }[];
}

interface Row {
  body: number;
  ch: number;
  s: StatusJson;
}

interface Message {
  id: string;
  ch: number;
  recipient: string;
  rows: Row[];
  /** pricing of the `sent` status */
  pricing: NonNullable<StatusJson['pricing']>;
  sentTs: number;
  conversationId: string | null;
  has: Set<string>;
}

interface Summary {
  bodies: unknown[];
  rows: Row[];
  messages: Map<string, Message>;
  ms: number;
}

function summarizeDemoTraffic(opts: DemoTrafficOptions): Summary {
  const t = performance.now();
  const bodies = [...demoWebhookBodies(opts)];
  const ms = performance.now() - t;
  const chOf = new Map(opts.channels.map((c, i) => [c.phoneNumberId, i]));
  const rows: Row[] = [];
  bodies.forEach((b, body) => {
    const value = (b as any).entry[0].changes[0].value;
    const ch = chOf.get(value.metadata.phone_number_id)!;
    for (const s of value.statuses as StatusJson[]) rows.push({ body, ch, s });
  });
  const messages = new Map<string, Message>();
  for (const r of rows) {
    let m = messages.get(r.s.id);
    if (!m) {
      m = { id: r.s.id, ch: r.ch, recipient: r.s.recipient_id, rows: [], pricing: undefined!, sentTs: NaN, conversationId: null, has: new Set() };
      messages.set(r.s.id, m);
    }
    m.rows.push(r);
    m.has.add(r.s.status);
    if (r.s.status === 'sent') {
      m.sentTs = Number(r.s.timestamp);
      if (r.s.pricing) m.pricing = r.s.pricing;
    }
    if (r.s.conversation) m.conversationId = r.s.conversation.id;
  }
  return { bodies, rows, messages, ms };
}

let cached: Summary | null = null;
const main = (): Summary => (cached ??= summarizeDemoTraffic(OPTIONS));

const hashRun = (opts: DemoTrafficOptions): string => {
  const h = createHash('sha256');
  for (const b of demoWebhookBodies(opts)) h.update(JSON.stringify(b)).update('\n');
  return h.digest('hex');
};

const delivered = (m: Message): boolean => m.has.has('delivered') || m.has.has('read');
const inRange = (t: number, r: { start: number; end: number }): boolean => t >= r.start && t < r.end;
const ratio = (a: number, b: number): number => a / b;

/** Delivered conversations per channel in a CBP month, by origin type. */
function cbpConversations(s: Summary, month: { start: number; end: number }, ch: number, origin?: string): Set<string> {
  const ids = new Set<string>();
  for (const m of s.messages.values()) {
    if (m.ch !== ch || m.pricing.pricing_model !== 'CBP' || !inRange(m.sentTs, month) || !delivered(m)) continue;
    const sent = m.rows.find((r) => r.s.status === 'sent')!.s;
    if (origin && sent.conversation?.origin.type !== origin) continue;
    ids.add(m.conversationId!);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------

test('same options give byte-identical output; another seed gives other traffic', () => {
  const a = hashRun(OPTIONS);
  assert.equal(hashRun(OPTIONS), a);
  assert.notEqual(hashRun({ ...OPTIONS, seed: 43 }), a);
});

// How long generation takes is a figure of `npm run bench` (bench/parse.ts), not a test.
test('size: 3 channels × 90 days × 150/day', (t) => {
  const s = main();
  t.diagnostic(`generation took ${Math.round(s.ms)} ms`);
  assert.ok(s.rows.length >= 100_000 && s.rows.length <= 200_000, `statuses: ${s.rows.length}`);
});

test('every body is a well-formed Cloud API envelope with at most 200 statuses', () => {
  const s = main();
  const ids = new Map(OPTIONS.channels.map((c) => [c.phoneNumberId, c]));
  for (const b of s.bodies as any[]) {
    assert.equal(b.object, 'whatsapp_business_account');
    assert.equal(b.entry.length, 1);
    const [entry] = b.entry;
    assert.equal(entry.changes.length, 1);
    const [change] = entry.changes;
    assert.equal(change.field, 'messages');
    const { value } = change;
    assert.equal(value.messaging_product, 'whatsapp');
    const c = ids.get(value.metadata.phone_number_id);
    assert.ok(c, 'known phone_number_id');
    assert.equal(entry.id, c.wabaId);
    assert.equal(value.metadata.display_phone_number, c.displayPhoneNumber);
    assert.ok(Array.isArray(value.statuses) && value.statuses.length >= 1 && value.statuses.length <= 200);
    for (const st of value.statuses as StatusJson[]) {
      assert.match(st.id, /^wamid\.[A-Za-z0-9+/]{40}$/);
      assert.ok(['sent', 'delivered', 'read', 'failed'].includes(st.status));
      assert.match(st.timestamp, /^\d{10}$/);
      assert.match(st.recipient_id, /^\d{10,13}$/);
      if (st.conversation) {
        assert.match(st.conversation.id, /^[0-9a-f]{32}$/);
        if (st.conversation.expiration_timestamp !== undefined) assert.equal(st.status, 'sent');
      }
    }
  }
});

test('message ids are unique per message; every message has one sent status with pricing', () => {
  const s = main();
  for (const m of s.messages.values()) {
    const sent = m.rows.filter((r) => r.s.status === 'sent');
    assert.ok(sent.length >= 1 && sent.length <= 2, m.id);
    if (sent.length === 2) assert.deepEqual(sent[0].s, sent[1].s); // a duplicate
    assert.ok(m.pricing, `sent status of ${m.id} has pricing`);
    assert.ok(m.rows.every((r) => r.s.recipient_id === m.recipient && r.ch === m.ch));
  }
});

test('timestamps are ≤ now and inside the sample ranges of their era', () => {
  const s = main();
  for (const m of s.messages.values()) {
    for (const r of m.rows) {
      const t = Number(r.s.timestamp);
      assert.ok(t <= NOW, `${t} > now`);
      if (m.pricing.pricing_model === 'CBP') assert.ok(inRange(t, CBP_V1) || inRange(t, CBP_V2), `CBP status at ${t}`);
      else assert.ok(t >= PMP_FROM && t <= NOW, `PMP status at ${t}`);
    }
    if (m.pricing.pricing_model === 'CBP') {
      const v1 = inRange(m.sentTs, CBP_V1);
      const allowed = v1 ? ['business_initiated', 'user_initiated', 'referral_conversion'] : ['marketing', 'utility', 'authentication', 'service', 'referral_conversion'];
      assert.ok(allowed.includes(m.pricing.category), `${m.pricing.category} in ${v1 ? 'v1' : 'v2'}`);
      assert.equal(m.pricing.type, undefined);
    } else assert.equal(m.pricing.pricing_model, 'PMP');
  }
  // the recent window reaches its last day, the early-PMP month its first
  const sends = [...s.messages.values()].filter((m) => m.pricing.pricing_model === 'PMP').map((m) => m.sentTs);
  assert.ok(Math.min(...sends) < PMP_FROM + DAY);
  assert.ok(Math.max(...sends) > NOW - 6 * 3600);
});

test('bodies are roughly chronological: per channel, body start times rarely go back', () => {
  const s = main();
  const last = new Map<number, number>();
  let back = 0;
  let total = 0;
  for (const b of s.bodies as any[]) {
    const value = b.entry[0].changes[0].value;
    const ch = OPTIONS.channels.findIndex((c) => c.phoneNumberId === value.metadata.phone_number_id);
    const first = Number(value.statuses[0].timestamp);
    if ((last.get(ch) ?? 0) > first + 6 * 3600) back++;
    last.set(ch, Math.max(last.get(ch) ?? 0, first));
    total++;
  }
  assert.ok(back / total < 0.02, `${back} of ${total} bodies start more than 6 h before an earlier one`);
});

test('CBP v1 2023-03: the first WABA exceeds the 1,000-conversation free tier, the others do not', () => {
  const s = main();
  const first = cbpConversations(s, CBP_V1, 0);
  assert.ok(first.size > 1000, `channel 1: ${first.size} conversations`);
  assert.ok(cbpConversations(s, CBP_V1, 1).size < 1000);
  assert.ok(cbpConversations(s, CBP_V1, 2).size < 1000);

  let numeric = 0;
  let sentWithExpiration = 0;
  const origins = new Map<string, number>();
  for (const m of s.messages.values()) {
    if (!inRange(m.sentTs, CBP_V1)) continue;
    for (const r of m.rows) {
      const c = r.s.conversation;
      if (r.s.pricing) {
        assert.equal(r.s.pricing.pricing_model, 'CBP');
        assert.equal(r.s.pricing.category, c?.origin.type ?? r.s.pricing.category);
        assert.equal(r.s.pricing.billable, r.s.pricing.category !== 'referral_conversion');
      }
      if (c?.expiration_timestamp !== undefined) {
        sentWithExpiration++;
        if (typeof c.expiration_timestamp === 'number') numeric++;
        else assert.match(c.expiration_timestamp, /^\d{10}$/);
      }
    }
    if (delivered(m)) origins.set(m.pricing.category, (origins.get(m.pricing.category) ?? 0) + 1);
  }
  assert.ok(ratio(numeric, sentWithExpiration) > 0.05 && ratio(numeric, sentWithExpiration) < 0.15, `numeric expirations ${numeric}/${sentWithExpiration}`);
  assert.deepEqual([...origins.keys()].sort(), ['business_initiated', 'referral_conversion', 'user_initiated']);
});

test('CBP conversations: expiration is open + 24 h (72 h free entry point) and consistent per id', () => {
  const s = main();
  const byConversation = new Map<string, { exp: number; origin: string; firstDelivered: number }>();
  for (const m of s.messages.values()) {
    if (m.pricing.pricing_model !== 'CBP') continue;
    const sent = m.rows.find((r) => r.s.status === 'sent')!.s;
    const c = sent.conversation!;
    const exp = Number(c.expiration_timestamp);
    const d = m.rows.find((r) => r.s.status === 'delivered');
    const prev = byConversation.get(c.id);
    if (prev) {
      assert.equal(prev.exp, exp);
      assert.equal(prev.origin, c.origin.type);
    }
    const firstDelivered = Math.min(prev?.firstDelivered ?? Infinity, d ? Number(d.s.timestamp) : Infinity);
    byConversation.set(c.id, { exp, origin: c.origin.type, firstDelivered });
  }
  let checked = 0;
  let exact = 0;
  for (const c of byConversation.values()) {
    if (c.firstDelivered === Infinity) continue;
    const window = c.origin === 'referral_conversion' ? 72 * 3600 : 24 * 3600;
    assert.ok(c.exp - window <= c.firstDelivered, 'nothing is delivered before the conversation opens');
    checked++;
    // the opening message's `delivered` is the opening time (unless only its `read` came)
    if (c.exp - window === c.firstDelivered) exact++;
  }
  assert.ok(checked > 3000);
  assert.ok(exact / checked > 0.95, `${exact}/${checked}`);
});

test('CBP v2 2024-09: categories, free entry point, and > 1,000 service conversations for the first WABA', () => {
  const s = main();
  assert.ok(cbpConversations(s, CBP_V2, 0, 'service').size > 1000);
  assert.ok(cbpConversations(s, CBP_V2, 1, 'service').size < 1000);
  const cats = new Set<string>();
  for (const m of s.messages.values()) {
    if (m.pricing.pricing_model !== 'CBP' || !inRange(m.sentTs, CBP_V2)) continue;
    cats.add(m.pricing.category);
    if (m.pricing.category === 'referral_conversion') assert.equal(m.pricing.billable, false);
  }
  assert.deepEqual([...cats].sort(), ['authentication', 'marketing', 'referral_conversion', 'service', 'utility']);
  // a conversation id seen only on sent + failed exists (never opened, not usage)
  const neverOpened = [...s.messages.values()].filter((m) => m.pricing.pricing_model === 'CBP' && m.has.has('failed') && !delivered(m));
  assert.ok(neverOpened.length > 20);
});

test('PMP: Graph v24 (from 2025-10-01) omits conversation except for free entry point; v23 has it', () => {
  const s = main();
  let v23 = 0;
  let v24 = 0;
  let v24Fep = 0;
  for (const r of s.rows) {
    if (r.s.status !== 'sent' || r.s.pricing?.pricing_model !== 'PMP') continue;
    const t = Number(r.s.timestamp);
    if (t >= V24_FROM) {
      v24++;
      if (r.s.pricing.type === 'free_entry_point') {
        v24Fep++;
        assert.equal(r.s.conversation?.origin.type, 'referral_conversion');
        assert.equal(Number(r.s.conversation.expiration_timestamp) - 72 * 3600 <= t, true);
      } else assert.equal(r.s.conversation, undefined);
    } else {
      v23++;
      assert.ok(r.s.conversation, 'v23 sent statuses carry conversation');
      assert.equal(typeof r.s.conversation.expiration_timestamp, 'string');
    }
  }
  assert.ok(v23 > 10_000 && v24 > 10_000 && v24Fep > 20, `${v23} ${v24} ${v24Fep}`);
});

test('PMP: category mix, free types and authentication-international', () => {
  const s = main();
  const recent = [...s.messages.values()].filter((m) => m.pricing.pricing_model === 'PMP' && m.sentTs >= NOW - 90 * DAY);
  for (let ch = 0; ch < 3; ch++) {
    const mine = recent.filter((m) => m.ch === ch && m.pricing.type !== 'free_entry_point');
    const share = (f: (m: Message) => boolean): number => mine.filter(f).length / mine.length;
    const cat = (c: string) => (m: Message) => m.pricing.category === c;
    assert.ok(Math.abs(share(cat('marketing')) - 0.45) < 0.04, 'marketing ~45%');
    assert.ok(Math.abs(share(cat('utility')) - 0.3) < 0.04, 'utility ~30%');
    assert.ok(Math.abs(share((m) => m.pricing.category.startsWith('authentication')) - 0.15) < 0.03, 'authentication ~15%');
    assert.ok(Math.abs(share(cat('service')) - 0.1) < 0.03, 'service ~10%');
    const freeUtility = share((m) => m.pricing.category === 'utility' && m.pricing.type === 'free_customer_service');
    assert.ok(freeUtility > 0.02 && freeUtility < 0.1, `free utility ${freeUtility}`);
  }
  const allowed: Record<string, string[]> = {
    regular: ['marketing', 'utility', 'authentication', 'authentication-international'],
    free_customer_service: ['utility', 'service'],
    free_entry_point: ['service', 'utility', 'marketing'],
  };
  let intl = 0;
  for (const m of recent) {
    const p = m.pricing;
    assert.ok(allowed[p.type!]?.includes(p.category), `${p.type}/${p.category}`);
    assert.equal(p.billable, p.type === 'regular');
    if (p.category === 'authentication-international') {
      intl++;
      const country = parsePhoneNumber('+' + m.recipient).country!;
      assert.ok(['IN', 'ID', 'NG', 'EG', 'MY', 'PK', 'SA', 'ZA', 'AE'].includes(country), country);
    }
  }
  assert.ok(intl > 500, `authentication-international: ${intl}`);
  // v23 origin spells it with an underscore
  const v23intl = [...s.messages.values()].find((m) => m.pricing.category === 'authentication-international' && m.sentTs < V24_FROM)!;
  assert.equal(v23intl.rows.find((r) => r.s.status === 'sent')!.s.conversation!.origin.type, 'authentication_international');
});

test('PMP: daily volume with a weekly rhythm', () => {
  const s = main();
  const firstDay = Math.floor((NOW - 89 * DAY) / DAY) * DAY;
  const perDay = new Map<number, number>();
  for (const m of s.messages.values()) {
    if (m.ch !== 0 || m.pricing.pricing_model !== 'PMP' || m.sentTs < firstDay || m.sentTs >= Math.floor(NOW / DAY) * DAY) continue;
    if (m.pricing.category === 'service' || m.pricing.type === 'free_entry_point') continue;
    const day = Math.floor(m.sentTs / DAY) * DAY;
    perDay.set(day, (perDay.get(day) ?? 0) + 1);
  }
  const days = [...perDay.entries()];
  const mean = days.reduce((a, [, n]) => a + n, 0) / days.length;
  assert.ok(mean > 135 && mean < 165, `mean templates/day ${mean}`);
  const byWeekday = (wd: number): number => {
    const sel = days.filter(([d]) => (Math.floor(d / DAY) + 4) % 7 === wd);
    return sel.reduce((a, [, n]) => a + n, 0) / sel.length;
  };
  assert.ok(byWeekday(0) < 0.8 * byWeekday(2), 'Sundays are quieter than Tuesdays');
});

test('status lifecycle: failures, reads, read without delivered, duplicates, out-of-order', () => {
  const s = main();
  const pmp = [...s.messages.values()].filter((m) => m.pricing.pricing_model === 'PMP' && m.sentTs < NOW - 2 * DAY);
  const failed = pmp.filter((m) => m.has.has('failed'));
  assert.ok(failed.length / pmp.length > 0.02 && failed.length / pmp.length < 0.04, `failed ${failed.length / pmp.length}`);
  for (const m of failed) {
    assert.ok(!m.has.has('delivered') && !m.has.has('read'), 'failed messages are never delivered');
    const f = m.rows.find((r) => r.s.status === 'failed')!.s;
    assert.equal(f.errors!.length, 1);
    assert.equal(f.errors![0].code, m.pricing.category === 'marketing' && m.pricing.type === 'regular' ? 131049 : 131026);
    assert.ok(f.errors![0].title.length > 0);
  }
  const reached = pmp.filter(delivered);
  const read = reached.filter((m) => m.has.has('read'));
  assert.ok(read.length / reached.length > 0.5 && read.length / reached.length < 0.7, `read ${read.length / reached.length}`);
  const readOnly = reached.filter((m) => !m.has.has('delivered'));
  assert.ok(readOnly.length / reached.length > 0.01 && readOnly.length / reached.length < 0.03);
  // pricing on sent and on delivered or read
  const priced = reached.filter((m) => m.rows.some((r) => r.s.status !== 'sent' && r.s.pricing));
  assert.ok(priced.length / reached.length > 0.95);

  // duplicates: an identical status again in a later body
  const seen = new Map<string, number>();
  let duplicates = 0;
  for (const r of s.rows) {
    const key = JSON.stringify(r.s);
    const at = seen.get(key);
    if (at !== undefined) {
      assert.ok(r.body > at, 'a duplicate comes in a later body');
      duplicates++;
    } else seen.set(key, r.body);
  }
  assert.ok(duplicates / s.messages.size > 0.005 && duplicates / s.messages.size < 0.015, `duplicates ${duplicates}`);

  // out of order: a delivered in an earlier body than its sent
  let early = 0;
  for (const m of s.messages.values()) {
    const sent = m.rows.find((r) => r.s.status === 'sent');
    const d = m.rows.find((r) => r.s.status === 'delivered');
    if (sent && d && d.body < sent.body) early++;
  }
  assert.ok(early > 100, `delivered before sent: ${early}`);
});

test('recipients resolve to the channel audience countries, all of them', () => {
  const s = main();
  const seen = OPTIONS.channels.map(() => new Set<string>());
  const byRecipient = new Map<string, number>();
  for (const m of s.messages.values()) {
    const prev = byRecipient.get(m.recipient);
    if (prev !== undefined) continue;
    byRecipient.set(m.recipient, m.ch);
    const country = parsePhoneNumber('+' + m.recipient).country;
    assert.ok(country && country in OPTIONS.channels[m.ch].audience, `${m.recipient} → ${country}`);
    seen[m.ch].add(country);
  }
  OPTIONS.channels.forEach((c, i) => assert.deepEqual([...seen[i]].sort(), Object.keys(c.audience).sort()));
});

test('every supported country emits numbers that libphonenumber resolves to it', () => {
  const audience = Object.fromEntries(DEMO_RECIPIENT_COUNTRIES.map((cc) => [cc, 1]));
  const s = summarizeDemoTraffic({ channels: [channel(9, audience, 400)], now: utc(2025, 9, 1), seed: 7, recentDays: 0 });
  const hits = new Map<string, number>();
  const numbers = new Set([...s.messages.values()].map((m) => m.recipient));
  for (const n of numbers) {
    const p = parsePhoneNumber('+' + n);
    assert.ok(p.country && DEMO_RECIPIENT_COUNTRIES.includes(p.country), `${n} → ${p.country}`);
    // WhatsApp ids for Mexico keep the legacy mobile '1' (52 1 …): MX, though no longer "valid"
    if (p.country !== 'MX') assert.ok(p.isValid() && ['MOBILE', 'FIXED_LINE_OR_MOBILE'].includes(p.getType()!), `${n} (${p.country}) valid mobile`);
    else assert.match(n, /^521\d{10}$/);
    hits.set(p.country, (hits.get(p.country) ?? 0) + 1);
  }
  for (const cc of DEMO_RECIPIENT_COUNTRIES) assert.ok((hits.get(cc) ?? 0) >= 20, `${cc}: ${hits.get(cc) ?? 0} numbers`);
  // the examples of the brief
  const examples: [RegExp, string][] = [
    [/^4915\d{9,10}$|^491[67]\d{8,9}$/, 'DE'],
    [/^91[6-9]\d{9}$/, 'IN'],
    [/^1(415|212|646|312|213|310|617|305|206|512|718|404|650)[2-9]\d{6}$/, 'US'],
    [/^55[1-8]19\d{8}$/, 'BR'],
    [/^234[789][01]\d{8}$/, 'NG'],
    [/^447\d{9}$/, 'GB'],
    [/^628\d{9,10}$/, 'ID'],
    [/^521\d{10}$/, 'MX'],
    [/^34[67]\d{8}$/, 'ES'],
    [/^1(809|829|849)\d{7}$/, 'DO'],
  ];
  for (const n of numbers) {
    const cc = parsePhoneNumber('+' + n).country!;
    const ex = examples.find(([, c]) => c === cc);
    if (ex) assert.match(n, ex[0], `${cc} number ${n}`);
  }
});

test('edge cases: before the samples, recentDays 0, now inside a sample month, bad audience', () => {
  assert.equal([...demoWebhookBodies({ ...OPTIONS, now: utc(2023, 1) })].length, 0);
  assert.equal([...demoWebhookBodies({ ...OPTIONS, channels: [] })].length, 0);

  const mid = utc(2023, 3, 15, 12);
  const partial = summarizeDemoTraffic({ ...OPTIONS, now: mid });
  assert.ok(partial.rows.length > 1000);
  assert.ok(partial.rows.every((r) => Number(r.s.timestamp) <= mid));

  // no recent window: the CBP months and an early-PMP August (threads opened on Aug 31 run on)
  const later = utc(2026, 3, 1);
  const noRecent = summarizeDemoTraffic({ ...OPTIONS, now: later, recentDays: 0 });
  const pmpSends = [...noRecent.messages.values()].filter((m) => m.pricing.pricing_model === 'PMP').map((m) => m.sentTs);
  assert.ok(pmpSends.length > 3000);
  assert.ok(pmpSends.every((t) => inRange(t, { start: PMP_FROM, end: utc(2025, 9, 4) })));
  assert.ok(pmpSends.filter((t) => t >= utc(2025, 9)).length < 0.01 * pmpSends.length);

  // a recent window that would reach into CBP is cut at 2025-07-01
  const long = summarizeDemoTraffic({ ...OPTIONS, channels: [OPTIONS.channels[0]], now: utc(2025, 7, 20), recentDays: 60 });
  for (const m of long.messages.values()) {
    if (m.pricing.pricing_model === 'PMP') assert.ok(m.sentTs >= utc(2025, 7));
  }

  assert.throws(() => [...demoWebhookBodies({ ...OPTIONS, channels: [channel(0, { XX: 1 })] })], /no number plan for country "XX"/);
  assert.throws(() => [...demoWebhookBodies({ ...OPTIONS, channels: [channel(0, {})] })], /no audience/);
});
