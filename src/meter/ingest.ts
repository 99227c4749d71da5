/**
 * From parsed webhook statuses to the event log (with group commit), and from the log to the
 * meter's projections.
 *
 * Concurrent webhook requests hand their statuses to one queue; each flush appends everything
 * pending to the event log in a single transaction, and only after it commits is any of those
 * requests answered: one fsync covers many requests, and a 200 always means "on disk".
 *
 * The meter follows the log: after each commit it projects the new events (in order, from a
 * cursor kept in the same transaction as the projections), so a crash between the two loses
 * nothing — the next start resumes from the cursor. Readers call `caughtUp()` first, so a
 * balance read after an acknowledged webhook always includes it.
 *
 * Several processes may share one PostgreSQL (store/locks.ts): appends commit one
 * at a time, so events become visible in sequence order and "everything up to N" is a safe
 * horizon; metering runs under one lock whichever process does it, and reads the cursor from the
 * store inside that lock, so no event is metered twice or skipped, and a process that dies
 * mid-projection simply leaves the work (and the lock) to the next one. Each metering transaction
 * first brings this process's caches of shared state (channels, rate cards) up to date.
 */
import { createHash } from 'node:crypto';
import { countryOfNumber, isCountryCode } from '../billing/markets.ts';
import type { MeterStatus } from '../billing/message-state.ts';
import type { NormalizedStatus } from '../ingest/status.ts';
import { appendEvents, eventsAfter, lastSeq, type EventRow, type Executor } from '../store/meter-store.ts';
import type { Store } from '../store/database.ts';
import { takeLock } from '../store/locks.ts';
import { getMeta, setMeta } from '../store/meta-store.ts';
import { jobsPending, runJobSlice } from './jobs.ts';
import { applyEvents, statusFromEvent, type MeterDeps } from './meter.ts';

export interface IngestOutcome {
  /** Statuses newly written to the log. */
  stored: number;
  /** Statuses the log already held (Meta's retries and duplicates). */
  duplicates: number;
}

type PreparedStatus = { row: EventRow; status: MeterStatus };

export const METER_CURSOR = 'meter_cursor';
/** Most events one projection transaction meters. */
const PROJECT_BATCH = 2_000;
/**
 * How long a job slice should hold the meter lock (ms). Slices that take longer are made smaller
 * (down to 1/50 of their full size), ones well under it larger again: the time, not the row
 * count, is what other tenants' webhooks wait for on SQLite.
 */
const SLICE_TARGET_MS = 60;
const MIN_SLICE_SCALE = 0.02;
/**
 * A pause after each job slice, longer than an append's wait between tries for the write lock
 * (store/database.ts): without it back-to-back slices retake the lock before a waiting webhook
 * thread looks again, and its appends wait for several slices instead of at most one.
 */
const JOB_GAP_MS = 5;

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 27);

/** The one-way key a message is known by: the wamid itself embeds the recipient's number. */
export function messageKeyOf(phoneNumberId: string, messageId: string): string {
  return digest(`${phoneNumberId}\n${messageId}`);
}

/** Reduces a parsed status to what the log keeps: no phone number, no raw message id. */
export function prepareStatus(s: NormalizedStatus, receivedAt: number): PreparedStatus {
  const country = (s.recipient != null ? countryOfNumber(s.recipient) : null)
    ?? (s.recipientCountryHint != null && isCountryCode(s.recipientCountryHint) ? s.recipientCountryHint : null);
  const status: MeterStatus = {
    phoneNumberId: s.phoneNumberId,
    wabaId: s.wabaId,
    messageKey: messageKeyOf(s.phoneNumberId, s.messageId),
    status: s.status,
    ts: s.timestamp,
    country,
    convId: s.conversationId,
    convExpiration: s.conversationExpiration,
    convOrigin: s.conversationOrigin,
    pricingModel: s.pricingModel,
    pricingBillable: s.pricingBillable,
    pricingType: s.pricingType,
    pricingCategory: s.pricingCategory,
  };
  const errorCodes = s.errorCodes.length ? s.errorCodes.join(',') : null;
  // Identical content = the same status delivered again; anything that differs is kept.
  const dedupKey = digest(JSON.stringify([
    status.phoneNumberId, status.messageKey, status.status, status.ts, status.country, status.convId,
    status.convExpiration, status.convOrigin, status.pricingModel, status.pricingBillable, status.pricingType,
    status.pricingCategory, errorCodes, status.wabaId,
  ]));
  const row: EventRow = {
    dedup_key: dedupKey,
    received_at: receivedAt,
    phone_number_id: status.phoneNumberId,
    waba_id: status.wabaId,
    message_key: status.messageKey,
    status: status.status,
    ts: status.ts,
    country,
    conv_id: status.convId,
    conv_expiration: status.convExpiration,
    conv_origin: status.convOrigin,
    pricing_model: status.pricingModel,
    pricing_billable: status.pricingBillable == null ? null : status.pricingBillable ? 1 : 0,
    pricing_type: status.pricingType,
    pricing_category: status.pricingCategory,
    error_codes: errorCodes,
  };
  return { row, status };
}

/** A projector beside this thread (src/meter/projector-thread.ts). */
export interface RemoteProjector {
  /** Meter up to the log's end (and, with `jobs`, look for jobs). */
  kick(jobs: boolean): void;
  /** `cb` is called with the stored cursor after each of the projector's transactions. */
  onProgress(cb: (cursor: number) => void): void;
}

interface Pending {
  items: EventRow[];
  resolve(o: IngestOutcome): void;
  reject(e: unknown): void;
}

export interface IngestQueueOptions {
  /** Most statuses one transaction takes; more wait for the next flush. */
  maxBatch?: number;
  now?: () => number;
  /** Runs first in every metering transaction: refreshes what this process caches of shared state. */
  syncShared?: (trx: Executor) => Promise<void>;
  /** How often to look for jobs another process left unfinished (ms). */
  jobPollMs?: number;
  /** false: this process leaves metering jobs to other processes (its reads wait for them). */
  runJobs?: boolean;
  /** Metering runs elsewhere (a worker thread): this queue only appends, and asks it. */
  projector?: RemoteProjector;
  /** A job slice failed (the job stays, and is retried at the next poll). */
  onJobError?: (err: unknown) => void;
}

/** Serialises every write to the meter's projections and batches webhook statuses (group commit). */
export class IngestQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  private tails: Record<'append' | 'meter', Promise<unknown>> = { append: Promise.resolve(), meter: Promise.resolve() };
  private readonly maxBatch: number;
  private readonly now: () => number;
  private readonly syncShared: (trx: Executor) => Promise<void>;
  private readonly jobPollMs: number;
  private readonly runJobs: boolean;
  private readonly onJobError: (err: unknown) => void;
  private readonly remote: RemoteProjector | undefined;

  constructor(private readonly store: Store, private readonly deps: MeterDeps, opts: IngestQueueOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 20_000;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.syncShared = opts.syncShared ?? (async () => undefined);
    this.jobPollMs = opts.jobPollMs ?? 2_000;
    this.remote = opts.projector;
    this.runJobs = (opts.runJobs ?? true) && !this.remote;
    this.remote?.onProgress((cursor) => this.meteredTo(cursor));
    this.jobsMaybe = this.runJobs;
    this.onJobError = opts.onJobError ?? ((err) => process.emitWarning(`metering job failed: ${(err as Error)?.stack ?? String(err)}`));
  }

  /** Resolves once the statuses are committed to the event log, rejects if the commit failed. */
  submit(statuses: NormalizedStatus[]): Promise<IngestOutcome> {
    const receivedAt = this.now();
    const items = statuses.map((s) => prepareStatus(s, receivedAt).row);
    if (items.length === 0) return Promise.resolve({ stored: 0, duplicates: 0 });
    return new Promise((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Runs `fn` as metering work (projection, channel registration, job slices): in a transaction
   * under the meter lock, with shared caches refreshed. Appends do not wait for it (they have
   * their own lock and order), so a meter held elsewhere never holds back acknowledgments.
   */
  exclusive<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.serially('meter', async (trx) => {
      await takeLock(trx, this.store.dialect, 'meter');
      await this.syncShared(trx);
      return fn(trx);
    });
  }

  /** Appends rows to the event log under the append lock (commits in sequence order). */
  private append(rows: EventRow[]) {
    return this.serially('append', async (trx) => {
      await takeLock(trx, this.store.dialect, 'append');
      return appendEvents(trx, rows);
    });
  }

  /**
   * One transaction after another within this process, per kind of work. Appends go to the event
   * log's writer (on SQLite a connection and a write lock of their own), metering to the store's.
   */
  private serially<T>(kind: 'append' | 'meter', fn: (trx: Executor) => Promise<T>): Promise<T> {
    const db = kind === 'append' ? this.store.log : this.store.db;
    const run = this.tails[kind].then(() => db.transaction().execute(fn));
    this.tails[kind] = run.catch(() => undefined);
    return run;
  }

  /** Waits for everything submitted so far to be committed and metered, background jobs included. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.scheduled) await new Promise((r) => setImmediate(r));
    await this.tails.append;
    await this.caughtUp();
    // Only where jobs are run (here or by this process's projector); others leave them pending.
    while (this.runJobs || this.remote) {
      if (!(await jobsPending(this.store.db))) break;
      await this.nextSlice();
    }
    // The loop may be one look for jobs short of ending: let it end before the store closes.
    while (this.projecting) await this.projecting;
  }

  // ---- the meter follows the log --------------------------------------------------------------

  private cursor = 0;
  private committed = 0;
  private projecting: Promise<void> | null = null;
  private waiters: { seq: number; resolve(): void; reject(e: unknown): void }[] = [];
  /** Jobs may be pending (src/meter/jobs.ts): set on enqueue, at start, by reads and by the poll. */
  private jobsMaybe: boolean;
  private lastJobId = 0;
  /** Fraction of the full slice size the next job slice takes (adapted to SLICE_TARGET_MS). */
  private sliceScale = 1;
  private sliceWaiters: { resolve(): void; reject(e: unknown): void }[] = [];
  private poll: NodeJS.Timeout | null = null;

  /**
   * Projects whatever the log holds beyond the meter's cursor (at start: a crash, an upgrade),
   * and from then on looks for jobs left by any process (one that died mid-job) every few seconds.
   */
  async start(): Promise<void> {
    await this.caughtUp();
    this.poll = setInterval(() => this.lookForJobs(), this.jobPollMs);
    this.poll.unref();
  }

  /** Stops looking for jobs (the process is closing); work under way finishes. */
  stop(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  /** The last event this process knows to be metered. */
  get meteredUpTo(): number {
    return this.cursor;
  }

  /** Everything up to `cursor` is metered: release the reads waiting for it. */
  private meteredTo(cursor: number): void {
    this.cursor = Math.max(this.cursor, cursor);
    this.waiters = this.waiters.filter((w) => (w.seq <= this.cursor ? (w.resolve(), false) : true));
  }

  /** The meter's stored cursor: every event up to it is metered (read inside `exclusive`). */
  async meterCursor(trx: Executor): Promise<number> {
    return Number((await getMeta(trx, METER_CURSOR)) ?? 0);
  }

  /**
   * Jobs were enqueued (and committed): work on them beside ingestion. The services' entry point;
   * the queue's own looks go through lookForJobs.
   */
  kickJobs(): void {
    this.lookForJobs();
  }

  private lookForJobs(): void {
    if (this.remote) this.remote.kick(true);
    if (!this.runJobs) return;
    this.jobsMaybe = true;
    this.project();
  }

  /**
   * Resolves once every event committed before the call, by any process, is metered (by any
   * process): appends commit in sequence order, so the highest sequence number is the horizon.
   * With a client, also waits until that client's jobs (and any re-pricing) are done.
   */
  async caughtUp(clientId?: string): Promise<void> {
    const [horizon, cursor] = await Promise.all([lastSeq(this.store.db), this.meterCursor(this.store.db)]);
    // Reads price with the rate cards too (list prices): bring them up to date as well.
    await this.syncShared(this.store.db);
    this.committed = Math.max(this.committed, horizon);
    this.cursor = Math.max(this.cursor, cursor);
    const target = this.committed;
    if (this.cursor < target) {
      await new Promise<void>((resolve, reject) => {
        this.waiters.push({ seq: target, resolve, reject });
        this.project();
      });
    }
    if (clientId === undefined) return;
    while (await jobsPending(this.store.db, clientId)) await this.nextSlice();
  }

  /** Whether a client's usage is being recomputed by a job (for a read that could not wait). */
  recomputing(clientId: string): Promise<boolean> {
    return jobsPending(this.store.db, clientId);
  }

  /** Resolves after the next job slice (by this process), or once the job loop stops. */
  private nextSlice(): Promise<void> {
    // A process (or thread) that runs no jobs asks the projector and waits for the others to.
    if (!this.runJobs) {
      this.remote?.kick(true);
      return new Promise((r) => setTimeout(r, 50));
    }
    return new Promise((resolve, reject) => {
      this.sliceWaiters.push({ resolve, reject });
      this.lookForJobs();
    });
  }

  private settleSlices(err?: unknown): void {
    const waiting = this.sliceWaiters;
    this.sliceWaiters = [];
    for (const w of waiting) (err === undefined ? w.resolve() : w.reject(err));
  }

  /**
   * One loop, at most one per process, that alternates a projection batch (new events first)
   * with one job slice, each its own transaction, yielding to webhook requests in between.
   */
  private project(): void {
    if (this.remote) {
      if (this.cursor < this.committed) this.remote.kick(false);
      return;
    }
    if (this.projecting || (this.cursor >= this.committed && !this.jobsMaybe)) return;
    this.projecting = (async () => {
      // Yield first: the finally below must not run before `projecting` is assigned.
      await null;
      try {
        while (this.cursor < this.committed || this.jobsMaybe) {
          if (this.cursor < this.committed) {
            const cursor = await this.exclusive(async (trx) => {
              // The stored cursor, not this process's copy: another process may have metered since.
              const stored = await this.meterCursor(trx);
              const events = await eventsAfter(trx, stored, PROJECT_BATCH);
              if (events.length === 0) return Math.max(stored, this.committed);
              await applyEvents(trx, events.map(statusFromEvent), this.deps);
              const last = Number(events[events.length - 1].seq);
              await setMeta(trx, METER_CURSOR, String(last));
              return last;
            });
            this.meteredTo(cursor);
            // Between transactions: where the appender leaves the log's checkpoints to this loop.
            await this.store.checkpointLog();
          }
          // One job slice per projection batch: jobs neither starve under load nor hold it back.
          if (this.jobsMaybe && (await this.jobSlice())) await new Promise((r) => setTimeout(r, JOB_GAP_MS));
          // Let webhook requests in between transactions.
          await new Promise((r) => setImmediate(r));
        }
      } catch (err) {
        for (const w of this.waiters) w.reject(err);
        this.waiters = [];
        this.settleSlices(err);
      } finally {
        this.projecting = null;
        this.settleSlices();
        if ((this.cursor < this.committed && this.waiters.length > 0) || (this.jobsMaybe && this.sliceWaiters.length > 0)) this.project();
      }
    })();
  }

  /**
   * One slice of one job; a failing job is reported and left for the next poll, not retried in a
   * loop. True when a slice ran.
   */
  private async jobSlice(): Promise<boolean> {
    try {
      // A plain read first: a process that finds no job takes no lock.
      let id: number | null = null;
      if (await jobsPending(this.store.db)) {
        const started = performance.now();
        id = await this.exclusive((trx) => runJobSlice(trx, this.deps, this.lastJobId, this.sliceScale));
        // Proportional, but at most halving or doubling per slice: one slow commit is not a trend.
        const ratio = SLICE_TARGET_MS / Math.max(1, performance.now() - started);
        this.sliceScale = Math.min(1, Math.max(MIN_SLICE_SCALE, this.sliceScale * Math.min(2, Math.max(0.5, ratio))));
      }
      if (id == null) this.jobsMaybe = false;
      else this.lastJobId = id;
      this.settleSlices();
      return id != null;
    } catch (err) {
      this.jobsMaybe = false;
      this.onJobError(err);
      this.settleSlices(err);
      return false;
    }
  }

  /** Appends one request's statuses in a transaction of its own (after a batch failed). */
  private async appendAlone(p: Pending): Promise<void> {
    try {
      const { inserted, lastSeq } = await this.append(p.items);
      this.committed = Math.max(this.committed, lastSeq);
      const stored = new Set(p.items.map((r) => r.dedup_key).filter((k) => inserted.has(k))).size;
      p.resolve({ stored, duplicates: p.items.length - stored });
      setImmediate(() => this.project());
    } catch (err) {
      p.reject(err);
    }
  }

  private flush(): void {
    const batch: Pending[] = [];
    let size = 0;
    while (this.pending.length > 0 && (batch.length === 0 || size + this.pending[0].items.length <= this.maxBatch)) {
      const p = this.pending.shift()!;
      batch.push(p);
      size += p.items.length;
    }
    const done = this.append(batch.flatMap((p) => p.items)).then(({ inserted, lastSeq }) => {
      const seen = new Set<string>();
      const outcomes = batch.map((p) => {
        let stored = 0;
        for (const row of p.items) {
          if (inserted.has(row.dedup_key) && !seen.has(row.dedup_key)) {
            seen.add(row.dedup_key);
            stored++;
          }
        }
        return { stored, duplicates: p.items.length - stored };
      });
      return { outcomes, lastSeq };
    });
    // One request's bad data must not fail the others batched with it: retry them one by one.
    const settled = done.catch((err) => {
      if (batch.length === 1) throw err;
      return Promise.allSettled(batch.map((p) => this.appendAlone(p))).then(() => ({ outcomes: null, lastSeq: 0 }));
    });
    settled.then(
      ({ outcomes, lastSeq }) => {
        if (!outcomes) return;
        this.committed = Math.max(this.committed, lastSeq);
        batch.forEach((p, i) => p.resolve(outcomes[i]));
        // Meter the new events soon, without making the webhook wait for it.
        setImmediate(() => this.project());
      },
      (err) => batch.forEach((p) => p.reject(err)),
    ).finally(() => {
      if (this.pending.length > 0) setImmediate(() => this.flush());
      else this.scheduled = false;
    });
  }
}
