/**
 * ClusterNode: the gateway's side of cluster mode, between the local buffer
 * and the shared log (src/cluster).
 *
 *   producer frame --validate--> publish({events}) --> JetStream --ack seq--> reply
 *                                                         |
 *   every node:   buffer.append(events, bytes, seq) <-- Follower (ordered, from the last seq)
 *
 * A node never appends what it publishes directly: every node, the
 * publishing one included, appends only what it reads back from the stream,
 * under the stream sequence. So an index names the same item on every node,
 * and nodes cannot diverge.
 *
 * A stream message is a MessagePack producer batch frame (`{events: [...]}`),
 * encoded once by the publishing node. Messages are validated again when
 * read, like any producer frame, so whatever else writes to the subject
 * cannot put anything into the buffer that a producer could not.
 *
 * On start it backfills: it anchors the empty buffer just below the oldest
 * sequence it will hold (the last `--buffer-size` messages, or the stream's
 * first if fewer) and reads up to the stream's end before the gateway
 * listens, so resume works for indexes this node never saw live. With the
 * latest table (snapshot=1) it first loads the records of the latest-table
 * stream (latest-sync.ts: the newest event of every key, kept beyond the
 * main stream's limits) older than the main stream's first message, then
 * reads from that first message: the messages before the buffer's window go
 * to the table alone. So a node started later answers the same snapshot as
 * the others, keys the main stream evicted included. Table entries are
 * stamped with the time JetStream stored their message, so --snapshot-ttl
 * means the same on every node.
 */
import type { EventBuffer } from '../buffer/index.js';
import { Follower, JetStreamLog, LatestLog, type ClusterLogger, type LatestRecord } from '../cluster/index.js';
import type { LatestTable } from '../fanout/index.js';
import { InvalidFrameError, isFanwireError, UnavailableError } from '../errors.js';
import { decodeFrame, encodeMsgpack, parsePublishFrame, type Event } from '../protocol/index.js';
import type { GatewayConfig } from './config.js';
import { LatestSync, delayFor, loadLatest, localTime, rangeSizeFor, type LatestSyncStats } from './latest-sync.js';

/** Room left for headers (the expected-stream header) under the server's max_payload. */
const HEADER_ROOM = 1024;
/** Messages kept by a stream this node creates: at least the buffer, and plenty for resume on restart. */
const DEFAULT_STREAM_MAX_MSGS = 1_000_000;

export interface ClusterStats {
  servers: readonly string[];
  stream: string;
  subject: string;
  connected: boolean;
  /** Last stream sequence appended to this node's buffer. */
  lastSequence: number;
  /** Highest sequence this node acked to a producer. */
  lastAcked: number;
  streamCreated: string;
  publishErrors: number;
  reconnects: number;
  consumerRestarts: number;
  /** Stream messages that were not valid frames and were skipped. */
  skipped: number;
  /** The latest-table stream (snapshot=1): its name and this node's writes to it. */
  latest: ({ stream: string } & LatestSyncStats) | null;
}

export class ClusterNode {
  readonly log: JetStreamLog;
  private follower: Follower | null = null;
  private readonly buffer: EventBuffer<Event>;
  private readonly logger: ClusterLogger;
  private highestAcked = 0;
  private skipped = 0;
  private stopped = false;

  private constructor(log: JetStreamLog, buffer: EventBuffer<Event>, logger: ClusterLogger) {
    this.log = log;
    this.buffer = buffer;
    this.logger = logger;
  }

  /**
   * Connects, finds or creates the stream, anchors `buffer` and backfills it.
   * Rejects (and leaves nothing open) when NATS cannot be reached or the
   * backfill does not finish within `clusterStartTimeoutMs`.
   */
  static async start(
    config: Readonly<GatewayConfig>,
    buffer: EventBuffer<Event>,
    logger: ClusterLogger,
    onReplaced: (detail: string) => void,
    latest: LatestTable<Event> | null = null,
  ): Promise<ClusterNode> {
    const log = await JetStreamLog.open({
      servers: config.cluster ?? [],
      stream: config.clusterStream,
      subject: config.clusterSubject,
      credsFile: config.clusterCredsFile,
      user: config.clusterUser,
      password: config.clusterPassword,
      token: config.clusterToken,
      maxMsgs: Math.max(DEFAULT_STREAM_MAX_MSGS, config.bufferSize),
      duplicateWindowMs: config.dedupeWindowMs,
      connectTimeoutMs: config.clusterStartTimeoutMs,
      logger,
    });
    const node = new ClusterNode(log, buffer, logger);
    try {
      if (config.maxFrameBytes > log.maxPayload - HEADER_ROOM) {
        logger.warn(
          { maxFrameBytes: config.maxFrameBytes, natsMaxPayload: log.maxPayload },
          'cluster: --max-frame-bytes is above what the NATS server accepts per message; frames that large will be refused (invalid_frame). Lower --max-frame-bytes or raise max_payload',
        );
      }
      // Records first: any of them stands for a sequence at or below the
      // main stream's last one read after them, so the backfill covers it.
      let records: LatestRecord[] = [];
      if (latest !== null) {
        node.latestLog = await LatestLog.open(log, {
          stream: `${config.clusterStream}_LATEST`,
          subjectPrefix: `fanwire_latest.${config.clusterStream}`,
          maxMsgs: 2 * config.snapshotKeys,
        });
        records = await node.latestLog.readAll(config.clusterStartTimeoutMs);
      }
      const { config: streamConfig, state } = await log.info();
      if (streamConfig.duplicate_window / 1e6 !== config.dedupeWindowMs) {
        logger.warn(
          { stream: config.clusterStream, streamDuplicateWindowMs: streamConfig.duplicate_window / 1e6, dedupeWindowMs: config.dedupeWindowMs },
          "cluster: the stream's duplicate_window, not --dedupe-window, decides how long an idempotencyKey is remembered",
        );
      }
      const from = state.messages === 0 ? state.last_seq + 1 : Math.max(state.first_seq, state.last_seq - config.bufferSize + 1, 1);
      buffer.rebase(from - 1);
      // The latest table (snapshot=1) is the same on every node only if each
      // has read every message the stream holds: messages before the
      // buffer's window go to the table alone.
      const tableFrom = latest === null || state.messages === 0 ? from : Math.max(state.first_seq, 1);
      node.bufferFrom = from;
      if (latest !== null) {
        const loaded = loadLatest(records, tableFrom, latest, logger);
        if (records.length > 0) logger.info({ stream: node.latestLog!.stream, records: records.length, loaded }, 'cluster: latest table loaded');
        node.latest = latest;
        const rangeSize = rangeSizeFor(streamConfig.max_msgs);
        node.sync = new LatestSync(node.latestLog!, latest, rangeSize, delayFor(streamConfig.max_msgs, rangeSize), logger);
      }
      node.follower = new Follower(log, { fromSeq: tableFrom, targetSeq: state.last_seq, onEntry: (seq, data, storedAt) => node.append(seq, data, storedAt), onReplaced });
      const backfilled = await Promise.race([
        node.follower.caughtUp.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(resolve, config.clusterStartTimeoutMs, false).unref()),
      ]);
      if (!backfilled) throw new Error(`backfill from stream ${config.clusterStream} did not finish within ${config.clusterStartTimeoutMs} ms (read up to ${node.lastSequence} of ${state.last_seq})`);
      logger.info({ stream: config.clusterStream, from, to: node.lastSequence, items: buffer.length, epoch: log.epoch }, 'cluster: backfilled');
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get epoch(): string {
    return this.log.epoch;
  }

  get connected(): boolean {
    return this.log.connected;
  }

  /** Last stream sequence appended to the local buffer. */
  get lastSequence(): number {
    return this.follower?.lastSeq ?? 0;
  }

  /** Highest sequence acked to a producer by this node. */
  get lastAcked(): number {
    return this.highestAcked;
  }

  /**
   * Publishes validated events as one stream message; resolves with its
   * sequence once JetStream stored it. Rejects with UnavailableError (not
   * stored, or, after a timeout, not known to be) or InvalidFrameError (over
   * the server's max_payload).
   */
  async publish(events: readonly Event[], msgId?: string): Promise<{ seq: number; duplicate: boolean }> {
    const data = encodeMsgpack({ events });
    const limit = this.log.maxPayload - HEADER_ROOM;
    if (data.byteLength > limit) {
      throw new InvalidFrameError(`events: ${data.byteLength} bytes as stored, over the ${limit} bytes a cluster message may hold (NATS max_payload); split the batch`);
    }
    try {
      const stored = await this.log.publish(data, msgId);
      if (stored.seq > this.highestAcked) this.highestAcked = stored.seq;
      return stored;
    } catch (err) {
      throw isFanwireError(err) ? err : new UnavailableError(`the cluster log failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Waits until every sequence this node acked is in its own buffer, or until the deadline. */
  async caughtUpWithAcks(deadline: number): Promise<boolean> {
    while (this.lastSequence < this.highestAcked) {
      if (Date.now() >= deadline || this.stopped) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  /** Stops reading the stream: nothing more is appended. */
  async stopFollowing(): Promise<void> {
    this.stopped = true;
    await this.follower?.stop();
    this.sync?.stop();
  }

  /** Stops reading and drains the NATS connection. */
  async stop(): Promise<void> {
    await this.stopFollowing();
    await this.log.close();
  }

  stats(): ClusterStats {
    return {
      servers: this.log.servers,
      stream: this.log.stream,
      subject: this.log.subject,
      connected: this.log.connected,
      lastSequence: this.lastSequence,
      lastAcked: this.highestAcked,
      streamCreated: this.log.identity.created,
      publishErrors: this.log.publishErrors,
      reconnects: this.log.reconnects,
      consumerRestarts: this.follower?.restarts ?? 0,
      skipped: this.skipped,
      latest: this.latestLog === null ? null : { stream: this.latestLog.stream, ...(this.sync?.stats ?? { written: 0, duplicates: 0, skippedRanges: 0, failures: 0 }) },
    };
  }

  /** The first sequence the buffer takes; earlier ones (the backfill) feed only the latest table. */
  private bufferFrom = 0;
  private latest: LatestTable<Event> | null = null;
  private latestLog: LatestLog | null = null;
  private sync: LatestSync | null = null;

  /** One stream message -> the latest table, and one buffer item under its sequence. */
  private append(seq: number, data: Uint8Array, storedAt: number): void {
    let events: Event[];
    try {
      events = parsePublishFrame(decodeFrame(data, true)).events;
    } catch (err) {
      this.skipped++;
      this.logger.warn({ seq, err: (err as Error).message }, 'cluster: skipping a stream message that is not a valid fanwire frame');
      return;
    }
    if (this.latest !== null) {
      // Before the buffer append, like the gateway's own recording in embedded mode.
      this.latest.recordEvents(seq, events, data.byteLength, localTime(storedAt));
      this.sync!.observe(seq, storedAt);
    }
    if (seq >= this.bufferFrom) this.buffer.append(events, data.byteLength, seq);
  }
}
