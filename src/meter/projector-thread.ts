/**
 * Runs the meter's projector in a worker thread beside the HTTP thread (projector-worker.ts):
 * the HTTP thread appends to the event log and answers, the worker meters, each on its own
 * connection to the store. A worker that dies is started again; reads wait for it within their
 * bound meanwhile, and nothing is lost because the log and the meter's cursor are in the store.
 */
import { Worker } from 'node:worker_threads';
import type { RemoteProjector } from './ingest.ts';

export type ProjectorMessage = { type: 'kick'; jobs: boolean } | { type: 'close' };
export type ProjectorReply = { type: 'progress'; cursor: number } | { type: 'error'; message: string };

// Run from the TypeScript sources, the worker starts through a bootstrap that registers tsx.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(FROM_SOURCE ? './projector-worker-boot.mjs' : './projector-worker.js', import.meta.url);
const SOURCE_ENTRY = new URL('./projector-worker.ts', import.meta.url).href;
const RESTART_DELAY_MS = 1_000;
/**
 * The worker's young generation (V8's default is several times larger): under 100-status load it
 * kept the process's peak resident set 45 MB lower at the same throughput; at 4 MB garbage
 * collection took enough of the core to slow acknowledgments by a quarter (docs/benchmarks.md).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

export interface ProjectorThread extends RemoteProjector {
  close(): Promise<void>;
}

export interface ProjectorLog {
  error(msg: string): void;
}

/** Starts the worker and resolves once it has caught up with the log as it was at start. */
export async function startProjectorThread(databaseUrl: string, log: ProjectorLog = { error: (m) => process.emitWarning(m) }): Promise<ProjectorThread> {
  const listeners: ((cursor: number) => void)[] = [];
  let worker: Worker;
  let closing = false;
  let exited: Promise<void>;
  let ready!: () => void;
  let failed!: (err: Error) => void;
  const first = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });

  const spawn = () => {
    worker = new Worker(ENTRY, { workerData: { databaseUrl, entry: SOURCE_ENTRY }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    worker.on('message', (m: ProjectorReply) => {
      if (m.type === 'progress') {
        ready();
        for (const l of listeners) l(m.cursor);
      } else {
        log.error(`meter projector: ${m.message}`);
      }
    });
    worker.on('error', (err) => {
      log.error(`meter projector thread failed: ${err.stack ?? err.message}`);
      failed(err);
    });
    exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        resolve();
        if (closing) return;
        log.error(`meter projector thread exited (code ${code}); starting it again in ${RESTART_DELAY_MS} ms`);
        setTimeout(() => {
          if (!closing) spawn();
        }, RESTART_DELAY_MS).unref();
      });
    });
  };
  spawn();
  try {
    await first;
  } catch (err) {
    // It never started: no restarts, the caller fails.
    closing = true;
    await worker!.terminate();
    throw err;
  }

  return {
    kick(jobs) {
      worker.postMessage({ type: 'kick', jobs } satisfies ProjectorMessage);
    },
    onProgress(cb) {
      listeners.push(cb);
    },
    async close() {
      closing = true;
      worker.postMessage({ type: 'close' } satisfies ProjectorMessage);
      await exited;
    },
  };
}
