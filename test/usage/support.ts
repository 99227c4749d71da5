/**
 * The channel `…/info/usage` tests' common start: a service on a fresh store with a small India
 * utility tier schedule (tier 0:2 at the card's 0.0014, then 0.0010), one tenant, and its traffic
 * posted in one webhook.
 */
import assert from 'node:assert/strict';
import { envelope, loadVolumeTiers, postWebhook, seedTenant, startApp, status, type StatusSpec, type TestApp, type TestDialect } from '../helpers.ts';

export interface UsageFixture {
  t: TestApp;
  tn: Awaited<ReturnType<typeof seedTenant>>;
  /** The tenant's channel's `…/info/usage` path. */
  base: string;
}

export async function startUsageFixture(dialect: TestDialect, ids: { phoneNumberId: string; wabaId: string }, traffic: StatusSpec[]): Promise<UsageFixture> {
  const t = await startApp(dialect);
  await loadVolumeTiers(t.app, 'market,currency,category,from,to,rate\nIndia,USD,utility,0,2,0.0014\nIndia,USD,utility,3,,0.0010\n');
  const tn = await seedTenant(t.app, ids);
  const res = await postWebhook(t.app, envelope(traffic.map(status), ids));
  assert.equal(res.statusCode, 200, res.body);
  return { t, tn, base: `/api/v2/partners/${tn.partner.id}/clients/${tn.client.id}/channels/${tn.channel.id}/info/usage` };
}
