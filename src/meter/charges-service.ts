/**
 * "Why is this the price?": the charge groups behind a client's or a channel's estimate, each with
 * the rule, market, card or tier schedule and rate that produced its amount (`…/info/charges`).
 */
import { isoUtc } from '../billing/calendar.ts';
import { eraOf } from '../billing/eras.ts';
import { microsToJson } from '../billing/money.ts';
import { chargesOf, type ChargeRow } from '../store/meter-store.ts';
import type { Store } from '../store/database.ts';
import type { Channel, Client } from '../store/tenants-store.ts';

const CBP_RULE: Record<string, string> = {
  business_initiated: 'CBP v1: business-initiated conversation beyond the monthly free tier',
  user_initiated: 'CBP v1: user-initiated conversation beyond the monthly free tier',
  service: 'CBP v2: service conversation beyond the monthly free tier',
};

/** The billing rule a charge group was priced under, in words a partner can check. */
export function ruleOf(row: Pick<ChargeRow, 'unit' | 'category' | 'local_day' | 'tier'>): string {
  if (row.unit === 'conversation') {
    const era = eraOf(row.local_day) === 'cbp_v1' ? 'CBP v1' : 'CBP v2';
    return CBP_RULE[row.category] ?? `${era}: ${row.category.replace(/_/g, ' ')} conversation`;
  }
  const base = `PMP: delivered ${row.category.replace(/_/g, ' ')} message charged (pricing.type regular)`;
  return row.tier > 0 ? `${base}, volume tier ${row.tier} of the month` : base;
}

export function createChargesService(deps: { store: Store }) {
  return {
    async explain(client: Client, channels: Channel[], q: { start: number; end: number }) {
      const byPhone = new Map(channels.map((c) => [c.phone_number_id, c]));
      const rows = await chargesOf(deps.store.db, [...byPhone.keys()], q.start - (q.start % 86400), q.end);
      let total = 0;
      let paid = 0;
      let unpriced = 0;
      const charges = rows.map((r) => {
        const quantity = Number(r.quantity);
        const amount = Number(r.amount);
        total += amount;
        paid += quantity;
        unpriced += Number(r.unpriced);
        return {
          period_date: isoUtc(Number(r.day)),
          local_date: r.local_day,
          channel_id: byPhone.get(r.phone_number_id)!.id,
          unit: r.unit,
          category: r.category,
          rule: ruleOf({ ...r, tier: Number(r.tier) }),
          market: r.market || null,
          tier: Number(r.tier),
          quantity,
          rate: r.rate == null ? null : microsToJson(Number(r.rate)),
          amount: microsToJson(amount),
          source: r.source,
          unpriced_reason: r.reason,
        };
      });
      return {
        currency: client.currency,
        start_date: q.start,
        end_date: q.end,
        total_price: microsToJson(total),
        paid_quantity: paid,
        unpriced_quantity: unpriced,
        charges,
      };
    },
  };
}

export type ChargesService = ReturnType<typeof createChargesService>;
