/**
 * Long metering work as durable jobs, done in bounded slices beside ingestion:
 * - `replay`: a channel registered after its phone number's statuses arrived; the meter skipped
 *   them then, and now applies them (events up to the meter's cursor at registration; later ones
 *   the regular projection meters);
 * - `remeter`: a client's business portfolio or authentication-international eligibility changed;
 *   its messages' units are re-derived from their stored state;
 * - `reprice`: a rate card or volume-tier schedule changed; every ranking group and charge group
 *   is checked against the cards now in force (one job for the whole store).
 *
 * A job is a row in `meter_jobs`, written in the transaction that made it necessary. Each slice is
 * one short transaction under the meter lock (the caller's) that does a bounded amount of work
 * and advances the job's position, so a crash resumes where it stopped, webhooks are appended
 * between slices, and the regular projection goes on. Interleaving is safe because every step of
 * the meter is "take the row's old unit out, put its new one in", and the status fold ignores
 * order and repeats: a slice that reaches a row the projection already updated changes nothing.
 * Until a client's jobs are done its usage is partly recomputed, so reads of that client wait
 * for them (with the read bound).
 */
import { countEventsOfPhone, eventsOfPhone, lastSeq, type Executor } from '../store/meter-store.ts';
import type { MeterJobsTable } from '../store/schema.ts';
import { applyEvents, remeterSlice, repriceSlice, REPRICE_START, statusFromEvent, type MeterDeps, type RepricePosition } from './meter.ts';

export type JobKind = MeterJobsTable['kind'];

/**
 * Most work per slice. The runner scales it down (`scale`) when slices take longer than it wants
 * to hold the meter lock: on SQLite that lock is the store's one write lock, which webhooks wait for.
 */
export const SLICE = { replay: 1_000, remeter: 1_000, reprice: 2_000 } as const;

const START: Record<JobKind, string> = { replay: '0', remeter: '0', reprice: JSON.stringify(REPRICE_START) };

export interface JobRequest {
  kind: JobKind;
  /** '' for re-pricing, which covers every phone number. */
  phoneNumberId: string;
  /** Whose reads wait for the job; null for re-pricing. */
  clientId: string | null;
  /** replay: the last event to apply; remeter: the last event whose message to re-derive (default: the log's end). */
  uptoSeq?: number;
}

/** Records jobs (or restarts them from the beginning if the same kind is pending for the number). */
export async function enqueueJobs(trx: Executor, jobs: JobRequest[], now: number): Promise<void> {
  for (const j of jobs) {
    const position = START[j.kind];
    // Re-metering covers the log as it is now; what comes later is metered with the change made.
    const upto = j.uptoSeq ?? (j.kind === 'remeter' ? await lastSeq(trx) : null);
    await trx.insertInto('meter_jobs')
      .values({ kind: j.kind, phone_number_id: j.phoneNumberId, client_id: j.clientId, position, upto_seq: upto, created_at: now })
      .onConflict((oc) => oc.columns(['kind', 'phone_number_id']).doUpdateSet({ position, upto_seq: upto, client_id: j.clientId }))
      .execute();
  }
}

/**
 * A late channel's statuses: those the meter already passed (up to its cursor) are replayed by a
 * job; later ones the regular projection meters, now that the channel exists. Returns how many
 * statuses the log holds for the number.
 */
export async function enqueueReplay(trx: Executor, phoneNumberId: string, clientId: string, meterCursor: number, now: number): Promise<number> {
  if ((await countEventsOfPhone(trx, phoneNumberId, meterCursor)) > 0) {
    await enqueueJobs(trx, [{ kind: 'replay', phoneNumberId, clientId, uptoSeq: meterCursor }], now);
  }
  return countEventsOfPhone(trx, phoneNumberId, Number.MAX_SAFE_INTEGER);
}

/** Whether work is pending: any at all, or what a client's reads wait for (its own and re-pricing). */
export async function jobsPending(db: Executor, clientId?: string): Promise<boolean> {
  let q = db.selectFrom('meter_jobs').select('id');
  if (clientId !== undefined) q = q.where((eb) => eb.or([eb('client_id', '=', clientId), eb('kind', '=', 'reprice')]));
  return (await q.limit(1).executeTakeFirst()) !== undefined;
}

/**
 * Runs one slice of one job, round robin over pending jobs (after `lastId`) so that one client's
 * large job does not hold back another's. Returns the job's id, or null when none is pending.
 */
export async function runJobSlice(trx: Executor, deps: MeterDeps, lastId: number, scale = 1): Promise<number | null> {
  const job = (await trx.selectFrom('meter_jobs').selectAll().where('id', '>', lastId).orderBy('id').limit(1).executeTakeFirst())
    ?? (await trx.selectFrom('meter_jobs').selectAll().orderBy('id').limit(1).executeTakeFirst());
  if (!job) return null;
  const next = await advance(trx, job, deps, Math.max(1, Math.round(SLICE[job.kind] * scale)));
  if (next == null) await trx.deleteFrom('meter_jobs').where('id', '=', job.id).execute();
  else await trx.updateTable('meter_jobs').set({ position: next }).where('id', '=', job.id).execute();
  return Number(job.id);
}

/** One slice of a job: its next position, or null when it is done. */
async function advance(trx: Executor, job: { kind: JobKind; phone_number_id: string; position: string; upto_seq: number | null }, deps: MeterDeps, limit: number): Promise<string | null> {
  switch (job.kind) {
    case 'replay': {
      const events = await eventsOfPhone(trx, job.phone_number_id, Number(job.position), Number(job.upto_seq ?? 0), limit);
      if (events.length === 0) return null;
      await applyEvents(trx, events.map(statusFromEvent), deps);
      return events.length < limit ? null : String(events[events.length - 1].seq);
    }
    case 'remeter':
      return remeterSlice(trx, job.phone_number_id, Number(job.position), Number(job.upto_seq ?? 0), deps, limit);
    case 'reprice': {
      const next = await repriceSlice(trx, deps, JSON.parse(job.position) as RepricePosition, limit);
      return next == null ? null : JSON.stringify(next);
    }
  }
}
