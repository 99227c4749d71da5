/**
 * Usage and balance as the Partner API reports them (`…/info/balance`): day or month buckets
 * (UTC) of a client's or one channel's counted units, priced, in the seed's response shape.
 */
import { isoUtc, localDay, utcDayStart, utcMonthStart } from '../billing/calendar.ts';
import { marketOf } from '../billing/markets.ts';
import { microsToJson } from '../billing/money.ts';
import type { RateBook, RateCategory } from '../billing/rate-cards.ts';
import { emptyCounters, hasUsage, usageRow, USAGE_COUNTERS, type UsageCounters } from '../billing/usage.ts';
import { clientUsageByDay, clientUsageWithoutByDay, usageByDay } from '../store/usage-queries.ts';
import type { Store } from '../store/database.ts';
import type { Channel, Client } from '../store/tenants-store.ts';

export type Granularity = 'day' | 'month';

function nextMonthStart(ts: number): number {
  const d = new Date(utcMonthStart(ts) * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}

export interface UsageQuery {
  start: number;
  end: number;
  granularity: Granularity;
  /** Only channels sending through these apps (`app_id`/`app_ids`); undefined = all. */
  appIds?: string[];
}

export function createUsageService(deps: { store: Store; rates: RateBook; now?: () => number }) {
  const now = () => deps.now?.() ?? Math.floor(Date.now() / 1000);

  /** Today's list price for one unit of `category` in the client's country and currency. */
  function listPrice(client: Client, category: RateCategory): { value: number; note?: string } {
    const day = localDay(now(), client.timezone);
    const market = marketOf(client.country, day);
    if (market == null) return { value: 0, note: `${category}: the client's country ${client.country} is unknown` };
    const r = deps.rates.rateFor({ unit: 'message', market, currency: client.currency, category, day });
    if (r.ok) return { value: microsToJson(r.rate) };
    // Service messages are free where the card in force has no service rate (PMP before 2026-10).
    if (category === 'service' && r.missing === 'category') return { value: 0 };
    return { value: 0, note: `${category}: ${r.reason}` };
  }

  return {
    /** `channels`: all of the client's channels (client endpoint) or the one asked for (channel endpoint). */
    async balance(client: Client, channels: Channel[], q: UsageQuery, scope: 'client' | 'channel') {
      const apps = q.appIds ? new Set(q.appIds) : null;
      const selected = apps ? channels.filter((c) => apps.has(c.app_id)) : channels;
      const bucketOf = q.granularity === 'day' ? utcDayStart : utcMonthStart;
      // Whole buckets: every bucket that overlaps [start, end], from its first day to its last.
      const lastDay = q.granularity === 'day' ? utcDayStart(q.end) : utcDayStart(nextMonthStart(q.end) - 1);
      const from = bucketOf(q.start);
      const store = deps.store;
      // The whole client: its own rollup (365 rows a year). An app subset of most of its channels:
      // the rollup less the others' rows (exact: the counters are additive integers). A channel or
      // a smaller subset: their own rows. Whichever reads fewer rows per day.
      const kept = new Set(selected);
      const excluded = scope === 'client' ? channels.filter((c) => !kept.has(c)) : [];
      const days = scope === 'client' && excluded.length === 0
        ? await clientUsageByDay(store, client.id, from, lastDay)
        : scope === 'client' && 1 + excluded.length < selected.length
          ? await clientUsageWithoutByDay(store, client.id, excluded.map((c) => c.phone_number_id), from, lastDay)
          : await usageByDay(store, selected.map((c) => c.phone_number_id), from, lastDay);
      let buckets: [number, UsageCounters][];
      if (q.granularity === 'day') {
        buckets = days.map((d) => [d.day, d.counters]);
      } else {
        const sums = new Map<number, UsageCounters>();
        for (const { day, counters } of days) {
          const b = bucketOf(day);
          let sum = sums.get(b);
          if (!sum) sums.set(b, (sum = emptyCounters()));
          for (const c of USAGE_COUNTERS) sum[c] += counters[c];
        }
        buckets = [...sums.entries()].sort((a, b) => a[0] - b[0]);
      }
      const usage = buckets.filter(([, k]) => hasUsage(k)).map(([start, k]) => usageRow(isoUtc(start), k));
      // Business-initiated ≈ a marketing template; user-initiated ≈ a service reply (PMP era).
      const bi = listPrice(client, 'marketing');
      const ui = listPrice(client, 'service');
      const notes = [bi.note, ui.note].filter((n): n is string => n != null);
      return {
        // Typed clients read `balance` as a non-nullable number: the sum of the booked funds
        // entries, and nothing is booked until the funds ledger exists.
        balance: 0,
        currency: client.currency,
        last_renewal: null,
        bi_price_for_currency_and_client_country: bi.value,
        ui_price_for_currency_and_client_country: ui.value,
        estimated_template_cost: bi.value,
        granularity: q.granularity,
        usage,
        ...(notes.length ? { price_notes: notes } : {}),
      };
    },
  };
}

export type UsageService = ReturnType<typeof createUsageService>;
