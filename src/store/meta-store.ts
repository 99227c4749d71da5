/**
 * The `meta` table: small named values the store keeps about itself (schema version, the meter's
 * cursor) and version tokens of state that every service process caches (registered channels,
 * rate cards). A writer changes a token in the same transaction as the state; a reader compares
 * it with the token it loaded and reloads when they differ, so no process meters with a stale copy.
 */
import { randomUUID } from 'node:crypto';
import type { Executor } from './meter-store.ts';

export async function getMeta(db: Executor, key: string): Promise<string | null> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value ?? null;
}

export async function setMeta(db: Executor, key: string, value: string): Promise<void> {
  await db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
}

/** Marks cached state as changed: a new random token (no read-modify-write, so no lost update). */
export async function bumpVersion(db: Executor, key: string): Promise<void> {
  await setMeta(db, key, randomUUID());
}

/** Version tokens of state the service processes cache. */
export const VERSION_KEYS = {
  /** Channels and what the meter needs of their clients (channel directory). */
  channels: 'channels_version',
  /** Operator rate cards and volume-tier tables. */
  rates: 'rates_version',
} as const;
