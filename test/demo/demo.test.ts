/**
 * The demo data set `npm start` loads into an empty store: one partner, two clients, three
 * channels, ninety days of traffic and a sample month of each earlier era, counted by the meter.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadDemo, demoInfo, type DemoInfo } from '../../src/demo/demo.ts';
import { at, startApp, type TestApp } from '../helpers.ts';

let t: TestApp;
let demo: DemoInfo;
const NOW = at('2026-11-20T12:00:00');

before(async () => {
  t = await startApp('sqlite');
  demo = await loadDemo(t.services, NOW);
});
after(async () => { await t.close(); });

async function usage(clientId: string, query: string) {
  const res = await t.app.inject({ url: `/api/v2/partners/${demo.partnerId}/clients/${clientId}/info/balance?${query}`, headers: { 'x-api-key': demo.apiKey } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

test('the demo creates one partner with two clients and three channels, and remembers its key', async () => {
  assert.equal(demo.clients.length, 2);
  assert.equal(demo.clients.flatMap((c) => c.channels).length, 3);
  assert.ok(demo.statuses > 50_000);
  assert.deepEqual(await demoInfo(t.services), demo);
  const list = await t.app.inject({ url: `/api/v2/partners/${demo.partnerId}/clients`, headers: { 'x-api-key': demo.apiKey } });
  assert.equal(list.json().total, 2);
});

test('the demo has daily usage over the last ninety days, priced from the shipped card', async () => {
  const b = await usage(demo.clients[0].id, `granularity=day&start_date=${NOW - 90 * 86400}&end_date=${NOW}`);
  assert.ok(b.usage.length >= 85, `only ${b.usage.length} days with usage`);
  const recent = b.usage.filter((r: any) => r.period_date >= '2026-10-01');
  assert.ok(recent.every((r: any) => r.unpriced_quantity === 0), 'every recent paid unit has a rate');
  assert.ok(recent.every((r: any) => r.total_price > 0));
});

test('the demo has a CBP v1 month where the 1,000-conversation free tier shows, and a CBP v2 month', async () => {
  const b = await usage(demo.clients[0].id, 'granularity=month&start_date=1672531200&end_date=1735689599');
  const march = b.usage.find((r: any) => r.period_date === '2023-03-01T00:00:00Z');
  const september = b.usage.find((r: any) => r.period_date === '2024-09-01T00:00:00Z');
  assert.ok(march && september);
  assert.ok(march.business_initiated_quantity > 0 && march.user_initiated_quantity > 0);
  // Both channels of the first client share one WABA: about 1,000 free (a few conversations
  // opened late on 31 March UTC fall into April in Europe/Berlin and use April's allowance).
  assert.ok(march.free_tier >= 1000 && march.free_tier < 1010, String(march.free_tier));
  assert.ok(march.paid_quantity > 0);
  assert.ok(september.service_quantity > 1000 && september.free_tier >= 1000);
});
