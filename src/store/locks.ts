/**
 * Advisory locks that serialize work across service processes sharing one PostgreSQL, held until
 * the transaction that took them ends (so a process that dies releases them at once):
 * - `append`: appends to the event log commit one at a time, so sequence numbers become visible
 *   in order and a reader that has seen event N has seen every event before it;
 * - `meter`: one projection (or re-metering, replay, re-pricing) at a time, whichever process runs it;
 * - `migrate`: processes starting together apply each schema migration once.
 * SQLite needs none of them: it has one writer at a time, and sequence numbers are taken under it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, Dialect } from './schema.ts';

export const ADVISORY_LOCKS = { append: 0x77626d01, meter: 0x77626d02, migrate: 0x77626d03 } as const;

export async function takeLock(db: Kysely<Database>, dialect: Dialect, lock: keyof typeof ADVISORY_LOCKS): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${ADVISORY_LOCKS[lock]}::bigint)`.execute(db);
}
