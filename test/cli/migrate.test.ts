/**
 * `npm run cli -- migrate`: applies the schema migrations forward, from an empty store and from
 * the schema the previous migration left (with data in it, which survives and reads as before),
 * on SQLite and PostgreSQL; then the service starts on the migrated store and serves the data.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/api/app.ts';
import { createServices } from '../../src/services.ts';
import { openStore } from '../../src/store/database.ts';
import { migrate, MIGRATIONS, schemaVersion } from '../../src/store/migrations.ts';
import { ADMIN_TOKEN, DIALECTS, freshStore } from '../helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function cliMigrate(databaseUrl: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'migrate'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const LATEST = MIGRATIONS.length;

for (const dialect of DIALECTS) {
  test(`migrate: an empty store to version ${LATEST}, then nothing to do [${dialect}]`, async () => {
    const store = await freshStore(dialect);
    try {
      const first = await cliMigrate(store.url);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`schema version 0 → ${LATEST} \\(${LATEST} migrations applied\\)`));
      const again = await cliMigrate(store.url);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`schema version ${LATEST}, up to date`));
    } finally {
      await store.cleanup();
    }
  });

  test(`migrate: from the previous schema (version ${LATEST - 1}) with data in it; the data reads as before [${dialect}]`, async () => {
    const store = await freshStore(dialect);
    try {
      // The store as the previous schema left it, with a partner, a client and a channel.
      const old = await openStore(store.url, { migrate: false });
      await migrate(old.db, old.dialect, LATEST - 1);
      assert.equal(await schemaVersion(old.db, old.dialect), LATEST - 1);
      const created = '2026-11-01T10:00:00.000Z';
      await old.db.insertInto('partners').values({ id: 'oldPA', name: 'Old partner', created_at: created }).execute();
      await old.db.insertInto('api_keys').values({ id: 'oldAK', partner_id: 'oldPA', name: 'default', key_hash: 'x'.repeat(64), created_at: created, revoked_at: null }).execute();
      await old.db.insertInto('clients').values({ id: 'oldCL', partner_id: 'oldPA', name: 'Old client', currency: 'USD', country: 'DE', payment_mode: 'direct', timezone: 'UTC', created_at: created }).execute();
      await old.db.insertInto('channels').values({ id: 'oldCH', partner_id: 'oldPA', client_id: 'oldCL', phone_number: '+4930123', phone_number_id: 'old-pn', waba_id: 'old-waba', app_id: '1', timezone: 'UTC', created_at: created }).execute();
      await old.close();

      const run = await cliMigrate(store.url);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`schema version ${LATEST - 1} → ${LATEST} \\(1 migration applied\\)`));

      // The service on the migrated store serves the old rows with the new fields filled in.
      const services = await createServices({ databaseUrl: store.url });
      const app = await buildApp(services, { adminToken: ADMIN_TOKEN, appSecrets: [], verifyToken: null, webhookBodyLimit: 1 << 20 });
      try {
        const key = await app.inject({ method: 'POST', url: '/admin/partners/oldPA/api_keys', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'after' } });
        assert.equal(key.statusCode, 201, key.body);
        const res = await app.inject({ method: 'GET', url: '/api/v2/partners/oldPA/clients/oldCL/channels/oldCH', headers: { 'x-api-key': key.json().api_key } });
        assert.equal(res.statusCode, 200, res.body);
        const ch = res.json();
        assert.deepEqual([ch.id, ch.phone_number_id, ch.created_at], ['oldCH', 'old-pn', created]);
        assert.deepEqual(ch.client, { id: 'oldCL', name: 'Old client', partner_payload: null, contact_info: {} });
        const client = (await app.inject({ method: 'GET', url: '/api/v2/partners/oldPA/clients/oldCL', headers: { 'x-api-key': key.json().api_key } })).json();
        assert.deepEqual([client.modified_at, client.organisation, client.max_channels], [created, null, 1000]);
      } finally {
        await app.close();
        await services.close();
      }
    } finally {
      await store.cleanup();
    }
  });
}

test('migrate: a store the command cannot open is an error on stderr, exit 1', async () => {
  const run = await cliMigrate('postgres://nobody@127.0.0.1:1/none');
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /ECONNREFUSED|connect/i);
});
