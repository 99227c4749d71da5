/**
 * The real service as its own process (`node --import tsx src/main.ts`), for end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const ROOT = new URL('../../', import.meta.url).pathname;

export interface ServiceProcess {
  child: ChildProcess;
  /** The base URL once the service printed its listening line; rejects if it exits first. */
  url: Promise<string>;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
}

/** Starts the service with `env` on top of this process's environment. */
export function startService(env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (d) => { out += d; });
    child.on('exit', (code) => reject(new Error(`service exited (${code}): ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, url, exited, output: () => out };
}

/** SIGTERM (the service stops cleanly) and its exit code; at once if it is gone already. */
export async function stopService(s: ServiceProcess): Promise<number | null> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
  return s.exited;
}
