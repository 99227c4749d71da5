/**
 * `account_update` webhook changes that bear on billing → typed AccountUpdate records.
 *
 * Two events are read; every other `account_update` event (VERIFIED_ACCOUNT, DISABLED_UPDATE, …)
 * is left to the caller to count as ignored:
 * - `VOLUME_BASED_PRICING_TIER_UPDATE`: Meta announces that a WABA reached a volume tier, with
 *   `volume_tier_info: { tier_update_time, pricing_category, tier: "LOWER:UPPER",
 *   effective_month: "YYYY-MM", region }` (`region` is a market name such as "INDIA").
 * - `AUTH_INTL_PRICE_ELIGIBILITY_UPDATE`: the business became eligible for authentication-
 *   international rates, with `auth_international_rate_eligibility: { start_time,
 *   exception_countries: [{ country_code, start_time }] }`.
 *
 * A recognised event with a malformed payload is refused with its path and a reason, like a bad
 * status. Strings are kept as Meta spells them (trimmed): readers fold categories and regions.
 */
import { describe, isObject, typeName } from './json-describe.ts';
import { normalizeEligibility, type AuthInternationalEligibility } from '../billing/auth-international.ts';

export const VOLUME_TIER_EVENT = 'VOLUME_BASED_PRICING_TIER_UPDATE';
export const AUTH_INTL_ELIGIBILITY_EVENT = 'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE';

export interface VolumeTierUpdate {
  event: typeof VOLUME_TIER_EVENT;
  /** `entry.id`: the WABA the update is about. */
  wabaId: string;
  /** `entry.time` when present (unix seconds), else null. */
  eventTime: number | null;
  /** As Meta spells it, e.g. "UTILITY", "AUTHENTICATION_INTERNATIONAL". */
  pricingCategory: string;
  /** "LOWER:UPPER", e.g. "100001:1000000". */
  tier: string;
  /** "YYYY-MM". */
  effectiveMonth: string;
  /** Meta's market name, e.g. "INDIA", "REST_OF_AFRICA". */
  region: string;
  /** When the WABA reached the tier (unix seconds); of duplicates, the smaller is official. */
  tierUpdateTime: number;
}

export interface AuthIntlEligibilityUpdate {
  event: typeof AUTH_INTL_ELIGIBILITY_EVENT;
  wabaId: string;
  eventTime: number | null;
  /** Normalised: country codes upper case, exceptions sorted by country and always present. */
  eligibility: Required<AuthInternationalEligibility>;
}

export type AccountUpdate = VolumeTierUpdate | AuthIntlEligibilityUpdate;

/** What one `account_update` change value is: a record, an event we do not read, or a refusal. */
export type AccountUpdateResult =
  | { kind: 'update'; update: AccountUpdate }
  | { kind: 'ignored' }
  | { kind: 'refused'; path: string; reason: string };

// The same plausible range the status parser uses (webhook.ts).
const MIN_UNIX_SECONDS = 946684800; // 2000-01-01T00:00:00Z
const MAX_UNIX_SECONDS = 4102444800; // 2100-01-01T00:00:00Z
const TIMESTAMP_RULE = 'unix seconds between 2000-01-01 and 2100-01-01';
const MAX_TEXT = 100;
const MAX_EXCEPTIONS = 300;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const TIER = /^\d+:(\d+|[A-Za-z]+)$/;
const COUNTRY = /^[A-Za-z]{2}$/;


/**
 * One `account_update` change value (`path` is the value's path in the body). `wabaId` is the
 * entry's id; null when the entry had none, which refuses a recognised event (an update that
 * names no account cannot be kept).
 */
export function parseAccountUpdate(value: unknown, path: string, wabaId: string | null, eventTime: number | null): AccountUpdateResult {
  if (!isObject(value) || typeof value.event !== 'string') return { kind: 'ignored' };
  const event = value.event.trim().toUpperCase();
  if (event !== VOLUME_TIER_EVENT && event !== AUTH_INTL_ELIGIBILITY_EVENT) return { kind: 'ignored' };
  if (wabaId === null) {
    return { kind: 'refused', path, reason: `${event} needs the entry's id (the WABA id), which is missing` };
  }
  return event === VOLUME_TIER_EVENT
    ? volumeTier(value.volume_tier_info, `${path}.volume_tier_info`, wabaId, eventTime)
    : eligibility(value.auth_international_rate_eligibility, `${path}.auth_international_rate_eligibility`, wabaId, eventTime);
}

function volumeTier(info: unknown, path: string, wabaId: string, eventTime: number | null): AccountUpdateResult {
  if (!isObject(info)) return { kind: 'refused', path, reason: `volume_tier_info must be an object, got ${typeName(info)}` };
  const refuse = (reason: string): AccountUpdateResult => ({ kind: 'refused', path, reason });

  const tierUpdateTime = unixSeconds(info.tier_update_time);
  if (tierUpdateTime === undefined) return refuse(`tier_update_time must be ${TIMESTAMP_RULE}, got ${describe(info.tier_update_time)}`);
  const pricingCategory = text(info.pricing_category);
  if (pricingCategory === undefined) return refuse(`pricing_category must be a non-empty string, got ${describe(info.pricing_category)}`);
  const tier = text(info.tier);
  if (tier === undefined || !TIER.test(tier)) return refuse(`tier must be "LOWER:UPPER", got ${describe(info.tier)}`);
  const effectiveMonth = text(info.effective_month);
  if (effectiveMonth === undefined || !MONTH.test(effectiveMonth)) return refuse(`effective_month must be "YYYY-MM", got ${describe(info.effective_month)}`);
  const region = text(info.region);
  if (region === undefined) return refuse(`region must be a non-empty string, got ${describe(info.region)}`);

  return {
    kind: 'update',
    update: { event: VOLUME_TIER_EVENT, wabaId, eventTime, pricingCategory, tier, effectiveMonth, region, tierUpdateTime },
  };
}

function eligibility(e: unknown, path: string, wabaId: string, eventTime: number | null): AccountUpdateResult {
  if (!isObject(e)) return { kind: 'refused', path, reason: `auth_international_rate_eligibility must be an object, got ${typeName(e)}` };
  const refuse = (reason: string): AccountUpdateResult => ({ kind: 'refused', path, reason });

  const startTime = unixSeconds(e.start_time);
  if (startTime === undefined) return refuse(`start_time must be ${TIMESTAMP_RULE}, got ${describe(e.start_time)}`);

  const list = e.exception_countries;
  const exceptions: { country_code: string; start_time: number }[] = [];
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) return refuse(`exception_countries must be an array, got ${typeName(list)}`);
    if (list.length > MAX_EXCEPTIONS) return refuse(`exception_countries has ${list.length} entries; at most ${MAX_EXCEPTIONS} are read`);
    const seen = new Set<string>();
    for (let i = 0; i < list.length; i++) {
      const x: unknown = list[i];
      const at = `exception_countries[${i}]`;
      if (!isObject(x)) return refuse(`${at} must be an object, got ${typeName(x)}`);
      const code = typeof x.country_code === 'string' ? x.country_code.trim().toUpperCase() : '';
      if (!COUNTRY.test(code)) return refuse(`${at}.country_code must be an ISO 3166-1 alpha-2 code, got ${describe(x.country_code)}`);
      if (seen.has(code)) return refuse(`${at}.country_code ${code} is listed twice`);
      seen.add(code);
      const t = unixSeconds(x.start_time);
      if (t === undefined) return refuse(`${at}.start_time must be ${TIMESTAMP_RULE}, got ${describe(x.start_time)}`);
      exceptions.push({ country_code: code, start_time: t });
    }
  }
  return {
    kind: 'update',
    update: {
      event: AUTH_INTL_ELIGIBILITY_EVENT,
      wabaId,
      eventTime,
      eligibility: normalizeEligibility({ start_time: startTime, exception_countries: exceptions }),
    },
  };
}

/** Unix seconds from an integer number or a string of digits, within the plausible range. */
export function unixSeconds(v: unknown): number | undefined {
  let n: number | undefined;
  if (typeof v === 'number') n = Number.isSafeInteger(v) ? v : undefined;
  else if (typeof v === 'string' && /^[0-9]{1,15}$/.test(v)) n = Number(v);
  return n !== undefined && n >= MIN_UNIX_SECONDS && n <= MAX_UNIX_SECONDS ? n : undefined;
}

/** A trimmed, non-empty string of at most MAX_TEXT characters; undefined otherwise. */
function text(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' || t.length > MAX_TEXT ? undefined : t;
}



