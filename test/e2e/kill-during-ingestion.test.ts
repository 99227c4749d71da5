/**
 * "A 200 means the statuses are durably stored": the service is killed with SIGKILL while
 * webhooks stream in; every status it acknowledged must be in the store afterwards, and the
 * usage projection must match the event log exactly (they commit together).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServices } from '../../src/services.ts';
import { messageKeyOf } from '../../src/meter/ingest.ts';
import { at, envelope, status } from '../helpers.ts';
import { startService } from './support.ts';

test('a SIGKILL during ingestion loses no acknowledged status', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wabameter-kill-'));
  const databaseUrl = `sqlite:${join(dir, 'kill.db')}`;
  try {
    const { child, url } = startService({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', WABAMETER_DEMO: '0', WABAMETER_ADMIN_TOKEN: 'kill-admin', LOG_LEVEL: 'silent' });
    const base = await url;
    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const partner = await (await post('/admin/partners', { name: 'K' }, { authorization: 'Bearer kill-admin' })).json();
    const key = { 'x-api-key': partner.api_key };
    const client = await (await post(`/api/v2/partners/${partner.id}/clients`, { name: 'C', currency: 'USD', country: 'DE', payment_mode: 'direct' }, key)).json();
    const ch = await post(`/api/v2/partners/${partner.id}/clients/${client.id}/channels`, { phone_number: '+4930123', phone_number_id: 'kill-pn', waba_id: 'kill-waba', app_id: '1' }, key);
    assert.equal(ch.status, 201);

    const acked: string[] = [];
    let sent = 0;
    let killed = false;
    const ts = at('2026-02-02T10:00:00');
    // 8 concurrent senders, each posting one-status bodies until the server dies.
    const sender = async (w: number) => {
      for (let i = 0; !killed; i++) {
        const id = `wamid.kill-${w}-${i}`;
        sent++;
        try {
          const res = await post('/webhooks/whatsapp', envelope([status({ id, status: 'delivered', ts: ts + i, pricing: { model: 'PMP', type: 'regular', category: 'utility' } })], { phoneNumberId: 'kill-pn', wabaId: 'kill-waba' }), {});
          if (res.status === 200) acked.push(id);
        } catch {
          return; // connection refused or reset: the server is gone
        }
      }
    };
    const senders = Array.from({ length: 8 }, (_, w) => sender(w));
    while (acked.length < 400) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    killed = true;
    await Promise.all(senders);
    assert.ok(acked.length >= 400);

    const services = await createServices({ databaseUrl });
    try {
      const db = services.store.db;
      const stored = new Set((await db.selectFrom('status_events').select('message_key').where('phone_number_id', '=', 'kill-pn').execute()).map((r) => r.message_key));
      const lost = acked.filter((id) => !stored.has(messageKeyOf('kill-pn', id)));
      assert.deepEqual(lost, [], `${lost.length} acknowledged statuses lost of ${acked.length} (sent ${sent})`);
      const usage = await db.selectFrom('usage_daily').select((eb) => eb.fn.sum<number>('utility_quantity').as('q')).where('phone_number_id', '=', 'kill-pn').executeTakeFirstOrThrow();
      assert.equal(Number(usage.q), stored.size, 'usage and the event log committed together');
    } finally {
      await services.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
