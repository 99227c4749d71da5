/**
 * Re-pricing after a rate-card change: a month of `units` delivered messages over 20
 * channels, then an operator card that changes every USD per-message rate in force. Measured beside
 * a baseline from the same run: a re-pricing pass with unchanged cards, which reads every charge
 * group and changes nothing (the floor any re-pricing pays).
 *
 * Runs in process on a copy of the cached data set (the cache stays pristine).
 */
import { copyFileSync } from 'node:fs';
import { eventLogFile } from '../src/store/database.ts';
import { removeSqliteFiles } from './config.ts';
import { join } from 'node:path';
import { microsToDecimalString } from '../src/billing/money.ts';
import { createServices } from '../src/services.ts';
import { enqueueJobs } from '../src/meter/jobs.ts';
import { ensureDataset } from './dataset.ts';

export interface RepriceFigures {
  units: number;
  chargeGroups: number;
  baselineSeconds: number;
  repriceSeconds: number;
  totalBefore: number;
  totalAfter: number;
}

const log = (msg: string) => process.stderr.write(`[reprice] ${msg}\n`);

export async function benchReprice(dir: string, units: number): Promise<RepriceFigures> {
  const ds = await ensureDataset(dir, { units, channels: 20, days: 30 });
  const file = join(dir, `reprice-${process.pid}.db`);
  copyFileSync(ds.file, file);
  copyFileSync(eventLogFile(ds.file), eventLogFile(file));
  const services = await createServices({ databaseUrl: `sqlite:${file}` });
  try {
    const client = await services.tenants.getClient(ds.partnerId, ds.clientId);
    const channels = await services.tenants.listChannels(ds.partnerId, ds.clientId);
    const total = async () => {
      const b = await services.usage.balance(client, channels, { start: ds.firstDay, end: ds.firstDay + ds.days * 86_400 - 1, granularity: 'month' }, 'client');
      return b.usage.reduce((s, r) => s + Number(r.total_price), 0);
    };
    const groups = Number((await services.store.db.selectFrom('charges').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const totalBefore = await total();

    let t = performance.now();
    await services.store.db.transaction().execute((trx) => enqueueJobs(trx, [{ kind: 'reprice', phoneNumberId: '', clientId: null }], Math.floor(Date.now() / 1000)));
    services.queue.kickJobs();
    await services.queue.drain();
    const baselineSeconds = (performance.now() - t) / 1000;
    if ((await total()) !== totalBefore) throw new Error('the baseline re-pricing pass changed the total with unchanged cards');

    // Every USD per-message rate of the card in force, 10 % higher (rounded to the micro-unit).
    const inForce = services.rates.rows().filter((r) => r.unit === 'message' && r.currency === 'USD' && r.effectiveFrom === '2026-10-01');
    const cols = ['marketing', 'utility', 'authentication', 'authentication_international', 'service'] as const;
    const csv = ['WhatsApp rate card (benchmark: +10 %)', 'Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service',
      ...inForce.map((r) => [`"${r.market}"`, 'USD', ...cols.map((c) => (r.rates[c] == null ? 'n/a' : microsToDecimalString(Math.round(r.rates[c]! * 1.1))))].join(','))].join('\n');
    log(`loading a card for ${inForce.length} markets and re-pricing ${groups.toLocaleString('en-US')} charge groups (${units.toLocaleString('en-US')} units)…`);
    t = performance.now();
    await services.ratesService.loadRateCard(csv, { effectiveFrom: '2026-10-01', unit: 'message', filename: 'bench.csv' });
    await services.queue.drain();
    const repriceSeconds = (performance.now() - t) / 1000;
    const totalAfter = await total();
    if (!(totalAfter > totalBefore)) throw new Error(`re-pricing did not raise the total (${totalBefore} → ${totalAfter})`);
    return { units, chargeGroups: groups, baselineSeconds, repriceSeconds, totalBefore, totalAfter };
  } finally {
    await services.close();
    removeSqliteFiles(file);
  }
}
