/**
 * The counting rules of the billing reference §1 and §3, each by name, end to end: webhook bodies
 * posted over HTTP into a real store (SQLite file and PostgreSQL), usage read back from
 * `…/info/balance`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  at, balance, DIALECTS, envelope, H, PNID, postWebhook, seedTenant, startApp, status, totals, WABA, addChannel,
  type StatusSpec, type TestApp,
} from '../helpers.ts';

type Tenant = Awaited<ReturnType<typeof seedTenant>>;

for (const dialect of DIALECTS) {
  describe(`counting rules [${dialect}]`, () => {
    let t: TestApp;
    before(async () => { t = await startApp(dialect); });
    after(async () => { await t.close(); });

    let n = 0;
    /** A fresh tenant with its own phone number and WABA, so tests do not see each other's usage. */
    async function tenant(opts: { timezone?: string } = {}) {
      n++;
      const phoneNumberId = `${dialect}-pn-${n}`;
      const wabaId = `${dialect}-waba-${n}`;
      const tn = await seedTenant(t.app, { phoneNumberId, wabaId, timezone: opts.timezone });
      const send = async (...specs: StatusSpec[]) => {
        const res = await postWebhook(t.app, envelope(specs.map(status), { phoneNumberId, wabaId }));
        assert.equal(res.statusCode, 200, res.body);
        return res.json();
      };
      return { ...tn, phoneNumberId, wabaId, send };
    }
    const usageOf = async (tn: Tenant, query = 'granularity=month') => balance(t.app, tn, query);

    // ---- CBP ---------------------------------------------------------------------------

    test('CBP: a conversation is counted once, however many messages and statuses it has', async () => {
      const tn = await tenant();
      const conv = { id: 'c1', exp: at('2024-03-11T10:00:00'), origin: 'marketing' };
      const pricing = { model: 'CBP', category: 'marketing' };
      await tn.send(
        { id: 'm1', status: 'sent', ts: at('2024-03-10T10:00:00'), conv, pricing },
        { id: 'm1', status: 'delivered', ts: at('2024-03-10T10:00:05'), conv, pricing },
        { id: 'm1', status: 'read', ts: at('2024-03-10T10:01:00'), conv, pricing },
        { id: 'm2', status: 'sent', ts: at('2024-03-10T12:00:00'), conv, pricing },
        { id: 'm2', status: 'delivered', ts: at('2024-03-10T12:00:05'), conv, pricing },
      );
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 1);
      assert.equal(tot.marketing_quantity, 1);
      assert.equal(tot.messages_sent, 2);
      assert.equal(tot.messages_delivered, 2);
    });

    test('CBP: a conversation id seen only on sent or failed statuses was never opened', async () => {
      const tn = await tenant();
      const conv = { id: 'c-never', exp: at('2024-03-11T10:00:00'), origin: 'utility' };
      const pricing = { model: 'CBP', category: 'utility' };
      await tn.send(
        { id: 'm1', status: 'sent', ts: at('2024-03-10T10:00:00'), conv, pricing },
        { id: 'm2', status: 'failed', ts: at('2024-03-10T10:05:00'), conv, pricing },
      );
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity ?? 0, 0);
      assert.equal(tot.messages_sent, 1);
    });

    test('CBP: a conversation opens at expiration − 24 h and belongs to the day it opened', async () => {
      const tn = await tenant();
      // First status on 2024-03-10 at 02:00, but the conversation (opened by an earlier message
      // whose statuses were lost) expires 2024-03-10T20:00 → opened 2024-03-09T20:00.
      const conv = { id: 'c-open', exp: at('2024-03-10T20:00:00'), origin: 'utility' };
      await tn.send({ id: 'm1', status: 'sent', ts: at('2024-03-10T02:00:00'), conv, pricing: { model: 'CBP', category: 'utility' } });
      await tn.send({ id: 'm1', status: 'delivered', ts: at('2024-03-10T02:00:03'), pricing: { model: 'CBP', category: 'utility' }, conv: { id: 'c-open', origin: 'utility' } });
      const b = await usageOf(tn, 'granularity=day');
      const conversations = b.usage.filter((r: any) => r.quantity > 0);
      assert.deepEqual(conversations.map((r: any) => r.period_date), ['2024-03-09T00:00:00Z']);
    });

    test('CBP: without an expiration a conversation opens at its earliest status', async () => {
      const tn = await tenant();
      const conv = { id: 'c-noexp', origin: 'service' };
      await tn.send({ id: 'm1', status: 'delivered', ts: at('2024-04-02T00:30:00'), conv, pricing: { model: 'CBP', category: 'service' } });
      await tn.send({ id: 'm0', status: 'read', ts: at('2024-04-01T23:50:00'), conv, pricing: { model: 'CBP', category: 'service' } });
      const b = await usageOf(tn, 'granularity=day');
      assert.deepEqual(b.usage.filter((r: any) => r.quantity > 0).map((r: any) => r.period_date), ['2024-04-01T00:00:00Z']);
    });

    test('CBP: a free-entry-point conversation opens at expiration − 72 h, is free and counted in free_entry_point', async () => {
      const tn = await tenant();
      const conv = { id: 'c-fep', exp: at('2024-05-04T12:00:00'), origin: 'referral_conversion' };
      const pricing = { model: 'CBP', category: 'referral_conversion', billable: false };
      await tn.send(
        { id: 'm1', status: 'sent', ts: at('2024-05-01T12:00:10'), conv, pricing },
        { id: 'm1', status: 'delivered', ts: at('2024-05-01T12:00:20'), conv, pricing },
      );
      const b = await usageOf(tn, 'granularity=day');
      const rows = b.usage.filter((r: any) => r.quantity > 0);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].period_date, '2024-05-01T00:00:00Z');
      assert.equal(rows[0].free_entry_point, 1);
      assert.equal(rows[0].free_quantity, 1);
      assert.equal(rows[0].paid_quantity, 0);
      assert.equal(rows[0].total_price, 0);
    });

    test("Meta's worked example: marketing h0, utility h4, utility h10 → 2 conversations (1 marketing, 1 utility)", async () => {
      const tn = await tenant();
      const h0 = at('2024-02-05T08:00:00');
      const mk = { id: 'cm', exp: h0 + 24 * H, origin: 'marketing' };
      const ut = { id: 'cu', exp: h0 + 4 * H + 24 * H, origin: 'utility' };
      await tn.send(
        { id: 'a', status: 'sent', ts: h0, conv: mk, pricing: { model: 'CBP', category: 'marketing' } },
        { id: 'a', status: 'delivered', ts: h0 + 5, conv: mk, pricing: { model: 'CBP', category: 'marketing' } },
        { id: 'b', status: 'sent', ts: h0 + 4 * H, conv: ut, pricing: { model: 'CBP', category: 'utility' } },
        { id: 'b', status: 'delivered', ts: h0 + 4 * H + 5, conv: ut, pricing: { model: 'CBP', category: 'utility' } },
        { id: 'c', status: 'sent', ts: h0 + 10 * H, conv: ut, pricing: { model: 'CBP', category: 'utility' } },
        { id: 'c', status: 'delivered', ts: h0 + 10 * H + 5, conv: ut, pricing: { model: 'CBP', category: 'utility' } },
      );
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 2);
      assert.equal(tot.marketing_quantity, 1);
      assert.equal(tot.utility_quantity, 1);
    });

    test("Meta's worked example: marketing h0, replies in the window, text h25 and h26 → 1 marketing + 1 service", async () => {
      const tn = await tenant();
      const h0 = at('2024-02-12T08:00:00');
      const mk = { id: 'cm2', exp: h0 + 24 * H, origin: 'marketing' };
      const sv = { id: 'cs2', exp: h0 + 25 * H + 24 * H, origin: 'service' };
      const p = (category: string) => ({ model: 'CBP', category });
      await tn.send(
        { id: 'a', status: 'delivered', ts: h0, conv: mk, pricing: p('marketing') },
        { id: 'b', status: 'delivered', ts: h0 + 5 * H, conv: mk, pricing: p('marketing') }, // interactive list inside the window
        { id: 'c', status: 'delivered', ts: h0 + 25 * H, conv: sv, pricing: p('service') },
        { id: 'd', status: 'delivered', ts: h0 + 26 * H, conv: sv, pricing: p('service') },
      );
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 2);
      assert.equal(tot.marketing_quantity, 1);
      assert.equal(tot.service_quantity, 1);
    });

    test('CBP v1: the first 1,000 conversations of a WABA month are free, of either direction, in opening order', async () => {
      const tn = await tenant();
      const start = at('2023-03-01T00:00:00');
      const specs: StatusSpec[] = [];
      for (let i = 0; i < 1005; i++) {
        const dir = i % 2 ? 'user_initiated' : 'business_initiated';
        // 1,005 conversations spread over March, posted newest first to prove order does not matter.
        const open = start + i * 2400;
        specs.push({ id: `m${i}`, status: 'delivered', ts: open + 1, conv: { id: `v1-${i}`, exp: open + 24 * H, origin: dir }, pricing: { model: 'CBP', category: dir } });
      }
      for (let i = specs.length; i > 0; i -= 200) await tn.send(...specs.slice(Math.max(0, i - 200), i));
      const b = await usageOf(tn);
      assert.equal(b.usage.length, 1);
      const m = b.usage[0];
      assert.equal(m.quantity, 1005);
      assert.equal(m.free_tier, 1000);
      assert.equal(m.paid_quantity, 5);
      assert.equal(m.business_initiated_quantity + m.user_initiated_quantity, 1005);
      // The paid ones are the five opened last (28-29 March), not the five posted last.
      const days = await usageOf(tn, 'granularity=day');
      const paidDays = days.usage.filter((r: any) => r.paid_quantity > 0).map((r: any) => r.period_date);
      assert.deepEqual(paidDays, ['2023-03-28T00:00:00Z']);
    });

    test("CBP free tier: counted per WABA across its phone numbers, in the WABA's own month", async () => {
      const tn = await tenant({ timezone: 'Europe/Berlin' });
      const second = `${tn.phoneNumberId}-b`;
      await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: second, wabaId: tn.wabaId, timezone: 'Europe/Berlin' });
      const conv = (i: number, open: number) => ({ id: `w-${i}`, exp: open + 24 * H, origin: 'business_initiated' });
      const p = { model: 'CBP', category: 'business_initiated' };
      // 600 on each number during March (Berlin time), 2 more at 2023-03-31T22:30Z = 00:30 on 1 April in Berlin.
      const base = at('2023-03-02T00:00:00');
      const first: StatusSpec[] = [];
      const other: StatusSpec[] = [];
      for (let i = 0; i < 600; i++) {
        first.push({ id: `a${i}`, status: 'delivered', ts: base + i * 60 + 1, conv: conv(i, base + i * 60), pricing: p });
        other.push({ id: `b${i}`, status: 'delivered', ts: base + 50_000 + i * 60 + 1, conv: conv(1000 + i, base + 50_000 + i * 60), pricing: p });
      }
      const april = at('2023-03-31T22:30:00');
      first.push({ id: 'apr1', status: 'delivered', ts: april + 1, conv: conv(5000, april), pricing: p });
      first.push({ id: 'apr2', status: 'delivered', ts: april + 2, conv: conv(5001, april + 1), pricing: p });
      for (let i = 0; i < first.length; i += 250) await tn.send(...first.slice(i, i + 250));
      for (let i = 0; i < other.length; i += 250) {
        const res = await postWebhook(t.app, envelope(other.slice(i, i + 250).map(status), { phoneNumberId: second, wabaId: tn.wabaId }));
        assert.equal(res.statusCode, 200);
      }
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 1202);
      // 1,200 March conversations share one allowance of 1,000; the two April ones are free in April.
      assert.equal(tot.free_tier, 1002);
      assert.equal(tot.paid_quantity, 200);
    });

    test('CBP v2: the free tier covers only service conversations (until 2024-10-31)', async () => {
      const tn = await tenant();
      const base = at('2024-09-01T00:00:00');
      const specs: StatusSpec[] = [];
      for (let i = 0; i < 1003; i++) {
        specs.push({ id: `s${i}`, status: 'delivered', ts: base + i * 600 + 1, conv: { id: `sv-${i}`, exp: base + i * 600 + 24 * H, origin: 'service' }, pricing: { model: 'CBP', category: 'service' } });
      }
      specs.push({ id: 'mk', status: 'delivered', ts: base + 1, conv: { id: 'mk-1', exp: base + 24 * H, origin: 'marketing' }, pricing: { model: 'CBP', category: 'marketing' } });
      for (let i = 0; i < specs.length; i += 300) await tn.send(...specs.slice(i, i + 300));
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.service_quantity, 1003);
      assert.equal(m.free_tier, 1000);
      assert.equal(m.service_paid_quantity, 3);
      assert.equal(m.marketing_paid_quantity, 1, 'a marketing conversation never uses the free tier in CBP v2');
    });

    test('CBP v2: service conversations are free from 2024-11-01', async () => {
      const tn = await tenant();
      const base = at('2024-11-05T00:00:00');
      const specs: StatusSpec[] = [];
      for (let i = 0; i < 3; i++) specs.push({ id: `s${i}`, status: 'delivered', ts: base + i, conv: { id: `fs-${i}`, exp: base + i + 24 * H, origin: 'service' }, pricing: { model: 'CBP', category: 'service' } });
      await tn.send(...specs);
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.service_quantity, 3);
      assert.equal(m.service_paid_quantity, 0);
      assert.equal(m.free_tier, 3);
    });

    test('CBP: billable alone is never a charge signal (free-tier conversations say billable: true)', async () => {
      const tn = await tenant();
      const base = at('2023-01-10T00:00:00');
      await tn.send({ id: 'x', status: 'delivered', ts: base, conv: { id: 'bt', exp: base + 24 * H, origin: 'business_initiated' }, pricing: { model: 'CBP', category: 'business_initiated', billable: true } });
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.free_tier, 1);
      assert.equal(m.paid_quantity, 0);
    });

    test("CBP v1: Meta's typo business_initated counts as business-initiated", async () => {
      const tn = await tenant();
      const base = at('2022-06-10T00:00:00');
      await tn.send({ id: 'x', status: 'delivered', ts: base, conv: { id: 'typo', exp: base + 24 * H, origin: 'business_initated' }, pricing: { model: 'CBP', category: 'business_initated' } });
      assert.equal((await usageOf(tn)).usage[0].business_initiated_quantity, 1);
    });

    // ---- PMP ---------------------------------------------------------------------------

    test('PMP: each delivered message counts once; regular is charged at the card rate (India marketing 2026-01: 0.0118 USD)', async () => {
      const tn = await tenant();
      const p = { model: 'PMP', type: 'regular', category: 'marketing' };
      const ts = at('2026-02-03T10:00:00');
      await tn.send(
        { id: 'a', status: 'sent', ts, recipient: '919876543210', pricing: p },
        { id: 'a', status: 'delivered', ts: ts + 2, recipient: '919876543210', pricing: p },
        { id: 'a', status: 'read', ts: ts + 60, recipient: '919876543210', pricing: p },
        { id: 'a', status: 'delivered', ts: ts + 2, recipient: '919876543210', pricing: p },
      );
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.quantity, 1);
      assert.equal(m.marketing_paid_quantity, 1);
      assert.equal(m.marketing_price, 0.0118);
      assert.equal(m.total_price, 0.0118);
    });

    test('PMP: free pricing types are counted as free; billable alone never decides', async () => {
      const tn = await tenant();
      const ts = at('2026-02-04T10:00:00');
      await tn.send(
        { id: 'f1', status: 'delivered', ts, pricing: { model: 'PMP', type: 'free_customer_service', category: 'service', billable: false } },
        { id: 'f2', status: 'delivered', ts, pricing: { model: 'PMP', type: 'free_customer_service', category: 'utility', billable: true } },
        { id: 'f3', status: 'delivered', ts, pricing: { model: 'PMP', type: 'free_entry_point', category: 'marketing', billable: false } },
        { id: 'p1', status: 'delivered', ts, pricing: { model: 'PMP', type: 'regular', category: 'utility', billable: false } },
      );
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.quantity, 4);
      assert.equal(m.free_tier, 2);
      assert.equal(m.free_entry_point, 1);
      assert.equal(m.paid_quantity, 1);
      assert.equal(m.utility_paid_quantity, 1);
      assert.equal(m.utility_quantity, 2);
    });

    test('PMP: a message only ever sent or failed is not usage; read without delivered is a delivery at its read time', async () => {
      const tn = await tenant();
      const p = { model: 'PMP', type: 'regular', category: 'utility' };
      await tn.send(
        { id: 's', status: 'sent', ts: at('2026-03-01T10:00:00'), pricing: p },
        { id: 'f', status: 'failed', ts: at('2026-03-01T10:00:00'), pricing: p },
        { id: 'r', status: 'sent', ts: at('2026-03-01T23:59:00'), pricing: p },
        { id: 'r', status: 'read', ts: at('2026-03-02T00:01:00'), pricing: p },
      );
      const b = await usageOf(tn, 'granularity=day');
      const units = b.usage.filter((r: any) => r.quantity > 0);
      assert.deepEqual(units.map((r: any) => [r.period_date, r.quantity]), [['2026-03-02T00:00:00Z', 1]]);
      assert.equal(totals(b).messages_sent, 2);
    });

    test('PMP: a unit is timed by its first delivered status even when read arrived first', async () => {
      const tn = await tenant();
      const p = { model: 'PMP', type: 'regular', category: 'utility' };
      await tn.send({ id: 'x', status: 'read', ts: at('2026-03-03T00:10:00'), pricing: p });
      await tn.send({ id: 'x', status: 'delivered', ts: at('2026-03-02T23:55:00'), pricing: p });
      const b = await usageOf(tn, 'granularity=day');
      assert.deepEqual(b.usage.filter((r: any) => r.quantity > 0).map((r: any) => r.period_date), ['2026-03-02T00:00:00Z']);
    });

    test("Meta's charge example: 4 messages, 2 charges (1 marketing, 1 utility)", async () => {
      const tn = await tenant();
      const h0 = at('2026-02-10T08:00:00');
      const pr = (type: string, category: string) => ({ model: 'PMP', type, category });
      await tn.send(
        { id: 'mk', status: 'delivered', ts: h0, pricing: pr('regular', 'marketing') },
        { id: 'tx', status: 'delivered', ts: h0 + 3 * H, pricing: pr('free_customer_service', 'service') },
        { id: 'u1', status: 'delivered', ts: h0 + 4 * H, pricing: pr('free_customer_service', 'utility') },
        { id: 'u2', status: 'delivered', ts: h0 + 30 * H, pricing: pr('regular', 'utility') },
      );
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 4);
      assert.equal(tot.paid_quantity, 2);
      assert.equal(tot.marketing_paid_quantity, 1);
      assert.equal(tot.utility_paid_quantity, 1);
    });

    test('PMP switch-over: utility templates inside a CBP conversation opened before 2025-07-01 are not charged again', async () => {
      const tn = await tenant();
      const open = at('2025-06-30T20:00:00');
      const conv = { id: 'switch', exp: open + 24 * H, origin: 'utility' };
      await tn.send(
        { id: 'u1', status: 'delivered', ts: open + 10, conv, pricing: { model: 'CBP', category: 'utility' } },
        { id: 'u2', status: 'delivered', ts: at('2025-07-01T09:00:00'), conv, pricing: { model: 'CBP', category: 'utility' } },
      );
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 1, 'one utility conversation, no per-message unit');
      assert.equal(tot.messages_delivered, 2);
    });

    test('authentication_international counts under authentication and on its own; marketing_lite under marketing and on its own', async () => {
      const tn = await tenant();
      const ts = at('2026-02-11T08:00:00');
      await tn.send(
        { id: 'ai', status: 'delivered', ts, recipient: '919876543210', pricing: { model: 'PMP', type: 'regular', category: 'authentication-international' } },
        { id: 'au', status: 'delivered', ts, recipient: '919876543210', pricing: { model: 'PMP', type: 'regular', category: 'authentication' } },
        { id: 'ml', status: 'delivered', ts, recipient: '919876543210', pricing: { model: 'PMP', type: 'regular', category: 'marketing_lite' } },
      );
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.authentication_quantity, 2);
      assert.equal(m.authentication_international_quantity, 1);
      assert.equal(m.authentication_international_price, 0.028);
      assert.equal(m.authentication_price, 0.0294); // 0.0014 + 0.0280
      assert.equal(m.marketing_quantity, 1);
      assert.equal(m.marketing_lite_quantity, 1);
      assert.equal(m.marketing_price, 0.0118);
    });

    test('a unit whose price cannot be determined is counted as unpriced, never silently free', async () => {
      const tn = await tenant();
      // No shipped card covers 2025-08 (rates for 2025-07..2025-12 were not found).
      await tn.send({ id: 'u', status: 'delivered', ts: at('2025-08-05T10:00:00'), recipient: '4915112345678', pricing: { model: 'PMP', type: 'regular', category: 'marketing' } });
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.paid_quantity, 1);
      assert.equal(m.unpriced_quantity, 1);
      assert.equal(m.total_price, 0);
    });

    test('unknown statuses and categories are kept and visible, never dropped or fatal', async () => {
      const tn = await tenant();
      const ts = at('2026-02-12T08:00:00');
      const res = await tn.send(
        { id: 'g', status: 'delivered', ts, pricing: { model: 'PMP', type: 'regular', category: 'general_purpose_ai' } },
        { id: 'g', status: 'played', ts: ts + 5, pricing: { model: 'PMP', type: 'regular', category: 'general_purpose_ai' } },
        { id: 'h', status: 'deleted', ts: ts + 6 },
      );
      assert.equal(res.stored, 3);
      const m = (await usageOf(tn)).usage[0];
      assert.equal(m.other_quantity, 1);
      assert.equal(m.other_paid_quantity, 1);
      assert.equal(m.unpriced_quantity, 1, 'no rate exists for an unknown category');
      const kept = await t.services.store.db.selectFrom('status_events').select('status').where('phone_number_id', '=', tn.phoneNumberId).execute();
      assert.deepEqual(kept.map((r) => r.status).sort(), ['deleted', 'delivered', 'played']);
    });

    test('statuses for a phone number no channel claims are kept and counted once the channel is registered', async () => {
      const tn = await tenant();
      const later = `${tn.phoneNumberId}-later`;
      const p = { model: 'PMP', type: 'regular', category: 'utility' };
      const res = await postWebhook(t.app, envelope([status({ id: 'early', status: 'delivered', ts: at('2026-02-20T10:00:00'), recipient: '4915112345678', pricing: p })], { phoneNumberId: later, wabaId: tn.wabaId }));
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().stored, 1);
      assert.equal(totals(await usageOf(tn)).quantity ?? 0, 0);
      const ch = await addChannel(t.app, tn.partner, tn.client.id, { phoneNumberId: later, wabaId: tn.wabaId });
      assert.equal(ch.replayed_statuses, 1);
      const tot = totals(await usageOf(tn));
      assert.equal(tot.quantity, 1);
      assert.equal(tot.utility_price, 0.055); // Germany utility, 2026-01 card
    });

    test('the bucket invariants hold: quantity = paid + free, free = free_tier + free_entry_point, total = Σ category prices', async () => {
      const tn = await tenant();
      const ts = at('2026-02-13T08:00:00');
      const cats = ['marketing', 'utility', 'authentication', 'service'];
      const types = ['regular', 'free_customer_service', 'free_entry_point'];
      const specs: StatusSpec[] = [];
      for (let i = 0; i < 60; i++) {
        specs.push({ id: `i${i}`, status: 'delivered', ts: ts + i * 3000, recipient: ['919876543210', '4915112345678', '5511987654321'][i % 3], pricing: { model: 'PMP', type: types[i % 3], category: cats[i % 4] } });
      }
      await tn.send(...specs);
      for (const r of (await usageOf(tn, 'granularity=day')).usage) {
        assert.equal(r.quantity, r.paid_quantity + r.free_quantity);
        assert.equal(r.free_quantity, r.free_tier + r.free_entry_point);
        const sum = Math.round((r.marketing_price + r.utility_price + r.authentication_price + r.service_price + r.business_initiated_price + r.user_initiated_price + r.other_price) * 1e6);
        assert.equal(Math.round(r.total_price * 1e6), sum);
        for (const [k, v] of Object.entries(r)) if (k.endsWith('quantity')) assert.ok(Number.isInteger(v), k);
      }
    });

    test('the store keeps no recipient phone number and no raw message id', async () => {
      const tn = await tenant();
      await tn.send({ id: 'wamid.SECRET123', status: 'delivered', ts: at('2026-02-14T08:00:00'), recipient: '4915199988877', pricing: { model: 'PMP', type: 'regular', category: 'utility' } });
      await t.services.queue.drain();
      for (const table of ['status_events', 'messages'] as const) {
        const rows = await t.services.store.db.selectFrom(table).selectAll().where('phone_number_id', '=', tn.phoneNumberId).execute();
        const text = JSON.stringify(rows);
        assert.ok(!text.includes('4915199988877'), `${table} holds the phone number`);
        assert.ok(!text.includes('SECRET123'), `${table} holds the wamid`);
        assert.ok(text.includes('"DE"'), `${table} keeps the country`);
      }
    });

    void PNID; void WABA;
  });
}
