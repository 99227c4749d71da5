/**
 * SIGTERM to the whole process group (what `docker stop`, a supervisor or Ctrl+C do) stops the
 * service: the in-flight request is answered, keep-alive connections do not hold it, a repeated
 * signal is harmless, and every process of the group exits — behind `npm start` (npm → sh → node
 * with tsx as a loader) and as built JavaScript under plain `node`. A shutdown that hangs hits the deadline.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installShutdown, shutdownTimeoutMs } from '../../src/shutdown.ts';
import { at, envelope, status } from '../helpers.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const STATUSES = 2000;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `promise`, or a failure after `ms` — so a hung service fails the test and is still cleaned up. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

// `npm run build` in a copy of the project (node_modules linked), then src/ removed: dist/ must
// run on its own, and the tree's own dist/ is neither used nor touched.
let deployDir = '';
before(() => {
  deployDir = mkdtempSync(join(tmpdir(), 'wabameter-build-'));
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, f), join(deployDir, f));
  cpSync(join(ROOT, 'src'), join(deployDir, 'src'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(deployDir, 'node_modules'), 'dir');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: deployDir, stdio: 'pipe' });
  rmSync(join(deployDir, 'src'), { recursive: true });
}, { timeout: 180_000 });
after(() => {
  if (deployDir) rmSync(deployDir, { recursive: true, force: true });
});

interface Runner {
  name: string;
  command: () => [string, string[], string];
  /** The group leader is the service itself (npm is killed by the signal, its exit code says nothing). */
  leaderIsService: boolean;
}

const RUNNERS: Runner[] = [
  { name: 'npm start (npm → sh → node --import tsx)', command: () => ['npm', ['start'], ROOT], leaderIsService: false },
  { name: 'node dist/main.js', command: () => [process.execPath, ['dist/main.js'], deployDir], leaderIsService: true },
];

/** Starts the service as the leader of a new process group, on a fresh SQLite file. */
function startGroup(runner: Runner, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'wabameter-shutdown-'));
  const [cmd, args, cwd] = runner.command();
  const child = spawn(cmd, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'shutdown.db')}`, PORT: '0', HOST: '127.0.0.1', WABAMETER_DEMO: '0', WABAMETER_ADMIN_TOKEN: 'shutdown-admin', LOG_LEVEL: 'silent', ...env },
  });
  const pgid = child.pid!;
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const base = new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout.on('data', onData);
    exited.then(({ code, signal }) => reject(new Error(`service exited before listening (${code ?? signal}): ${out}`)));
  });
  return {
    pgid,
    base,
    exited,
    output: () => out,
    signal: () => process.kill(-pgid, 'SIGTERM'),
    cleanup() {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Waits (generously) for every process of the group to exit; the message lists what is left. */
async function assertGroupExits(pgid: number, output: () => string, boundMs = 20_000) {
  const until = Date.now() + boundMs;
  while (groupAlive(pgid) && Date.now() < until) await delay(100);
  if (!groupAlive(pgid)) return;
  let left = '';
  try {
    left = execFileSync('ps', ['-o', 'pid,stat,args', '-g', String(pgid)], { encoding: 'utf8' });
  } catch {
    left = '(ps unavailable)';
  }
  assert.fail(`processes of group ${pgid} still running ${boundMs / 1000} s after SIGTERM:\n${left}\nservice output:\n${output()}`);
}

function get(base: string, path: string, agent: http.Agent) {
  return new Promise<number>((resolve, reject) => {
    http.get(base + path, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

/**
 * A large webhook POST kept in flight until `finish()`: `Expect: 100-continue` tells us the service
 * has the request (its connection is busy, not idle) before any of the body is sent.
 */
async function inflightWebhook(base: string, agent: http.Agent) {
  const ts = at('2026-02-02T10:00:00');
  const body = Buffer.from(JSON.stringify(envelope(
    Array.from({ length: STATUSES }, (_, i) => status({ id: `wamid.shutdown-${i}`, status: 'delivered', ts: ts + i, pricing: { model: 'PMP', type: 'regular', category: 'utility' } })),
    { phoneNumberId: 'shutdown-pn', wabaId: 'shutdown-waba' },
  )));
  const req = http.request(base + '/webhooks/whatsapp', {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
  });
  response.catch(() => undefined); // awaited (and asserted) by the caller, maybe after the socket died
  await new Promise<void>((resolve, reject) => {
    req.once('continue', () => resolve());
    req.once('error', reject);
  });
  req.write(body.subarray(0, body.length >> 1));
  return { response, reusedSocket: () => req.reusedSocket, finish: () => req.end(body.subarray(body.length >> 1)) };
}

for (const runner of RUNNERS) {
  describe(`SIGTERM to the process group: ${runner.name}`, () => {
    for (const signals of [1, 2]) {
      test(signals === 1 ? 'answers the in-flight request, then every process exits' : 'a second SIGTERM during shutdown changes nothing', { timeout: 120_000 }, async () => {
        const svc = startGroup(runner);
        const busy = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const idle = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const base = await within(svc.base, 60_000, 'service start');
          assert.equal(await get(base, '/healthz', busy), 200);
          assert.equal(await get(base, '/healthz', idle), 200); // left idle: must not hold shutdown
          const webhook = await inflightWebhook(base, busy);

          svc.signal();
          // Let every process of the chain take the signal before the rest of the body arrives.
          await delay(500);
          if (signals === 2) {
            svc.signal();
            await delay(500);
          }
          webhook.finish();

          const res = await within(webhook.response, 20_000, 'in-flight webhook response');
          assert.equal(res.status, 200, `in-flight webhook: ${res.body}`);
          assert.equal(JSON.parse(res.body).stored, STATUSES);
          assert.equal(webhook.reusedSocket(), true, 'the in-flight request rode a keep-alive connection');

          await assertGroupExits(svc.pgid, svc.output);
          const out = svc.output();
          assert.match(out, /SIGTERM received: shutting down/);
          assert.match(out, /shutdown complete/);
          assert.doesNotMatch(out, /exiting with code 1/);
          if (signals === 2) assert.match(out, /SIGTERM received again: already shutting down/);
          if (runner.leaderIsService) assert.deepEqual(await within(svc.exited, 20_000, 'service exit'), { code: 0, signal: null });
        } finally {
          busy.destroy();
          idle.destroy();
          svc.cleanup();
        }
      });
    }
  });
}

test('a shutdown that hangs is cut off by WABAMETER_SHUTDOWN_TIMEOUT_MS with exit code 1', { timeout: 120_000 }, async () => {
  const svc = startGroup(RUNNERS[1], { WABAMETER_SHUTDOWN_TIMEOUT_MS: '300' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const base = await within(svc.base, 60_000, 'service start');
    await inflightWebhook(base, agent); // never finished: app.close() waits for it
    svc.signal();
    assert.deepEqual(await within(svc.exited, 20_000, 'service exit'), { code: 1, signal: null }, svc.output());
    assert.match(svc.output(), /shutdown did not finish within 300 ms \(stuck in "http server"\); exiting with code 1/);
    await assertGroupExits(svc.pgid, svc.output);
  } finally {
    agent.destroy();
    svc.cleanup();
  }
});

describe('installShutdown', () => {
  const quiet = () => {
    const lines: string[] = [];
    return { lines, log: { info: (m: string) => lines.push(m), error: (m: string) => lines.push(`ERROR ${m}`) } };
  };

  test('runs the steps once, in order, however many signals arrive; exits 0', async () => {
    const emitter = new EventEmitter();
    const { lines, log } = quiet();
    const ran: string[] = [];
    const codes: number[] = [];
    let release!: () => void;
    const exited = new Promise<void>((r) => (release = r));
    installShutdown({
      emitter, log, timeoutMs: 60_000,
      exit: (code) => { codes.push(code); release(); },
      steps: [
        { name: 'a', run: async () => { ran.push('a'); emitter.emit('SIGTERM', 'SIGTERM'); emitter.emit('SIGINT', 'SIGINT'); } },
        { name: 'b', run: async () => { ran.push('b'); } },
      ],
    });
    emitter.emit('SIGTERM', 'SIGTERM');
    await exited;
    assert.deepEqual(ran, ['a', 'b']);
    assert.deepEqual(codes, [0]);
    assert.equal(lines.filter((l) => l.includes('already shutting down')).length, 2);
  });

  test('a failing step is logged, later steps still run, exit code 1', async () => {
    const emitter = new EventEmitter();
    const { lines, log } = quiet();
    const ran: string[] = [];
    const code = await new Promise<number>((resolve) => {
      installShutdown({
        emitter, log, timeoutMs: 60_000, exit: resolve,
        steps: [
          { name: 'http server', run: async () => { throw new Error('boom'); } },
          { name: 'store', run: async () => { ran.push('store'); } },
        ],
      });
      emitter.emit('SIGINT', 'SIGINT');
    });
    assert.equal(code, 1);
    assert.deepEqual(ran, ['store']);
    assert.ok(lines.some((l) => l.startsWith('ERROR shutdown step "http server" failed: Error: boom')), lines.join('\n'));
  });

  test('a step that never finishes: exit 1 at the deadline, saying where it hung', async () => {
    const emitter = new EventEmitter();
    const { lines, log } = quiet();
    const code = await new Promise<number>((resolve) => {
      installShutdown({ emitter, log, timeoutMs: 20, exit: resolve, steps: [{ name: 'store', run: () => new Promise(() => {}) }] });
      emitter.emit('SIGTERM', 'SIGTERM');
    });
    assert.equal(code, 1);
    assert.ok(lines.includes('ERROR shutdown did not finish within 20 ms (stuck in "store"); exiting with code 1'), lines.join('\n'));
  });

  test('WABAMETER_SHUTDOWN_TIMEOUT_MS', () => {
    assert.equal(shutdownTimeoutMs({}), 10_000);
    assert.equal(shutdownTimeoutMs({ WABAMETER_SHUTDOWN_TIMEOUT_MS: '2500' }), 2500);
    assert.throws(() => shutdownTimeoutMs({ WABAMETER_SHUTDOWN_TIMEOUT_MS: '0' }), /WABAMETER_SHUTDOWN_TIMEOUT_MS/);
    assert.throws(() => shutdownTimeoutMs({ WABAMETER_SHUTDOWN_TIMEOUT_MS: '10s' }), /WABAMETER_SHUTDOWN_TIMEOUT_MS/);
  });
});
