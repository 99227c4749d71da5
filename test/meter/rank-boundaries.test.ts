/**
 * Volume tiers are marginal by delivery order (the billing reference §1): the n-th charged message
 * of a portfolio × market × category × month group is priced at the tier its rank reached. The
 * meter keeps each group's boundary rows and moves them by each batch's net change instead of
 * walking the group; this property test checks, after every step of random traffic (late and
 * earlier re-deliveries that move a message inside its group, duplicates, two WABAs joined into
 * one portfolio and split again, a schedule change), that every message sits in the slot its rank
 * says and that the recorded boundaries are the rows at those ranks — the same answer as walking
 * the whole group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { addChannel, at, balance, DIALECTS, envelope, loadVolumeTiers, postWebhook, seedTenant, startApp, status, type TestApp } from '../helpers.ts';

const KENYA = '254712345678';
const SCHEDULE = 'market,currency,category,from,to,rate\nRest of Africa,USD,utility,0,3,0.0040\nRest of Africa,USD,utility,4,5,0.0038\nRest of Africa,USD,utility,6,9,0.0036\nRest of Africa,USD,utility,10,,0.0030\n';
// Other boundaries for November, swapped in midway: every recorded November boundary goes stale.
const NOVEMBER = [
  { ranks: [2, 7], csv: 'market,currency,category,from,to,rate\nRest of Africa,USD,utility,0,2,0.0040\nRest of Africa,USD,utility,3,7,0.0035\nRest of Africa,USD,utility,8,,0.0031\n' },
  { ranks: [4], csv: 'market,currency,category,from,to,rate\nRest of Africa,USD,utility,0,4,0.0040\nRest of Africa,USD,utility,5,,0.0033\n' },
];

const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('deliver' as const),
    messages: fc.array(fc.record({ id: fc.integer({ min: 0, max: 39 }), minute: fc.integer({ min: 0, max: 600 }), second: fc.boolean() }), { minLength: 1, maxLength: 12 }),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('portfolio' as const), on: fc.boolean() }) },
);

for (const dialect of DIALECTS) {
  describe(`volume-tier ranking kept by boundary moves [${dialect}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
      await loadVolumeTiers(t.app, SCHEDULE);
    });
    after(async () => { await t.close(); });

    /** Every ranked message's slot, and each group's recorded boundaries, against a walk of the group. */
    async function checkRankings(ranksOf: (group: string) => number[]) {
      const rows = await t.services.store.db.selectFrom('messages').select(['rank_group', 'rank_time', 'rank_key', 'rank_slot'])
        .where('rank_group', 'is not', null).execute();
      const groups = new Map<string, typeof rows>();
      for (const r of rows) (groups.get(r.rank_group!) ?? groups.set(r.rank_group!, []).get(r.rank_group!)!).push(r);
      const stored = await t.services.store.db.selectFrom('rank_groups').selectAll().execute();
      for (const [group, members] of groups) {
        members.sort((a, b) => Number(a.rank_time) - Number(b.rank_time) || (a.rank_key! < b.rank_key! ? -1 : a.rank_key! > b.rank_key! ? 1 : 0));
        const ranks = ranksOf(group);
        members.forEach((m, i) => assert.equal(m.rank_slot, ranks.filter((r) => r <= i).length, `slot of rank ${i} in ${group}`));
        const record = stored.find((s) => s.rank_group === group)!;
        assert.equal(Number(record.members), members.length, `members of ${group}`);
        if (record.boundaries != null) {
          const b = JSON.parse(record.boundaries) as { ranks: number[]; at: [number, string][] };
          if (b.ranks.join() === ranks.join()) {
            assert.deepEqual(b.at, ranks.filter((r) => r < members.length).map((r) => [Number(members[r].rank_time), members[r].rank_key]), `boundaries of ${group}`);
          }
        }
      }
    }

    let n = 0;
    // Until a November schedule is loaded, October's stays in force.
    let novemberRanks = [3, 5, 9];
    let swaps = 0;
    const ranksOf = (group: string) => (group.endsWith('|2026-11') ? novemberRanks : [3, 5, 9]);
    test('property: after every batch, portfolio change and schedule change, each message is in the slot its rank says', async () => {
      const base = at('2026-10-05T08:00:00');
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 3, maxLength: 14 }), fc.integer({ min: 0, max: 13 }), async (steps, rescheduleAt) => {
          n++;
          const first = { phoneNumberId: `${dialect}-rb-${n}-a`, wabaId: `${dialect}-rb-${n}-wa` };
          const second = { phoneNumberId: `${dialect}-rb-${n}-b`, wabaId: `${dialect}-rb-${n}-wb` };
          const tn = await seedTenant(t.app, first);
          await addChannel(t.app, tn.partner, tn.client.id, second);
          for (const [i, step] of steps.entries()) {
            if (i === rescheduleAt) {
              const next = NOVEMBER[swaps++ % NOVEMBER.length];
              await loadVolumeTiers(t.app, next.csv, '2026-11-01');
              novemberRanks = next.ranks;
            }
            if (step.kind === 'portfolio') {
              const res = await t.app.inject({ method: 'PATCH', url: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}`, headers: tn.headers, payload: { business_portfolio_id: step.on ? `BP-${dialect}-${n}` : null } });
              assert.equal(res.statusCode, 200, res.body);
            } else {
              // Ids 0–19 on the first channel, 20–39 on the second; a re-delivery with an earlier
              // time moves the message inside its group, a later one is a duplicate in effect.
              for (const channel of [first, second]) {
                const mine = step.messages.filter((m) => (m.id < 20) === (channel === first));
                if (mine.length === 0) continue;
                const statuses = mine.map((m) => status({
                  id: `rb-${n}-${m.id}`, status: 'delivered', ts: base + m.minute * 60 + (m.second ? 86_400 * 30 : 0), recipient: KENYA,
                  pricing: { model: 'PMP', type: 'regular', category: 'utility' },
                }));
                const res = await postWebhook(t.app, envelope(statuses, channel));
                assert.equal(res.statusCode, 200, res.body);
              }
            }
            // A balance read waits for the meter and for the client's re-metering jobs.
            await balance(t.app, tn, 'granularity=day');
            await checkRankings(ranksOf);
          }
        }),
        { numRuns: dialect === 'sqlite' ? 40 : 15, seed: 20261203 },
      );
    });

    test('a group whose recorded boundaries are missing (a store migrated from before they were kept) is walked once and recorded', async () => {
      const tn = await seedTenant(t.app, { phoneNumberId: `${dialect}-rb-walk`, wabaId: `${dialect}-rb-walk-w` });
      const base = at('2026-10-20T08:00:00');
      const send = async (from: number, count: number) => {
        const res = await postWebhook(t.app, envelope(Array.from({ length: count }, (_, i) => status({
          id: `walk-${from + i}`, status: 'delivered', ts: base + (from + i) * 60, recipient: KENYA, pricing: { model: 'PMP', type: 'regular', category: 'utility' },
        })), { phoneNumberId: `${dialect}-rb-walk`, wabaId: `${dialect}-rb-walk-w` }));
        assert.equal(res.statusCode, 200, res.body);
        await balance(t.app, tn, 'granularity=day');
      };
      await send(0, 7);
      const group = sql`rank_group like ${`pmp|${dialect}-rb-walk-w|%`}`;
      const recorded = async () => (await sql<{ boundaries: string | null }>`select boundaries from rank_groups where ${group}`.execute(t.services.store.db)).rows[0].boundaries;
      assert.deepEqual(JSON.parse((await recorded())!).ranks, [3, 5, 9]);
      await sql`update rank_groups set boundaries = null where ${group}`.execute(t.services.store.db);
      // Earlier deliveries push every boundary back.
      const res = await postWebhook(t.app, envelope([0, 1].map((i) => status({
        id: `walk-early-${i}`, status: 'delivered', ts: base - 600 + i, recipient: KENYA, pricing: { model: 'PMP', type: 'regular', category: 'utility' },
      })), { phoneNumberId: `${dialect}-rb-walk`, wabaId: `${dialect}-rb-walk-w` }));
      assert.equal(res.statusCode, 200, res.body);
      const b = await balance(t.app, tn, 'granularity=day');
      // 9 messages: 3 at 0.0040, 2 at 0.0038, 4 at 0.0036.
      assert.equal(b.usage.reduce((s: number, r: any) => s + r.utility_price, 0), 0.0340);
      assert.deepEqual(JSON.parse((await recorded())!).at.map((p: [number, string]) => p[0]), [base + 60, base + 3 * 60]);
      await checkRankings(ranksOf);
    });
  });
}
