/**
 * Meta's volume-tier announcements, read back: which tier Meta says a WABA is in for a category,
 * market and month, and how that compares with the tier the meter computed.
 *
 * Meta sends a VOLUME_BASED_PRICING_TIER_UPDATE whenever a WABA reaches a new tier in a market
 * during a month, and may send one announcement more than once; of duplicates, the smaller
 * `tier_update_time` is official (the billing reference §1). So, per WABA × category × month
 * × region:
 * - each announced tier's official time is the smallest `tier_update_time` it was announced with;
 * - Meta's current tier is the one whose official time is the latest (ties: the higher tier).
 * When a group holds only duplicates of one tier this is exactly "the smaller time is official";
 * when the WABA climbed during the month, the climb is kept and the newest tier is current.
 *
 * `region` is a market name in Meta's spelling ("INDIA", "REST_OF_AFRICA"); marketOfRegion maps
 * it to the meter's market names (billing/reference/markets.csv). Pure.
 */
import { canonicalCategory } from '../billing/categories.ts';
import { isCountryCode, marketMappings, marketOf, OTHER_MARKET } from '../billing/markets.ts';

export interface VolumeTierAnnouncement {
  waba_id: string;
  pricing_category: string;
  tier: string;
  effective_month: string;
  region: string;
  tier_update_time: number;
}

export interface MetaTier {
  waba_id: string;
  /** Canonical spelling (categories.ts): "utility", "authentication", "authentication_international". */
  pricing_category: string;
  effective_month: string;
  /** As Meta sent it (the first spelling seen). */
  region: string;
  /** The meter's market name for the region; null when the region is not recognised. */
  market: string | null;
  meta_tier: string;
  meta_tier_update_time: number;
  /** Every tier announced for the group, each at its official time, oldest first. */
  meta_tier_updates: { tier: string; tier_update_time: number }[];
}

/** "LOWER:UPPER" → bounds; upper null for an open end ("MAX"); null when not of that shape. */
export function tierBounds(tier: string): { lower: number; upper: number | null } | null {
  const m = /^\s*(\d+)\s*:\s*(\d+|[A-Za-z]+)\s*$/.exec(tier);
  if (!m) return null;
  const lower = Number(m[1]);
  const upper = /^\d+$/.test(m[2]) ? Number(m[2]) : null;
  if (!Number.isSafeInteger(lower) || (upper !== null && (!Number.isSafeInteger(upper) || upper < lower))) return null;
  return { lower, upper };
}

const normalizeName = (s: string) => s.toUpperCase().replace(/&/g, ' AND ').replace(/[^A-Z0-9]+/g, ' ').trim();

const ALIASES: Record<string, string> = {
  UAE: 'United Arab Emirates',
  UK: 'United Kingdom',
  'GREAT BRITAIN': 'United Kingdom',
  KSA: 'Saudi Arabia',
  USA: 'North America',
  'UNITED STATES': 'North America',
  'REST OF CEE': 'Rest of Central & Eastern Europe',
  'REST OF APAC': 'Rest of Asia Pacific',
  'REST OF LATAM': 'Rest of Latin America',
  'REST OF MIDDLE EAST': 'Rest of Middle East',
  OTHERS: OTHER_MARKET,
};

let byName: Map<string, string> | null = null;
function marketNames(): Map<string, string> {
  if (byName) return byName;
  byName = new Map();
  for (const m of marketMappings()) byName.set(normalizeName(m.market), m.market);
  byName.set(normalizeName(OTHER_MARKET), OTHER_MARKET);
  for (const [alias, market] of Object.entries(ALIASES)) if (!byName.has(alias)) byName.set(alias, market);
  return byName;
}

/**
 * Meta's region → the meter's market name: case, `_`, `-` and `&`/"and" do not matter
 * ("REST_OF_AFRICA" → "Rest of Africa"); a two-letter country code is mapped as of the month's
 * first day. Null when unrecognised.
 */
export function marketOfRegion(region: string, month?: string): string | null {
  const name = normalizeName(region);
  const known = marketNames().get(name);
  if (known) return known;
  if (name.length === 2 && isCountryCode(name)) return marketOf(name, `${month ?? '2026-01'}-01`);
  return null;
}

/** Announcements → Meta's tier per WABA × category × month × region (see the module doc). */
export function metaTiers(rows: VolumeTierAnnouncement[]): MetaTier[] {
  const groups = new Map<string, { first: VolumeTierAnnouncement; category: string; official: Map<string, number> }>();
  for (const r of rows) {
    const category = canonicalCategory(r.pricing_category) ?? r.pricing_category;
    const key = [r.waba_id, category, r.effective_month, normalizeName(r.region)].join('\u0000');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { first: r, category, official: new Map() }));
    const tier = r.tier.trim();
    const t = Number(r.tier_update_time);
    const seen = g.official.get(tier);
    if (seen === undefined || t < seen) g.official.set(tier, t);
  }
  const lowerOf = (tier: string) => tierBounds(tier)?.lower ?? -1;
  const out: MetaTier[] = [];
  for (const g of groups.values()) {
    const steps = [...g.official.entries()]
      .map(([tier, time]) => ({ tier, tier_update_time: time }))
      .sort((a, b) => a.tier_update_time - b.tier_update_time || lowerOf(a.tier) - lowerOf(b.tier));
    const current = steps[steps.length - 1];
    out.push({
      waba_id: g.first.waba_id,
      pricing_category: g.category,
      effective_month: g.first.effective_month,
      region: g.first.region,
      market: marketOfRegion(g.first.region, g.first.effective_month),
      meta_tier: current.tier,
      meta_tier_update_time: current.tier_update_time,
      meta_tier_updates: steps,
    });
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return out.sort((a, b) => cmp(a.effective_month, b.effective_month) || cmp(a.waba_id, b.waba_id)
    || cmp(a.pricing_category, b.pricing_category) || cmp(a.region, b.region));
}

/** How the meter's tier compares with Meta's, in a few words. */
export function tierDifference(metaTier: string, computedTier: string | null): string {
  if (computedTier === null) return 'not computed';
  if (computedTier.trim() === metaTier.trim()) return 'same tier';
  const meta = tierBounds(metaTier);
  const computed = tierBounds(computedTier);
  if (!meta || !computed) return 'tiers not comparable';
  if (computed.lower === meta.lower) return 'same tier';
  return computed.lower < meta.lower ? "meter is below Meta's tier" : "meter is above Meta's tier";
}
