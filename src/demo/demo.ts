/**
 * The demo data set loaded into an empty store: one partner, two clients, three channels and
 * webhook traffic generated for the last ninety days plus a sample month of each earlier pricing
 * era, ingested through the same path real webhooks take.
 */
import { parseWebhook } from '../ingest/webhook.ts';
import type { Services } from '../services.ts';
import { demoWebhookBodies, type DemoChannel } from './traffic.ts';

export interface DemoInfo {
  partnerId: string;
  apiKey: string;
  clients: { id: string; name: string; channels: string[] }[];
  statuses: number;
}

const DEMO_KEY = 'demo';

/** Reads the demo partner's details if the demo was loaded earlier. */
export async function demoInfo(services: Services): Promise<DemoInfo | undefined> {
  const row = await services.store.db.selectFrom('meta').select('value').where('key', '=', DEMO_KEY).executeTakeFirst();
  return row ? (JSON.parse(row.value) as DemoInfo) : undefined;
}

export async function loadDemo(services: Services, now = Math.floor(Date.now() / 1000)): Promise<DemoInfo> {
  const { tenants } = services;
  const partner = await tenants.createPartner('Demo Partner', 'demo');
  const retail = await tenants.createClient(partner.id, { name: 'Acme Retail', currency: 'USD', country: 'DE', payment_mode: 'direct', timezone: 'Europe/Berlin' });
  const travel = await tenants.createClient(partner.id, { name: 'Globetrotter Travel', currency: 'USD', country: 'IN', payment_mode: 'partner', timezone: 'Asia/Kolkata' });
  const channels: (DemoChannel & { clientId: string; appId: string; timeZone: string })[] = [
    { clientId: retail.id, appId: '214', timeZone: 'Europe/Berlin', phoneNumberId: '100000000000001', wabaId: '200000000000001', displayPhoneNumber: '4930901820', audience: { DE: 6, GB: 1, ES: 1, US: 1 }, dailyVolume: 160 },
    { clientId: retail.id, appId: '231', timeZone: 'Europe/Berlin', phoneNumberId: '100000000000002', wabaId: '200000000000001', displayPhoneNumber: '4930901821', audience: { DE: 3, BR: 2, MX: 1, DO: 1 }, dailyVolume: 60 },
    { clientId: travel.id, appId: '241', timeZone: 'Asia/Kolkata', phoneNumberId: '100000000000003', wabaId: '200000000000002', displayPhoneNumber: '918041234567', audience: { IN: 6, ID: 1, NG: 1, US: 1 }, dailyVolume: 120 },
  ];
  const created = new Map<string, string[]>();
  for (const ch of channels) {
    const { channel } = await tenants.createChannel(partner.id, ch.clientId, {
      phone_number: `+${ch.displayPhoneNumber}`, phone_number_id: ch.phoneNumberId, waba_id: ch.wabaId, app_id: ch.appId, timezone: ch.timeZone,
    });
    created.set(ch.clientId, [...(created.get(ch.clientId) ?? []), channel.id]);
  }
  let statuses = 0;
  let inFlight: Promise<unknown>[] = [];
  for (const body of demoWebhookBodies({ channels, now, seed: 20260101, recentDays: 90 })) {
    const parsed = parseWebhook(body);
    statuses += parsed.statuses.length;
    inFlight.push(services.queue.submit(parsed.statuses));
    // Many bodies per commit, as a busy webhook endpoint would see them.
    if (inFlight.length >= 50) {
      await Promise.all(inFlight);
  await services.queue.drain();
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  const info: DemoInfo = {
    partnerId: partner.id,
    apiKey: partner.api_key,
    clients: [retail, travel].map((c) => ({ id: c.id, name: c.name, channels: created.get(c.id) ?? [] })),
    statuses,
  };
  // A demo key is kept in clear so every start can print it; real keys are stored as hashes only.
  await services.store.db.insertInto('meta').values({ key: DEMO_KEY, value: JSON.stringify(info) }).execute();
  return info;
}
