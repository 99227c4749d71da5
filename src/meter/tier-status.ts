/**
 * The volume tier the meter has counted a group into, to compare with the tier Meta announces in
 * `account_update` webhooks (VOLUME_BASED_PRICING_TIER_UPDATE).
 */
import type { TierStatus, TierStatusQuery } from '../accounts/meter-hooks.ts';
import { canonicalCategory } from '../billing/categories.ts';
import type { PriceBooks } from '../billing/pricing.ts';
import { tierIndexOf, tierLabel } from '../billing/volume-tiers.ts';
import { allRankGroups, type Executor } from '../store/meter-store.ts';

/** Charged messages counted in the group this month, and the tier (`LOWER:UPPER`) that puts it in. */
export async function tierStatus(db: Executor, books: PriceBooks, q: TierStatusQuery): Promise<TierStatus | null> {
  // The caller passes the meter's market name (accounts/volume-tiers.ts maps Meta's regions).
  const market = q.market;
  const category = canonicalCategory(q.category);
  // Group keys: pmp|account|market|currency|category|month (one per currency the account bills in).
  const groups = (await allRankGroups(db, `pmp|${q.portfolioOrWabaId}|${market}|`))
    .map((g) => ({ ...g, parts: g.rank_group.split('|') }))
    .filter((g) => g.parts[4] === category && g.parts[5] === q.month);
  if (groups.length === 0) return null;
  const count = groups.reduce((s, g) => s + g.members, 0);
  const schedule = books.tiers?.scheduleFor({ market, currency: groups[0].parts[3], category: category ?? '', day: `${q.month}-01` });
  if (!schedule || count === 0) return { count, tier: schedule ? tierLabel(schedule.tiers[0]) : '0:MAX' };
  return { count, tier: tierLabel(schedule.tiers[tierIndexOf(schedule, count)]) };
}
