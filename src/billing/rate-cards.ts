/**
 * Rate cards as data, and the lookup of the list rate in force for a unit on a day.
 *
 * A rate card row is one market × currency × effective date with a rate per category, in micros.
 * The rate in force on a local day (the WABA's time zone) is the row with the latest
 * `effectiveFrom` ≤ day for that unit/market/currency; a category the card does not list (`n/a`)
 * has no rate — it is reported, never defaulted from an older card.
 *
 * Two CSV shapes are read: the project's own shipped format (`reference/*.csv`) and Meta's
 * published rate-card CSV, which an operator loads to replace the shipped defaults.
 * Pure apart from reading the shipped CSVs once at module load.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { parseMoney, type Micros } from './money.ts';

export type PricingUnit = 'message' | 'conversation';

export type RateCategory =
  | 'marketing'
  | 'utility'
  | 'authentication'
  | 'authentication_international'
  | 'service'
  | 'business_initiated'
  | 'user_initiated';

export const RATE_CATEGORIES: readonly RateCategory[] = Object.freeze([
  'marketing', 'utility', 'authentication', 'authentication_international', 'service',
  'business_initiated', 'user_initiated',
]);

export type RateCardRow = {
  /** 'YYYY-MM-DD', first local day the row is in force. */
  effectiveFrom: string;
  unit: PricingUnit;
  /** Meta's market name, as in `markets.ts` (e.g. 'North America', 'Rest of Africa'). */
  market: string;
  /** ISO 4217, upper case. */
  currency: string;
  /** Absent category = the card has no such rate (`n/a`). */
  rates: Partial<Record<RateCategory, Micros>>;
  /** Where the row came from, for reports (file name, operator upload id, …). */
  source: string;
};

export type RateQuery = {
  unit: PricingUnit;
  market: string;
  currency: string;
  category: RateCategory;
  /** 'YYYY-MM-DD' local day in the WABA's time zone (see calendar.localDay). */
  day: string;
};

export type RateLookup =
  | { ok: true; rate: Micros; effectiveFrom: string; source: string }
  /** `missing`: no card in force at all, or a card in force without this category (`n/a`). */
  | { ok: false; missing: 'card' | 'category'; reason: string };

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const CURRENCY = /^[A-Z]{3}$/;
const NO_RATE = /^(n\/?a)?$/i; // 'n/a', 'N/A', 'na' or empty: the card has no such rate

function isRealDay(day: string): boolean {
  if (!DAY.test(day)) return false;
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().startsWith(day); // rejects 2026-02-30
}

// --- CSV reading ----------------------------------------------------------------------------

type CsvLine = { cells: string[]; line: number };

function readCsv(text: string, source: string): CsvLine[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true, // title rows above Meta's header have fewer cells
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return records
    .map(({ record, info }) => ({ cells: record.map((c) => c.trim()), line: info.lines }))
    .filter(({ cells }) => cells.some((c) => c !== ''));
}

/** Header text → category: case-insensitive, '-', '_' and spaces alike ("Authentication-International"). */
function headerKey(header: string): string {
  return header.trim().toLowerCase().replace(/[\s\-_]+/g, '_');
}

const CATEGORY_BY_HEADER = new Map<string, RateCategory>(RATE_CATEGORIES.map((c) => [c, c]));

type Columns = { market: number; currency: number; effectiveFrom: number; categories: Array<[number, RateCategory, string]> };

function mapColumns(header: string[], where: string, strict: boolean): Columns {
  const cols: Columns = { market: -1, currency: -1, effectiveFrom: -1, categories: [] };
  const seen = new Set<string>();
  header.forEach((text, i) => {
    const key = headerKey(text);
    if (key === '') return;
    if (seen.has(key)) throw new Error(`${where}: column "${text}" appears twice`);
    seen.add(key);
    if (key === 'market') cols.market = i;
    else if (key === 'currency') cols.currency = i;
    else if (key === 'effective_from') cols.effectiveFrom = i;
    else if (CATEGORY_BY_HEADER.has(key)) cols.categories.push([i, CATEGORY_BY_HEADER.get(key)!, text]);
    else if (strict) throw new Error(`${where}: unknown column "${text}"`);
    // Meta's cards: unknown columns (notes, future categories) are ignored on purpose.
  });
  if (cols.categories.length === 0) throw new Error(`${where}: no rate columns (expected e.g. Marketing, Utility)`);
  return cols;
}

function parseRows(
  lines: CsvLine[],
  cols: Columns,
  fixed: { unit: PricingUnit; source: string; effectiveFrom?: string },
): RateCardRow[] {
  const rows: RateCardRow[] = [];
  const keys = new Set<string>();
  for (const { cells, line } of lines) {
    const where = `${fixed.source} line ${line}`;
    const cell = (i: number): string => (i >= 0 ? cells[i] ?? '' : '');
    const market = cell(cols.market).replace(/\s+/g, ' ');
    const currencyText = cell(cols.currency);
    // A row with neither currency nor any rate is a note or footnote under the table.
    if (currencyText === '' && cols.categories.every(([i]) => cell(i) === '')) continue;
    if (market === '') throw new Error(`${where}, column "Market": market is empty`);
    const currency = currencyText.toUpperCase();
    if (!CURRENCY.test(currency)) throw new Error(`${where}, column "Currency": ${JSON.stringify(currencyText)} is not an ISO 4217 code`);
    const effectiveFrom = fixed.effectiveFrom ?? cell(cols.effectiveFrom);
    if (!isRealDay(effectiveFrom)) throw new Error(`${where}, column "effective_from": ${JSON.stringify(effectiveFrom)} is not a YYYY-MM-DD date`);
    const rates: Partial<Record<RateCategory, Micros>> = {};
    for (const [i, category, header] of cols.categories) {
      const text = cell(i);
      if (NO_RATE.test(text)) continue;
      try {
        rates[category] = parseMoney(text);
      } catch (e) {
        throw new Error(`${where}, column "${header}": bad rate ${JSON.stringify(text)} (${(e as Error).message})`);
      }
    }
    const key = `${effectiveFrom}|${market}|${currency}`;
    if (keys.has(key)) throw new Error(`${where}: a second row for ${market} ${currency} effective ${effectiveFrom}`);
    keys.add(key);
    rows.push(freezeRow({ effectiveFrom, unit: fixed.unit, market, currency, rates, source: fixed.source }));
  }
  return rows;
}

function freezeRow(row: RateCardRow): RateCardRow {
  return Object.freeze({ ...row, rates: Object.freeze({ ...row.rates }) });
}

/**
 * The project's shipped format: `effective_from,market,currency,<category columns>` with
 * category columns named as `RateCategory` (marketing, utility, authentication,
 * authentication_international, service; business_initiated, user_initiated for 2022 cards).
 * `n/a` or empty = no rate. Strict: an unknown column is an error.
 */
export function parseShippedRates(csvText: string, opts: { unit: PricingUnit; source: string }): RateCardRow[] {
  const lines = readCsv(csvText, opts.source);
  if (lines.length === 0) throw new Error(`${opts.source}: empty file, expected a header row`);
  const [header, ...body] = lines;
  const cols = mapColumns(header.cells, `${opts.source} line ${header.line}`, true);
  for (const [name, index] of [['effective_from', cols.effectiveFrom], ['market', cols.market], ['currency', cols.currency]] as const) {
    if (index < 0) throw new Error(`${opts.source} line ${header.line}: missing column "${name}"`);
  }
  return parseRows(body, cols, opts);
}

/**
 * Meta's rate-card CSV: optional title/blank rows, then a header row starting with
 * `Market,Currency`, then one row per market. Category headers are matched case-insensitively in
 * any order (`Marketing, Utility, Authentication, Authentication-International, Service`, or
 * `Business-Initiated, User-Initiated` on 2022 cards); other columns are ignored. `n/a` or empty =
 * no rate; values may carry a currency symbol or spaces. The card's effective date is not in the
 * file, so the caller states it.
 *
 * @throws Error naming the line and column of a bad value, or the missing header.
 */
export function parseMetaRateCard(
  csvText: string,
  opts: { effectiveFrom: string; unit: PricingUnit; source: string },
): RateCardRow[] {
  if (!isRealDay(opts.effectiveFrom)) {
    throw new Error(`${opts.source}: effectiveFrom ${JSON.stringify(opts.effectiveFrom)} is not a YYYY-MM-DD date`);
  }
  const lines = readCsv(csvText, opts.source);
  const at = lines.findIndex(({ cells }) => headerKey(cells[0] ?? '') === 'market' && headerKey(cells[1] ?? '') === 'currency');
  if (at < 0) throw new Error(`${opts.source}: no header row starting with "Market,Currency" found`);
  const cols = mapColumns(lines[at].cells, `${opts.source} line ${lines[at].line}`, false);
  cols.effectiveFrom = -1; // the caller's date wins over any column of that name
  return parseRows(lines.slice(at + 1), cols, opts);
}

// --- the book -------------------------------------------------------------------------------

/**
 * All loaded rate cards, indexed unit → currency → market → rows sorted by effectiveFrom, so a
 * look-up is three Map gets and a binary search, allocating nothing but its result.
 */
export class RateBook {
  private readonly index = new Map<PricingUnit, Map<string, Map<string, RateCardRow[]>>>();

  /** Adds rows; a row for the same effectiveFrom + unit + market + currency replaces the earlier one whole. */
  add(rows: readonly RateCardRow[]): this {
    for (const row of rows) {
      if (!isRealDay(row.effectiveFrom)) throw new Error(`rate card row: effectiveFrom ${JSON.stringify(row.effectiveFrom)} is not a YYYY-MM-DD date`);
      if (!CURRENCY.test(row.currency)) throw new Error(`rate card row: currency ${JSON.stringify(row.currency)} is not an upper-case ISO 4217 code`);
      if (row.market.trim() === '') throw new Error('rate card row: market is empty');
      if (row.unit !== 'message' && row.unit !== 'conversation') throw new Error(`rate card row: unknown unit ${JSON.stringify(row.unit)}`);
      for (const [category, rate] of Object.entries(row.rates)) {
        if (!CATEGORY_BY_HEADER.has(category)) throw new Error(`rate card row: unknown category ${JSON.stringify(category)}`);
        if (rate !== undefined && !(Number.isSafeInteger(rate) && rate >= 0)) {
          throw new Error(`rate card row ${row.market} ${row.effectiveFrom}: ${category} rate ${rate} is not non-negative integer micros`);
        }
      }
      const list = this.listFor(row.unit, row.currency, row.market, true)!;
      const frozen = freezeRow(row);
      const i = upperBound(list, row.effectiveFrom); // first index with effectiveFrom > row's
      if (i > 0 && list[i - 1].effectiveFrom === row.effectiveFrom) list[i - 1] = frozen;
      else list.splice(i, 0, frozen);
    }
    return this;
  }

  /** The rate in force for the query's day, or why there is none. */
  rateFor(q: RateQuery): RateLookup {
    const list = this.listFor(q.unit, q.currency, q.market, false);
    const i = list === undefined ? 0 : upperBound(list, q.day);
    if (list === undefined || i === 0) {
      return { ok: false, missing: 'card', reason: `no ${q.unit} rate card for ${q.currency} in market "${q.market}" on ${q.day}` };
    }
    const row = list[i - 1];
    const rate = row.rates[q.category];
    if (rate === undefined) {
      return { ok: false, missing: 'category', reason: `card ${row.effectiveFrom} has no ${q.category} rate for ${q.market}` };
    }
    return { ok: true, rate, effectiveFrom: row.effectiveFrom, source: row.source };
  }

  /** Every row, ordered by unit, currency, market, effectiveFrom. */
  rows(): RateCardRow[] {
    const out: RateCardRow[] = [];
    for (const unit of [...this.index.keys()].sort()) {
      const byCurrency = this.index.get(unit)!;
      for (const currency of [...byCurrency.keys()].sort()) {
        const byMarket = byCurrency.get(currency)!;
        for (const market of [...byMarket.keys()].sort()) out.push(...byMarket.get(market)!);
      }
    }
    return out;
  }

  private listFor(unit: PricingUnit, currency: string, market: string, create: boolean): RateCardRow[] | undefined {
    let byCurrency = this.index.get(unit);
    if (byCurrency === undefined) {
      if (!create) return undefined;
      this.index.set(unit, (byCurrency = new Map()));
    }
    let byMarket = byCurrency.get(currency);
    if (byMarket === undefined) {
      if (!create) return undefined;
      byCurrency.set(currency, (byMarket = new Map()));
    }
    let list = byMarket.get(market);
    if (list === undefined && create) byMarket.set(market, (list = []));
    return list;
  }
}

/** Index of the first row whose effectiveFrom is after `day` (YYYY-MM-DD compares as text). */
export function upperBound(list: readonly { effectiveFrom: string }[], day: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].effectiveFrom <= day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// --- shipped defaults -----------------------------------------------------------------------

const SHIPPED: ReadonlyArray<{ file: string; unit: PricingUnit }> = [
  { file: 'rates-usd-pmp.csv', unit: 'message' },
  { file: 'rates-usd-cbp-2024.csv', unit: 'conversation' },
];

const SHIPPED_ROWS: readonly RateCardRow[] = Object.freeze(
  SHIPPED.flatMap(({ file, unit }) =>
    parseShippedRates(readFileSync(new URL(`./reference/${file}`, import.meta.url), 'utf8'), {
      unit,
      source: `reference/${file}`,
    }),
  ),
);

/**
 * A new book holding the shipped USD defaults (see reference/README.md for how far to trust
 * them): per-message rates from 2026-01-01 and a few per-conversation points from 2024-06-01.
 * Each call returns an independent book, so an operator's `add` never leaks into another.
 */
export function loadDefaultRateBook(): RateBook {
  return new RateBook().add(SHIPPED_ROWS);
}
