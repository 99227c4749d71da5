/**
 * Recipient number → country (ISO 3166-1 alpha-2) → Meta pricing market on a given day.
 *
 * Meta prices a message or conversation by the market of the recipient's number. The number is
 * resolved to a country with libphonenumber-js (which handles the +1 area codes of DO/JM/PR and
 * the +7 ranges of KZ), and the country is mapped with the dated table shipped in
 * `reference/markets.csv` (inclusive dates; countries not listed are 'Other').
 *
 * Pure apart from reading the shipped CSV once at module load.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import parsePhoneNumber from 'libphonenumber-js/core';
// Metadata build chosen deliberately: 'min' (~150 kB). In 1.13.16 it carries the per-type
// patterns libphonenumber-js uses to pick a country among those sharing a calling code, and it
// resolves every case that matters here exactly as 'max' does (US/CA, DO 809/829/849, JM 658/876,
// PR 787/939, KZ 7xx vs RU, JE/GG under +44; checked on 200k random +1/+7/+44/… numbers, no
// difference), at the same speed. 'mobile' would be wrong: it drops fixed-line patterns and fails
// e.g. JM 658 and JE landlines.
import metadata from 'libphonenumber-js/metadata.min.json';

const MARKETS_CSV = new URL('./reference/markets.csv', import.meta.url);

/** The market for countries absent from the table. */
export const OTHER_MARKET = 'Other';

export interface MarketMapping {
  iso2: string;
  country: string;
  market: string;
  /** 'YYYY-MM-DD', inclusive; null = since always. */
  effectiveFrom: string | null;
  /** 'YYYY-MM-DD', inclusive; null = open. */
  effectiveTo: string | null;
}

const ISO2 = /^[A-Z]{2}$/;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** True for an upper-case two-letter code (the ISO 3166-1 alpha-2 shape; not checked against a list). */
export function isCountryCode(s: string): boolean {
  return typeof s === 'string' && ISO2.test(s);
}

function loadMappings(text: string): MarketMapping[] {
  const records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, info: true }) as unknown as
    Array<{ record: Record<string, string>; info: { lines: number } }>;
  const mappings: MarketMapping[] = [];
  for (const { record, info } of records) {
    const where = `markets.csv line ${info.lines}`;
    const iso2 = record.iso2 ?? '';
    const market = record.market ?? '';
    const from = record.effective_from || null;
    const to = record.effective_to || null;
    if (!isCountryCode(iso2)) throw new Error(`${where}: iso2 ${JSON.stringify(iso2)} is not an ISO 3166-1 alpha-2 code`);
    if (market === '') throw new Error(`${where}: market is empty`);
    for (const d of [from, to]) {
      if (d !== null && !DAY.test(d)) throw new Error(`${where}: date ${JSON.stringify(d)} is not YYYY-MM-DD`);
    }
    if (from !== null && to !== null && from > to) throw new Error(`${where}: effective_from is after effective_to`);
    mappings.push(Object.freeze({ iso2, country: record.country ?? '', market, effectiveFrom: from, effectiveTo: to }));
  }
  return mappings;
}

interface Window { from: string; to: string; market: string }

// ISO2 → its dated windows; '' and '9999-12-31' stand for the open ends so the lookup is a plain
// string comparison (YYYY-MM-DD sorts chronologically).
function indexMappings(mappings: MarketMapping[]): Map<string, Window[]> {
  const byCountry = new Map<string, Window[]>();
  for (const m of mappings) {
    const w = { from: m.effectiveFrom ?? '', to: m.effectiveTo ?? '9999-12-31', market: m.market };
    const list = byCountry.get(m.iso2) ?? [];
    for (const other of list) {
      if (w.from <= other.to && other.from <= w.to) {
        throw new Error(`markets.csv: ${m.iso2} has overlapping date ranges (${other.market} and ${w.market})`);
      }
    }
    list.push(w);
    byCountry.set(m.iso2, list);
  }
  return byCountry;
}

const MAPPINGS: readonly MarketMapping[] = Object.freeze(loadMappings(readFileSync(MARKETS_CSV, 'utf8')));
const WINDOWS = indexMappings([...MAPPINGS]);

/** The shipped country → market table, as loaded. */
export function marketMappings(): readonly MarketMapping[] {
  return MAPPINGS;
}

/**
 * The pricing market of `country` on local day `day` ('YYYY-MM-DD' in the WABA's time zone):
 * null for an unknown country (null, or not an upper-case ISO2 code — an unattributable unit must
 * be reported, never priced as 'Other' by accident); 'Other' for a country not in the table.
 */
export function marketOf(country: string | null, day: string): string | null {
  if (country === null || !ISO2.test(country)) return null;
  const windows = WINDOWS.get(country);
  if (windows !== undefined) {
    for (const w of windows) if (w.from <= day && day <= w.to) return w.market;
  }
  return OTHER_MARKET;
}

/** Every market in force on `day` (including 'Other'), sorted: what a rate card must cover. */
export function marketsOn(day: string): string[] {
  const names = new Set<string>([OTHER_MARKET]);
  for (const iso2 of WINDOWS.keys()) names.add(marketOf(iso2, day)!);
  return [...names].sort();
}

// --- recipient number → country -------------------------------------------------------------

/**
 * Meta's calling-code table lists Kazakhstan as "7 (6xx 7xx)". libphonenumber-js resolves +7 7xx
 * to KZ but has no pattern for the newer +7 6xx range (Russia uses no 6xx codes), so that range is
 * assigned here. Kept as data (calling code + leading national digits) so that the prefix cache
 * below can tell from a number's first digits whether an override applies.
 */
const CALLING_CODE_OVERRIDES: ReadonlyArray<{ callingCode: string; leading: string; country: string }> = [
  { callingCode: '7', leading: '6', country: 'KZ' },
];

function callingCodeOverride(callingCode: string, nationalNumber: string): string | undefined {
  for (const o of CALLING_CODE_OVERRIDES) {
    if (o.callingCode === callingCode && nationalNumber.startsWith(o.leading)) return o.country;
  }
  return undefined;
}

// Digits only after removing an optional '+' and common separators. E.164 allows at most 15
// digits; the shortest real international numbers (e.g. Niue +683 xxxx) have 7.
const SEPARATORS = /[\s\-().]/g;
const DIGITS = /^\d{7,15}$/;

/**
 * The ISO 3166-1 alpha-2 country of a WhatsApp recipient id (digits without '+', e.g.
 * '4915112345678'; a leading '+' or separators are tolerated). Null for placeholders
 * ('CUSTOMER_PHONE_NUMBER', '', '123456789'), anything that is not a possible number, and numbers
 * whose calling code is unknown or non-geographic.
 *
 * When the calling code is known and the length possible but libphonenumber-js cannot tell which
 * of the countries sharing that code the number belongs to (an area code newer than its metadata),
 * the calling code's main country is returned (+1 → US, +44 → GB, +7 → RU): Meta prices by calling
 * code, and that is the best available estimate.
 *
 * Always the same answer as `resolveCountryUncached` (a full libphonenumber parse), but cached by
 * the shortest leading digits that decide it (see the prefix cache below).
 */
export function countryOfNumber(recipient: string): string | null {
  if (typeof recipient !== 'string') return null;
  // Plain digits (what WhatsApp sends) skip the normalisation, which leaves them unchanged anyway.
  const digits = DIGITS.test(recipient) ? mexicanMobile(recipient) : normalize(recipient);
  return digits === null ? null : lookUp(digits);
}

/** The full, uncached resolution: what `countryOfNumber` must always agree with. */
export function resolveCountryUncached(recipient: string): string | null {
  if (typeof recipient !== 'string') return null;
  const digits = normalize(recipient);
  return digits === null ? null : resolveDigits(digits);
}

function normalize(recipient: string): string | null {
  let digits = recipient.trim();
  if (digits.startsWith('+')) digits = digits.slice(1);
  digits = digits.replace(SEPARATORS, '');
  if (!DIGITS.test(digits)) return null;
  return mexicanMobile(digits);
}

// WhatsApp ids of Mexican mobiles keep the mobile '1' Mexico dropped in 2019 (52 1 + 10 digits);
// libphonenumber no longer accepts it, so it is removed before parsing.
function mexicanMobile(digits: string): string {
  return digits.length === 13 && digits.startsWith('521') ? `52${digits.slice(3)}` : digits;
}

/** Country of a normalised number (7–15 digits, calling code first), by a full parse. */
function resolveDigits(digits: string): string | null {
  const phone = parsePhoneNumber(`+${digits}`, metadata);
  if (phone === undefined || !phone.isPossible()) return null;
  const callingCode = phone.countryCallingCode;
  const override = callingCodeOverride(callingCode, phone.nationalNumber);
  if (override !== undefined) return override;
  if (phone.country !== undefined) return phone.country;
  const main = metadata.country_calling_codes[callingCode]?.[0];
  return main !== undefined && fitsGeneralPattern(main, phone.nationalNumber) ? main : null;
}

// The main country's general national-number pattern (e.g. NANP "[2-9]\d{9}|3\d{6}") keeps
// garbage such as '10000000000' from being priced as the US. It is field 2 of a country's entry
// in libphonenumber-js's minified metadata (format version 4, see its METADATA.md); libphonenumber
// exposes no typed accessor for it.
const generalPatterns = new Map<string, RegExp | null>();

function fitsGeneralPattern(country: string, nationalNumber: string): boolean {
  let pattern = generalPatterns.get(country);
  if (pattern === undefined) {
    const source = plan(country)?.[2];
    pattern = typeof source === 'string' ? new RegExp(`^(?:${source})$`) : null;
    generalPatterns.set(country, pattern);
  }
  return pattern === null || pattern.test(nationalNumber);
}

// --- prefix cache -----------------------------------------------------------------------------
//
// Real traffic has mostly distinct recipients, so a per-number cache rarely hits, and a full parse
// costs several µs. But the answer depends only on the number's length and a few leading digits:
// the calling code, then what libphonenumber's metadata looks at to pick the country (e.g. the NANP
// area code and the exchange's first digit for US vs CA vs JM, '7' for KZ under +7, nothing more
// for a calling code with one country). The cache is a trie per number length whose leaves sit at
// the shortest prefix for which `settledAnswer` proves that every completion of that length gets
// the same answer; a leaf's answer is computed once, by the full parse.
//
// `settledAnswer` replays, on a number of which only the first k digits are known, the steps of
// libphonenumber-js 1.13.16's parse of '+digits' that can depend on the digits (from its source:
// extractCountryCallingCode, extractNationalNumber, getCountryByCallingCode,
// getCountryByNationalNumber, getNumberType, checkNumberLength) and then `resolveDigits`. Each regex
// test is answered for all completions at once — true for every one, false for every one, or
// unknown — by an automaton over the digits built from the metadata's pattern. Any unknown means
// "not settled yet": the trie goes one digit deeper, and at the full length the number is its own
// key. A pattern outside the supported syntax is always unknown (per-number caching, never a wrong
// answer). The replay follows libphonenumber-js's code: an upgrade must pass the property tests in
// test/billing/markets.test.ts. As a last guard, a leaf is only made where the replay's own answer
// equals the full parse's.

// A slot is a node (one slot per digit), a settled answer ('' = null), unexplored, or — below a
// prefix that only the whole number settles — a plain per-number cache.
type Slot = Slot[] | string | Map<string, string> | undefined;
/** Trie nodes (~120 B each) + per-number entries; the cache is cleared wholesale when reached. */
export const COUNTRY_CACHE_LIMIT = 50_000;
let roots: Slot[][] = [];
let cacheEntries = 0;
let replayMismatches = 0; // since start, never cleared

function newNode(): Slot[] {
  cacheEntries++;
  return new Array<Slot>(10).fill(undefined);
}

function lookUp(digits: string): string | null {
  if (cacheEntries >= COUNTRY_CACHE_LIMIT || automatonStates >= AUTOMATON_LIMIT) clearCountryCache();
  let node = (roots[digits.length] ??= newNode());
  for (let i = 0; i < digits.length; i++) {
    const slot = node[digits.charCodeAt(i) - 48];
    if (typeof slot === 'string') return slot === '' ? null : slot;
    if (slot === undefined) return settle(digits, node, i);
    if (slot instanceof Map) return perNumber(slot, digits);
    node = slot;
  }
  return resolveDigits(digits); // unreachable: the full length always settles
}

function perNumber(numbers: Map<string, string>, digits: string): string | null {
  const cached = numbers.get(digits);
  if (cached !== undefined) return cached === '' ? null : cached;
  const answer = resolveDigits(digits);
  numbers.set(digits, answer ?? '');
  cacheEntries++;
  return answer;
}

/** Extends the trie below `node` (depth `depth`) along `digits` until the answer is settled. */
function settle(digits: string, node: Slot[], depth: number): string | null {
  for (let k = depth + 1; ; k++) {
    const digit = digits.charCodeAt(k - 1) - 48;
    if (k === digits.length) {
      const answer = resolveDigits(digits);
      node[digit] = answer ?? '';
      return answer;
    }
    const replayed = settledAnswer(digits, k);
    if (replayed === FULL_NUMBER) {
      const numbers = new Map<string, string>();
      node[digit] = numbers;
      return perNumber(numbers, digits);
    }
    if (replayed !== undefined) {
      const answer = resolveDigits(digits);
      if (answer === replayed) {
        node[digit] = answer ?? '';
        return answer;
      }
      replayMismatches++; // a replay bug: counted (tests require 0) and not cached
    }
    const child = newNode();
    node[digit] = child;
    node = child;
  }
}

/** Empties the prefix cache and the automata (tests and benchmarks start cold with it). */
export function clearCountryCache(): void {
  roots = [];
  cacheEntries = 0;
  automata.clear();
  prefixAutomata.clear();
  automatonStates = 0;
}

/** Sizes of the prefix cache, and how often the replay disagreed with the full parse (never, if correct). */
export function countryCacheStats(): { cacheEntries: number; automatonStates: number; replayMismatches: number } {
  return { cacheEntries, automatonStates, replayMismatches };
}

// Minified metadata (format version 4): a plan is an array; the fields used here are
// 2 general pattern, 3 possible lengths, 5 national prefix, 7 national prefix for parsing,
// 10 leading digits, 11 per-type [pattern, lengths?] (fixed line, mobile, toll free, …).
type Plan = readonly unknown[];
const COUNTRIES = metadata.countries as unknown as Record<string, Plan | undefined>;
const NON_GEOGRAPHIC = (metadata as unknown as { nonGeographic?: Record<string, Plan | undefined> }).nonGeographic ?? {};
const CALLING_CODES = metadata.country_calling_codes as unknown as Record<string, readonly string[] | undefined>;

function plan(country: string): Plan | undefined {
  return COUNTRIES[country];
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function lengths(v: unknown): readonly number[] | undefined {
  return Array.isArray(v) ? (v as number[]) : undefined;
}

/** libphonenumber's getCountryCodesForCallingCode. */
function countriesOf(callingCode: string): readonly string[] | undefined {
  const list = CALLING_CODES[callingCode];
  return list === undefined || (list.length === 1 && list[0].length === 3) ? undefined : list;
}

/** The plan libphonenumber selects for a calling code: its main country's, or the non-geographic one. */
function callingCodePlan(callingCode: string): Plan | undefined {
  const list = countriesOf(callingCode);
  return list !== undefined ? plan(list[0]) : NON_GEOGRAPHIC[callingCode];
}

/** checkNumberLength with no type: 'IS_POSSIBLE' or not. */
function possibleLength(possible: readonly number[], length: number): boolean {
  if (possible[0] === length) return true;
  if (possible[0] > length || possible[possible.length - 1] < length) return false;
  return possible.indexOf(length, 1) >= 0;
}

const F = 0, T = 1, U = 2; // three-valued: false / true for every completion, or unknown
type Tri = typeof F | typeof T | typeof U;

const and3 = (a: Tri, b: Tri): Tri => (a === F || b === F ? F : a === T && b === T ? T : U);
const or3 = (a: Tri, b: Tri): Tri => (a === T || b === T ? T : a === F && b === F ? F : U);

/** Not settled by any prefix shorter than the whole number (saves asking again one digit deeper). */
const FULL_NUMBER = Symbol('full number');

/**
 * What `resolveDigits` returns for every `digits.length`-digit number starting with the first `k`
 * digits of `digits`, or undefined when that is not settled by them (k < digits.length).
 */
function settledAnswer(digits: string, k: number): string | null | undefined | typeof FULL_NUMBER {
  // extractCountryCallingCode: '+0…' is no number; else the first of the 1–3 digit prefixes that
  // is a calling code.
  if (digits[0] === '0') return null;
  let callingCode: string | undefined;
  for (let i = 1; i <= 3 && callingCode === undefined; i++) {
    if (i > k) return undefined;
    const candidate = digits.slice(0, i);
    if (countriesOf(candidate) !== undefined || NON_GEOGRAPHIC[candidate] !== undefined) callingCode = candidate;
  }
  if (callingCode === undefined) return null;
  const codePlan = callingCodePlan(callingCode);
  if (codePlan === undefined) return undefined;
  // The national number: `known` followed by `rest` unknown digits.
  const known = digits.slice(callingCode.length, k);
  const rest = digits.length - k;
  const length = known.length + rest;

  // extractNationalNumber: the calling code's plan's national prefix for parsing is stripped
  // (or transformed) only if it matches a non-empty start of the number. When it cannot, the
  // national number is the number as is; when it can, stripping depends on the whole number
  // (general-pattern and length checks), so this is left to the full parse — at once when the
  // known digits already match (a '0' after +44, an '8' after +7: rare, mostly garbage).
  const prefixPattern = text(codePlan[7]) ?? text(codePlan[5]);
  if (prefixPattern !== undefined) {
    const nfa = prefixAutomaton(prefixPattern);
    if (nfa === null) return FULL_NUMBER;
    const start = nfa.matchesNonEmptyStart(known, length);
    if (start !== 'never') return start === 'surely' ? FULL_NUMBER : undefined;
  }

  // getCountryByCallingCode.
  let country: string | undefined;
  const candidates = countriesOf(callingCode);
  if (candidates !== undefined && candidates.length === 1) {
    country = candidates[0];
  } else if (candidates !== undefined) {
    for (const c of candidates) {
      const p = plan(c);
      if (p === undefined) return undefined;
      const leading = text(p[10]);
      const fits = leading !== undefined ? prefixMatch3(leading, known, rest) : numberType3(p, known, rest);
      if (fits === U) return undefined;
      if (fits === T) {
        country = c;
        break;
      }
    }
  }

  // parse's length bounds, then PhoneNumber.isPossible on the country's (or calling code's) plan.
  if (length < 2 || length > 17) return null;
  const possiblePlan = country !== undefined ? plan(country) : codePlan;
  const possible = lengths(possiblePlan?.[3]);
  if (possible === undefined) {
    if (NON_GEOGRAPHIC[callingCode] === undefined) return undefined;
  } else if (!possibleLength(possible, length)) {
    return null;
  }

  // resolveDigits: overrides, the country, else the main country if the general pattern fits.
  for (const o of CALLING_CODE_OVERRIDES) {
    if (o.callingCode !== callingCode) continue;
    if (known.length < o.leading.length) {
      if (o.leading.startsWith(known) && length >= o.leading.length) return undefined;
    } else if (known.startsWith(o.leading)) {
      return o.country;
    }
  }
  if (country !== undefined) return country;
  const main = CALLING_CODES[callingCode]?.[0];
  if (main === undefined) return null;
  const general = plan(main)?.[2];
  if (typeof general !== 'string') return main;
  const fits = fullMatch3(general, known, rest);
  return fits === U ? undefined : fits === T ? main : null;
}

/** getNumberType(...) is truthy: the general pattern and some type's pattern (with its lengths) match. */
function numberType3(p: Plan, known: string, rest: number): Tri {
  const general = text(p[2]);
  if (general === undefined) return F;
  const types = p[11];
  if (!Array.isArray(types) || types.length === 0) return F;
  const length = known.length + rest;
  let any: Tri = F;
  for (let i = 0; i < 10 && any !== T; i++) {
    const type = types[i] as unknown;
    if (!Array.isArray(type)) continue;
    const pattern = text(type[0]);
    if (pattern === undefined) continue;
    const typeLengths = lengths(type[1]) ?? lengths(p[3]);
    if (typeLengths !== undefined && typeLengths.indexOf(length) < 0) continue;
    any = or3(any, fullMatch3(pattern, known, rest));
  }
  return and3(fullMatch3(general, known, rest), any);
}

// --- regex automata over the digits -------------------------------------------------------------
//
// The metadata's patterns use digits, \d, [...] classes, groups, |, ? and {n} / {n,m} (and '$' in
// a few national prefixes for parsing). Anything else makes a pattern unsupported (always unknown).

type Ast =
  | { kind: 'set'; mask: number } // one digit out of a bit set
  | { kind: 'seq'; items: Ast[] }
  | { kind: 'alt'; items: Ast[] }
  | { kind: 'repeat'; item: Ast; min: number; max: number }
  | { kind: 'end' }; // '$'

function parsePattern(source: string): Ast {
  let i = 0;
  const fail = (): never => {
    throw new Error(`unsupported pattern at ${i}`);
  };
  const digitAt = (): number => {
    const d = source.charCodeAt(i++) - 48;
    return d >= 0 && d <= 9 ? d : fail();
  };
  const alternation = (): Ast => {
    const items = [sequence()];
    while (source[i] === '|') {
      i++;
      items.push(sequence());
    }
    return items.length === 1 ? items[0] : { kind: 'alt', items };
  };
  const sequence = (): Ast => {
    const items: Ast[] = [];
    while (i < source.length && source[i] !== '|' && source[i] !== ')') items.push(quantified(atom()));
    return { kind: 'seq', items };
  };
  const atom = (): Ast => {
    const c = source[i];
    if (c === '\\') {
      i++;
      if (source[i++] === 'd') return { kind: 'set', mask: 0x3ff };
      return fail();
    }
    if (c === '[') {
      i++;
      let mask = 0;
      while (source[i] !== ']') {
        if (i >= source.length) fail();
        const from = digitAt();
        let to = from;
        if (source[i] === '-' && source[i + 1] !== ']') {
          i++;
          to = digitAt();
        }
        if (to < from) fail();
        for (let d = from; d <= to; d++) mask |= 1 << d;
      }
      i++;
      return mask === 0 ? fail() : { kind: 'set', mask };
    }
    if (c === '(') {
      i++;
      if (source[i] === '?') {
        if (source[i + 1] !== ':') fail();
        i += 2;
      }
      const inner = alternation();
      if (source[i++] !== ')') fail();
      return inner;
    }
    if (c === '$') {
      i++;
      return { kind: 'end' };
    }
    return { kind: 'set', mask: 1 << digitAt() };
  };
  const quantified = (item: Ast): Ast => {
    if (source[i] === '?') {
      i++;
      return { kind: 'repeat', item, min: 0, max: 1 };
    }
    if (source[i] === '{') {
      const m = /^\{(\d+)(?:,(\d+))?\}/.exec(source.slice(i));
      if (m === null) return fail();
      i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : Number(m[2]);
      if (max < min || max > 20) fail();
      return { kind: 'repeat', item, min, max };
    }
    return item;
  };
  const ast = alternation();
  if (i !== source.length) fail(); // e.g. a stray ')' or a lazy/extra quantifier
  return ast;
}

/** A Thompson automaton: each state has ε-edges, '$'-edges (taken only at the end) and at most one digit edge. */
class Nfa {
  readonly eps: number[][] = [];
  readonly endEps: number[][] = [];
  readonly mask: number[] = [];
  readonly next: number[] = [];
  readonly start: number;
  readonly accept: number;
  hasEnd = false;

  constructor(ast: Ast) {
    this.start = this.state();
    this.accept = this.build(ast, this.start);
  }

  private state(): number {
    this.eps.push([]);
    this.endEps.push([]);
    this.mask.push(0);
    this.next.push(-1);
    return this.eps.length - 1;
  }

  /** Builds `ast` from state `from`; returns its exit state. */
  private build(ast: Ast, from: number): number {
    switch (ast.kind) {
      case 'set': {
        const s = this.state();
        const to = this.state();
        this.eps[from].push(s);
        this.mask[s] = ast.mask;
        this.next[s] = to;
        return to;
      }
      case 'seq':
        return ast.items.reduce((at, item) => this.build(item, at), from);
      case 'alt': {
        const to = this.state();
        for (const item of ast.items) {
          const s = this.state();
          this.eps[from].push(s);
          this.eps[this.build(item, s)].push(to);
        }
        return to;
      }
      case 'repeat': {
        let at = from;
        for (let j = 0; j < ast.min; j++) at = this.build(ast.item, at);
        for (let j = ast.min; j < ast.max; j++) {
          const s = this.state();
          this.eps[at].push(s);
          const to = this.build(ast.item, s);
          this.eps[at].push(to); // the copy may be skipped
          at = to;
        }
        return at;
      }
      case 'end': {
        this.hasEnd = true;
        const to = this.state();
        this.endEps[from].push(to);
        return to;
      }
    }
  }

  /** ε-closure of `states`, sorted; '$'-edges are followed when `atEnd`. */
  closure(states: Iterable<number>, atEnd: boolean): number[] {
    const seen = new Set<number>();
    const stack = [...states];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      stack.push(...this.eps[s]);
      if (atEnd) stack.push(...this.endEps[s]);
    }
    return [...seen].sort((a, b) => a - b);
  }

  /** States reached from `states` on a digit in `mask`. */
  step(states: readonly number[], mask: number): number[] {
    const out: number[] = [];
    for (const s of states) if ((this.mask[s] & mask) !== 0) out.push(this.next[s]);
    return out;
  }

  /**
   * Whether the pattern matches a non-empty start (what `^(?:pattern)` could strip) of no
   * completion of `known` to `length` digits, of some, or surely of all (already within `known`).
   * 'never' is exact: a reachability question.
   */
  matchesNonEmptyStart(known: string, length: number): 'never' | 'maybe' | 'surely' {
    let states = this.closure([this.start], length === 0);
    for (let i = 0; i < length && states.length > 0; i++) {
      const mask = i < known.length ? 1 << (known.charCodeAt(i) - 48) : 0x3ff;
      states = this.closure(this.step(states, mask), i + 1 === length);
      if (states.includes(this.accept)) return i < known.length ? 'surely' : 'maybe';
    }
    return 'never';
  }
}

// Fully built, all of the metadata's patterns take ~8,400 states; the limit only guards against a
// future metadata blowing up (everything is cleared when reached).
const AUTOMATON_LIMIT = 20_000;
let automatonStates = 0;

/**
 * The subset automaton of a pattern, built lazily, with memoised answers to "do all / some digit
 * strings of length r lead from this state to a (full or prefix) match".
 */
class Dfa {
  private readonly ids = new Map<string, number>();
  private readonly sets: number[][] = [];
  private readonly accepting: boolean[] = [];
  private readonly edges: number[] = []; // state * 10 + digit → state, -1 not built yet
  private readonly memo: number[] = []; // (state * 16 + r) * 4 + question → 1 yes, 2 no
  readonly start: number;

  constructor(private readonly nfa: Nfa) {
    this.start = this.intern(nfa.closure([nfa.start], false));
  }

  private intern(states: number[]): number {
    const key = states.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.ids.set(key, id);
      this.sets.push(states);
      this.accepting.push(states.includes(this.nfa.accept));
      for (let d = 0; d < 10; d++) this.edges.push(-1);
      automatonStates++;
    }
    return id;
  }

  accepts(state: number): boolean {
    return this.accepting[state];
  }

  dead(state: number): boolean {
    return this.sets[state].length === 0;
  }

  next(state: number, digit: number): number {
    let to = this.edges[state * 10 + digit];
    if (to === -1) {
      to = this.intern(this.nfa.closure(this.nfa.step(this.sets[state], 1 << digit), false));
      this.edges[state * 10 + digit] = to;
    }
    return to;
  }

  run(known: string, from = this.start): number {
    let state = from;
    for (let i = 0; i < known.length; i++) state = this.next(state, known.charCodeAt(i) - 48);
    return state;
  }

  /**
   * question 0: every string of length r ends in a match; 1: some does; 2: every string of length
   * r has a prefix (possibly empty) ending in a match; 3: some does.
   */
  holds(state: number, r: number, question: 0 | 1 | 2 | 3): boolean {
    const key = (state * 16 + r) * 4 + question;
    const cached = this.memo[key];
    if (cached !== undefined) return cached === 1;
    let result: boolean;
    if (question >= 2 && this.accepting[state]) result = true;
    else if (r === 0) result = this.accepting[state];
    else if (this.dead(state)) result = false;
    else {
      const every = question === 0 || question === 2;
      result = every;
      for (let d = 0; d < 10; d++) {
        if (this.holds(this.next(state, d), r - 1, question) !== every) {
          result = !every;
          break;
        }
      }
    }
    this.memo[key] = result ? 1 : 2;
    return result;
  }
}

const automata = new Map<string, Dfa | null>();
const prefixAutomata = new Map<string, Nfa | null>();

function automaton(source: string): Dfa | null {
  let dfa = automata.get(source);
  if (dfa === undefined) {
    let nfa: Nfa | null;
    try {
      nfa = new Nfa(parsePattern(source));
    } catch {
      nfa = null;
    }
    dfa = nfa === null || nfa.hasEnd ? null : new Dfa(nfa);
    automata.set(source, dfa);
  }
  return dfa;
}

function prefixAutomaton(source: string): Nfa | null {
  let nfa = prefixAutomata.get(source);
  if (nfa === undefined) {
    try {
      nfa = new Nfa(parsePattern(source));
    } catch {
      nfa = null;
    }
    prefixAutomata.set(source, nfa);
  }
  return nfa;
}

/** `^(?:source)$` on `known` + any `rest` digits. */
function fullMatch3(source: string, known: string, rest: number): Tri {
  const dfa = automaton(source);
  if (dfa === null) return U;
  const state = dfa.run(known);
  return dfa.holds(state, rest, 0) ? T : dfa.holds(state, rest, 1) ? U : F;
}

/** `number.search(source) === 0` (a match at the start) on `known` + any `rest` digits. */
function prefixMatch3(source: string, known: string, rest: number): Tri {
  const dfa = automaton(source);
  if (dfa === null) return U;
  let state = dfa.start;
  if (dfa.accepts(state)) return T;
  for (let i = 0; i < known.length; i++) {
    state = dfa.next(state, known.charCodeAt(i) - 48);
    if (dfa.accepts(state)) return T;
    if (dfa.dead(state)) return F;
  }
  return dfa.holds(state, rest, 2) ? T : dfa.holds(state, rest, 3) ? U : F;
}
