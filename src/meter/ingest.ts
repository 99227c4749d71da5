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
import { appendEvents, eventsAfter, eventsOfPhone, lastSeq, type EventRow, type Executor, type StoredEvent } from '../store/meter-store.ts';
import type { Store } from '../store/database.ts';
import { takeLock } from '../store/locks.ts';
import { getMeta, setMeta } from '../store/meta-store.ts';
import { applyEvents, type MeterDeps } from './meter.ts';

export interface IngestOutcome {
  /** Statuses newly written to the log. */
  stored: number;
  /** Statuses the log already held (Meta's retries and duplicates). */
  duplicates: number;
}

type PreparedStatus = { row: EventRow; status: MeterStatus };

const METER_CURSOR = 'meter_cursor';
/** Most events one projection transaction meters. */
const PROJECT_BATCH = 2_000;

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

export function statusFromEvent(e: StoredEvent): MeterStatus {
  return {
    phoneNumberId: e.phone_number_id,
    wabaId: e.waba_id,
    messageKey: e.message_key,
    status: e.status,
    ts: Number(e.ts),
    country: e.country,
    convId: e.conv_id,
    convExpiration: e.conv_expiration == null ? null : Number(e.conv_expiration),
    convOrigin: e.conv_origin,
    pricingModel: e.pricing_model,
    pricingBillable: e.pricing_billable == null ? null : e.pricing_billable === 1,
    pricingType: e.pricing_type,
    pricingCategory: e.pricing_category,
  };
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
}

/** Serialises every write to the meter's projections and batches webhook statuses (group commit). */
export class IngestQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly now: () => number;
  private readonly syncShared: (trx: Executor) => Promise<void>;

  constructor(private readonly store: Store, private readonly deps: MeterDeps, opts: IngestQueueOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 20_000;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.syncShared = opts.syncShared ?? (async () => undefined);
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
   * Runs `fn` as metering work (projection, channel registration, replays, re-pricing): in a
   * transaction under the meter lock, with shared caches refreshed, overlapping no flush of this
   * process.
   */
  exclusive<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.serially(async (trx) => {
      await takeLock(trx, this.store.dialect, 'meter');
      await this.syncShared(trx);
      return fn(trx);
    });
  }

  /** Appends rows to the event log under the append lock (commits in sequence order). */
  private append(rows: EventRow[]) {
    return this.serially(async (trx) => {
      await takeLock(trx, this.store.dialect, 'append');
      return appendEvents(trx, rows);
    });
  }

  /** One transaction after another within this process. */
  private serially<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    const run = this.tail.then(() => this.store.db.transaction().execute(fn));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Waits for everything submitted so far to be committed and metered. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.scheduled) await new Promise((r) => setImmediate(r));
    await this.tail;
    await this.caughtUp();
  }

  // ---- the meter follows the log ------------------------------------------------------------

  private cursor = 0;
  private committed = 0;
  private projecting: Promise<void> | null = null;
  private waiters: { seq: number; resolve(): void; reject(e: unknown): void }[] = [];

  /** Projects whatever the log holds beyond the meter's cursor (at start: a crash, an upgrade). */
  async start(): Promise<void> {
    await this.caughtUp();
  }

  /**
   * Resolves once every event committed before the call, by any process, is metered (by any
   * process): appends commit in sequence order, so the highest sequence number is the horizon.
   */
  async caughtUp(): Promise<void> {
    const [horizon, cursor] = await Promise.all([lastSeq(this.store.db), getMeta(this.store.db, METER_CURSOR)]);
    // Reads price with the rate cards too (list prices): bring them up to date as well.
    await this.syncShared(this.store.db);
    this.committed = Math.max(this.committed, horizon);
    this.cursor = Math.max(this.cursor, cursor == null ? 0 : Number(cursor));
    const target = this.committed;
    if (this.cursor >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq: target, resolve, reject });
      this.project();
    });
  }

  private project(): void {
    if (this.projecting || this.cursor >= this.committed) return;
    this.projecting = (async () => {
      // Yield first: the finally below must not run before `projecting` is assigned.
      await null;
      try {
        while (this.cursor < this.committed) {
          const cursor = await this.exclusive(async (trx) => {
            // The stored cursor, not this process's copy: another process may have metered since.
            const stored = Number((await getMeta(trx, METER_CURSOR)) ?? 0);
            const events = await eventsAfter(trx, stored, PROJECT_BATCH);
            if (events.length === 0) return Math.max(stored, this.committed);
            await applyEvents(trx, events.map(statusFromEvent), this.deps);
            const last = Number(events[events.length - 1].seq);
            await setMeta(trx, METER_CURSOR, String(last));
            return last;
          });
          this.cursor = cursor;
          this.waiters = this.waiters.filter((w) => (w.seq <= this.cursor ? (w.resolve(), false) : true));
          // Let webhook requests in between projection batches.
          await new Promise((r) => setImmediate(r));
        }
      } catch (err) {
        for (const w of this.waiters) w.reject(err);
        this.waiters = [];
      } finally {
        this.projecting = null;
        if (this.cursor < this.committed && this.waiters.length > 0) this.project();
      }
    })();
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

/**
 * Re-meters one phone number from its events: used when a channel claims a number whose
 * statuses arrived before it was registered, and after rules or rates change.
 */
export async function replayPhone(trx: Executor, phoneNumberId: string, deps: MeterDeps, chunk = 5_000): Promise<number> {
  let after = 0;
  let total = 0;
  for (;;) {
    const events = await eventsOfPhone(trx, phoneNumberId, after, chunk);
    if (events.length === 0) return total;
    await applyEvents(trx, events.map(statusFromEvent), deps);
    after = Number(events[events.length - 1].seq);
    total += events.length;
  }
}
