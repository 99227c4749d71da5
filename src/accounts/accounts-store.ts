/**
 * Data access for `account_update` webhooks: volume-tier announcements and auth-international
 * eligibility updates, kept as received whether or not a channel claims their WABA yet.
 */
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../store/meter-store.ts';
import type { AuthIntlEligibilityUpdatesTable, VolumeTierUpdatesTable } from '../store/schema.ts';

export type VolumeTierUpdateRow = Selectable<VolumeTierUpdatesTable>;
export type EligibilityUpdateRow = Selectable<AuthIntlEligibilityUpdatesTable>;

/** Inserts one tier announcement; false when an identical one is already stored (a retry). */
export async function insertVolumeTierUpdate(db: Executor, row: Insertable<VolumeTierUpdatesTable>): Promise<boolean> {
  const inserted = await db.insertInto('volume_tier_updates').values(row)
    .onConflict((oc) => oc.columns(['waba_id', 'pricing_category', 'effective_month', 'region', 'tier', 'tier_update_time']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Inserts one eligibility update; false when its dedup key is already stored (a retry). */
export async function insertEligibilityUpdate(db: Executor, row: Insertable<AuthIntlEligibilityUpdatesTable>): Promise<boolean> {
  const inserted = await db.insertInto('auth_intl_eligibility_updates').values(row)
    .onConflict((oc) => oc.column('dedup_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Every tier announcement for these WABAs (one month's, when given), oldest first. */
export async function volumeTierUpdatesOf(db: Executor, wabaIds: string[], month?: string): Promise<VolumeTierUpdateRow[]> {
  if (wabaIds.length === 0) return [];
  let q = db.selectFrom('volume_tier_updates').selectAll().where('waba_id', 'in', wabaIds);
  if (month !== undefined) q = q.where('effective_month', '=', month);
  return q.orderBy('tier_update_time').orderBy('id').execute();
}

/** The eligibility update received last for a WABA. */
export async function latestEligibilityUpdate(db: Executor, wabaId: string): Promise<EligibilityUpdateRow | undefined> {
  return db.selectFrom('auth_intl_eligibility_updates').selectAll().where('waba_id', '=', wabaId)
    .orderBy('received_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}
