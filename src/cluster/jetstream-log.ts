/**
 * JetStreamLog: the shared, ordered, durable log that cluster mode is built
 * on, as one NATS connection and one JetStream stream.
 *
 * It owns the connection (unlimited reconnects, fast dead-server detection),
 * finding or creating the stream, publishing bytes with a JetStream ack (the
 * ack's stream sequence is the index every node will use), and telling
 * listeners when the connection goes down or comes back. Reading the log is
 * `Follower`'s job (follower.ts). It knows nothing of events or sockets: it
 * moves opaque bytes, so the gateway decides what a message holds.
 *
 * A publish is refused at once while disconnected, never queued: nats.js
 * buffers what is written during a reconnect, and a frame we had already
 * answered `unavailable` must not be stored later behind the producer's back.
 */
import { readFileSync } from 'node:fs';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { UnavailableError } from '../errors.js';
import { epochOf, type StreamIdentity } from './epoch.js';

/** How the cluster code logs; pino's Logger fits. */
export interface ClusterLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JetStreamLogOptions {
  /** NATS server URLs (`nats://host:port`, `tls://host:port` or `host:port`). */
  servers: string[];
  /** Stream name; created (see `streamDefaults`) when it does not exist. */
  stream: string;
  /** Subject published to; the stream must capture it. */
  subject: string;
  /** NATS credentials file (JWT + NKey seed), or null. */
  credsFile?: string | null;
  user?: string | null;
  password?: string | null;
  token?: string | null;
  /** `max_msgs` of a stream this node creates. */
  maxMsgs?: number;
  /** `duplicate_window` of a stream this node creates: how long a message id is remembered. */
  duplicateWindowMs?: number;
  /** A publish not acked within this fails with UnavailableError. */
  publishTimeoutMs?: number;
  /** `open` keeps trying to connect for this long before it gives up. */
  connectTimeoutMs?: number;
  /** Client name shown by nats-server monitoring. */
  name?: string;
  logger?: ClusterLogger | null;
}

export type ConnectionState = 'connected' | 'disconnected' | 'closed';

/** Settings of a stream this node creates: durable, bounded by count, one replica (see docs/cluster.md for production). */
export function streamDefaults(stream: string, subject: string, maxMsgs: number, duplicateWindowMs = 120_000) {
  return {
    duplicate_window: duplicateWindowMs * 1_000_000,
    name: stream,
    subjects: [subject],
    storage: 'file' as const,
    retention: 'limits' as const,
    discard: 'old' as const,
    max_msgs: maxMsgs,
    num_replicas: 1,
  };
}

/** Whether the subject pattern `pattern` (with `*` and `>` wildcards) matches the literal `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const noLog: ClusterLogger = { info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class JetStreamLog {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly subject: string;
  readonly servers: readonly string[];
  /** The stream's identity when this node opened it (see epoch.ts). */
  readonly identity: StreamIdentity;
  /** Whether this node created the stream (false: it existed and is used as is). */
  readonly created: boolean;
  readonly logger: ClusterLogger;
  private readonly publishTimeoutMs: number;
  private state: ConnectionState = 'connected';
  private readonly listeners = new Set<(state: ConnectionState) => void>();
  /** Publishes that failed (not connected, timed out, refused), for metrics. */
  publishErrors = 0;
  /** Times the connection was re-established. */
  reconnects = 0;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, info: StreamInfo, created: boolean, options: JetStreamLogOptions) {
    this.nc = nc;
    this.jsm = jsm;
    this.js = jetstream(nc);
    this.stream = options.stream;
    this.subject = options.subject;
    this.servers = options.servers;
    this.identity = { name: info.config.name, created: info.created };
    this.created = created;
    this.logger = options.logger ?? noLog;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
    void this.watchConnection();
  }

  /**
   * Connects (retrying until `connectTimeoutMs`), then finds the stream or
   * creates it. Rejects when NATS cannot be reached in time, JetStream is not
   * enabled, or an existing stream does not capture the subject.
   */
  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const logger = options.logger ?? noLog;
    const nc = await connectWithin(connectionOptions(options), options.connectTimeoutMs ?? 30_000, logger);
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.publishTimeoutMs ?? 5_000 });
      const { info, created } = await ensureStream(jsm, options);
      const pattern = info.config.subjects?.find((p) => subjectMatches(p, options.subject));
      if (pattern === undefined) {
        throw new Error(`stream ${options.stream} does not capture subject ${options.subject} (its subjects: ${(info.config.subjects ?? []).join(', ') || 'none'})`);
      }
      logger.info(
        { stream: options.stream, subject: options.subject, created: info.created, createdByThisNode: created, state: info.state },
        created ? 'cluster stream created' : 'cluster stream found',
      );
      return new JetStreamLog(nc, jsm, info, created, options);
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  /** The epoch every node reports for this stream. */
  get epoch(): string {
    return epochOf(this.identity);
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Largest message the connected server accepts (NATS `max_payload`). */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Calls `listener` on every change of connection state; returns the unsubscriber. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The stream as JetStream describes it now. */
  info(): Promise<StreamInfo> {
    return this.jsm.streams.info(this.stream);
  }

  /**
   * Appends `data` to the stream and resolves with its stream sequence once
   * JetStream has stored it (with `msgId`: or with the sequence of the
   * message stored earlier under that id, `duplicate` true). Rejects with UnavailableError when not connected
   * (at once) or when JetStream does not ack in time or refuses.
   */
  async publish(data: Uint8Array, msgId?: string): Promise<{ seq: number; duplicate: boolean }> {
    if (this.state !== 'connected') {
      this.publishErrors++;
      throw new UnavailableError('the cluster log (NATS JetStream) is not reachable; nothing was stored, retry later');
    }
    try {
      const options = { timeout: this.publishTimeoutMs, expect: { streamName: this.stream } };
      // With a message id, JetStream stores it once within the stream's duplicate window and answers a repeat with the original sequence.
      const ack = await this.js.publish(this.subject, data, msgId === undefined ? options : { ...options, msgID: msgId });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      this.publishErrors++;
      throw new UnavailableError(`the cluster log (NATS JetStream) did not ack the frame: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Drains and closes the connection (bounded: a dead server gets a plain close). */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.nc.isClosed()) return;
    const drained = this.nc.drain().then(
      () => true,
      () => false,
    );
    const inTime = await Promise.race([drained, sleep(timeoutMs).then(() => false)]);
    if (!inTime && !this.nc.isClosed()) await this.nc.close().catch(() => {});
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  private async watchConnection(): Promise<void> {
    void this.nc.closed().then(() => this.setState('closed'));
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.logger.warn({ server: status.server }, 'cluster: disconnected from NATS, reconnecting');
          this.setState('disconnected');
          break;
        case 'reconnect':
          this.reconnects++;
          this.logger.info({ server: status.server }, 'cluster: reconnected to NATS');
          this.setState('connected');
          break;
        case 'close':
          this.setState('closed');
          break;
        default:
      }
    }
  }
}

function connectionOptions(options: JetStreamLogOptions): NodeConnectionOptions {
  const opts: NodeConnectionOptions = {
    servers: options.servers,
    name: options.name ?? 'fanwire',
    // A gateway node never gives up on its log: it reports not ready and keeps trying.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    // nats.js pings every 2 minutes by default; a silently dead server would go unnoticed for minutes.
    pingInterval: 5_000,
    maxPingOut: 3,
  };
  if (options.credsFile) opts.authenticator = credsAuthenticator(new Uint8Array(readFileSync(options.credsFile)));
  if (options.user) {
    opts.user = options.user;
    opts.pass = options.password ?? '';
  }
  if (options.token) opts.token = options.token;
  return opts;
}

async function connectWithin(options: NodeConnectionOptions, timeoutMs: number, logger: ClusterLogger): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({ ...options, timeout: Math.max(1_000, Math.min(5_000, deadline - Date.now())) });
    } catch (err) {
      const message = (err as Error).message;
      // Wrong credentials will not fix themselves.
      if (/authorization|authentication/i.test(message) || Date.now() + 500 > deadline) {
        throw new Error(`cannot connect to NATS at ${([] as string[]).concat(options.servers ?? []).join(',')}: ${message}`, { cause: err });
      }
      if (attempt === 1) logger.warn({ err: message }, 'cluster: NATS not reachable yet, retrying');
      await sleep(500);
    }
  }
}

async function ensureStream(jsm: JetStreamManager, options: JetStreamLogOptions): Promise<{ info: StreamInfo; created: boolean }> {
  try {
    return { info: await jsm.streams.info(options.stream), created: false };
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  try {
    const info = await jsm.streams.add(streamDefaults(options.stream, options.subject, options.maxMsgs ?? 1_000_000, options.duplicateWindowMs));
    return { info, created: true };
  } catch (err) {
    // Another node created it in the meantime: use theirs.
    try {
      return { info: await jsm.streams.info(options.stream), created: false };
    } catch {
      throw err;
    }
  }
}

export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}
