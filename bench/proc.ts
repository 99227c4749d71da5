/**
 * Child processes under test (the real service, the bare baseline server), their CPU time and
 * peak resident set (`peakRssMb`), and small HTTP helpers for the setup calls and the sequential latency probe.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Server {
  name: string;
  base: string;
  child: ChildProcess;
  /** Seconds of CPU (user + system) the process has used so far, or NaN where /proc is missing. */
  cpuSeconds(): number;
  /**
   * The process's peak resident set so far (VmHWM, MiB; worker threads such as the projector are
   * part of the process). After stop(), the value read just before the process was signalled.
   * NaN where /proc is missing.
   */
  peakRssMb(): number;
  /** The same, read when the process had just started listening. */
  peakRssAtStartMb: number;
  stop(): Promise<void>;
}

let built: string | undefined;

/**
 * The service as production runs it (`npm run build`, then `node dist/main.js`), compiled once per
 * bench run: measured through tsx instead, each process would also carry the
 * TypeScript loader (about 100 MB more resident, in both of its threads) and its compile work.
 */
export function serviceMain(): string {
  if (built) return built;
  // Inside the repository, so that the build finds the project's node_modules.
  const out = resolve(REPO, 'node_modules/.cache/wabameter-bench/dist');
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [resolve(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: REPO, stdio: 'inherit' });
  // What `npm run build` copies beside the code: the shipped reference data.
  cpSync(resolve(REPO, 'src/billing/reference'), resolve(out, 'billing/reference'), { recursive: true });
  // The build reads ../package.json (its version), and below node_modules the project's own no
  // longer says that these are ES modules: a copy beside it, as in the project's layout.
  cpSync(resolve(REPO, 'package.json'), resolve(out, '../package.json'));
  if (!existsSync(resolve(out, 'main.js'))) throw new Error(`the production build in ${out} has no main.js`);
  return (built = resolve(out, 'main.js'));
}

/**
 * Starts `node <script>` (a compiled `.js`) or `node --import tsx <script>` (a `.ts`) in the
 * repository and waits for the `listening on http://…` line. Output is kept (last 64 KB) and
 * shown if the process dies early.
 */
export function startServer(name: string, script: string, env: Record<string, string>, extraNodeArgs: string[] = [], startTimeoutMs = 120_000): Promise<Server> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...extraNodeArgs, ...loader, script], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectStart(new Error(`${name} did not start within ${Math.round(startTimeoutMs / 1000)} s:\n${out}`));
    }, startTimeoutMs);
    const onData = () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const running = () => child.exitCode == null && child.signalCode == null;
      // /proc/<pid> is gone once the process has exited: the peak is kept from just before.
      let peakAtStop = Number.NaN;
      resolveStart({
        name,
        base: m[1].replace(/\/$/, ''),
        child,
        cpuSeconds: () => cpuSecondsOf(child.pid!),
        peakRssMb: () => (running() ? peakRssMb(child.pid!) : peakAtStop),
        peakRssAtStartMb: peakRssMb(child.pid!),
        async stop() {
          if (!running()) return;
          peakAtStop = peakRssMb(child.pid!);
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(t);
        },
      });
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rejectStart(new Error(`${name} exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process from /proc/<pid>/stat, in seconds. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it start past the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/**
 * Peak resident set size of a running process (VmHWM in /proc/<pid>/status), in MiB, or NaN where
 * /proc is missing or the process is gone. All its threads share the figure.
 */
export function peakRssMb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resets a process's VmHWM to its current RSS (Linux ≥ 4.0, `clear_refs` 5), so a phase that runs
 * in the bench's own process (`peakRssMb(process.pid)` afterwards) reports its own peak, not that
 * of everything the bench did before it. False where that is not possible.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds all processes of the machine have used (busy time from /proc/stat), or NaN. */
export function machineCpuSeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of this (driver) process, user + system. */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export interface JsonResponse {
  status: number;
  body: any;
  text: string;
}

const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One JSON request (setup calls and checks), no timing. */
export function requestJson(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<JsonResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const url = new URL(path, base);
  return new Promise((res, rej) => {
    const req = http.request(url, {
      method,
      agent: setupAgent,
      headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}), ...headers },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        res({ status: response.statusCode ?? 0, body: parsed, text });
      });
      response.on('error', rej);
    });
    req.on('error', rej);
    if (payload) req.write(payload);
    req.end();
  });
}

export async function expectJson(base: string, method: string, path: string, expected: number, headers: Record<string, string> = {}, body?: unknown): Promise<any> {
  const r = await requestJson(base, method, path, headers, body);
  if (r.status !== expected) throw new Error(`${method} ${path}: expected ${expected}, got ${r.status}: ${r.text.slice(0, 500)}`);
  return r.body;
}

/**
 * Sequential GETs on one keep-alive connection, one in flight at a time: the response time of
 * each, in milliseconds, measured from before the request is written until its body has arrived.
 */
export async function sequentialLatencies(base: string, path: string, headers: Record<string, string>, count: number): Promise<{ ms: number[]; bytes: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(path, base);
  const ms: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const { status, size } = await new Promise<{ status: number; size: number }>((res, rej) => {
        const req = http.request(url, { method: 'GET', agent, headers }, (response) => {
          let size = 0;
          response.on('data', (c: Buffer) => { size += c.length; });
          response.on('end', () => res({ status: response.statusCode ?? 0, size }));
          response.on('error', rej);
        });
        req.on('error', rej);
        req.end();
      });
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
      if (status !== 200) throw new Error(`GET ${path}: ${status}`);
      ms.push(elapsed);
      bytes = size;
    }
  } finally {
    agent.destroy();
  }
  return { ms, bytes };
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
