/**
 * Rate cards and volume tiers an operator controls: Meta's CSVs are parsed, stored, added on top
 * of the shipped defaults in the in-memory books the meter prices with; every load calls
 * `onChange(trx)` in its own transaction (the meter records a re-pricing job there, so a crash
 * cannot lose it) and `afterChange()` once it has committed.
 *
 * One upload at a time: loads are serialized, so the store, the books and the re-pricing always
 * see them in the same order.
 */
import { parseMetaRateCard, type PricingUnit, type RateBook, type RateCardRow } from '../billing/rate-cards.ts';
import type { Micros } from '../billing/money.ts';
import { loadDefaultTierBook, parseVolumeTiers, type TierBook, type TierCategory, type VolumeTierRow } from '../billing/volume-tiers.ts';
import { badRequest } from '../errors.ts';
import type { Store } from '../store/database.ts';
import { bumpVersion, getMeta, VERSION_KEYS } from '../store/meta-store.ts';
import type { Executor } from '../store/meter-store.ts';
import { loadRateCardRows, loadVolumeTierRows, replaceRateCardRows, replaceVolumeTierRows } from './rates-store.ts';

export const PRICING_UNITS: readonly PricingUnit[] = Object.freeze(['message', 'conversation']);

export type RatesServiceDeps = {
  store: Store;
  /** The book the meter prices with, holding the shipped defaults (and nothing loaded yet). */
  rates: RateBook;
  /** The tier book the meter prices with, holding the shipped default tiers. */
  tiers: TierBook;
  /** Called (and awaited) inside every load's transaction: the meter records its re-pricing. */
  onChange: (trx: Executor) => Promise<unknown>;
  /** Called after every load has committed (the meter starts re-pricing). */
  afterChange?: () => void;
  /** Clock for `loaded_at`, unix seconds. */
  now?: () => number;
};

export type RateCardListing = RateCardRow & {
  /** Shipped with the build (true) or loaded by an operator (false). */
  shippedDefault: boolean;
  /** A shipped default that an operator row for the same date, unit, market and currency replaced. */
  replaced: boolean;
  /** ISO instant of the operator's load; null for shipped defaults. */
  loadedAt: string | null;
};

export type VolumeTierListing = {
  effectiveFrom: string;
  market: string;
  currency: string;
  category: TierCategory;
  tiers: Array<{ from: number; to: number | null; rate: Micros }>;
  source: string;
  shippedDefault: boolean;
  replaced: boolean;
  loadedAt: string | null;
};

export type RateFilter = { market?: string; currency?: string; unit?: string };

export type LoadResult = { rows: number; markets: string[]; currencies: string[] };

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function assertDay(day: string, parameter: string): void {
  const t = Date.parse(`${day}T00:00:00Z`);
  if (!DAY.test(day) || !Number.isFinite(t) || !new Date(t).toISOString().startsWith(day)) {
    throw badRequest('The request has invalid parameters', [`${parameter}: ${JSON.stringify(day)} is not a real date written YYYY-MM-DD`], 'invalid_parameter');
  }
}

const cardKey = (r: { effectiveFrom: string; unit: string; market: string; currency: string }) => `${r.effectiveFrom}|${r.unit}|${r.market}|${r.currency}`;
const tierKey = (r: { effectiveFrom: string; market: string; currency: string; category: string }) => `${r.effectiveFrom}|${r.market}|${r.currency}|${r.category}`;

function matches(filter: RateFilter, row: { market: string; currency: string; unit?: string }): boolean {
  if (filter.market !== undefined && filter.market.trim().toLowerCase() !== row.market.toLowerCase()) return false;
  if (filter.currency !== undefined && filter.currency.trim().toUpperCase() !== row.currency) return false;
  if (filter.unit !== undefined && row.unit !== undefined && filter.unit !== row.unit) return false;
  return true;
}

const sortedUnique = (values: Iterable<string>) => [...new Set(values)].sort();

/** Tier rows → one listing per schedule (rows of one key are contiguous after sorting). */
function schedulesOf(rows: readonly VolumeTierRow[], extra: (key: string) => Pick<VolumeTierListing, 'shippedDefault' | 'replaced' | 'loadedAt'>): VolumeTierListing[] {
  const out = new Map<string, VolumeTierListing>();
  for (const r of rows) {
    const key = tierKey(r);
    let s = out.get(key);
    if (s === undefined) {
      s = { effectiveFrom: r.effectiveFrom, market: r.market, currency: r.currency, category: r.category, tiers: [], source: r.source, ...extra(key) };
      out.set(key, s);
    }
    s.tiers.push({ from: r.from, to: r.to, rate: r.rate });
  }
  for (const s of out.values()) s.tiers.sort((a, b) => a.from - b.from);
  return [...out.values()];
}

const MAX_MARKET_NAME = 100;

export function createRatesService(deps: RatesServiceDeps) {
  const { store, rates, tiers, onChange } = deps;
  const afterChange = deps.afterChange ?? (() => undefined);
  const nowIso = () => new Date(deps.now ? deps.now() * 1000 : Date.now()).toISOString();

  // What the books held before any operator row: the shipped defaults.
  const defaultCards: readonly RateCardRow[] = rates.rows();
  const defaultTiers: readonly VolumeTierRow[] = tiers.rows();
  // Operator rows currently stored, by key (a later load of the same key replaces the entry).
  const operatorCards = new Map<string, RateCardRow & { loadedAt: string }>();
  const operatorTiers = new Map<string, { rows: VolumeTierRow[]; loadedAt: string }>();

  /** The version token of the stored operator rows the books hold (see store/meta-store.ts). */
  let version: string | null | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  function serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task);
    queue = run.catch(() => undefined);
    return run;
  }

  function rememberTiers(rows: readonly VolumeTierRow[], loadedAt: (r: VolumeTierRow) => string): void {
    const groups = new Map<string, { rows: VolumeTierRow[]; loadedAt: string }>();
    for (const r of rows) {
      const key = tierKey(r);
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { rows: [], loadedAt: loadedAt(r) }));
      g.rows.push(r);
    }
    for (const [key, g] of groups) operatorTiers.set(key, g);
  }

  function sourceOf(filename: string | undefined, loadedAt: string): string {
    const name = filename?.trim().replace(/\s+/g, ' ').slice(0, 200);
    return `operator upload${name ? ` ${name}` : ''} at ${loadedAt}`;
  }

  return {
    /**
     * At start: adds every stored operator row on top of the books' defaults, so an operator's
     * card or tier table for the same key replaces the shipped one. Does not call `onChange`.
     */
    async load(db: Executor = store.db): Promise<{ rateCardRows: number; volumeTierRows: number }> {
      // The token first: rows stored after it are loaded again at the next refresh.
      version = await getMeta(db, VERSION_KEYS.rates);
      const cards = await loadRateCardRows(db);
      rates.add(cards);
      for (const row of cards) operatorCards.set(cardKey(row), row);
      const tierRows = await loadVolumeTierRows(db);
      tiers.add(tierRows);
      rememberTiers(tierRows, (r) => (r as VolumeTierRow & { loadedAt: string }).loadedAt);
      return { rateCardRows: cards.length, volumeTierRows: tierRows.length };
    },

    /**
     * Adds what another process loaded since this one last looked (cards and tier tables are only
     * ever added or replaced, so loading every stored row again is enough).
     */
    async refresh(db: Executor = store.db): Promise<void> {
      if ((await getMeta(db, VERSION_KEYS.rates)) !== version) await this.load(db);
    },

    /**
     * Loads one of Meta's rate-card CSVs (title rows, `Market,Currency,<categories>`, `n/a`) in
     * force from `effectiveFrom` for `unit`. For each market + currency in the card, the row
     * replaces whatever was in force for the same date (shipped default or earlier upload) whole.
     *
     * @throws AppError 400 `invalid_parameter` naming a bad parameter, 400 `invalid_csv` whose
     *   details name the line and column of the first bad cell.
     */
    async loadRateCard(csvText: string, opts: { effectiveFrom: string; unit: string; filename?: string }): Promise<LoadResult> {
      assertDay(opts.effectiveFrom, 'effective_from');
      if (!(PRICING_UNITS as readonly string[]).includes(opts.unit)) {
        throw badRequest('The request has invalid parameters', [`unit: ${JSON.stringify(opts.unit)} is not one of message, conversation`], 'invalid_parameter');
      }
      const unit = opts.unit as PricingUnit;
      let parsed: RateCardRow[];
      try {
        parsed = parseMetaRateCard(csvText, { effectiveFrom: opts.effectiveFrom, unit, source: opts.filename ?? 'rate card' });
      } catch (e) {
        throw badRequest('The rate card CSV is invalid', [(e as Error).message], 'invalid_csv');
      }
      if (parsed.length === 0) throw badRequest('The rate card CSV is invalid', ['the card has no market rows under its "Market,Currency,…" header'], 'invalid_csv');
      // Market names are short (the longest Meta uses is about 35 characters); a huge one is a broken file.
      const long = parsed.find((r) => r.market.length > MAX_MARKET_NAME);
      if (long) throw badRequest('The rate card CSV is invalid', [`market name of ${long.market.length} characters: at most ${MAX_MARKET_NAME}`], 'invalid_csv');
      if (parsed.every((r) => Object.keys(r.rates).length === 0)) {
        throw badRequest('The rate card CSV is invalid', ['every cell of the card is n/a: no rate to load'], 'invalid_csv');
      }
      return serialized(async () => {
        const loadedAt = nowIso();
        const source = sourceOf(opts.filename, loadedAt);
        const rows = parsed.map((r) => ({ ...r, source }));
        await store.db.transaction().execute(async (trx) => {
          await replaceRateCardRows(trx, rows, loadedAt);
          await bumpVersion(trx, VERSION_KEYS.rates);
          await onChange(trx);
        });
        rates.add(rows);
        for (const row of rows) operatorCards.set(cardKey(row), { ...row, loadedAt });
        afterChange();
        return { rows: rows.length, markets: sortedUnique(rows.map((r) => r.market)), currencies: sortedUnique(rows.map((r) => r.currency)) };
      });
    },

    /**
     * Loads a tier table (`market,currency,category,from,to,rate`) in force from `effectiveFrom`.
     * Each market + currency + category in it replaces that key's schedule for the date whole.
     *
     * @throws AppError 400 as `loadRateCard`.
     */
    async loadVolumeTiers(csvText: string, opts: { effectiveFrom: string; filename?: string }): Promise<LoadResult & { schedules: number }> {
      assertDay(opts.effectiveFrom, 'effective_from');
      let parsed: VolumeTierRow[];
      try {
        parsed = parseVolumeTiers(csvText, { effectiveFrom: opts.effectiveFrom, source: opts.filename ?? 'volume tiers' });
      } catch (e) {
        throw badRequest('The volume-tier CSV is invalid', [(e as Error).message], 'invalid_csv');
      }
      return serialized(async () => {
        const loadedAt = nowIso();
        const source = sourceOf(opts.filename, loadedAt);
        const rows = parsed.map((r) => ({ ...r, source }));
        await store.db.transaction().execute(async (trx) => {
          await replaceVolumeTierRows(trx, rows, loadedAt);
          await bumpVersion(trx, VERSION_KEYS.rates);
          await onChange(trx);
        });
        tiers.add(rows);
        rememberTiers(rows, () => loadedAt);
        afterChange();
        return {
          rows: rows.length,
          schedules: new Set(rows.map(tierKey)).size,
          markets: sortedUnique(rows.map((r) => r.market)),
          currencies: sortedUnique(rows.map((r) => r.currency)),
        };
      });
    },

    /**
     * Every card row, in force or not (earlier and later dates, and defaults an operator
     * replaced), ordered by unit, currency, market, date; a replaced default comes before the
     * operator row that replaced it.
     */
    listRateCards(filter: RateFilter = {}): RateCardListing[] {
      const out: RateCardListing[] = [];
      for (const r of defaultCards) {
        if (!matches(filter, r)) continue;
        out.push({ ...r, rates: { ...r.rates }, shippedDefault: true, replaced: operatorCards.has(cardKey(r)), loadedAt: null });
      }
      for (const r of operatorCards.values()) {
        if (!matches(filter, r)) continue;
        out.push({ effectiveFrom: r.effectiveFrom, unit: r.unit, market: r.market, currency: r.currency, rates: { ...r.rates }, source: r.source, shippedDefault: false, replaced: false, loadedAt: r.loadedAt });
      }
      const order = (r: RateCardListing) => [r.unit, r.currency, r.market, r.effectiveFrom, r.shippedDefault ? '0' : '1'];
      return out.sort((a, b) => compareKeys(order(a), order(b)));
    },

    /** Every tier schedule, in force or not, as `listRateCards`. */
    listVolumeTiers(filter: Omit<RateFilter, 'unit'> & { category?: string } = {}): VolumeTierListing[] {
      const keep = (r: VolumeTierRow) => matches(filter, r) && (filter.category === undefined || filter.category.replace(/-/g, '_').toLowerCase() === r.category);
      const out = [
        ...schedulesOf(defaultTiers.filter(keep), (key) => ({ shippedDefault: true, replaced: operatorTiers.has(key), loadedAt: null })),
        ...schedulesOf([...operatorTiers.values()].flatMap((g) => g.rows).filter(keep), (key) => ({ shippedDefault: false, replaced: false, loadedAt: operatorTiers.get(key)!.loadedAt })),
      ];
      const order = (s: VolumeTierListing) => [s.currency, s.market, s.category, s.effectiveFrom, s.shippedDefault ? '0' : '1'];
      return out.sort((a, b) => compareKeys(order(a), order(b)));
    },
  };
}

function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

export type RatesService = ReturnType<typeof createRatesService>;

/**
 * The composition root's one call: a TierBook with the shipped default tiers (unless given), the
 * rates service over it and `rates`, and the stored operator rows loaded on top of both.
 */
export async function openRates(deps: Omit<RatesServiceDeps, 'tiers'> & { tiers?: TierBook }): Promise<{ tiers: TierBook; ratesService: RatesService }> {
  const tiers = deps.tiers ?? loadDefaultTierBook();
  const ratesService = createRatesService({ ...deps, tiers });
  await ratesService.load();
  return { tiers, ratesService };
}
