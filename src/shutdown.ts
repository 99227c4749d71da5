/**
 * Graceful shutdown on SIGTERM/SIGINT: run the close steps once, in order, then exit; a hard
 * deadline cuts off a shutdown that hangs. See docs/operations.md.
 */
import type { EventEmitter } from 'node:events';

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

export interface ShutdownOptions {
  /** Run one after the other; a failing step is logged and the next still runs (exit code 1). */
  steps: ShutdownStep[];
  /** From the first signal to a forced `exit(1)`. */
  timeoutMs: number;
  signals?: readonly NodeJS.Signals[];
  log?: { info(msg: string): void; error(msg: string): void };
  /** Injected by tests; the default is `process`. */
  emitter?: Pick<EventEmitter, 'on' | 'off'>;
  exit?: (code: number) => void;
}

/** The deadline from `WABAMETER_SHUTDOWN_TIMEOUT_MS` (milliseconds), or the default. */
export function shutdownTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WABAMETER_SHUTDOWN_TIMEOUT_MS?.trim();
  if (!raw) return DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`WABAMETER_SHUTDOWN_TIMEOUT_MS must be a whole number of milliseconds ≥ 1, got "${raw}"`);
  return n;
}

/**
 * Installs the signal handlers. They stay installed (not `once`): a repeated signal — a
 * supervisor signalling the whole process group, tsx relaying it, a second Ctrl+C — must not
 * fall through to Node's default action and kill the process mid-drain.
 */
export function installShutdown(opts: ShutdownOptions): { uninstall(): void } {
  const { steps, timeoutMs, signals = ['SIGINT', 'SIGTERM'], log = console, emitter = process, exit = (code: number) => process.exit(code) } = opts;
  let started = false;
  let exited = false;
  const finish = (code: number) => {
    if (exited) return; // the deadline already fired (only reachable with an injected exit)
    exited = true;
    exit(code);
  };

  const shutdown = async (signal: NodeJS.Signals) => {
    if (started) {
      log.info(`${signal} received again: already shutting down`);
      return;
    }
    started = true;
    log.info(`${signal} received: shutting down (in-flight requests finish first; deadline ${timeoutMs} ms)`);
    let current = '';
    // Not unref'd: the deadline must fire even if a hung step holds no handle of its own.
    const deadline = setTimeout(() => {
      log.error(`shutdown did not finish within ${timeoutMs} ms (stuck in "${current}"); exiting with code 1`);
      finish(1);
    }, timeoutMs);
    let code = 0;
    for (const step of steps) {
      current = step.name;
      try {
        await step.run();
      } catch (err) {
        code = 1;
        log.error(`shutdown step "${step.name}" failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      }
    }
    clearTimeout(deadline);
    log.info(code === 0 ? 'shutdown complete' : 'shutdown finished with errors; exiting with code 1');
    finish(code);
  };

  const handler = (signal: NodeJS.Signals) => void shutdown(signal);
  for (const s of signals) emitter.on(s, handler);
  return { uninstall: () => signals.forEach((s) => emitter.off(s, handler)) };
}

/**
 * Closes a Fastify app without waiting out keep-alive timeouts. `close()` destroys only the
 * connections idle when it starts; one whose in-flight request is answered afterwards stays open
 * (its response still says keep-alive) and holds `close()` until the client hangs up. So reap
 * idle connections until `close()` resolves.
 */
export async function closeHttp(app: { close(): PromiseLike<unknown>; server: { closeIdleConnections?(): void } }, everyMs = 100): Promise<void> {
  const reaper = setInterval(() => app.server.closeIdleConnections?.(), everyMs);
  try {
    await app.close();
  } finally {
    clearInterval(reaper);
  }
}
