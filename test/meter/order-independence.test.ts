/**
 * Duplicates, retries and any arrival order give the same usage as one clean ordered delivery
 * (the billing reference §3). A property test over random traffic, and a large CBP month whose
 * free-tier ranking must survive shuffling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { at, balance, DIALECTS, envelope, H, postWebhook, seedTenant, startApp, status, type StatusSpec, type TestApp } from '../helpers.ts';

// `delivered_again`: multi-device users get a second `delivered` later (§3).
const STATUSES = ['sent', 'delivered', 'read', 'failed', 'delivered_again'] as const;

/** One message: its pricing and the statuses Meta sends for it. */
const messageArb = fc.record({
  era: fc.constantFrom('pmp', 'cbp_v1', 'cbp_v2'),
  category: fc.constantFrom('marketing', 'utility', 'authentication', 'service', 'authentication-international'),
  type: fc.constantFrom('regular', 'regular', 'free_customer_service', 'free_entry_point'),
  conv: fc.integer({ min: 0, max: 7 }),
  day: fc.integer({ min: 0, max: 3 }),
  minute: fc.integer({ min: 0, max: 1439 }),
  statuses: fc.subarray([...STATUSES], { minLength: 1 }),
  recipient: fc.constantFrom('919876543210', '4915112345678', '5511987654321', '16505551234', ''),
  withPricingOnDelivered: fc.boolean(),
});
type MessageSpec = typeof messageArb extends fc.Arbitrary<infer T> ? T : never;

const ERA_START = { pmp: at('2026-02-01T00:00:00'), cbp_v1: at('2023-02-01T00:00:00'), cbp_v2: at('2024-03-01T00:00:00') };

function statusesOf(messages: MessageSpec[]): StatusSpec[] {
  const out: StatusSpec[] = [];
  messages.forEach((m, i) => {
    const t0 = ERA_START[m.era] + m.day * 86400 + m.minute * 60;
    const cbp = m.era !== 'pmp';
    const category = cbp && m.era === 'cbp_v1' ? (m.category === 'service' ? 'user_initiated' : 'business_initiated') : m.category;
    const pricing = cbp ? { model: 'CBP', category } : { model: 'PMP', type: m.type, category };
    const conv = cbp ? { id: `${m.era}-conv-${m.conv}-${m.day}`, exp: t0 - (t0 % 3600) + 20 * H, origin: category } : undefined;
    m.statuses.forEach((s, k) => {
      const withPricing = s === 'sent' || m.withPricingOnDelivered;
      const again = s === 'delivered_again';
      out.push({ id: `msg-${i}`, status: again ? 'delivered' : s, ts: t0 + k * 7 + (again ? 5000 : 0), recipient: m.recipient, ...(withPricing ? { pricing } : {}), ...(withPricing && conv ? { conv: s === 'sent' ? conv : { id: conv.id, origin: conv.origin } } : {}) });
    });
  });
  return out;
}

for (const dialect of DIALECTS) {
  describe(`order independence [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });
    let n = 0;

    async function usageAfter(batches: StatusSpec[][]) {
      n++;
      const phoneNumberId = `ord-${n}`;
      const wabaId = `ord-waba-${n}`;
      const tn = await seedTenant(t.app, { phoneNumberId, wabaId });
      // Batches are posted concurrently, as Meta's parallel deliveries would be.
      const results = await Promise.all(batches.map((b) => postWebhook(t.app, envelope(b.map(status), { phoneNumberId, wabaId }))));
      for (const r of results) assert.equal(r.statusCode, 200, r.body);
      return (await balance(t.app, tn, 'granularity=day')).usage;
    }

    test('property: shuffled, duplicated and re-batched deliveries give the usage of one clean ordered delivery', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(messageArb, { minLength: 1, maxLength: 40 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 120 }),
          fc.integer({ min: 1, max: 6 }),
          async (messages, noise, batchCount) => {
            const clean = statusesOf(messages).sort((a, b) => a.ts - b.ts);
            // Messy: every status once, some twice, in a scrambled order, split into batches.
            const messy = [...clean];
            for (const k of noise) messy.push(clean[k % clean.length]);
            for (let i = messy.length - 1; i > 0; i--) {
              const j = noise[i % noise.length] % (i + 1);
              [messy[i], messy[j]] = [messy[j], messy[i]];
            }
            const batches: StatusSpec[][] = Array.from({ length: batchCount }, () => []);
            messy.forEach((s, i) => batches[(i * 7 + (noise[i % noise.length] ?? 0)) % batchCount].push(s));
            const expected = await usageAfter([clean]);
            const actual = await usageAfter(batches.filter((b) => b.length > 0));
            assert.deepEqual(actual, expected);
          },
        ),
        { numRuns: dialect === 'sqlite' ? 60 : 20, seed: 20261125 },
      );
    });

    test('a CBP v1 month of 1,100 conversations ranks its free tier the same in any order and with retries', async () => {
      const base = at('2023-04-01T00:00:00');
      const clean: StatusSpec[] = [];
      for (let i = 0; i < 1100; i++) {
        const open = base + i * 2000 + (i % 7) * 13;
        const dir = i % 3 ? 'business_initiated' : 'user_initiated';
        const conv = { id: `rank-${i}`, exp: open + 24 * H, origin: dir };
        const pricing = { model: 'CBP', category: dir };
        clean.push({ id: `r${i}`, status: 'sent', ts: open, conv, pricing, recipient: i % 2 ? '919876543210' : '4915112345678' });
        clean.push({ id: `r${i}`, status: 'delivered', ts: open + 3, conv: { id: conv.id, origin: dir }, pricing });
      }
      const expected = await usageAfter([clean.slice(0, 1100), clean.slice(1100)]);
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      const messy = [...clean, ...clean.filter(() => rnd() < 0.1)].sort(() => rnd() - 0.5);
      const batches: StatusSpec[][] = [];
      for (let i = 0; i < messy.length; i += 97) batches.push(messy.slice(i, i + 97));
      const actual = await usageAfter(batches);
      assert.deepEqual(actual, expected);
      const month = actual.reduce((s: number, r: any) => s + r.free_tier, 0);
      assert.equal(month, 1000);
    });
  });
}
