/**
 * Child processes under test (the real service, the bare baseline server), their CPU time, and
 * small HTTP helpers for the setup calls and the sequential latency probe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <script>` in the repository and waits for the `listening on http://…`
 * line. Output is kept (last 64 KB) and shown if the process dies early.
 */
export function startServer(name: string, script: string, env: Record<string, string>, extraNodeArgs: string[] = [], startTimeoutMs = 120_000): Promise<Server> {
  const child = spawn(process.execPath, [...extraNodeArgs, '--import', 'tsx', script], {
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
      resolveStart({
        name,
        base: m[1].replace(/\/$/, ''),
        child,
        cpuSeconds: () => cpuSecondsOf(child.pid!),
        async stop() {
          if (child.exitCode != null || child.signalCode != null) return;
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
