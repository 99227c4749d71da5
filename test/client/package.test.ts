/**
 * The client as a package: `tsc` builds `client/dist/` (JS and declarations), the built module
 * works against the real server, and the tarball from `npm pack` installs into a fresh project
 * (offline: the package has no dependencies), imports by its name, and type-checks a consumer.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { serve, type Served } from './support.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLIENT = join(ROOT, 'client');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs a command while this process keeps serving HTTP (the server under test lives here). */
async function runAsync(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    return (await promisify(execFile)(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 })).stdout;
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    assert.fail(`${cmd} ${args.join(' ')} failed (${String(e.code)}):\n${e.stdout}\n${e.stderr}`);
  }
}

/** Runs a command that needs nothing from this process. */
function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('client package', () => {
  let s: Served;
  const tmp = mkdtempSync(join(tmpdir(), 'wabameter-client-'));
  before(async () => { s = await serve(); });
  after(async () => {
    await s.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('package.json: ESM, exports dist JS and types, zero runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8'));
    assert.equal(pkg.name, '@wabameter/client');
    assert.equal(pkg.type, 'module');
    assert.deepEqual(pkg.exports['.'], { types: './dist/index.d.ts', import: './dist/index.js' });
    assert.equal(pkg.dependencies, undefined);
    assert.ok(pkg.scripts.build.startsWith('tsc'));
    assert.ok(pkg.scripts.prepare);
  });

  test('tsc builds client/dist, and the built module talks to the real server', async () => {
    run(process.execPath, [TSC, '-p', join(CLIENT, 'tsconfig.json')], CLIENT);
    for (const f of ['index.js', 'index.d.ts', 'client.js', 'client.d.ts', 'types.d.ts']) assert.ok(existsSync(join(CLIENT, 'dist', f)), f);
    const built = await import(pathToFileURL(join(CLIENT, 'dist', 'index.js')).href) as typeof import('../../client/src/index.ts');
    for (const name of ['WabameterClient', 'WabameterApiError', 'WabameterNetworkError', 'SlidingWindowLimiter', 'VirtualClock', 'dateWindows', 'parseRetryAfter', 'OPERATIONS']) {
      assert.ok(name in built, `dist exports ${name}`);
    }
    const api = new built.WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, apiKey: s.partner.api_key });
    const c = await api.createClient({ name: 'From dist', currency: 'EUR', country: 'ES', payment_mode: 'direct' });
    assert.equal((await api.getClient(c.id)).name, 'From dist');
    assert.deepEqual((await api.balance(c.id)).usage, []);
    await assert.rejects(api.getClient('missingCL'), (e: unknown) => e instanceof built.WabameterApiError && e.status === 404);
  });

  test('npm pack → npm install the tarball elsewhere → import by name, type-check a consumer', async () => {
    run('npm', ['pack', '--pack-destination', tmp, '--silent'], CLIENT);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, 'a tarball was written');
    const listing = run('tar', ['-tzf', join(tmp, tarball)], tmp).split('\n');
    for (const f of ['package/package.json', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts']) assert.ok(listing.includes(f), `tarball holds ${f}`);

    const app = join(tmp, 'consumer');
    run('mkdir', ['-p', app], tmp);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', join(tmp, tarball)], app);

    // Runtime: the package resolves by name and works against the server.
    const script = `
      import { WabameterClient, dateWindows } from '@wabameter/client';
      const api = new WabameterClient({ baseUrl: process.argv[1], partnerId: process.argv[2], apiKey: process.argv[3] });
      const page = await api.listClients({ limit: 1 });
      console.log(JSON.stringify({ total: page.total, windows: dateWindows(0, 86400 * 40, { granularity: 'day' }).length }));
    `;
    const out = await runAsync(process.execPath, ['--input-type=module', '-e', script, s.baseUrl, s.partner.id, s.partner.api_key], app);
    const parsed = JSON.parse(out.trim()) as { total: number; windows: number };
    assert.ok(parsed.total >= 1);
    assert.equal(parsed.windows, 2);

    // Types: a consumer compiles against the published declarations (and a misuse does not).
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
      files: ['ok.ts'],
    }));
    writeFileSync(join(app, 'ok.ts'), `
      import { WabameterClient, WabameterApiError, type BalanceResponse, type UsageRow } from '@wabameter/client';
      const api = new WabameterClient({ baseUrl: 'http://x', partnerId: 'pPA', username: 'u', password: 'p' }, { retry: { maxAttempts: 2 } });
      export async function f(): Promise<number> {
        const b: BalanceResponse = await api.balance('cCL', { start_date: new Date(), granularity: 'day' });
        const rows: UsageRow[] = b.usage;
        try { await api.getClient('x'); } catch (e) { if (e instanceof WabameterApiError) return e.status; }
        return rows.reduce((s, r) => s + r.total_price + r.marketing_paid_quantity, 0);
      }
      // A misuse must be a type error (or this directive is itself one).
      // @ts-expect-error granularity is 'day' | 'month'
      void api.balance('cCL', { granularity: 'week' });
    `);
    run(process.execPath, [TSC, '-p', join(app, 'tsconfig.json')], app);
  });
});
