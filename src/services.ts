/**
 * The composition root: opens the store, loads the rate cards and registered channels, and wires
 * the services the HTTP layer and the CLI use. Nothing else constructs these.
 */
import { createAccountsService } from './accounts/accounts-service.ts';
import { createAuthService, type AuthSettings } from './auth/auth-service.ts';
import { loadDefaultRateBook, type RateBook } from './billing/rate-cards.ts';
import { ChannelDirectory } from './meter/channel-directory.ts';
import { IngestQueue } from './meter/ingest.ts';
import { enqueueJobs } from './meter/jobs.ts';
import { startProjectorThread } from './meter/projector-thread.ts';
import type { MeterDeps } from './meter/meter.ts';
import type { MeterAccountHooks } from './accounts/meter-hooks.ts';
import type { Executor } from './store/meter-store.ts';
import type { PriceBooks } from './billing/pricing.ts';
import { createUsageService } from './meter/usage-service.ts';
import { createChargesService } from './meter/charges-service.ts';
import { createMessageUsageService } from './meter/message-usage-service.ts';
import { tierStatus } from './meter/tier-status.ts';
import { openStore, type OpenStoreOptions } from './store/database.ts';
import { openRates } from './rates/rates-service.ts';
import { createTenantsService } from './tenants/tenants-service.ts';

export async function createServices(opts: {
  databaseUrl: string;
  rates?: RateBook;
  now?: () => number;
  /** false: leave metering jobs (replays, re-metering, re-pricing) to other processes. */
  runMeterJobs?: boolean;
  /**
   * Where the meter runs: `inline` on this thread (the default; tests, the CLI), or `thread`: a
   * worker thread beside it, so acknowledging webhooks never waits for metering (the service).
   */
  projector?: 'inline' | 'thread';
  /** SQLite: how the main file commits (OpenStoreOptions.synchronous; `normal` only for the projector's thread). */
  synchronous?: OpenStoreOptions['synchronous'];
  /** Token lifetimes; `nowMs` is the auth clock in milliseconds (tests move it). */
  auth?: Partial<AuthSettings> & { nowMs?: () => number };
}) {
  // With the meter in its thread, that thread's connection checkpoints SQLite's logs, not this one.
  const store = await openStore(opts.databaseUrl, { checkpoints: opts.projector !== 'thread', synchronous: opts.synchronous });
  const rates = opts.rates ?? loadDefaultRateBook();
  const clock = opts.now ?? (() => Math.floor(Date.now() / 1000));
  // A card or tier change re-prices everything: a job, recorded in the change's own transaction.
  const { tiers, ratesService } = await openRates({
    store, rates, now: opts.now,
    onChange: (trx: Executor) => enqueueJobs(trx, [{ kind: 'reprice', phoneNumberId: '', clientId: null }], clock()),
    afterChange: () => queue.kickJobs(),
  });
  const channels = new ChannelDirectory();
  await channels.load(store.db);
  const books: PriceBooks = { rates, tiers };
  const meter: MeterDeps & MeterAccountHooks = {
    books,
    channelOf: (id: string) => channels.get(id),
    /** The tier the meter counted a volume-tier group into (compared with Meta's tier updates). */
    tierStatus: (q) => tierStatus(store.db, books, q),
    /** A client's portfolio or auth-international eligibility changed: re-meter its messages (a job per number). */
    pricingProfileChanged: async (trx: Executor, clientIds: string[]) => {
      const jobs = channels.phonesOfClients(clientIds).map((phoneNumberId) => ({ kind: 'remeter' as const, phoneNumberId, clientId: channels.get(phoneNumberId)!.clientId }));
      await enqueueJobs(trx, jobs, clock());
    },
  };
  const projector = opts.projector === 'thread' ? await startProjectorThread(opts.databaseUrl) : undefined;
  const queue = new IngestQueue(store, meter, {
    now: opts.now,
    runJobs: opts.runMeterJobs,
    projector,
    // Another process may have registered a channel or loaded a rate card since this one looked.
    syncShared: async (db) => {
      await channels.refresh(db);
      await ratesService.refresh(db);
    },
  });
  // Meter whatever the log holds beyond the meter's cursor (a crash between the two, an upgrade).
  await queue.start();
  const tenants = createTenantsService({ store, queue, channels, meter });
  const usage = createUsageService({ store, rates, now: opts.now });
  const services = {
    store,
    rates,
    channels,
    meter,
    queue,
    tenants,
    accounts: createAccountsService({ store, queue, channels, meter, now: opts.now }),
    usage,
    auth: createAuthService({ store, settings: opts.auth, nowMs: opts.auth?.nowMs }),
    charges: createChargesService({ store }),
    /** Per-message analytics of a channel (`…/info/usage`, Meta's pricing_analytics shape). */
    messageUsage: createMessageUsageService({ store, books }),
    books,
    tiers,
    ratesService,
    async close() {
      queue.stop();
      await queue.drain();
      await projector?.close();
      await store.close();
    },
  };
  return services;
}

export type Services = Awaited<ReturnType<typeof createServices>>;
