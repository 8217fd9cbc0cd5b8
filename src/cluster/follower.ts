/**
 * Follower: reads the shared log in stream-sequence order from a given
 * sequence, delivering each sequence at most once, for as long as the node
 * runs, across NATS outages and nats-server restarts.
 *
 *   create ordered consumer at lastSeq + 1 --> consume (idle heartbeats) --+
 *        ^                                                                  |
 *        +-- reconnect, watchdog (no message or heartbeat for a while), ----+
 *            or the consumer ended by itself: close it, start over
 *
 * Why it does not just trust nats.js's ordered consumer to recover: with the
 * default `consume()` settings one stalled for ~45 s after a nats-server
 * restart (docs: FIELD-NOTES). Here the server is asked for 1 s idle
 * heartbeats, and the follower itself recreates the consumer from the last
 * sequence it delivered whenever the connection comes back or nothing (no
 * message, no heartbeat) has arrived for a few heartbeats. Because it always
 * restarts from `lastSeq + 1` and skips anything at or below it, restarts
 * can neither lose nor repeat a sequence.
 *
 * Before each (re)creation it checks that the stream is still the one the
 * node opened (same `created`): if the stream was deleted and made again,
 * its sequences start over and mean something else, so the follower stops
 * and reports it instead of appending them.
 */
import { performance } from 'node:perf_hooks';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { sameStream } from './epoch.js';
import { isStreamNotFound, type JetStreamLog } from './jetstream-log.js';

export interface FollowOptions {
  /** First stream sequence wanted. */
  fromSeq: number;
  /**
   * Called once per stream sequence, in increasing order (sequences may skip
   * where messages were deleted), with the time JetStream stored it (ms
   * since the epoch, the server's clock: the same on every node). Runs
   * synchronously inside the NATS callback: keep it quick.
   */
  onEntry(seq: number, data: Uint8Array, storedAt: number): void;
  /** The stream was deleted and recreated (or replaced) under the node; the follower has stopped. */
  onReplaced?(detail: string): void;
  /** `caughtUp` resolves once a sequence at or past this one was delivered (or nothing is pending). */
  targetSeq?: number;
  /** Server heartbeat while idle; the watchdog restarts after about 3.5 of these without a sign of life. */
  idleHeartbeatMs?: number;
}

/** Server requests for more messages expire after this (nats.js minimum is 1 s). */
const EXPIRES_MS = 5_000;
const BATCH = 512;

export class Follower {
  /** The last sequence delivered (fromSeq - 1 before the first). */
  lastSeq: number;
  /** Consumers created after the first (reconnects, watchdog). */
  restarts = 0;
  /** Resolves when the log has been read up to `targetSeq` (or to its end). */
  readonly caughtUp: Promise<void>;
  private markCaughtUp!: () => void;
  private isCaughtUp = false;
  private readonly log: JetStreamLog;
  private readonly options: FollowOptions;
  private readonly heartbeatMs: number;
  private readonly targetSeq: number;
  private current: ConsumerMessages | null = null;
  private lastActivity = performance.now();
  private stopped = false;
  private wakeLoop: (() => void) | null = null;
  /** A wake-up that came while the loop was not waiting (e.g. a reconnect during consumer creation). */
  private wakeMissed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly unlisten: () => void;
  private readonly loop: Promise<void>;

  constructor(log: JetStreamLog, options: FollowOptions) {
    this.log = log;
    this.options = options;
    this.lastSeq = Math.max(options.fromSeq, 1) - 1;
    this.targetSeq = options.targetSeq ?? 0;
    this.heartbeatMs = options.idleHeartbeatMs ?? 1_000;
    this.caughtUp = new Promise<void>((resolve) => {
      this.markCaughtUp = () => {
        if (this.isCaughtUp) return;
        this.isCaughtUp = true;
        resolve();
      };
    });
    if (this.targetSeq > 0 && this.lastSeq >= this.targetSeq) this.markCaughtUp();
    this.unlisten = log.onState((state) => {
      // Whatever the consumer was doing, start a fresh one from where we are.
      if (state === 'connected') this.restart('reconnected');
      else this.wake();
    });
    this.timer = setInterval(() => this.watch(), Math.max(100, this.heartbeatMs / 2));
    this.timer.unref();
    this.loop = this.run();
  }

  /** Stops reading; resolves once the current consumer is closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unlisten();
    this.wake();
    await this.loop;
  }

  /** Asks for a fresh consumer from `lastSeq + 1`. */
  restart(why: string): void {
    if (this.stopped) return;
    if (this.current !== null) this.log.logger.info({ why, lastSeq: this.lastSeq }, 'cluster: restarting the log consumer');
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeLoop;
    this.wakeLoop = null;
    if (wake === null) this.wakeMissed = true;
    else wake();
  }

  /** Resolves on the next `wake()`, or after `ms`. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeLoop = null;
        resolve();
      }, ms);
      this.wakeLoop = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private watch(): void {
    const now = performance.now();
    // Time spent disconnected is not silence: nats.js pauses heartbeats then.
    if (!this.log.connected || this.current === null) {
      this.lastActivity = now;
      return;
    }
    if (now - this.lastActivity > 3.5 * this.heartbeatMs) {
      this.lastActivity = now;
      this.restart('no message or heartbeat from the server');
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let first = true;
    while (!this.stopped) {
      this.wakeMissed = false;
      if (!this.log.connected) {
        await this.sleep(1_000);
        continue;
      }
      let messages: ConsumerMessages;
      try {
        const info = await this.log.info();
        if (!sameStream(this.log.identity, { name: info.config.name, created: info.created })) {
          this.replaced(`stream ${this.log.stream} was recreated (created ${info.created}, was ${this.log.identity.created})`);
          return;
        }
        if (info.state.messages === 0 || info.state.last_seq <= this.lastSeq) this.markCaughtUp();
        const consumer = await this.log.js.consumers.get(this.log.stream, {
          opt_start_seq: this.lastSeq + 1,
          // Consumers left behind by a restart are removed by the server soon after.
          inactive_threshold: 30_000,
        });
        if (this.stopped) {
          void consumer.delete().catch(() => {});
          break;
        }
        messages = await consumer.consume({
          max_messages: BATCH,
          expires: EXPIRES_MS,
          idle_heartbeat: this.heartbeatMs,
          callback: (msg) => this.deliver(msg),
        });
        if (!first) this.restarts++;
        first = false;
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        const notFound = isStreamNotFound(err);
        this.log.logger.warn({ err: (err as Error).message, attempt: failures }, notFound ? 'cluster: stream not found, retrying' : 'cluster: could not start the log consumer, retrying');
        await this.sleep(Math.min(250 * 2 ** Math.min(failures, 4), 4_000));
        continue;
      }
      this.current = messages;
      this.lastActivity = performance.now();
      void this.watchStatus(messages);
      // Until the consumer ends by itself, or a reconnect, the watchdog or stop() wakes us.
      if (!this.wakeMissed && !this.stopped) {
        await Promise.race([messages.closed(), new Promise<void>((resolve) => (this.wakeLoop = resolve))]);
      }
      this.wakeLoop = null;
      this.current = null;
      await messages.close().catch(() => {});
    }
  }

  private deliver(msg: JsMsg): void {
    this.lastActivity = performance.now();
    const seq = msg.seq;
    if (seq <= this.lastSeq) return; // already delivered before a consumer restart
    this.lastSeq = seq;
    try {
      this.options.onEntry(seq, msg.data, Math.floor(msg.info.timestampNanos / 1e6));
    } catch (err) {
      this.log.logger.error({ err, seq }, 'cluster: appending a log entry failed');
    }
    if (!this.isCaughtUp && (msg.info.pending === 0 || (this.targetSeq > 0 && seq >= this.targetSeq))) this.markCaughtUp();
  }

  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    for await (const note of messages.status()) {
      // Signs of a live server; anything else is the client talking to itself.
      if (note.type === 'heartbeat' || note.type === 'discard' || note.type === 'flow_control') this.lastActivity = performance.now();
    }
  }

  private replaced(detail: string): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.unlisten();
    this.log.logger.error({ detail }, 'cluster: the stream was replaced; stopping the log consumer');
    this.options.onReplaced?.(detail);
  }
}
