/**
 * Authentication-international: when a delivered authentication message is billed the recipient
 * country's authentication-international rate instead of its authentication rate.
 *
 * Meta's rule (pricing/authentication-international-rates), all four must hold:
 * 1. the recipient's country (by calling code) has an authentication-international rate — the
 *    caller knows this from the rate card in force and passes `marketHasInternationalRate`;
 * 2. the business is eligible: it has an eligibility (`auth_international_rate_eligibility`);
 * 3. the business is based in another country than the recipient (its primary business location,
 *    here the client's `country`);
 * 4. the message was delivered on or after the start time for the recipient's country: the
 *    exception's `start_time` when the country is listed in `exception_countries`, else the
 *    general `start_time`.
 * Meta's example: a business based in Indonesia messaging a +62 user is not charged the
 * international rate (same country); a business based in India is.
 *
 * Pure: no I/O, no clock. The eligibility keeps Meta's own field names so it can be stored and
 * returned exactly as Meta's API and webhooks spell it.
 */

/** A country whose start time differs from the general one. */
export interface AuthInternationalException {
  /** ISO 3166-1 alpha-2, upper case. */
  country_code: string;
  /** Unix seconds. */
  start_time: number;
}

/** The shape of Meta's `auth_international_rate_eligibility`. */
export interface AuthInternationalEligibility {
  /** Unix seconds from which the international rate applies (countries not listed below). */
  start_time: number;
  exception_countries?: AuthInternationalException[];
}

export interface AuthInternationalInput {
  /** The business's eligibility; null/undefined = not eligible. */
  eligibility: AuthInternationalEligibility | null | undefined;
  /** The business's primary location (the client's country), ISO alpha-2. */
  businessCountry: string | null | undefined;
  /** The recipient's country from the calling code, ISO alpha-2. */
  recipientCountry: string | null | undefined;
  /** When the message was delivered, unix seconds. */
  deliveredAt: number;
  /** Does the recipient's market have an authentication-international rate (in the card in force)? */
  marketHasInternationalRate: boolean;
}

/** Which condition decided: `applies`, or the first condition that failed. */
export type AuthInternationalRule =
  | 'applies'
  | 'no_international_rate'
  | 'not_eligible'
  | 'unknown_country'
  | 'same_country'
  | 'before_start_time';

export interface AuthInternationalDecision {
  applies: boolean;
  rule: AuthInternationalRule;
  /** The start time that was compared with the delivery (null when not reached). */
  startTime: number | null;
}

const upper = (s: string | null | undefined): string | null => {
  const t = typeof s === 'string' ? s.trim().toUpperCase() : '';
  return t === '' ? null : t;
};

/** The start time for one recipient country: its exception's, else the general one. */
export function eligibilityStartTime(eligibility: AuthInternationalEligibility, recipientCountry: string): number {
  const country = upper(recipientCountry);
  const exception = eligibility.exception_countries?.find((e) => upper(e.country_code) === country);
  return exception ? exception.start_time : eligibility.start_time;
}

/** The decision with the rule that made it (for explaining a charge). */
export function authInternationalDecision(input: AuthInternationalInput): AuthInternationalDecision {
  if (!input.marketHasInternationalRate) return { applies: false, rule: 'no_international_rate', startTime: null };
  if (input.eligibility == null) return { applies: false, rule: 'not_eligible', startTime: null };
  const business = upper(input.businessCountry);
  const recipient = upper(input.recipientCountry);
  if (business === null || recipient === null) return { applies: false, rule: 'unknown_country', startTime: null };
  if (business === recipient) return { applies: false, rule: 'same_country', startTime: null };
  const startTime = eligibilityStartTime(input.eligibility, recipient);
  if (input.deliveredAt < startTime) return { applies: false, rule: 'before_start_time', startTime };
  return { applies: true, rule: 'applies', startTime };
}

/** True when the delivered authentication message is billed the authentication-international rate. */
export function authInternationalApplies(input: AuthInternationalInput): boolean {
  return authInternationalDecision(input).applies;
}

/**
 * The canonical form kept in the store and returned by the API: country codes upper case,
 * `exception_countries` always present and sorted by country code.
 */
export function normalizeEligibility(e: AuthInternationalEligibility): Required<AuthInternationalEligibility> {
  const exceptions = (e.exception_countries ?? [])
    .map((x) => ({ country_code: x.country_code.trim().toUpperCase(), start_time: x.start_time }))
    .sort((a, b) => (a.country_code < b.country_code ? -1 : a.country_code > b.country_code ? 1 : a.start_time - b.start_time));
  return { start_time: e.start_time, exception_countries: exceptions };
}

/** Country codes listed more than once in `exception_countries` (an ambiguous eligibility). */
export function duplicateExceptionCountries(e: AuthInternationalEligibility): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const x of e.exception_countries ?? []) {
    const c = x.country_code.trim().toUpperCase();
    if (seen.has(c)) dup.add(c);
    seen.add(c);
  }
  return [...dup].sort();
}

/** The stored JSON text (see normalizeEligibility). */
export function serializeEligibility(e: AuthInternationalEligibility): string {
  return JSON.stringify(normalizeEligibility(e));
}

/**
 * The stored JSON text → an eligibility; null for null/empty text. Throws on text that is not an
 * eligibility (the store only ever holds what serializeEligibility wrote).
 */
export function parseEligibility(text: string | null | undefined): Required<AuthInternationalEligibility> | null {
  if (text == null || text === '') return null;
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || typeof (v as { start_time?: unknown }).start_time !== 'number') {
    throw new Error('stored auth_international_eligibility is not an eligibility object');
  }
  const e = v as AuthInternationalEligibility;
  return normalizeEligibility({ start_time: e.start_time, exception_countries: Array.isArray(e.exception_countries) ? e.exception_countries : [] });
}
