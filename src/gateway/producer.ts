/**
 * ProducerConnection: one producer WebSocket, from frames in to replies out.
 *
 * It owns what is per producer connection: the `--max-publish-rate` token
 * bucket, the replies owed in frame order (ReplyQueue: in cluster mode a
 * reply may wait for JetStream's ack while a later one is ready), and flow
 * control. Reading its frames is paused (where the transport can pause)
 * while it leaves more than `--high-water-bytes` of replies unread, or while
 * too many of its frames wait for JetStream; past `--drop-after-bytes`
 * unread it is cut with 1008. What a frame does is the publish path's
 * (publish-path.ts); this file only decides when and in which order it is
 * answered.
 */
import { performance } from 'node:perf_hooks';
import type { Grant } from '../auth/index.js';
import { PolicyViolationError } from '../errors.js';
import { closeOf, encodeJson, encodeMsgpack, type PublisherReply } from '../protocol/index.js';
import type { Connection } from '../transport/index.js';
import type { GatewayConfig } from './config.js';
import type { GatewayCounters } from './counters.js';
import type { PublishPath } from './publish-path.js';
import { ReplyQueue } from './reply-queue.js';

/**
 * Replies a producer may be owed (cluster mode: frames waiting for
 * JetStream) before its frames stop being read.
 */
export const MAX_REPLIES_OWED = 1024;

export class ProducerConnection {
  private readonly conn: Connection;
  private readonly config: Readonly<GatewayConfig>;
  private readonly counters: GatewayCounters;
  private readonly path: PublishPath;
  /** What the producer's token allows; null when auth is off. */
  private readonly grant: Grant | null;
  private readonly replies: ReplyQueue<PublisherReply>;
  /** Waiting for the producer to read its replies. */
  private unreadPaused = false;
  /** Reading of its frames is paused (for either reason). */
  private paused = false;
  /** Cut for not reading its replies: later frames are neither appended nor answered. */
  private cut = false;
  /** Token bucket: up to `rate` frames in a burst, refilled at `rate` per second. */
  private tokens: number;
  private refilledAt = performance.now();

  constructor(conn: Connection, config: Readonly<GatewayConfig>, counters: GatewayCounters, path: PublishPath, grant: Grant | null) {
    this.conn = conn;
    this.config = config;
    this.counters = counters;
    this.path = path;
    this.grant = grant;
    this.tokens = config.maxPublishRate;
    this.replies = new ReplyQueue<PublisherReply>(
      (reply, binary) => this.write(reply, binary),
      () => this.flow(),
    );
  }

  /** Replies owed and not written yet. */
  get owed(): number {
    return this.replies.waiting;
  }

  message(data: Uint8Array, binary: boolean): void {
    // Once cut, the producer knows from the missing acks exactly what did not happen.
    if (this.cut) return;
    const rate = this.config.maxPublishRate;
    if (rate > 0) {
      const now = performance.now();
      this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
      this.refilledAt = now;
      if (this.tokens < 1) {
        this.counters.limitReached('max-publish-rate');
        this.counters.publishRefused('rate_limited');
        this.replies.push({ type: 'error', code: 'rate_limited', message: `more than ${rate} frames per second (--max-publish-rate); not appended` }, binary);
        return;
      }
      this.tokens -= 1;
    }
    this.replies.push(this.path.publish(data, binary, this.grant), binary);
    if (this.replies.waiting >= MAX_REPLIES_OWED) this.flow();
  }

  private write(reply: PublisherReply, binary: boolean): void {
    const { conn, config } = this;
    if (this.cut || conn.closed) return;
    conn.send(binary ? encodeMsgpack(reply) : encodeJson(reply), binary);
    // A producer that does not read its replies must not make us buffer them
    // without bound.
    const unread = conn.bufferedAmount();
    if (unread > config.dropAfterBytes) {
      this.cut = true;
      const { code, reason } = closeOf(new PolicyViolationError('producer is not reading its replies'));
      conn.close(code, reason);
      return;
    }
    if (!this.unreadPaused && unread > config.highWaterBytes) {
      this.unreadPaused = true;
      this.flow();
      void conn.waitDrain().then(() => {
        this.unreadPaused = false;
        this.flow();
      });
    }
  }

  /** Pauses or resumes reading frames to match the two reasons to stop. */
  private flow(): void {
    const stop = this.unreadPaused || this.replies.waiting >= MAX_REPLIES_OWED;
    if (stop === this.paused || this.conn.closed) return;
    this.paused = stop;
    if (stop) this.conn.pause();
    else this.conn.resume();
  }
}
