/**
 * The projector's thread (started by projector-thread.ts): a service of its own on the same store
 * that meters the event log and runs metering jobs, so the thread that acknowledges webhooks never
 * waits for a projection. It tells the parent how far the meter got after every catch-up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createServices } from '../services.ts';
import type { ProjectorMessage, ProjectorReply } from './projector-thread.ts';

const port = parentPort!;
const post = (m: ProjectorReply) => port.postMessage(m);
// This thread writes only the meter's projections, derived from the event log with the cursor
// beside them: its commits need not wait for the disk (a power cut takes the cursor back with
// them, and the events are metered again). Everything acknowledged is in the log's file, synced.
const services = await createServices({ databaseUrl: (workerData as { databaseUrl: string }).databaseUrl, projector: 'inline', synchronous: 'normal' });
const queue = services.queue;

// Kicks arrive after every append; one catch-up at a time, and one more if any came meanwhile.
let running = false;
let again = false;
async function catchUp(): Promise<void> {
  if (running) {
    again = true;
    return;
  }
  running = true;
  try {
    do {
      again = false;
      await queue.caughtUp();
      post({ type: 'progress', cursor: queue.meteredUpTo });
    } while (again);
  } catch (err) {
    post({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  } finally {
    running = false;
  }
}

port.on('message', (m: ProjectorMessage) => {
  if (m.type === 'kick') {
    void catchUp();
    if (m.jobs) queue.kickJobs();
  } else if (m.type === 'close') {
    void services.close().then(
      () => port.close(),
      (err) => {
        post({ type: 'error', message: (err as Error)?.stack ?? String(err) });
        port.close();
      },
    );
  }
});
post({ type: 'progress', cursor: queue.meteredUpTo });
