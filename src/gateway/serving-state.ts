/**
 * Whether the gateway is serving, since when, and under which epoch. Read by
 * admission (refuse upgrades while stopping), the publish path (refuse
 * cluster publishes while stopping), the subscriber registry (hello and
 * drop close reasons name the epoch) and the reports: one small object they
 * all hold, so none of them reaches back into the gateway for it.
 */
import { randomBytes } from 'node:crypto';

export class ServingState {
  /** Names the buffer's lifetime: random per process in embedded mode; derived from the stream in cluster mode (set by start). */
  epoch = randomBytes(8).toString('hex');
  /** Accepting connections and frames: from the end of start until stop begins. */
  accepting = false;
  startedAt = Date.now();

  /** Listening: connections and frames are welcome from now on. */
  begin(): void {
    this.accepting = true;
    this.startedAt = Date.now();
  }

  /** Stopping: refuse new connections and appends. */
  drain(): void {
    this.accepting = false;
  }
}
