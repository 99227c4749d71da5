/**
 * Billing categories as webhooks spell them, and the counters usage is kept in.
 *
 * Meta spells one category several ways (`authentication-international` in `pricing.category`,
 * `authentication_international` in `conversation.origin.type`, and once the typo
 * `business_initated`); everything is folded to one spelling here so no other module has to care.
 */

/** Categories the meter keeps a counter for. Anything Meta invents later lands in `other`. */
export const USAGE_CATEGORIES = [
  'business_initiated',
  'user_initiated',
  'marketing',
  'marketing_lite',
  'utility',
  'authentication',
  'authentication_international',
  'service',
  'other',
] as const;
export type UsageCategory = (typeof USAGE_CATEGORIES)[number];

const KNOWN = new Set<string>(USAGE_CATEGORIES);

/** Free-entry-point spellings: CBP's `referral_conversion` origin and PMP's `free_entry_point`. */
const FREE_ENTRY_POINT = new Set(['referral_conversion', 'free_entry_point']);

/** Lowercase, trim, hyphens and spaces to underscores, Meta's known typos fixed. */
export function canonicalCategory(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const s = raw.trim().toLowerCase().replace(/[\s-]+/g, '_');
  if (s === '') return null;
  if (s === 'business_initated') return 'business_initiated';
  return s;
}

export function isFreeEntryPointCategory(category: string | null): boolean {
  return category != null && FREE_ENTRY_POINT.has(category);
}

/**
 * The counter a unit of this canonical category is kept in. A free-entry-point conversation has
 * no category of its own: it was opened by the user (an ad click), so it counts as
 * `user_initiated` in CBP v1 and as `service` in CBP v2 (docs/billing-rules.md).
 */
export function usageCategoryOf(category: string | null, era: 'cbp_v1' | 'cbp_v2' | 'pmp'): UsageCategory {
  if (category == null) return 'other';
  if (FREE_ENTRY_POINT.has(category)) return era === 'cbp_v1' ? 'user_initiated' : 'service';
  return KNOWN.has(category) ? (category as UsageCategory) : 'other';
}
