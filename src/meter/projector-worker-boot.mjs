// Starts the projector's worker thread from the TypeScript sources (npm start, tests): on Node 20
// a worker's own .ts entry is not seen by the loader that `--import tsx` registers, so this plain
// module registers tsx's loader in the worker first. A built service starts projector-worker.js.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
