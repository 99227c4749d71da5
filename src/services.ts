/**
 * The composition root: opens the store, loads the rate cards and registered channels, and wires
 * the services the HTTP layer and the CLI use. Nothing else constructs these.
 */
import { createAccountsService } from './accounts/accounts-service.ts';
import { createAuthService, type AuthSettings } from './auth/auth-service.ts';
import { loadDefaultRateBook, type RateBook } from './billing/rate-cards.ts';
import { ChannelDirectory } from './meter/channel-directory.ts';
import { IngestQueue } from './meter/ingest.ts';
import { remeterPhones, repriceAll, type MeterDeps } from './meter/meter.ts';
import type { MeterAccountHooks } from './accounts/meter-hooks.ts';
import type { Executor } from './store/meter-store.ts';
import type { PriceBooks } from './billing/pricing.ts';
import { createUsageService } from './meter/usage-service.ts';
import { createChargesService } from './meter/charges-service.ts';
import { createMessageUsageService } from './meter/message-usage-service.ts';
import { tierStatus } from './meter/tier-status.ts';
import { openStore } from './store/database.ts';
import { openRates } from './rates/rates-service.ts';
import { createTenantsService } from './tenants/tenants-service.ts';

export async function createServices(opts: {
  databaseUrl: string;
  rates?: RateBook;
  now?: () => number;
  /** Token lifetimes; `nowMs` is the auth clock in milliseconds (tests move it). */
  auth?: Partial<AuthSettings> & { nowMs?: () => number };
}) {
  const store = await openStore(opts.databaseUrl);
  const rates = opts.rates ?? loadDefaultRateBook();
  const { tiers, ratesService } = await openRates({ store, rates, now: opts.now, onChange: (): Promise<unknown> => services.repriceAfterRateChange() });
  const channels = new ChannelDirectory();
  await channels.load(store.db);
  const books: PriceBooks = { rates, tiers };
  const meter: MeterDeps & MeterAccountHooks = {
    books,
    channelOf: (id: string) => channels.get(id),
    /** The tier the meter counted a volume-tier group into (compared with Meta's tier updates). */
    tierStatus: (q) => tierStatus(store.db, books, q),
    /** A client's portfolio or auth-international eligibility changed: re-meter its messages. */
    pricingProfileChanged: async (trx: Executor, clientIds: string[]) => {
      await remeterPhones(trx, channels.phonesOfClients(clientIds), meter);
    },
  };
  const queue = new IngestQueue(store, meter, {
    now: opts.now,
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
    /** Re-prices everything after a rate card or tier schedule changed (one exclusive transaction). */
    repriceAfterRateChange: () => queue.exclusive((trx) => repriceAll(trx, meter)),
    async close() {
      await queue.drain();
      await store.close();
    },
  };
  return services;
}

export type Services = Awaited<ReturnType<typeof createServices>>;
