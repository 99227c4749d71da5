/**
 * The composition root: opens the store, loads the rate cards and registered channels, and wires
 * the services the HTTP layer and the CLI use. Nothing else constructs these.
 */
import { loadDefaultRateBook, type RateBook } from './billing/rate-cards.ts';
import { ChannelDirectory } from './meter/channel-directory.ts';
import { IngestQueue } from './meter/ingest.ts';
import type { MeterDeps } from './meter/meter.ts';
import { createUsageService } from './meter/usage-service.ts';
import { openStore } from './store/database.ts';
import { createTenantsService } from './tenants/tenants-service.ts';

export async function createServices(opts: { databaseUrl: string; rates?: RateBook; now?: () => number }) {
  const store = await openStore(opts.databaseUrl);
  const rates = opts.rates ?? loadDefaultRateBook();
  const channels = new ChannelDirectory();
  await channels.load(store.db);
  const meter: MeterDeps = { rates, channelOf: (id) => channels.get(id) };
  const queue = new IngestQueue(store, meter, { now: opts.now });
  const tenants = createTenantsService({ store, queue, channels, meter });
  const usage = createUsageService({ store, rates, now: opts.now });
  return {
    store,
    rates,
    channels,
    meter,
    queue,
    tenants,
    usage,
    async close() {
      await queue.drain();
      await store.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
