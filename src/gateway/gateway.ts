/**
 * The gateway: the composition root of the service of docs/protocol.md. It
 * builds the pieces (buffer, counters, admission, the subscriber and
 * producer registries, the publish path, the wire messages of the chosen
 * transport), joins the cluster when asked, starts serving, and stops
 * gracefully. Everything per event lives in the layers below; the pieces
 * here run per connection, per frame or per timer tick, and this file only
 * hands the transport's callbacks to them and answers for them as one
 * public object (stats, readiness, metrics).
 */
import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import type { Grant } from '../auth/index.js';
import { EventBuffer } from '../buffer/index.js';
import { isFanwireError, ShuttingDownError } from '../errors.js';
import { LatestTable, ViewRegistry } from '../fanout/index.js';
import { GatewayMetrics } from '../metrics/index.js';
import type { Event, PublisherReply } from '../protocol/index.js';
import { selectTransport, TrustedProxies, type HttpReply, type HttpRequest, type Transport, type TransportHandlers } from '../transport/index.js';
import { Admission, type UpgradeContext } from './admission.js';
import { ClusterNode } from './cluster-node.js';
import { DedupeTable } from './dedupe-table.js';
import { configProblem, DEFAULT_CONFIG, SUBSCRIBER_MAX_PAYLOAD, type GatewayConfig } from './config.js';
import { GatewayCounters } from './counters.js';
import { errorReply, operatorRefusal, routeHttp } from './http-routes.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { ProducerRegistry } from './producer-registry.js';
import { PublishPath } from './publish-path.js';
import { laggards, metricsSnapshot, statsReport } from './reports.js';
import { ServingState } from './serving-state.js';
import { SubscriberRegistry } from './subscriber-registry.js';
import type { SubscriberReport } from './subscription.js';
import { UpgradeStorm } from './upgrade-storm.js';
import { WireMessages } from './wire-messages.js';

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

/** What a refused connection does with its peer's messages and its close: nothing. */
const REFUSED_HANDLERS = { message: (): void => {}, close: (): void => {} };

/** Binding beyond loopback with auth off was not explicitly allowed (--insecure). */
export class InsecureBindError extends Error {
  override name = 'InsecureBindError';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\./.test(host);
}

export type { SubscriberReport } from './subscription.js';

export class Gateway {
  readonly config: Readonly<GatewayConfig>;
  readonly buffer: EventBuffer<Event>;
  /** snapshot=1: the newest event per (topic, key), fed by every append. */
  readonly latest: LatestTable<Event>;
  readonly counters = new GatewayCounters();
  readonly logger: Logger;
  /** Which transport serves, and why; set by `start()`. */
  transportName = 'none';
  transportReason = '';
  /** Prometheus metrics; null with `metrics: false`. */
  readonly metrics: GatewayMetrics | null;
  /** Where producer frames go, from WebSocket producers and POST /v1/publish alike. */
  readonly publishPath: PublishPath;
  private readonly state = new ServingState();
  private readonly storm = new UpgradeStorm();
  private readonly subscribers: SubscriberRegistry;
  private readonly admission: Admission;
  private readonly producers: ProducerRegistry;
  private transport: Transport | null = null;
  private clusterNode: ClusterNode | null = null;
  private readonly onFatal: ((err: Error) => void) | null;
  private metricsServer: MetricsServer | null = null;
  private stopping: Promise<void> | null = null;

  constructor(options: GatewayOptions = {}) {
    const { logger, onFatal, ...config } = options;
    this.config = { ...DEFAULT_CONFIG, ...config };
    this.onFatal = onFatal ?? null;
    const problem = configProblem(this.config);
    if (problem !== null) throw new RangeError(problem);
    this.logger = logger ?? pino({ level: 'silent' });
    const views = new ViewRegistry<Event>();
    const latest = new LatestTable<Event>({
      maxKeys: this.config.snapshotKeys,
      ttlMs: this.config.snapshotTtlMs,
      onForget: (cause, count) => this.counters.snapshotKeysForgotten(cause, count),
    });
    this.latest = latest;
    const clustered = this.config.cluster !== null;
    this.buffer = new EventBuffer<Event>({
      maxSize: this.config.bufferSize,
      maxItemTtlMs: this.config.bufferTtlMs,
      // Sub-millisecond stamps: delivery latency is measured from them.
      now: () => performance.now(),
      onEvict: (cause, count) => this.counters.evicted(cause, count),
      onAppend: clustered
        ? (item) => views.onAppend(item) // ClusterNode feeds the table, with JetStream's timestamps
        : (item) => {
            views.onAppend(item);
            latest.record(item);
          },
      settleTurns: this.config.wakeSettle,
      sweepBudget: this.storm.sweepBudget,
    });
    views.attach(this.buffer);
    this.metrics = this.config.metrics
      ? new GatewayMetrics(this.buffer, { latencyTopics: this.config.metricsTopics, cluster: this.config.cluster !== null })
      : null;
    this.subscribers = new SubscriberRegistry(this.config, this.buffer, views, this.counters, this.state, this.metrics, this.logger);
    this.admission = new Admission(this.config, this.state, this.counters, this.buffer, this.subscribers);
    const dedupe = new DedupeTable({ windowMs: this.config.dedupeWindowMs, maxKeys: this.config.dedupeKeys, onEvict: (n) => (this.counters.dedupeEvicted += n) });
    this.publishPath = new PublishPath(this.buffer, this.counters, this.state, this.config.maxBatchEvents, dedupe);
    this.producers = new ProducerRegistry(this.config, this.counters, this.publishPath, this.logger);
  }

  /**
   * Names the buffer's lifetime (docs/protocol.md). Embedded: random per
   * process. Cluster: derived from the stream, the same on every node.
   */
  get epoch(): string {
    return this.state.epoch;
  }

  /** Cluster mode's link to the shared log (set by start); null in embedded mode. */
  get cluster(): ClusterNode | null {
    return this.clusterNode;
  }

  /** Port of the separate metrics listener (`--metrics-port`), once started. */
  get metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
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
    // A JWKS URL is fetched here, before the port is bound: a node that cannot get its keys fails to start rather than come up ready and refuse every token.
    const authOn = await this.admission.loadKeys(this.logger);
    if (!authOn && !isLoopback(config.host) && !config.insecure) {
      throw new InsecureBindError(
        `refusing to listen on ${config.host} without authentication: configure --auth-secret, --auth-public-key, --auth-jwks or --auth-jwks-url, or pass --insecure`,
      );
    }
    const selection = await selectTransport(config.transport);
    if (config.cluster !== null) {
      try {
        this.clusterNode = await ClusterNode.start(config, this.buffer, this.logger, (detail) => this.fail(new Error(`cluster: ${detail}`)), this.latest);
      } catch (err) {
        throw new Error(`cluster mode: ${(err as Error).message}`, { cause: err });
      }
      this.state.epoch = this.clusterNode.epoch;
      this.publishPath.useCluster(this.clusterNode);
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
      trustedProxies: config.trustProxy.length > 0 ? new TrustedProxies(config.trustProxy) : null,
    });
    this.transport = transport;
    this.transportName = selection.name;
    this.transportReason = selection.reason;
    this.metrics?.setBuildInfo(selection.name);
    this.subscribers.serve(new WireMessages(transport.framer), this.latest);
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
    this.state.begin();
    this.subscribers.startHeartbeats();
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
    this.state.drain();
    this.transport?.stopAccepting();
    this.subscribers.stopHeartbeats();
    // Readiness already says 503; subscribers leave gradually, producers stay until the end.
    if (this.config.drainWindowMs > 0) await this.subscribers.closeSpread(this.config.drainWindowMs);
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    if (this.cluster !== null) {
      // Producers get the replies they are owed, and subscribers here every
      // item this node acked, before anyone is closed.
      while ((this.publishPath.inFlight > 0 || this.producers.owed) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await this.cluster.caughtUpWithAcks(deadline);
      await this.cluster.stopFollowing();
    }
    // Every cursor reaches this error item and closes its subscriber with 1001.
    this.buffer.appendError(new ShuttingDownError());
    this.producers.closeAll();
    while ((this.subscribers.size > 0 || this.producers.size > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.subscribers.size > 0 || this.producers.size > 0) {
      // Owed: what sits unsent in their sockets, and the items their cursors had not written yet.
      let bufferedBytes = 0;
      let itemsBehind = 0;
      for (const sub of this.subscribers.live) {
        bufferedBytes += sub.conn.bufferedAmount();
        itemsBehind += Math.max(0, this.buffer.newestIndex - sub.cursor.lastIndex);
      }
      this.logger.warn(
        { subscribers: this.subscribers.size, producers: this.producers.size, bufferedBytes, itemsBehind, shutdownTimeoutMs: this.config.shutdownTimeoutMs },
        'shutdown timeout: cutting the connections still open',
      );
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
    return this.state.accepting;
  }

  /** What GET /readyz reports: not ready while stopping, or in cluster mode while the shared log is unreachable. */
  get readyStatus(): ReadyStatus {
    if (!this.state.accepting) return 'shutting_down';
    if (this.cluster !== null && !this.cluster.connected) return 'cluster_unavailable';
    return 'ready';
  }

  /** One producer frame, as a WebSocket producer's or POST /v1/publish's: see PublishPath.publish. */
  publish(data: Uint8Array, binary: boolean, grant: Grant | null): PublisherReply | Promise<PublisherReply> {
    return this.publishPath.publish(data, binary, grant);
  }

  /**
   * The token of a request, verified; null when auth is off. Throws
   * UnauthorizedError (401) for a missing or invalid one.
   */
  authorize(req: Pick<HttpRequest, 'header' | 'query'>): Promise<Grant | null> {
    return this.admission.authorize(req);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  stats(): Record<string, unknown> {
    return statsReport({
      epoch: this.epoch,
      transport: this.transportName,
      startedAt: this.state.startedAt,
      ready: this.state.accepting,
      cluster: this.cluster?.stats() ?? null,
      buffer: this.buffer,
      counters: this.counters,
      subscriptions: this.subscribers.live,
      publishers: this.producers.size,
      filters: this.subscribers.filters.size,
      encodes: this.subscribers.encodes,
      snapshotKeys: this.latest.size,
      snapshotsBuilt: this.subscribers.snapshotsBuilt,
      dedupeKeys: this.publishPath.dedupeKeys,
    });
  }

  renderMetrics(): Promise<HttpReply> {
    const metrics = this.metrics!;
    const snapshot = metricsSnapshot(this.subscribers.live, this.counters, this.buffer.newestIndex, {
      transport: this.transportName,
      publishers: this.producers.size,
      snapshotKeys: this.latest.size,
      dedupeKeys: this.publishPath.dedupeKeys,
    });
    if (this.cluster !== null) snapshot.cluster = this.cluster.stats();
    return metrics.render(snapshot).then((body) => ({ status: 200, headers: { 'content-type': metrics.contentType }, body }));
  }

  /** The subscribers furthest behind, for GET /v1/subscribers. */
  laggards(limit: number): SubscriberReport[] {
    return laggards(this.subscribers.live, this.buffer.newestIndex, this.transportName, limit);
  }

  private handlers(): TransportHandlers<UpgradeContext> {
    return {
      request: (req) => routeHttp(this, req),
      upgrade: (req) => {
        this.storm.upgradeArrived();
        return this.admission.decide(req);
      },
      open: (conn, context) => {
        if (context.kind === 'publisher') return this.producers.open(conn, context.grant);
        if (context.kind === 'subscriber') return this.subscribers.open(conn, context.plan, context.request, context.grant);
        conn.close(context.close.code, context.close.reason); // nothing before the close frame
        return REFUSED_HANDLERS;
      },
      timedOut: (kind) => this.counters.limitReached(`${kind}-timeout`),
    };
  }
}

/** Creates and starts a gateway. */
export async function startGateway(options: GatewayOptions = {}): Promise<{ gateway: Gateway; host: string; port: number }> {
  const gateway = new Gateway(options);
  const address = await gateway.start();
  return { gateway, ...address };
}
