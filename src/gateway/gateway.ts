/**
 * The gateway: wires buffer, fan-out, protocol and a transport into the
 * service of docs/protocol.md, and owns its lifecycle (start, heartbeats,
 * graceful stop). Everything per event lives in the layers below; this file
 * runs per connection, per frame or per timer tick.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import { EventBuffer } from '../buffer/index.js';
import {
  BadQueryError,
  IndexGoneError,
  isFanwireError,
  MethodNotAllowedError,
  NotFoundError,
  ShuttingDownError,
  TooBigError,
  UnsupportedMediaTypeError,
  UpgradeRequiredError,
  type FanwireError,
} from '../errors.js';
import { Cursor, FilterRegistry, FrameCache, type Filter } from '../fanout/index.js';
import { GatewayMetrics, type MetricsSnapshot } from '../metrics/index.js';
import {
  CloseCode,
  encode,
  encodeJson,
  encodeMsgpack,
  httpStatusOf,
  isBinaryFormat,
  parseSubscribeQuery,
  type Event,
  type Format,
  type SubscribeRequest,
} from '../protocol/index.js';
import {
  selectTransport,
  type Connection,
  type HttpReply,
  type HttpRequest,
  type Transport,
  type TransportHandlers,
  type UpgradeDecision,
} from '../transport/index.js';
import { configProblem, DEFAULT_CONFIG, SUBSCRIBER_MAX_PAYLOAD, type GatewayConfig } from './config.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { publishFrame } from './publisher.js';
import { GatewayCounters } from './stats.js';
import { closeFrameFor, helloMessage, planStart, type StartPlan } from './subscriber.js';

export interface GatewayOptions extends Partial<GatewayConfig> {
  logger?: Logger;
}

type UpgradeContext = { kind: 'publisher' } | { kind: 'subscriber'; plan: StartPlan; request: SubscribeRequest };

interface Subscription {
  id: number;
  conn: Connection;
  format: Format;
  cursor: Cursor<Event>;
  filter: Filter;
  connectedAt: number;
}

/** One row of GET /v1/subscribers. */
export interface SubscriberReport {
  id: number;
  remoteAddress: string;
  topics: string[];
  format: Format;
  nextIndex: number;
  lagEvents: number;
  lagSeconds: number;
  bufferedBytes: number;
  backpressured: boolean;
  connectedSince: string;
  transport: string;
}

/** Encoding numbers for the frame cache. */
const ENCODING: Record<Format, number> = { msgpack: 0, json: 1 };

const MSGPACK_TYPES = new Set(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack']);

function jsonReply(status: number, body: unknown): HttpReply {
  return { status, body: JSON.stringify(body) };
}

function errorReply(err: FanwireError, extra?: Record<string, unknown>): HttpReply {
  return jsonReply(httpStatusOf(err.code), { code: err.code, message: err.message, ...extra });
}

export class Gateway {
  readonly config: Readonly<GatewayConfig>;
  readonly epoch = randomBytes(8).toString('hex');
  readonly buffer: EventBuffer<Event>;
  readonly counters = new GatewayCounters();
  readonly logger: Logger;
  /** Which transport serves, and why; set by `start()`. */
  transportName = 'none';
  transportReason = '';
  private transport: Transport | null = null;
  private readonly filters = new FilterRegistry();
  private frames!: FrameCache<Event>;
  private readonly subscriptions = new Set<Subscription>();
  private readonly publishers = new Set<Connection>();
  /** Prometheus metrics; null with `metrics: false`. */
  readonly metrics: GatewayMetrics | null;
  private metricsServer: MetricsServer | null = null;

  /** Port of the separate metrics listener (`--metrics-port`), once started. */
  get metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
  }
  private nextSubscriptionId = 1;
  private heartbeatFrames!: Record<Format, Uint8Array>;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private stoppedWhileParked = false;
  private accepting = false;
  private stopping: Promise<void> | null = null;
  private startedAt = Date.now();

  constructor(options: GatewayOptions = {}) {
    const { logger, ...config } = options;
    this.config = { ...DEFAULT_CONFIG, ...config };
    const problem = configProblem(this.config);
    if (problem !== null) throw new RangeError(problem);
    this.logger = logger ?? pino({ level: 'silent' });
    this.buffer = new EventBuffer<Event>({
      maxSize: this.config.bufferSize,
      maxItemTtlMs: this.config.bufferTtlMs,
      // Sub-millisecond stamps: delivery latency is measured from them.
      now: () => performance.now(),
      onEvict: (cause, count) => {
        if (cause === 'size') this.counters.evictedSize += count;
        else this.counters.evictedTtl += count;
      },
    });
    this.metrics = this.config.metrics ? new GatewayMetrics(this.buffer, { latencyTopics: this.config.metricsTopics }) : null;
  }

  /**
   * Loads the transport (`--transport`), binds the port and starts serving.
   * Resolves with the bound address; rejects with TransportUnavailableError
   * when `uws` is asked for and does not load.
   */
  async start(): Promise<{ host: string; port: number }> {
    const selection = await selectTransport(this.config.transport);
    const { config } = this;
    const transport = selection.create<UpgradeContext>(this.handlers(), {
      maxPayloadBytes: Math.max(config.maxFrameBytes, SUBSCRIBER_MAX_PAYLOAD),
      // The gateway drops a subscriber past dropAfterBytes; a cursor writes at most one
      // batch (or frame) past the high-water mark; the transport must hold all of that.
      maxBackpressureBytes: config.dropAfterBytes + config.batchBytes + 2 * config.maxFrameBytes + 1024 * 1024,
      compression: config.compression,
    });
    this.transport = transport;
    this.transportName = selection.name;
    this.transportReason = selection.reason;
    // Each item's message is prepared once per filter and format for this transport.
    const prepare = transport.prepare;
    this.frames = new FrameCache<Event>([
      (index, events) => prepare(encodeMsgpack({ type: 'events', index, events }), true),
      (index, events) => prepare(encodeJson({ type: 'events', index, events }), false),
    ]);
    this.heartbeatFrames = {
      msgpack: prepare(encodeMsgpack({ type: 'heartbeat' }), true),
      json: prepare(encodeJson({ type: 'heartbeat' }), false),
    };
    const address = await transport.listen(config.host, config.port);
    if (this.metrics !== null && config.metricsPort !== null) {
      this.metricsServer = await startMetricsServer(config.host, config.metricsPort, () => this.renderMetrics());
    }
    this.accepting = true;
    this.startedAt = Date.now();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.config.heartbeatMs);
    this.heartbeatTimer.unref();
    return address;
  }

  /**
   * Graceful stop: refuse new connections and appends, close subscribers
   * with 1001 (after what was already written to them), let publishers
   * receive every reply they are owed, then release the port. Connections
   * still open after `shutdownTimeoutMs` are cut.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.accepting = false;
    this.transport?.stopAccepting();
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    // Every cursor reaches this error item and closes its subscriber with 1001.
    this.buffer.appendError(new ShuttingDownError());
    for (const conn of this.publishers) conn.close(CloseCode.GOING_AWAY, 'shutting down');
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    while ((this.subscriptions.size > 0 || this.publishers.size > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.transport?.close();
    await this.metricsServer?.close();
    this.buffer.close();
  }

  get ready(): boolean {
    return this.accepting;
  }

  stats(): Record<string, unknown> {
    const c = this.counters;
    const live = this.liveTotals();
    return {
      epoch: this.epoch,
      transport: this.transportName,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ready: this.accepting,
      buffer: {
        items: this.buffer.length,
        maxItems: this.buffer.maxSize,
        oldestIndex: this.buffer.oldestIndex,
        newestIndex: this.buffer.newestIndex,
        evicted: { size: c.evictedSize, ttl: c.evictedTtl },
      },
      subscribers: this.subscriptions.size,
      backpressured: this.countBackpressured(),
      publishers: this.publishers.size,
      filters: this.filters.size,
      encodes: this.frames?.encodes ?? 0,
      totals: {
        eventsPublished: c.eventsPublished,
        framesPublished: c.framesPublished,
        publishErrors: c.publishErrorsTotal,
        publishErrorsByCode: { ...c.publishErrors },
        eventsDelivered: c.eventsDelivered + live.events,
        framesDelivered: c.framesDelivered + live.frames,
        bytesDelivered: c.bytesDelivered + live.bytes,
        subscriptionsOpened: c.subscriptionsOpened,
        subscriptionsClosed: c.subscriptionsClosed,
        dropped: { ...c.dropped },
      },
    };
  }

  /** Subscribers whose cursor waits for their socket to drain; O(subscribers), at scrape time only. */
  private countBackpressured(): number {
    let n = 0;
    for (const sub of this.subscriptions) if (sub.cursor.backpressured) n++;
    return n;
  }

  /** What live cursors wrote so far; O(subscribers), at report time only. */
  private liveTotals(): { frames: number; events: number; bytes: number } {
    let frames = 0;
    let events = 0;
    let bytes = 0;
    for (const { cursor } of this.subscriptions) {
      frames += cursor.framesWritten;
      events += cursor.eventsWritten;
      bytes += cursor.bytesWritten;
    }
    return { frames, events, bytes };
  }

  /** Everything /metrics reports, gathered at scrape time. */
  private metricsSnapshot(): MetricsSnapshot {
    const c = this.counters;
    const live = this.liveTotals();
    const newest = this.buffer.newestIndex;
    const lags: number[] = [];
    for (const { cursor } of this.subscriptions) lags.push(newest - cursor.lastIndex);
    return {
      transport: this.transportName,
      subscribers: this.subscriptions.size,
      publishers: this.publishers.size,
      backpressured: this.countBackpressured(),
      subscriptionsOpened: c.subscriptionsOpened,
      subscriptionsClosed: c.subscriptionsClosed,
      eventsPublished: c.eventsPublished,
      framesPublished: c.framesPublished,
      publishErrors: c.publishErrors,
      eventsDelivered: c.eventsDelivered + live.events,
      framesSent: c.framesDelivered + live.frames,
      bytesSent: c.bytesDelivered + live.bytes,
      dropped: c.dropped,
      evicted: { size: c.evictedSize, ttl: c.evictedTtl },
      lags,
    };
  }

  private renderMetrics(): Promise<HttpReply> {
    const metrics = this.metrics!;
    return metrics.render(this.metricsSnapshot()).then((body) => ({ status: 200, headers: { 'content-type': metrics.contentType }, body }));
  }

  /**
   * The subscribers furthest behind, for GET /v1/subscribers: what no
   * Prometheus label may carry (one series per subscriber would explode).
   */
  laggards(limit: number): SubscriberReport[] {
    const newest = this.buffer.newestIndex;
    const now = performance.now();
    const rows: SubscriberReport[] = [];
    for (const sub of this.subscriptions) {
      const { cursor } = sub;
      const next = cursor.nextItem;
      rows.push({
        id: sub.id,
        remoteAddress: sub.conn.remoteAddress,
        topics: sub.filter.selectors,
        format: sub.format,
        nextIndex: cursor.lastIndex + 1,
        lagEvents: newest - cursor.lastIndex,
        lagSeconds: next === null ? 0 : Math.max(0, (now - next.createdAt) / 1000),
        bufferedBytes: sub.conn.closed ? 0 : sub.conn.bufferedAmount(),
        backpressured: cursor.backpressured,
        connectedSince: new Date(sub.connectedAt).toISOString(),
        transport: this.transportName,
      });
    }
    rows.sort((a, b) => b.lagEvents - a.lagEvents || b.lagSeconds - a.lagSeconds);
    return rows.slice(0, limit);
  }

  private heartbeat(): void {
    for (const sub of this.subscriptions) {
      if (!sub.conn.closed && sub.conn.bufferedAmount() <= this.config.highWaterBytes) {
        sub.conn.sendPrepared(this.heartbeatFrames[sub.format]);
      }
    }
    if (this.stoppedWhileParked) {
      this.stoppedWhileParked = false;
      this.buffer.wakeReaders();
    }
  }

  private handlers(): TransportHandlers<UpgradeContext> {
    return {
      request: (req) => this.route(req),
      upgrade: (req) => this.upgrade(req),
      open: (conn, context) =>
        context.kind === 'publisher' ? this.openPublisher(conn) : this.openSubscriber(conn, context.plan, context.request),
    };
  }

  private async route(req: HttpRequest): Promise<HttpReply> {
    switch (req.path) {
      case '/healthz':
        if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(new MethodNotAllowedError('use GET'));
        return jsonReply(200, { status: 'ok' });
      case '/readyz':
        if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(new MethodNotAllowedError('use GET'));
        return this.accepting ? jsonReply(200, { status: 'ready' }) : jsonReply(503, { status: 'shutting_down' });
      case '/v1/stats':
        if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET'));
        return jsonReply(200, this.stats());
      case '/v1/subscribers': {
        if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET'));
        const sort = req.query.get('sort') ?? 'lag';
        const rawLimit = req.query.get('limit') ?? '50';
        const limit = /^\d{1,5}$/.test(rawLimit) ? Number(rawLimit) : NaN;
        if (sort !== 'lag') return errorReply(new BadQueryError(`sort "${sort}" is not supported: use lag`));
        if (!(limit >= 1 && limit <= 1000)) return errorReply(new BadQueryError(`limit "${rawLimit}" must be an integer from 1 to 1000`));
        return jsonReply(200, { subscribers: this.laggards(limit), newestIndex: this.buffer.newestIndex, total: this.subscriptions.size });
      }
      case '/metrics':
        if (this.metrics === null || this.config.metricsPort !== null) return errorReply(new NotFoundError(this.metrics === null ? 'metrics are off (--metrics off)' : `metrics are served on --metrics-port ${this.config.metricsPort}`));
        if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET'));
        return this.renderMetrics();
      case '/v1/publish':
        if (req.method === 'GET') return errorReply(new UpgradeRequiredError('GET /v1/publish is a WebSocket endpoint; POST a frame to publish over HTTP'));
        if (req.method !== 'POST') return errorReply(new MethodNotAllowedError('use POST, or GET with a WebSocket upgrade'));
        return this.httpPublish(req);
      case '/v1/subscribe':
        if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET with a WebSocket upgrade'));
        return errorReply(new UpgradeRequiredError('/v1/subscribe is a WebSocket endpoint'));
      default:
        return errorReply(new NotFoundError(`no route for ${req.path}`));
    }
  }

  private async httpPublish(req: HttpRequest): Promise<HttpReply> {
    if (!this.accepting) return errorReply(new ShuttingDownError());
    const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const binary = MSGPACK_TYPES.has(type);
    if (!binary && type !== 'application/json') {
      return errorReply(new UnsupportedMediaTypeError(`content-type "${type}" is not supported: use application/msgpack or application/json`));
    }
    let body: Buffer;
    try {
      body = await req.readBody(this.config.maxFrameBytes);
    } catch (err) {
      if (err instanceof TooBigError) return errorReply(err);
      throw err;
    }
    const reply = publishFrame(this.buffer, this.counters, body, binary);
    if (reply.type === 'error') {
      const { type: _type, ...rest } = reply;
      return jsonReply(httpStatusOf(reply.code), rest);
    }
    return jsonReply(200, reply.id === undefined ? { index: reply.index } : { index: reply.index, id: reply.id });
  }

  private upgrade(req: HttpRequest): UpgradeDecision<UpgradeContext> {
    try {
      if (req.path !== '/v1/subscribe' && req.path !== '/v1/publish') throw new NotFoundError(`no WebSocket endpoint at ${req.path}`);
      if (!this.accepting) throw new ShuttingDownError();
      if (req.path === '/v1/publish') {
        if ([...req.query.keys()].length > 0) throw new BadQueryError('/v1/publish takes no query parameters');
        return { accept: true, context: { kind: 'publisher' }, maxPayload: this.config.maxFrameBytes };
      }
      const request = parseSubscribeQuery(req.query);
      const plan = planStart(this.buffer, this.epoch, request);
      return {
        accept: true,
        context: { kind: 'subscriber', plan, request },
        maxPayload: SUBSCRIBER_MAX_PAYLOAD,
        preparedBinary: isBinaryFormat(request.format),
      };
    } catch (err) {
      if (!isFanwireError(err)) throw err;
      const extra = err instanceof IndexGoneError ? { oldest: err.oldest, epoch: err.epoch } : undefined;
      return { accept: false, reply: errorReply(err, extra) };
    }
  }

  private openPublisher(conn: Connection) {
    this.publishers.add(conn);
    this.logger.debug({ remote: conn.remoteAddress }, 'publisher connected');
    let paused = false;
    let cut = false;
    return {
      message: (data: Uint8Array, binary: boolean): void => {
        // Once cut, later frames are neither appended nor answered: the producer
        // knows from the missing acks exactly what did not happen.
        if (cut) return;
        const reply = publishFrame(this.buffer, this.counters, data, binary);
        conn.send(binary ? encodeMsgpack(reply) : encodeJson(reply), binary);
        // A producer that does not read its replies must not make us buffer
        // them without bound: stop reading its frames until it catches up
        // (where the transport can pause), and cut it past the drop limit.
        const unread = conn.bufferedAmount();
        if (unread > this.config.dropAfterBytes) {
          cut = true;
          conn.close(CloseCode.POLICY_VIOLATION, 'producer is not reading its replies');
          return;
        }
        if (!paused && unread > this.config.highWaterBytes) {
          paused = true;
          conn.pause();
          void conn.waitDrain().then(() => {
            paused = false;
            conn.resume();
          });
        }
      },
      close: (): void => {
        this.publishers.delete(conn);
        this.logger.debug({ remote: conn.remoteAddress }, 'publisher disconnected');
      },
    };
  }

  private openSubscriber(conn: Connection, plan: StartPlan, request: SubscribeRequest) {
    const { format } = request;
    const filter = this.filters.acquire(request.topics);
    const hello = helloMessage(this.epoch, plan, this.config.heartbeatMs);
    conn.sendPrepared(this.transport!.prepare(encode(hello, format), isBinaryFormat(format)));
    const counters = this.counters;
    const cursor = new Cursor<Event>(plan.start, filter, ENCODING[format], this.frames, conn, {
      highWaterBytes: this.config.highWaterBytes,
      dropAfterBytes: this.config.dropAfterBytes,
      batchBytes: this.config.batchBytes,
      startAt: plan.startAt,
      observer: this.metrics,
    });
    const sub: Subscription = { id: this.nextSubscriptionId++, conn, format, cursor, filter, connectedAt: Date.now() };
    this.subscriptions.add(sub);
    counters.subscriptionsOpened++;

    void cursor.run().then((end) => {
      const frame = closeFrameFor(end, this.epoch, this.buffer.newestIndex);
      if (end.reason === 'dropped') {
        counters.dropped[end.cause]++;
        this.logger.info({ remote: conn.remoteAddress, cause: end.cause, lastIndex: end.lastIndex }, 'subscriber dropped');
      } else if (end.reason === 'error') {
        if (end.error instanceof ShuttingDownError) {
          counters.dropped.shutdown++;
        } else {
          counters.dropped.error++;
          this.logger.error({ err: end.error }, 'subscription ended by an error');
        }
      }
      if (frame !== null) conn.close(frame.code, frame.reason);
    });

    return {
      message: (): void => conn.close(CloseCode.POLICY_VIOLATION, 'subscribers may not send messages'),
      close: (): void => {
        if (!this.subscriptions.delete(sub)) return;
        cursor.stop();
        this.stoppedWhileParked = true;
        // Live cursors are summed at report time; a closed one hands its totals over once.
        counters.framesDelivered += cursor.framesWritten;
        counters.eventsDelivered += cursor.eventsWritten;
        counters.bytesDelivered += cursor.bytesWritten;
        this.filters.release(filter);
        counters.subscriptionsClosed++;
      },
    };
  }
}

/** Creates and starts a gateway. */
export async function startGateway(options: GatewayOptions = {}): Promise<{ gateway: Gateway; host: string; port: number }> {
  const gateway = new Gateway(options);
  const address = await gateway.start();
  return { gateway, ...address };
}
