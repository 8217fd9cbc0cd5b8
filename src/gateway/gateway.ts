/**
 * The gateway: wires buffer, fan-out, protocol and a transport into the
 * service of docs/protocol.md, and owns its lifecycle (start, heartbeats,
 * graceful stop). Everything per event lives in the layers below; this file
 * runs per connection, per frame or per timer tick.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import { SUBPROTOCOL, TokenVerifier, tokenOf, type Grant } from '../auth/index.js';
import { EventBuffer } from '../buffer/index.js';
import {
  BadQueryError,
  ForbiddenError,
  IndexGoneError,
  LimitExceededError,
  UnauthorizedError,
  UnavailableError,
  isFanwireError,
  NotFoundError,
  ShuttingDownError,
} from '../errors.js';
import { Cursor, FilterRegistry, FrameCache, ViewRegistry, type FilteredView } from '../fanout/index.js';
import { GatewayMetrics } from '../metrics/index.js';
import {
  batchMessage,
  CloseCode,
  encode,
  encodeJson,
  encodeMsgpack,
  fitCloseReason,
  isBinaryFormat,
  parseSubscribeQuery,
  refusalCloseCodeOf,
  type Event,
  type Format,
  type PublisherReply,
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
  type ConnectionHandlers,
} from '../transport/index.js';
import { configProblem, DEFAULT_CONFIG, SUBSCRIBER_MAX_PAYLOAD, type GatewayConfig } from './config.js';
import { errorReply, operatorRefusal, routeHttp } from './http-routes.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { ClusterNode } from './cluster-node.js';
import { acceptFrame, isReply, publishFrame, rejectFrame, validateFrame } from './publisher.js';
import { ProducerConnection } from './producer.js';
import { countBackpressured, laggards, lagMax, lagTotals, liveTotals, metricsSnapshot } from './reports.js';
import { LagPolicies } from './lag-policies.js';
import { GatewayCounters } from './stats.js';
import { Subscription, type SubscriberReport, type SubscriptionHost } from './subscription.js';
import { closeFrameFor, helloMessage, planStart, type StartPlan } from './subscriber.js';

export interface GatewayOptions extends Partial<GatewayConfig> {
  logger?: Logger;
  /**
   * Cluster mode: the node cannot go on (its stream was deleted and created
   * again under it). Without a handler the gateway stops itself; the CLI
   * stops and exits 1 so a supervisor restarts it on the new stream.
   */
  onFatal?: (err: Error) => void;
}

/** What GET /readyz reports: 200 only for `ready`. */
export type ReadyStatus = 'ready' | 'shutting_down' | 'cluster_unavailable';

type UpgradeContext =
  | { kind: 'publisher'; grant: Grant | null }
  | { kind: 'subscriber'; plan: StartPlan; request: SubscribeRequest; grant: Grant | null }
  /** A refusal answered as a close, for a client that offered fanwire.v1 (see Gateway.upgrade). */
  | { kind: 'refused'; close: CloseCode; reason: string };

/** What a refused connection does with its peer's messages and its close: nothing. */
const REFUSED_HANDLERS = { message: (): void => {}, close: (): void => {} };

/** Binding beyond loopback with auth off was not explicitly allowed (--insecure). */
export class InsecureBindError extends Error {
  override name = 'InsecureBindError';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\./.test(host);
}

/** Longest setTimeout delay Node honours (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The canceller of a connection whose token never expires: one shared function, not one per connection. */
const NO_EXPIRY = (): void => {};

/** Upgrades this recent (ms) mean clients are connecting: keep event-loop turns short (see Gateway.sweepBudget). */
const STORM_WINDOW_MS = 100;
/** A wake-up chunk's time limit (ms) meanwhile: about 40 fan-out writes on the machines we measure on. */
const STORM_CHUNK_MS = 0.25;

/** Encoding numbers for the frame cache. */
const ENCODING: Record<Format, number> = { msgpack: 0, json: 1 };

export type { SubscriberReport } from './subscription.js';

export class Gateway {
  readonly config: Readonly<GatewayConfig>;
  /** Random per process in embedded mode; derived from the stream in cluster mode (set by start). */
  private currentEpoch = randomBytes(8).toString('hex');
  readonly buffer: EventBuffer<Event>;
  readonly counters = new GatewayCounters();
  readonly logger: Logger;
  /** Which transport serves, and why; set by `start()`. */
  transportName = 'none';
  transportReason = '';
  private transport: Transport | null = null;
  private readonly filters = new FilterRegistry();
  /** One chain per filter in use (other than "everything"): a filtered subscriber walks only its own items. */
  private readonly views = new ViewRegistry<Event>();
  private frames!: FrameCache<Event>;
  private readonly subscriptions = new Set<Subscription>();
  /** Producers connected over WebSocket. */
  private readonly publishers = new Map<Connection, ProducerConnection>();
  private clusterNode: ClusterNode | null = null;
  /** Cluster publishes not answered yet (WebSocket and HTTP). */
  private publishesInFlight = 0;
  private readonly onFatal: ((err: Error) => void) | null;
  /** Settings for lag=skip and lag=conflate cursors; made with the first such subscriber. */
  private lagPolicies: LagPolicies | null = null;
  /** Prometheus metrics; null with `metrics: false`. */
  readonly metrics: GatewayMetrics | null;
  private metricsServer: MetricsServer | null = null;

  /** Port of the separate metrics listener (`--metrics-port`), once started. */
  get metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
  }
  private nextSubscriptionId = 1;
  /** Open subscriptions per remote address, for --max-subscribers-per-address. */
  private readonly perAddress = new Map<string, number>();
  /** Token verification; null when auth is off. */
  private verifier: TokenVerifier | null = null;
  private heartbeatFrames!: Record<Format, Uint8Array>;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private stoppedWhileParked = false;
  private accepting = false;
  private stopping: Promise<void> | null = null;
  private startedAt = Date.now();

  constructor(options: GatewayOptions = {}) {
    const { logger, onFatal, ...config } = options;
    this.config = { ...DEFAULT_CONFIG, ...config };
    this.onFatal = onFatal ?? null;
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
      onAppend: this.views.onAppend,
      settleTurns: this.config.wakeSettle,
      sweepBudget: this.sweepBudget,
    });
    this.views.attach(this.buffer);
    this.metrics = this.config.metrics
      ? new GatewayMetrics(this.buffer, { latencyTopics: this.config.metricsTopics, cluster: this.config.cluster !== null })
      : null;
  }

  /**
   * Names the buffer's lifetime (docs/protocol.md). Embedded: random per
   * process. Cluster: derived from the stream, the same on every node.
   */
  get epoch(): string {
    return this.currentEpoch;
  }

  /** Cluster mode's link to the shared log (set by start); null in embedded mode. */
  get cluster(): ClusterNode | null {
    return this.clusterNode;
  }

  /**
   * Loads the transport (`--transport`), binds the port and starts serving.
   * In cluster mode it first joins the shared log and backfills the buffer,
   * so nothing is served before resume works. Resolves with the bound
   * address; rejects with TransportUnavailableError when `uws` is asked for
   * and does not load, or when the cluster cannot be joined.
   */
  async start(): Promise<{ host: string; port: number }> {
    const { config } = this;
    this.verifier = await TokenVerifier.create({ secret: config.authSecret, publicKeyFile: config.authPublicKeyFile, jwksFile: config.authJwksFile });
    if (this.verifier === null && !isLoopback(config.host) && !config.insecure) {
      throw new InsecureBindError(
        `refusing to listen on ${config.host} without authentication: configure --auth-secret, --auth-public-key or --auth-jwks, or pass --insecure`,
      );
    }
    const selection = await selectTransport(config.transport);
    if (config.cluster !== null) {
      try {
        this.clusterNode = await ClusterNode.start(config, this.buffer, this.logger, (detail) => this.fail(new Error(`cluster: ${detail}`)));
      } catch (err) {
        throw new Error(`cluster mode: ${(err as Error).message}`, { cause: err });
      }
      this.currentEpoch = this.clusterNode.epoch;
    }
    try {
      return await this.listen(selection);
    } catch (err) {
      await this.cluster?.stop();
      throw err;
    }
  }

  private async listen(selection: Awaited<ReturnType<typeof selectTransport>>): Promise<{ host: string; port: number }> {
    const { config } = this;
    const transport = selection.create<UpgradeContext>(this.handlers(), {
      maxPayloadBytes: Math.max(config.maxFrameBytes, SUBSCRIBER_MAX_PAYLOAD),
      // The gateway drops a subscriber past dropAfterBytes; a cursor writes at most one
      // batch (or frame) past the high-water mark; the transport must hold all of that.
      maxBackpressureBytes: config.dropAfterBytes + config.batchBytes + 2 * config.maxFrameBytes + 1024 * 1024,
      compression: config.compression,
      idleTimeoutMs: config.idleTimeoutMs,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      tls: config.tlsCertFile !== null && config.tlsKeyFile !== null ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : null,
    });
    this.transport = transport;
    this.transportName = selection.name;
    this.transportReason = selection.reason;
    // Each item's message is prepared once per filter and format for this transport.
    // A batch (batch=1) wraps the items' own encoded messages, once per range.
    const prepare = transport.prepare;
    const unprepare = transport.unprepare;
    this.frames = new FrameCache<Event>(
      [
        (index, events) => prepare(encodeMsgpack({ type: 'events', index, events }), true),
        (index, events) => prepare(encodeJson({ type: 'events', index, events }), false),
      ],
      [
        (frames, count) => prepare(batchMessage(frames, count, true, unprepare), true),
        (frames, count) => prepare(batchMessage(frames, count, false, unprepare), false),
      ],
    );
    this.heartbeatFrames = {
      msgpack: prepare(encodeMsgpack({ type: 'heartbeat' }), true),
      json: prepare(encodeJson({ type: 'heartbeat' }), false),
    };
    const address = await transport.listen(config.host, config.port);
    if (this.metrics !== null && config.metricsPort !== null) {
      this.metricsServer = await startMetricsServer(config.host, config.metricsPort, () => this.renderMetrics(), (authorization) =>
        this.authorize({ header: (name) => (name === 'authorization' ? authorization : undefined), query: new URLSearchParams() }).then(
          operatorRefusal,
          (err: unknown) => {
            if (isFanwireError(err)) return errorReply(err);
            throw err;
          },
        ),
      );
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
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    if (this.cluster !== null) {
      // Producers get the replies they are owed, and subscribers here every
      // item this node acked, before anyone is closed.
      while ((this.publishesInFlight > 0 || [...this.publishers.values()].some((p) => p.owed > 0)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await this.cluster.caughtUpWithAcks(deadline);
      await this.cluster.stopFollowing();
    }
    // Every cursor reaches this error item and closes its subscriber with 1001.
    this.buffer.appendError(new ShuttingDownError());
    for (const conn of this.publishers.keys()) conn.close(CloseCode.GOING_AWAY, 'shutting down');
    while ((this.subscriptions.size > 0 || this.publishers.size > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.transport?.close();
    await this.metricsServer?.close();
    this.buffer.close();
    await this.cluster?.stop();
  }

  /** Cluster mode: the node cannot go on; see GatewayOptions.onFatal. */
  private fail(err: Error): void {
    this.logger.error({ err }, 'fatal');
    if (this.onFatal !== null) this.onFatal(err);
    else void this.stop();
  }

  /** Accepting connections and frames (false once stopping). */
  get ready(): boolean {
    return this.accepting;
  }

  /** What GET /readyz reports: not ready while stopping, or in cluster mode while the shared log is unreachable. */
  get readyStatus(): ReadyStatus {
    if (!this.accepting) return 'shutting_down';
    if (this.cluster !== null && !this.cluster.connected) return 'cluster_unavailable';
    return 'ready';
  }

  /**
   * One producer frame, from WebSocket or HTTP: validated, then appended
   * (embedded mode: the reply is ready at once) or published to the shared
   * log (cluster mode: the reply, a promise that never rejects, waits for
   * JetStream's ack; validation errors are still answered at once).
   */
  publish(data: Uint8Array, binary: boolean, grant: Grant | null): PublisherReply | Promise<PublisherReply> {
    const { config, counters, cluster } = this;
    if (cluster === null) return publishFrame(this.buffer, counters, data, binary, grant?.publish ?? null, config.maxBatchEvents);
    const frame = validateFrame(counters, data, binary, grant?.publish ?? null, config.maxBatchEvents);
    if (isReply(frame)) return frame;
    if (!this.accepting) return rejectFrame(counters, new ShuttingDownError(), frame.id);
    this.publishesInFlight++;
    return cluster.publish(frame.events).then(
      (seq) => {
        this.publishesInFlight--;
        return acceptFrame(counters, frame, seq);
      },
      (err: unknown) => {
        this.publishesInFlight--;
        const error = isFanwireError(err) ? err : new UnavailableError((err as Error).message);
        return rejectFrame(counters, error, frame.id);
      },
    );
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  stats(): Record<string, unknown> {
    const c = this.counters;
    const live = liveTotals(this.subscriptions);
    return {
      epoch: this.epoch,
      transport: this.transportName,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ready: this.accepting,
      ...(this.cluster !== null ? { cluster: this.cluster.stats() } : {}),
      buffer: {
        items: this.buffer.length,
        maxItems: this.buffer.maxSize,
        oldestIndex: this.buffer.oldestIndex,
        newestIndex: this.buffer.newestIndex,
        evicted: { size: c.evictedSize, ttl: c.evictedTtl },
      },
      subscribers: this.subscriptions.size,
      backpressured: countBackpressured(this.subscriptions),
      lagMax: lagMax(this.subscriptions, this.buffer.newestIndex),
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
        lag: lagTotals(c),
      },
    };
  }

  renderMetrics(): Promise<HttpReply> {
    const metrics = this.metrics!;
    const snapshot = metricsSnapshot(this.subscriptions, this.counters, this.buffer.newestIndex, {
      transport: this.transportName,
      publishers: this.publishers.size,
    });
    if (this.cluster !== null) snapshot.cluster = this.cluster.stats();
    return metrics.render(snapshot).then((body) => ({ status: 200, headers: { 'content-type': metrics.contentType }, body }));
  }

  /** The subscribers furthest behind, for GET /v1/subscribers. */
  laggards(limit: number): SubscriberReport[] {
    return laggards(this.subscriptions, this.buffer.newestIndex, this.transportName, limit);
  }

  private heartbeat(): void {
    for (const sub of this.subscriptions) {
      // Only to subscribers sent nothing since the last tick: the others just
      // heard from us, and 10k heartbeat writes in one loop stall every
      // stream for as long as they take (~130 ms here).
      const written = sub.cursor.framesWritten;
      if (written !== sub.heartbeatMark) {
        sub.heartbeatMark = written;
        continue;
      }
      if (!sub.conn.closed && sub.conn.bufferedAmount() <= this.config.highWaterBytes) {
        sub.conn.sendPrepared(this.heartbeatFrames[sub.format]);
      }
    }
    // Joined batches are kept for cursors arriving at the same range; by now they have.
    this.frames.releaseJoined();
    if (this.stoppedWhileParked) {
      this.stoppedWhileParked = false;
      this.buffer.wakeReaders();
      this.views.wakeReaders();
    }
  }

  private handlers(): TransportHandlers<UpgradeContext> {
    return {
      request: (req) => routeHttp(this, req),
      upgrade: (req) => this.upgrade(req),
      open: (conn, context) => {
        if (context.kind === 'publisher') return this.openPublisher(conn, context.grant);
        if (context.kind === 'subscriber') return this.openSubscriber(conn, context.plan, context.request, context.grant);
        conn.close(context.close, context.reason); // nothing before the close frame
        return REFUSED_HANDLERS;
      },
      timedOut: (kind) => {
        const rejections = this.counters.limitRejections;
        const limit = `${kind}-timeout`;
        rejections[limit] = (rejections[limit] ?? 0) + 1;
      },
    };
  }

  /**
   * The token of a request, verified; null when auth is off. Throws
   * UnauthorizedError (401) for a missing or invalid one.
   */
  async authorize(req: Pick<HttpRequest, 'header' | 'query'>): Promise<Grant | null> {
    if (this.verifier === null) return null;
    const token = tokenOf(req.header('authorization'), req.query.get('token'), req.header('sec-websocket-protocol'));
    if (token === null) {
      throw new UnauthorizedError(`a token is required: Authorization: Bearer <jwt>, ?token=<jwt>, or the subprotocols ["${SUBPROTOCOL}", <jwt>]`);
    }
    return this.verifier.verify(token);
  }

  /** When the last upgrade request arrived (performance.now()). */
  private lastUpgradeAt = Number.NEGATIVE_INFINITY;

  /**
   * Short wake-up chunks while upgrades keep arriving. Node accepts one
   * connection per event-loop turn, so in a reconnect storm the length of a
   * turn decides how fast clients get back in: with 512-reader chunks of
   * fan-out writes (a few ms each) 10k resuming subscribers overflowed the
   * listen queue and thousands timed out. Outside a storm, chunks keep their
   * full size (shorter ones cost about 10% of burst throughput).
   */
  private readonly sweepBudget = (): number =>
    performance.now() - this.lastUpgradeAt < STORM_WINDOW_MS ? STORM_CHUNK_MS : Number.POSITIVE_INFINITY;

  /**
   * Accepts or refuses a WebSocket upgrade. A browser sees no HTTP status on
   * a refused WebSocket, only 1006, as for a network fault. So when the
   * client offered the fanwire.v1 subprotocol, a refusal of the request
   * itself (400, 401, 403, 410: retrying the same request cannot help) is an
   * accepted connection closed at once with 4000 + the status. Load refusals
   * (429, 503), unknown paths and Origin refusals (a page that should not be
   * talking to us at all) stay HTTP answers: accepting a flood to close it
   * would cost more than refusing it.
   */
  private async upgrade(req: HttpRequest): Promise<UpgradeDecision<UpgradeContext>> {
    this.lastUpgradeAt = performance.now();
    const offered = (req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
    const protocol = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined;
    let asClose = false;
    try {
      if (req.path !== '/v1/subscribe' && req.path !== '/v1/publish') throw new NotFoundError(`no WebSocket endpoint at ${req.path}`);
      if (!this.accepting) throw new ShuttingDownError();
      const origin = req.header('origin');
      if (origin !== undefined && this.config.allowedOrigins.length > 0 && !this.config.allowedOrigins.includes(origin)) {
        throw new ForbiddenError(`origin ${origin} is not allowed (--allowed-origins)`);
      }
      asClose = protocol !== undefined;
      const grant = await this.authorize(req);
      if (req.path === '/v1/publish') {
        const extra = [...req.query.keys()].find((k) => k !== 'token');
        if (extra !== undefined) throw new BadQueryError(`/v1/publish takes no query parameters but token, got "${extra}"`);
        return { accept: true, context: { kind: 'publisher', grant }, maxPayload: this.config.maxFrameBytes, protocol };
      }
      const request = parseSubscribeQuery(req.query, this.config.maxTopics);
      this.checkSubscriberLimits(req.remoteAddress);
      if (grant !== null) checkRead(grant, request);
      if (!this.accepting) throw new ShuttingDownError();
      const plan = planStart(this.buffer, this.epoch, request);
      return {
        accept: true,
        context: { kind: 'subscriber', plan, request, grant },
        maxPayload: SUBSCRIBER_MAX_PAYLOAD,
        preparedBinary: isBinaryFormat(request.format),
        protocol,
      };
    } catch (err) {
      if (!isFanwireError(err)) throw err;
      const refused = this.counters.upgradesRefused;
      refused[err.code] = (refused[err.code] ?? 0) + 1;
      const close = asClose ? refusalCloseCodeOf(err.code) : null;
      if (close !== null) {
        const reason = fitCloseReason(`${err.code}: ${err.message}`);
        return { accept: true, context: { kind: 'refused', close, reason }, maxPayload: SUBSCRIBER_MAX_PAYLOAD, protocol };
      }
      const extra = err instanceof IndexGoneError ? { oldest: err.oldest, epoch: err.epoch } : undefined;
      return { accept: false, reply: errorReply(err, extra) };
    }
  }

  /** Refuses (429) a subscriber past --max-subscribers or --max-subscribers-per-address. */
  private checkSubscriberLimits(address: string): void {
    const { maxSubscribers, maxSubscribersPerAddress } = this.config;
    let limit: string | null = null;
    if (this.subscriptions.size >= maxSubscribers) limit = 'max-subscribers';
    else if ((this.perAddress.get(address) ?? 0) >= maxSubscribersPerAddress) limit = 'max-subscribers-per-address';
    if (limit === null) return;
    const rejections = this.counters.limitRejections;
    rejections[limit] = (rejections[limit] ?? 0) + 1;
    const count = limit === 'max-subscribers' ? maxSubscribers : maxSubscribersPerAddress;
    throw new LimitExceededError(limit, `${limit} (${count}) reached; try again later`);
  }

  /** Closes `conn` with 4003 when its token expires; returns the canceller. */
  private expireWith(conn: Connection, grant: Grant | null): () => void {
    if (grant === null || grant.expiresAt === null) return NO_EXPIRY;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      const left = grant.expiresAt! - Date.now();
      if (left <= 0) conn.close(CloseCode.TOKEN_EXPIRED, 'token expired');
      else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
    return () => clearTimeout(timer);
  }

  private openPublisher(conn: Connection, grant: Grant | null) {
    const cancelExpiry = this.expireWith(conn, grant);
    this.logger.debug({ remote: conn.remoteAddress }, 'publisher connected');
    const producer = new ProducerConnection(conn, this.config, this.counters, (data, binary) => this.publish(data, binary, grant));
    this.publishers.set(conn, producer);
    return {
      message: (data: Uint8Array, binary: boolean): void => producer.message(data, binary),
      close: (code: number): void => {
        cancelExpiry();
        this.publishers.delete(conn);
        if (code === CloseCode.MESSAGE_TOO_BIG) {
          const rejections = this.counters.limitRejections;
          rejections['max-frame-bytes'] = (rejections['max-frame-bytes'] ?? 0) + 1;
        }
        this.logger.debug({ remote: conn.remoteAddress }, 'publisher disconnected');
      },
    };
  }

  private openSubscriber(conn: Connection, plan: StartPlan, request: SubscribeRequest, grant: Grant | null): ConnectionHandlers {
    const { format } = request;
    const filter = this.filters.acquire(request.topics);
    const hello = helloMessage(this.epoch, plan, this.config.heartbeatMs);
    conn.sendPrepared(this.transport!.prepare(encode(hello, format), isBinaryFormat(format)));
    const counters = this.counters;
    const view: FilteredView<Event> | null = filter.matchesAll ? null : this.views.acquire(filter);
    const cursor = new Cursor<Event>(view === null ? plan.start : view.positionOf(plan.start), filter, ENCODING[format], this.frames, conn, {
      highWaterBytes: this.config.highWaterBytes,
      dropAfterBytes: this.config.dropAfterBytes,
      batchBytes: this.config.batchBytes,
      startAt: plan.startAt,
      observer: this.metrics,
      lag: request.lag === 'drop' ? null : (this.lagPolicies ??= new LagPolicies(this.config, counters.lag, this.transport!.prepare)).optionsFor(request),
      chain: view ?? this.buffer,
      batchMessages: request.batch,
    });
    const sub = new Subscription(this.nextSubscriptionId++, conn, format, request.lag, cursor, filter, view, this.expireWith(conn, grant), this.subscriptionHost);
    this.subscriptions.add(sub);
    counters.subscriptionsOpened++;
    this.perAddress.set(conn.remoteAddress, (this.perAddress.get(conn.remoteAddress) ?? 0) + 1);
    cursor.start(sub);
    return sub;
  }

  /** Every subscription's way back to the gateway: one object, so a subscriber carries no closures. */
  private readonly subscriptionHost: SubscriptionHost = {
    ended: (sub, end) => {
      const counters = this.counters;
      const frame = closeFrameFor(end, this.epoch, this.buffer.newestIndex);
      if (end.reason === 'dropped') {
        counters.dropped[end.cause]++;
        this.logger.info({ remote: sub.conn.remoteAddress, cause: end.cause, lastIndex: end.lastIndex }, 'subscriber dropped');
      } else if (end.reason === 'error') {
        if (end.error instanceof ShuttingDownError) {
          counters.dropped.shutdown++;
        } else {
          counters.dropped.error++;
          this.logger.error({ err: end.error }, 'subscription ended by an error');
        }
      }
      if (frame !== null) sub.conn.close(frame.code, frame.reason);
    },
    spoke: (sub) => sub.conn.close(CloseCode.POLICY_VIOLATION, 'subscribers may not send messages'),
    closed: (sub) => {
      if (!this.subscriptions.delete(sub)) return;
      const { conn, cursor } = sub;
      const counters = this.counters;
      sub.cancelExpiry();
      const left = (this.perAddress.get(conn.remoteAddress) ?? 1) - 1;
      if (left > 0) this.perAddress.set(conn.remoteAddress, left);
      else this.perAddress.delete(conn.remoteAddress);
      cursor.stop();
      this.stoppedWhileParked = true;
      // Live cursors are summed at report time; a closed one hands its totals over once.
      counters.framesDelivered += cursor.framesWritten;
      counters.eventsDelivered += cursor.eventsWritten;
      counters.bytesDelivered += cursor.bytesWritten;
      if (sub.view !== null) this.views.release(sub.view);
      this.filters.release(sub.filter);
      counters.subscriptionsClosed++;
    },
  };
}

/** Creates and starts a gateway. */
export async function startGateway(options: GatewayOptions = {}): Promise<{ gateway: Gateway; host: string; port: number }> {
  const gateway = new Gateway(options);
  const address = await gateway.start();
  return { gateway, ...address };
}

/** Refuses (403) a subscription asking for more than its token may read. */
function checkRead(grant: Grant, request: SubscribeRequest): void {
  if (request.topics === null) {
    if (!grant.read.allowsEverything) throw new ForbiddenError('the token does not allow reading every topic: ask for topics it allows');
    return;
  }
  for (const { topic, key } of request.topics) {
    if (!grant.read.allowsRead(topic, key)) throw new ForbiddenError(`the token does not allow reading "${key === null ? topic : `${topic}:${key}`}"`);
  }
}
