/**
 * Volume tiers as data: Meta's tiered rates for utility, authentication and
 * authentication-international, and the look-up of the tier schedule in force on a day.
 *
 * A schedule is one market × currency × category × effective date: an ordered list of tiers
 * `{ from, to, rate }` covering every monthly count from the first message on, the last tier open
 * (`to: null`). Tiers are marginal (see the billing reference §1): the n-th charged message of a
 * portfolio's month in that market and category is priced at the rate of the tier containing n.
 * Accruing and counting are the meter's job; this module only answers "which tier holds the n-th
 * message, at what rate".
 *
 * Tier labels follow Meta's `"LOWER:UPPER"` strings (`volume_tier_info.tier` in `account_update`
 * webhooks, `tier` in `pricing_analytics`), upper bound `MAX` for the open-ended tier: see
 * `tierLabel`.
 *
 * Pure apart from reading the shipped example CSV once at module load.
 */
import { upperBound } from './rate-cards.ts';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { parseMoney, type Micros } from './money.ts';

export type TierCategory = 'utility' | 'authentication' | 'authentication_international';

export const TIER_CATEGORIES: readonly TierCategory[] = Object.freeze(['utility', 'authentication', 'authentication_international']);

export type VolumeTierRow = {
  /** 'YYYY-MM-DD', first local day the schedule is in force. */
  effectiveFrom: string;
  /** Meta's market name, as in `markets.ts` and the rate cards (e.g. 'Rest of Africa'). */
  market: string;
  /** ISO 4217, upper case. */
  currency: string;
  category: TierCategory;
  /** First monthly count (1-based ordinal) of the tier; the first tier starts at 0 or 1. */
  from: number;
  /** Last monthly count of the tier, inclusive; null for the last, open-ended tier. */
  to: number | null;
  rate: Micros;
  /** Where the row came from, for reports (file name, operator upload, …). */
  source: string;
};

export type Tier = { readonly from: number; readonly to: number | null; readonly rate: Micros };

export type TierSchedule = {
  readonly effectiveFrom: string;
  readonly source: string;
  /** Ascending, contiguous, the last one open-ended. */
  readonly tiers: readonly Tier[];
};

export type TierQuery = {
  market: string;
  currency: string;
  /** Any spelling (`authentication-international`, `UTILITY`); a non-tiered category has no schedule. */
  category: string;
  /** 'YYYY-MM-DD' local day in the WABA's time zone. */
  day: string;
};

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const CURRENCY = /^[A-Z]{3}$/;
const COUNT = /^(?:\d+|[1-9]\d{0,2}(?:,\d{3})+)$/; // 100000 or 100,000
const OPEN_END = /^(|max|n\/?a|-|∞|inf|infinity|above)$/i;

function isRealDay(day: string): boolean {
  if (!DAY.test(day)) return false;
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().startsWith(day); // rejects 2026-02-30
}

/**
 * A category spelling → the tiered category, or undefined: case-insensitive, with '-', '_' and
 * spaces alike, so `authentication-international` (Meta's `pricing.category`) and
 * `authentication_international` (`conversation.origin.type`) both map.
 */
export function tierCategoryOf(text: string): TierCategory | undefined {
  const key = text.trim().toLowerCase().replace(/[\s\-_]+/g, '_');
  return (TIER_CATEGORIES as readonly string[]).includes(key) ? (key as TierCategory) : undefined;
}

// --- CSV reading ----------------------------------------------------------------------------

const COLUMNS = ['market', 'currency', 'category', 'from', 'to', 'rate'] as const;
type Column = (typeof COLUMNS)[number];

/**
 * The operator's tier table: CSV with the header `market,currency,category,from,to,rate` (columns
 * in any order, case-insensitive; no other columns), one row per tier; `to` empty (or `MAX`) for
 * the last tier; counts may use US grouping (`100,000` quoted); rates as in rate cards (`0.0040`,
 * `$0.004`). The effective date is not in the file: the caller states it.
 *
 * Checked per market + currency + category: the rows are listed in ascending order, the first
 * starts at 0 or 1, each next one starts at the previous `to` + 1, and only the last is
 * open-ended (it must be).
 *
 * @throws Error whose message names the line (and column) of the first problem.
 */
export function parseVolumeTiers(csvText: string, opts: { effectiveFrom: string; source: string }): VolumeTierRow[] {
  const { source } = opts;
  if (!isRealDay(opts.effectiveFrom)) {
    throw new Error(`${source}: effectiveFrom ${JSON.stringify(opts.effectiveFrom)} is not a YYYY-MM-DD date`);
  }
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(csvText, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  const lines = records
    .map(({ record, info }) => ({ cells: record.map((c) => c.trim()), line: info.lines }))
    .filter(({ cells }) => cells.some((c) => c !== ''));
  if (lines.length === 0) throw new Error(`${source}: empty file, expected the header market,currency,category,from,to,rate`);

  const [header, ...body] = lines;
  const index = new Map<Column, number>();
  header.cells.forEach((text, i) => {
    const key = text.toLowerCase().replace(/[\s\-_]+/g, '_') as Column;
    if (key === ('' as Column)) return;
    if (!COLUMNS.includes(key)) {
      throw new Error(`${source} line ${header.line}: unknown column "${text}" (expected market,currency,category,from,to,rate)`);
    }
    if (index.has(key)) throw new Error(`${source} line ${header.line}: column "${text}" appears twice`);
    index.set(key, i);
  });
  const missing = COLUMNS.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new Error(`${source} line ${header.line}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} (expected the header market,currency,category,from,to,rate)`);
  }

  const rows: VolumeTierRow[] = [];
  const lineOf = new Map<VolumeTierRow, number>();
  for (const { cells, line } of body) {
    const where = `${source} line ${line}`;
    const cell = (c: Column): string => cells[index.get(c)!] ?? '';
    const market = cell('market').replace(/\s+/g, ' ');
    if (market === '') throw new Error(`${where}, column "market": market is empty`);
    const currency = cell('currency').toUpperCase();
    if (!CURRENCY.test(currency)) throw new Error(`${where}, column "currency": ${JSON.stringify(cell('currency'))} is not an ISO 4217 code`);
    const category = tierCategoryOf(cell('category'));
    if (category === undefined) {
      throw new Error(`${where}, column "category": ${JSON.stringify(cell('category'))} has no volume tiers (expected utility, authentication or authentication_international)`);
    }
    const from = parseCount(cell('from'), `${where}, column "from"`, false)!;
    const to = parseCount(cell('to'), `${where}, column "to"`, true);
    let rate: Micros;
    try {
      rate = parseMoney(cell('rate'));
    } catch (e) {
      throw new Error(`${where}, column "rate": bad rate ${JSON.stringify(cell('rate'))} (${(e as Error).message})`);
    }
    const row: VolumeTierRow = { effectiveFrom: opts.effectiveFrom, market, currency, category, from, to, rate, source };
    rows.push(row);
    lineOf.set(row, line);
  }
  if (rows.length === 0) throw new Error(`${source}: no tier rows under the header`);

  for (const group of groupRows(rows).values()) {
    checkSchedule(group, (row) => `${source} line ${lineOf.get(row)}`);
  }
  return rows.map((r) => Object.freeze(r));
}

function parseCount(text: string, where: string, openable: boolean): number | null {
  if (openable && OPEN_END.test(text)) return null;
  if (!COUNT.test(text)) {
    throw new Error(`${where}: ${JSON.stringify(text)} is not a whole number of messages${openable ? ' (leave it empty for the last tier)' : ''}`);
  }
  const n = Number(text.replace(/,/g, ''));
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: ${text} is too large`);
  return n;
}

const groupKey = (r: { effectiveFrom: string; market: string; currency: string; category: string }) =>
  `${r.effectiveFrom}|${r.currency}|${r.market}|${r.category}`;

/** Rows by effectiveFrom + currency + market + category, each group in input order. */
function groupRows<R extends VolumeTierRow>(rows: readonly R[]): Map<string, R[]> {
  const groups = new Map<string, R[]>();
  for (const row of rows) {
    const key = groupKey(row);
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(row);
  }
  return groups;
}

/** Throws naming `where(row)` unless the group's tiers, in the given order, form a valid schedule. */
function checkSchedule(group: readonly VolumeTierRow[], where: (row: VolumeTierRow) => string): void {
  const { market, currency, category } = group[0];
  const what = `${category} tiers of ${market} ${currency}`;
  let prev: VolumeTierRow | undefined;
  for (const row of group) {
    if (prev === undefined) {
      if (row.from !== 0 && row.from !== 1) throw new Error(`${where(row)}: the first of the ${what} starts at ${row.from}; expected 0 or 1`);
    } else if (prev.to === null) {
      throw new Error(`${where(row)}: a tier after the open-ended tier (${where(prev)}) of the ${what}; only the last tier has an empty "to"`);
    } else if (row.from !== prev.to + 1) {
      throw new Error(`${where(row)}: tier starts at ${row.from} but the previous one of the ${what} (${where(prev)}) ends at ${prev.to}; expected ${prev.to + 1} (tiers ascending, without gaps or overlaps)`);
    }
    if (row.to !== null && row.to < Math.max(row.from, 1)) {
      throw new Error(`${where(row)}: "to" ${row.to} is below "from" ${row.from}`);
    }
    prev = row;
  }
  if (prev!.to !== null) {
    throw new Error(`${where(prev!)}: the last of the ${what} ends at ${prev!.to}; leave "to" empty so that it covers every higher count`);
  }
}

// --- the book -------------------------------------------------------------------------------

/**
 * All loaded tier schedules, indexed currency+market+category → schedules sorted by
 * effectiveFrom; a look-up is one Map get and a binary search, returning a shared frozen schedule.
 */
export class TierBook {
  private readonly index = new Map<string, Array<TierSchedule & { market: string; currency: string; category: TierCategory }>>();

  /**
   * Adds rows. The rows of one effectiveFrom + market + currency + category form a schedule (any
   * order; sorted by `from`) that replaces an earlier schedule of the same key whole.
   *
   * @throws Error when a schedule is not contiguous from 0/1 to an open end, or a row is malformed.
   */
  add(rows: readonly VolumeTierRow[]): this {
    for (const row of rows) {
      if (!isRealDay(row.effectiveFrom)) throw new Error(`volume tier row: effectiveFrom ${JSON.stringify(row.effectiveFrom)} is not a YYYY-MM-DD date`);
      if (!CURRENCY.test(row.currency)) throw new Error(`volume tier row: currency ${JSON.stringify(row.currency)} is not an upper-case ISO 4217 code`);
      if (row.market.trim() === '') throw new Error('volume tier row: market is empty');
      if (!TIER_CATEGORIES.includes(row.category)) throw new Error(`volume tier row: category ${JSON.stringify(row.category)} has no volume tiers`);
      if (!(Number.isSafeInteger(row.from) && row.from >= 0) || !(row.to === null || (Number.isSafeInteger(row.to) && row.to >= 0))) {
        throw new Error(`volume tier row ${row.market} ${row.effectiveFrom}: from/to ${row.from}/${row.to} are not whole counts`);
      }
      if (!(Number.isSafeInteger(row.rate) && row.rate >= 0)) {
        throw new Error(`volume tier row ${row.market} ${row.effectiveFrom}: rate ${row.rate} is not non-negative integer micros`);
      }
    }
    const schedules = [...groupRows(rows).values()].map((group) => {
      const sorted = [...group].sort((a, b) => a.from - b.from);
      checkSchedule(sorted, (r) => `volume tier row ${r.market} ${r.currency} ${r.category} ${r.effectiveFrom} from ${r.from}`);
      const { effectiveFrom, market, currency, category, source } = sorted[0];
      return Object.freeze({
        effectiveFrom, market, currency, category, source,
        tiers: Object.freeze(sorted.map(({ from, to, rate }) => Object.freeze({ from, to, rate }))),
      });
    });
    // Validate everything first, then apply: a bad row leaves the book untouched.
    for (const schedule of schedules) {
      const key = bookKey(schedule.currency, schedule.market, schedule.category);
      let list = this.index.get(key);
      if (list === undefined) this.index.set(key, (list = []));
      const i = upperBound(list, schedule.effectiveFrom);
      if (i > 0 && list[i - 1].effectiveFrom === schedule.effectiveFrom) list[i - 1] = schedule;
      else list.splice(i, 0, schedule);
    }
    return this;
  }

  /** The schedule with the latest effectiveFrom ≤ day, or null (no tiers: price at the list rate). */
  scheduleFor(q: TierQuery): TierSchedule | null {
    const category = tierCategoryOf(q.category);
    if (category === undefined) return null;
    const list = this.index.get(bookKey(q.currency, q.market, category));
    if (list === undefined) return null;
    const i = upperBound(list, q.day);
    return i === 0 ? null : list[i - 1];
  }

  /** Every row, ordered by currency, market, category, effectiveFrom, from. */
  rows(): VolumeTierRow[] {
    const out: VolumeTierRow[] = [];
    for (const key of [...this.index.keys()].sort()) {
      for (const s of this.index.get(key)!) {
        for (const t of s.tiers) {
          out.push({ effectiveFrom: s.effectiveFrom, market: s.market, currency: s.currency, category: s.category, from: t.from, to: t.to, rate: t.rate, source: s.source });
        }
      }
    }
    return out;
  }
}

const bookKey = (currency: string, market: string, category: TierCategory) => `${currency}\u0000${market}\u0000${category}`;


/**
 * Index of the tier holding the `ordinal`-th charged message of the month (1-based): the first
 * tier whose `to` is ≥ ordinal, or the last. With Meta's example, 100000 → 0, 100001 → 1,
 * 80000001 → 5.
 *
 * @throws RangeError when ordinal is not a whole number ≥ 1.
 */
export function tierIndexOf(schedule: Pick<TierSchedule, 'tiers'>, ordinal: number): number {
  if (!(Number.isSafeInteger(ordinal) && ordinal >= 1)) throw new RangeError(`tierIndexOf: ordinal ${ordinal} is not a whole number ≥ 1`);
  const tiers = schedule.tiers;
  let lo = 0;
  let hi = tiers.length - 1; // the last tier is open-ended: it holds everything beyond
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const to = tiers[mid].to;
    if (to !== null && to < ordinal) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A tier as Meta writes it in `volume_tier_info.tier` and `pricing_analytics`: `"LOWER:UPPER"`,
 * `UPPER` = `MAX` for the open-ended tier (e.g. `"100001:1000000"`, `"80000001:MAX"`). LOWER is the
 * tier's `from` as loaded, so the first tier reads `"0:100000"` when the table starts at 0 (Meta's
 * own convention: marketing, untiered, is reported as `"0:MAX"`) and `"1:100000"` when it starts
 * at 1. Compare first tiers by their upper bound if the sources disagree.
 */
export function tierLabel(tier: Pick<Tier, 'from' | 'to'>): string {
  return `${tier.from}:${tier.to === null ? 'MAX' : tier.to}`;
}

// --- shipped defaults -----------------------------------------------------------------------

/** The shipped tier tables; the CSV format carries no date, so each file states its own here. */
const SHIPPED: ReadonlyArray<{ file: string; effectiveFrom: string }> = [
  // Meta's example in the billing reference §1 (Rest of Africa, utility, USD, October 2026). An
  // example from third-party docs, not a full table: see reference/README.md.
  { file: 'volume-tiers-usd.csv', effectiveFrom: '2026-10-01' },
];

const SHIPPED_ROWS: readonly VolumeTierRow[] = Object.freeze(
  SHIPPED.flatMap(({ file, effectiveFrom }) =>
    parseVolumeTiers(readFileSync(new URL(`./reference/${file}`, import.meta.url), 'utf8'), { effectiveFrom, source: `reference/${file}` }),
  ),
);

/** A new book holding the shipped example tiers; each call returns an independent book. */
export function loadDefaultTierBook(): TierBook {
  return new TierBook().add(SHIPPED_ROWS);
}
