/**
 * Data access for operator-loaded rate cards and volume tiers (tables `rate_card_rows` and
 * `volume_tier_rows`, migration `rateCards`). The shipped defaults are never stored.
 *
 * A rate-card row is stored as one row per category cell: `rate` in micros, null where the card
 * says `n/a`. Every category any row of the upload has is written for every market of the upload,
 * so a market whose cells are all `n/a` is still remembered (and still replaces a default).
 */
import type { PricingUnit, RateCardRow, RateCategory } from '../billing/rate-cards.ts';
import type { TierCategory, VolumeTierRow } from '../billing/volume-tiers.ts';
import type { Executor } from '../store/meter-store.ts';
import type { RateCardRowsTable, VolumeTierRowsTable } from '../store/schema.ts';

/** A stored card row, regrouped, with when it was loaded. */
export type StoredRateCardRow = RateCardRow & { loadedAt: string };
export type StoredVolumeTierRow = VolumeTierRow & { loadedAt: string };

const CHUNK = 200; // rows per INSERT: well under both engines' bound-parameter limits

async function insertChunked<T extends keyof { rate_card_rows: 1; volume_tier_rows: 1 }>(
  db: Executor,
  table: T,
  rows: Array<T extends 'rate_card_rows' ? RateCardRowsTable : VolumeTierRowsTable>,
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db.insertInto(table).values(rows.slice(i, i + CHUNK) as never).execute();
  }
}

/**
 * Stores a card upload: for each market + currency of `rows` (all of one effectiveFrom and unit),
 * the stored rows of that effectiveFrom + unit + market + currency are replaced whole. Run it in a
 * transaction (the caller's `db`).
 */
export async function replaceRateCardRows(db: Executor, rows: readonly RateCardRow[], loadedAt: string): Promise<void> {
  const categories = new Set<RateCategory>();
  for (const row of rows) for (const c of Object.keys(row.rates) as RateCategory[]) categories.add(c);
  const done = new Set<string>();
  for (const row of rows) {
    const key = `${row.effectiveFrom}|${row.unit}|${row.market}|${row.currency}`;
    if (done.has(key)) continue;
    done.add(key);
    await db.deleteFrom('rate_card_rows')
      .where('effective_from', '=', row.effectiveFrom).where('unit', '=', row.unit)
      .where('market', '=', row.market).where('currency', '=', row.currency)
      .execute();
  }
  const values: RateCardRowsTable[] = rows.flatMap((row) =>
    [...categories].sort().map((category) => ({
      effective_from: row.effectiveFrom,
      unit: row.unit,
      market: row.market,
      currency: row.currency,
      category,
      rate: row.rates[category] ?? null,
      source: row.source,
      loaded_at: loadedAt,
    })),
  );
  await insertChunked(db, 'rate_card_rows', values);
}

/** Every stored card row, regrouped into RateCardRows (n/a cells omitted), ordered by key. */
export async function loadRateCardRows(db: Executor): Promise<StoredRateCardRow[]> {
  const cells = await db.selectFrom('rate_card_rows').selectAll()
    .orderBy('unit').orderBy('currency').orderBy('market').orderBy('effective_from').orderBy('category')
    .execute();
  const rows = new Map<string, StoredRateCardRow>();
  for (const c of cells) {
    const key = `${c.effective_from}|${c.unit}|${c.market}|${c.currency}`;
    let row = rows.get(key);
    if (row === undefined) {
      row = { effectiveFrom: c.effective_from, unit: c.unit as PricingUnit, market: c.market, currency: c.currency, rates: {}, source: c.source, loadedAt: c.loaded_at };
      rows.set(key, row);
    }
    if (c.rate !== null) row.rates[c.category as RateCategory] = Number(c.rate);
  }
  return [...rows.values()];
}

/**
 * Stores a tier upload: for each market + currency + category of `rows` (all of one
 * effectiveFrom), the stored tiers of that key are replaced whole. Run it in a transaction.
 */
export async function replaceVolumeTierRows(db: Executor, rows: readonly VolumeTierRow[], loadedAt: string): Promise<void> {
  const done = new Set<string>();
  for (const row of rows) {
    const key = `${row.effectiveFrom}|${row.market}|${row.currency}|${row.category}`;
    if (done.has(key)) continue;
    done.add(key);
    await db.deleteFrom('volume_tier_rows')
      .where('effective_from', '=', row.effectiveFrom).where('market', '=', row.market)
      .where('currency', '=', row.currency).where('category', '=', row.category)
      .execute();
  }
  await insertChunked(db, 'volume_tier_rows', rows.map((row) => ({
    effective_from: row.effectiveFrom,
    market: row.market,
    currency: row.currency,
    category: row.category,
    tier_from: row.from,
    tier_to: row.to,
    rate: row.rate,
    source: row.source,
    loaded_at: loadedAt,
  })));
}

/** Every stored tier, ordered by currency, market, category, effectiveFrom, from. */
export async function loadVolumeTierRows(db: Executor): Promise<StoredVolumeTierRow[]> {
  const rows = await db.selectFrom('volume_tier_rows').selectAll()
    .orderBy('currency').orderBy('market').orderBy('category').orderBy('effective_from').orderBy('tier_from')
    .execute();
  return rows.map((r) => ({
    effectiveFrom: r.effective_from,
    market: r.market,
    currency: r.currency,
    category: r.category as TierCategory,
    from: Number(r.tier_from),
    to: r.tier_to === null ? null : Number(r.tier_to),
    rate: Number(r.rate),
    source: r.source,
    loadedAt: r.loaded_at,
  }));
}
