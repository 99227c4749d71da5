/**
 * Keys, tokens and passwords never appear in the logs: every line the Fastify logger writes at
 * `trace` level is captured across authenticated requests (X-API-Key, Bearer, the wrong headers),
 * the token endpoint (JSON and form bodies, wrong and malformed ones), key creation, and a 500 on
 * an authenticated request, and searched for each secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { adminHeaders, newTenant, newUser } from './auth-helpers.ts';

for (const dialect of DIALECTS) {
  describe(`secrets in logs [${dialect}]`, () => {
    let t: TestApp;
    const lines: string[] = [];
    before(async () => {
      t = await startApp(dialect, { logLevel: 'trace', logStream: { write: (line: string) => lines.push(line) } });
    });
    after(async () => { await t.close(); });

    test('no API key, access or refresh token, or password is ever logged', async () => {
      const tn = await newTenant(t.app);
      const p = tn.partner;
      const password = 'Very-Secret-Passw0rd!';
      const user = await newUser(t.app, p.id, password);
      const base = `/api/v2/partners/${p.id}/clients/${tn.client.id}`;

      // A second key, created and used.
      const created = await t.app.inject({ method: 'POST', url: `/api/v2/partners/${p.id}/api_keys`, headers: p.headers, payload: { name: 'ci' } });
      const key2 = created.json().api_key as string;
      const recovery = (await t.app.inject({ method: 'POST', url: `/admin/partners/${p.id}/api_keys`, headers: adminHeaders, payload: { name: 'r' } })).json().api_key as string;

      // Tokens, by JSON and by form; a refresh.
      const pair = (await t.app.inject({ method: 'POST', url: '/api/v2/token', payload: { username: user.username, password } })).json();
      const form = await t.app.inject({
        method: 'POST', url: '/api/v2/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=password&username=${encodeURIComponent(user.username)}&password=${encodeURIComponent(password)}`,
      });
      assert.equal(form.statusCode, 200);
      const refreshed = (await t.app.inject({ method: 'POST', url: '/api/v2/token', payload: { refresh_token: pair.refresh_token } })).json();
      // Failed logins: wrong password, malformed JSON quoting the password, a spent refresh token.
      await t.app.inject({ method: 'POST', url: '/api/v2/token', payload: { username: user.username, password: `${password}-wrong` } });
      await t.app.inject({ method: 'POST', url: '/api/v2/token', headers: { 'content-type': 'application/json' }, payload: `{"username":"${user.username}","password":${password}}` });
      await t.app.inject({ method: 'POST', url: '/api/v2/token', payload: { refresh_token: pair.refresh_token } });

      // Authenticated requests of every kind, good and bad.
      const requests: Record<string, string>[] = [
        p.headers, { 'x-api-key': key2 }, { 'x-api-key': recovery },
        { authorization: `Bearer ${pair.access_token}` }, { authorization: `Bearer ${refreshed.access_token}` },
        { 'D360-API-KEY': p.api_key }, { authorization: `Bearer ${p.api_key}` }, { 'x-api-key': pair.access_token },
        { authorization: `Bearer ${pair.refresh_token}` }, { 'x-api-key': `${p.api_key}x` },
      ];
      for (const headers of requests) {
        await t.app.inject({ method: 'GET', url: `${base}/info/balance`, headers });
        await t.app.inject({ method: 'GET', url: `${base}/info/balance?granularity=week`, headers });
        await t.app.inject({ method: 'POST', url: `/api/v2/partners/${p.id}/clients`, headers, payload: { name: 1 } });
      }

      // A 500 on an authenticated request logs the error with its request.
      const usage = t.services.usage as { balance: (...args: unknown[]) => unknown };
      const original = usage.balance;
      usage.balance = async () => { throw new Error('boom'); };
      try {
        for (const headers of [p.headers, { authorization: `Bearer ${refreshed.access_token}` }]) {
          assert.equal((await t.app.inject({ method: 'GET', url: `${base}/info/balance`, headers })).statusCode, 500);
        }
      } finally {
        usage.balance = original;
      }

      const log = lines.join('');
      // The capture works and the auth events are there, without their secrets.
      assert.match(log, /token issued/);
      assert.match(log, /login refused/);
      assert.match(log, /API key created/);
      assert.match(log, /unhandled error/);
      assert.ok(log.includes(user.username), 'usernames may be logged');
      const secrets: Record<string, string> = {
        'first API key': p.api_key, 'second API key': key2, 'recovery key': recovery, password,
        'URL-encoded password': encodeURIComponent(password),
        'access token': pair.access_token, 'refresh token': pair.refresh_token,
        'form access token': form.json().access_token, 'refreshed access token': refreshed.access_token, 'refreshed refresh token': refreshed.refresh_token,
      };
      for (const [what, secret] of Object.entries(secrets)) {
        assert.ok(!log.includes(secret), `the ${what} appears in the log`);
        // Nor most of it (a truncated or re-encoded copy).
        assert.ok(!log.includes(secret.slice(4, 24)), `part of the ${what} appears in the log`);
      }
    });
  });
}
