/**
 * Meta's pricing eras (docs/billing-rules.md, the billing reference §1). Every boundary is a
 * calendar day in the WABA's time zone, so callers pass the unit's local day ('YYYY-MM-DD').
 */
export type Era = 'nbp' | 'cbp_v1' | 'cbp_v2' | 'pmp';

export const CBP_V1_START = '2022-02-01';
export const CBP_V2_START = '2023-06-01';
/** From this day service conversations are free for everyone (no allowance needed). */
export const FREE_SERVICE_START = '2024-11-01';
export const PMP_START = '2025-07-01';

export function eraOf(localDay: string): Era {
  if (localDay < CBP_V1_START) return 'nbp';
  if (localDay < CBP_V2_START) return 'cbp_v1';
  if (localDay < PMP_START) return 'cbp_v2';
  return 'pmp';
}

/** CBP free tier: the first 1,000 conversations of each WABA month are free (§1). */
export const CBP_FREE_TIER_SIZE = 1000;

/** How long a conversation lasts: 24 h, 72 h when opened through a free entry point. */
export const CONVERSATION_WINDOW_S = 24 * 3600;
export const FREE_ENTRY_POINT_WINDOW_S = 72 * 3600;
