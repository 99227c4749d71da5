/**
 * The operator CLI (`npm run cli -- …`), run as a child process against a real listening server
 * on SQLite and PostgreSQL: load and list rate cards and volume tiers, readable tables, and a
 * non-zero exit with the server's developer_message and details on every error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, DIALECTS, startApp, type TestApp } from '../helpers.ts';
import { INDIA_UTILITY_TIERS, META_CARD_USD } from '../rates/fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'src/cli/main.ts');

type Run = { code: number; stdout: string; stderr: string };

/** A port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs the CLI asynchronously (the server answering it lives in this process). */
function cli(args: string[], env: Record<string, string | undefined> = {}, command: [string, string[]] = [process.execPath, ['--import', 'tsx', CLI]]): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, WABAMETER_URL: undefined, WABAMETER_ADMIN_TOKEN: undefined, ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  return new Promise((resolve) => {
    execFile(command[0], [...command[1], ...args], { cwd: ROOT, env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`cli [${dialect}]`, () => {
    let t: TestApp;
    let url: string;
    let dir: string;
    let changes = 0;
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };

    before(async () => {
      t = await startApp(dialect);
      // Every committed load starts the re-pricing job.
      const kick = t.services.queue.kickJobs.bind(t.services.queue);
      t.services.queue.kickJobs = () => {
        changes++;
        kick();
      };
      url = await t.app.listen({ port: 0, host: '127.0.0.1' });
      dir = mkdtempSync(join(tmpdir(), 'wabameter-cli-'));
    });
    after(async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const withAuth = (...args: string[]) => [...args, '--url', url, '--token', ADMIN_TOKEN];

    test('rate-cards load posts the CSV and reports what was loaded; the server re-prices', async () => {
      const path = file('usd-2026-10.csv', META_CARD_USD);
      const r = await cli(withAuth('rate-cards', 'load', path, '--effective-from', '2026-10-01', '--unit', 'message'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'Loaded 2 message rate-card rows effective 2026-10-01 (USD): India, Rest of Africa');
      assert.equal(changes, 1);
      const rate = t.services.rates.rateFor({ unit: 'message', market: 'India', currency: 'USD', category: 'authentication_international', day: '2026-10-02' });
      assert.ok(rate.ok && rate.rate === 30_400 && rate.source.startsWith('operator upload usd-2026-10.csv'), JSON.stringify(rate));
    });

    test('rate-cards list prints a table of defaults and operator rows (url and token from the environment)', async () => {
      const r = await cli(['rate-cards', 'list', '--market', 'Rest of Africa', '--currency', 'USD'], { WABAMETER_URL: url, WABAMETER_ADMIN_TOKEN: ADMIN_TOKEN });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0], /^EFFECTIVE\s+UNIT\s+MARKET\s+CUR\s+MARKETING\s+UTILITY\s+AUTH\s+SERVICE\s+STATUS\s+SOURCE$/);
      assert.match(lines[1], /^-+( +-+)+$/);
      assert.equal(lines.length, 5);
      assert.match(lines[2], /^2026-01-01\s+message\s+Rest of Africa\s+USD\s+0\.0225\s+0\.004\s+0\.004\s+n\/a\s+default\s+reference\/rates-usd-pmp\.csv$/);
      assert.match(lines[3], /^2026-10-01 .* default \(replaced\)/);
      assert.match(lines[4], /^2026-10-01\s+message\s+Rest of Africa\s+USD\s+0\.03\s+0\.005\s+0\.005\s+0\.005\s+operator\s+operator upload usd-2026-10\.csv at /);
    });

    test('list --json prints the server response', async () => {
      const r = await cli(withAuth('rate-cards', 'list', '--market', 'India', '--json'));
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.ok(body.rate_cards.some((c: any) => !c.shipped_default && c.rates.authentication_international === 0.0304));
    });

    test('volume-tiers load and list', async () => {
      const path = file('tiers.csv', INDIA_UTILITY_TIERS);
      const load = await cli(withAuth('volume-tiers', 'load', path, '--effective-from', '2026-10-01'));
      assert.equal(load.code, 0, load.stderr);
      assert.equal(load.stdout.trim(), 'Loaded 2 volume tiers in 1 schedule effective 2026-10-01 (USD): India');
      assert.equal(changes, 2);
      const list = await cli(withAuth('volume-tiers', 'list'));
      assert.equal(list.code, 0, list.stderr);
      const lines = list.stdout.trimEnd().split('\n');
      assert.match(lines[0], /^EFFECTIVE\s+MARKET\s+CUR\s+CATEGORY\s+TIER\s+FROM\s+TO\s+RATE\s+STATUS\s+SOURCE$/);
      assert.equal(lines.length, 2 + 2 + 6);
      assert.match(lines[2], /^2026-10-01\s+India\s+USD\s+utility\s+0:100000\s+0\s+100000\s+0\.0014\s+operator\s+operator upload tiers\.csv/);
      assert.match(lines[3], /100001:MAX\s+100001\s+0\.0012/);
      assert.match(lines[9], /^2026-10-01\s+Rest of Africa\s+USD\s+utility\s+80000001:MAX\s+80000001\s+0\.003\s+default\s+reference\/volume-tiers-usd\.csv$/);
    });

    test("a bad CSV exits non-zero with the server's developer_message and the line in its details", async () => {
      const path = file('bad.csv', 'Market,Currency,Marketing\nItaly,USD,0.07\nSpain,USD,seven\n');
      const r = await cli(withAuth('rate-cards', 'load', path, '--effective-from', '2026-10-01', '--unit', 'message'));
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'error: 400 The rate card CSV is invalid\n  bad.csv line 3, column "Marketing": bad rate "seven" (money: "seven" is not a decimal amount)\n');
      const tiers = await cli(withAuth('volume-tiers', 'load', file('t.csv', 'market,currency,category,from,to,rate\nX,USD,utility,1,5,0.1\n'), '--effective-from', '2026-10-01'));
      assert.equal(tiers.code, 1);
      assert.match(tiers.stderr, /^error: 400 The volume-tier CSV is invalid\n {2}t\.csv line 2: the last of the utility tiers of X USD ends at 5/);
      assert.equal(changes, 2);
    });

    test('a bad date is named by the server; a bad unit is refused by the CLI itself', async () => {
      const path = file('ok.csv', META_CARD_USD);
      const date = await cli(withAuth('rate-cards', 'load', path, '--effective-from', '2026-02-30', '--unit', 'message'));
      assert.equal(date.code, 1);
      assert.match(date.stderr, /^error: 400 The request has invalid parameters\n {2}effective_from: /);
      const unit = await cli(withAuth('rate-cards', 'load', path, '--effective-from', '2026-10-01', '--unit', 'minute'));
      assert.notEqual(unit.code, 0);
      assert.match(unit.stderr, /--unit <unit>' argument 'minute' is invalid. Allowed choices are message, conversation/);
      const missing = await cli(withAuth('rate-cards', 'load', path, '--unit', 'message'));
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /required option '--effective-from <YYYY-MM-DD>' not specified/);
    });

    test('a wrong or missing token, an unreadable file and an unreachable server are reported', async () => {
      const wrong = await cli(['rate-cards', 'list', '--url', url, '--token', 'nope']);
      assert.equal(wrong.code, 1);
      assert.equal(wrong.stderr, 'error: 401 Admin token missing or wrong\n  Send Authorization: Bearer <WABAMETER_ADMIN_TOKEN>\n');
      const none = await cli(['volume-tiers', 'list', '--url', url]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /No admin token: pass --token or set WABAMETER_ADMIN_TOKEN/);
      const nofile = await cli(withAuth('volume-tiers', 'load', join(dir, 'missing.csv'), '--effective-from', '2026-10-01'));
      assert.equal(nofile.code, 1);
      assert.match(nofile.stderr, /Cannot read .*missing\.csv: ENOENT/);
      const closed = await freePort();
      const down = await cli(['rate-cards', 'list', '--token', ADMIN_TOKEN, '--url', `http://127.0.0.1:${closed}/`]);
      assert.equal(down.code, 1);
      assert.equal(down.stderr, `error: Cannot reach wabameter at http://127.0.0.1:${closed}: ECONNREFUSED\n  Is the service running? Set --url or WABAMETER_URL\n`);
    });

    if (dialect === 'sqlite') {
      test('npm run cli -- … runs the same program', async () => {
        const r = await cli(['run', '-s', 'cli', '--', 'volume-tiers', 'list', '--market', 'India', '--url', url, '--token', ADMIN_TOKEN], {}, ['npm', []]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /India\s+USD\s+utility\s+0:100000/);
      });
    }
  });
}
