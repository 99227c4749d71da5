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
 * assigned here.
 */
function callingCodeOverride(callingCode: string, nationalNumber: string): string | undefined {
  if (callingCode === '7' && nationalNumber.startsWith('6')) return 'KZ';
  return undefined;
}

// A resolved number is cached: each message yields 2–3 statuses for the same recipient and
// conversations repeat recipients, so most look-ups hit. Cleared wholesale when full (O(1), and
// the working set refills in milliseconds).
//
// Measured (Node 20.20, 90k distinct numbers over 10 calling codes, one core): a miss — the
// libphonenumber parse + possibility check — costs ~7 µs, a hit ~0.05 µs. A hand-rolled fast path
// for single-country calling codes was not worth diverging from libphonenumber's parsing rules.
const CACHE_LIMIT = 100_000;
const cache = new Map<string, string | null>();

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
 */
export function countryOfNumber(recipient: string): string | null {
  if (typeof recipient !== 'string') return null;
  const cached = cache.get(recipient);
  if (cached !== undefined) return cached;
  const country = resolveCountry(recipient);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(recipient, country);
  return country;
}

function resolveCountry(recipient: string): string | null {
  let digits = recipient.trim();
  if (digits.startsWith('+')) digits = digits.slice(1);
  digits = digits.replace(SEPARATORS, '');
  if (!DIGITS.test(digits)) return null;
  // WhatsApp ids of Mexican mobiles keep the mobile '1' Mexico dropped in 2019 (52 1 + 10
  // digits); libphonenumber no longer accepts it, so it is removed before parsing.
  if (digits.length === 13 && digits.startsWith('521')) digits = `52${digits.slice(3)}`;
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
    const plan = (metadata.countries as Record<string, unknown>)[country];
    const source = Array.isArray(plan) && typeof plan[2] === 'string' ? plan[2] : null;
    pattern = source === null ? null : new RegExp(`^(?:${source})$`);
    generalPatterns.set(country, pattern);
  }
  return pattern === null || pattern.test(nationalNumber);
}
