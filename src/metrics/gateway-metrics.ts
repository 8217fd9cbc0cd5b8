/**
 * Prometheus metrics for the gateway (prom-client), named `fanwire_*`.
 *
 * Cost model: nothing here runs per event per subscriber.
 * - Counters and gauges are read from the gateway's own plain counters and
 *   state when /metrics is scraped (`render`), not incremented as things
 *   happen.
 * - Two histograms are observed once per cursor drain (`drained`), with a
 *   bucket search and a clock read that is shared by up to 64 drains in the
 *   same macrotask (so ~1 in 64 drains pays for `performance.now()`; the
 *   error is bounded by the time 64 drains take, tens of microseconds).
 * - Lag max, p99 and the top-10 laggards are computed at scrape time from
 *   every live cursor's position: O(subscribers log subscribers) per scrape.
 * No label ever names a subscriber: per-subscriber detail is served as JSON
 * by GET /v1/subscribers instead.
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { VERSION } from '../version.js';
import type { BufferItem, EventBuffer } from '../buffer/index.js';
import type { DrainObserver, LagCounters } from '../fanout/index.js';
import { BucketHistogram } from './bucket-histogram.js';

/** What the gateway reports at each scrape. */
export interface MetricsSnapshot {
  transport: string;
  subscribers: number;
  publishers: number;
  backpressured: number;
  subscriptionsOpened: number;
  subscriptionsClosed: number;
  eventsPublished: number;
  framesPublished: number;
  publishErrors: Readonly<Record<string, number>>;
  eventsDelivered: number;
  framesSent: number;
  bytesSent: number;
  dropped: Readonly<Record<string, number>>;
  evicted: Readonly<Record<'size' | 'ttl', number>>;
  /** snapshot=1: (topic, key) pairs the latest table holds, and those it forgot by cause. */
  snapshotKeys: number;
  snapshotForgotten: Readonly<Record<'keys' | 'ttl', number>>;
  /** Frames acked as duplicates of an idempotencyKey; keys remembered; keys forgotten early. */
  duplicates: number;
  dedupeKeys: number;
  dedupeEvicted: number;
  /** Refusals by limit (flag name). */
  limitRejections: Readonly<Record<string, number>>;
  /** WebSocket upgrades refused, by error code. */
  upgradesRefused: Readonly<Record<string, number>>;
  /** What lag=skip and lag=conflate cursors did instead of dropping. */
  lag: LagCounters;
  /** Events behind the newest item, one entry per live subscriber, any order. */
  lags: number[];
  /** Cluster mode only. */
  cluster?: ClusterMetricsSnapshot;
}

/** What cluster mode reports at each scrape (state of the shared log's connection and reader). */
export interface ClusterMetricsSnapshot {
  connected: boolean;
  lastSequence: number;
  publishErrors: number;
  reconnects: number;
  consumerRestarts: number;
}

export interface MetricsOptions {
  /** Topics that get their own `topic` label on the delivery latency histogram; others are "other". */
  latencyTopics?: readonly string[];
  /** Cluster mode: register the fanwire_cluster_* metrics. */
  cluster?: boolean;
}

/** Lag buckets: 0, then powers of two up to the largest sane buffer. */
const LAG_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];
/** 100 us to 10 s. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const TOP_LAGGARDS = 10;
/** prom-client's default metrics include three gauges named `*_total`, which `promtool check metrics` rejects (a `_total` suffix promises a counter); their unsuffixed twins stay. */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class GatewayMetrics implements DrainObserver<{ topic: string }> {
  readonly registry = new Registry();
  private readonly buffer: EventBuffer<any>;
  private readonly lag: BucketHistogram;
  private readonly latency: BucketHistogram;
  private readonly latencyByTopic: Map<string, ReturnType<BucketHistogram['child']>> | null;
  private readonly latencyOther: ReturnType<BucketHistogram['child']> | null;
  private readonly gauges: Record<string, Gauge>;
  private readonly counters: Record<string, Counter>;
  /** Cluster mode only; read from the snapshot at scrape, like the rest. */
  private readonly clusterMetrics: { connected: Gauge; sequence: Gauge; publishErrors: Counter; reconnects: Counter; restarts: Counter } | null;
  private clockValue = 0;
  private clockUses = 0;
  private clockFresh = false;

  constructor(buffer: EventBuffer<any>, options: MetricsOptions = {}) {
    this.buffer = buffer;
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    for (const name of MISNAMED_DEFAULTS) r.removeSingleMetric(name);

    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [r] });
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: [r] });
    this.gauges = {
      subscribers: gauge('fanwire_subscribers', 'Subscribers connected.', ['transport']),
      publishers: gauge('fanwire_publishers', 'Producers connected over WebSocket.', ['transport']),
      backpressured: gauge('fanwire_subscribers_backpressured', 'Subscribers whose socket is over --high-water-bytes (delivery paused).'),
      lagMax: gauge('fanwire_subscriber_lag_max_events', 'Largest number of events any subscriber is behind the newest item, at scrape time.'),
      lagP99: gauge('fanwire_subscriber_lag_p99_events', '99th percentile over subscribers of events behind the newest item, at scrape time.'),
      topLaggards: gauge('fanwire_top_laggard_lag_events', 'Events behind the newest item of the 10 furthest-behind subscribers, by rank (1 = furthest); see GET /v1/subscribers for who they are.', ['rank']),
      bufferItems: gauge('fanwire_buffer_items', 'Items held in the event buffer.'),
      oldest: gauge('fanwire_buffer_oldest_index', 'Index of the oldest item held (next index when empty).'),
      newest: gauge('fanwire_buffer_newest_index', 'Index of the newest item appended (0 before the first).'),
      retained: gauge('fanwire_buffer_retained_bytes', 'Bytes of the producer frames whose items the buffer holds.'),
      snapshotKeys: gauge('fanwire_snapshot_keys', 'snapshot=1: (topic, key) pairs the latest table holds with their newest event.'),
      dedupeKeys: gauge('fanwire_dedupe_keys', 'Idempotency keys remembered (embedded mode; cluster mode: JetStream remembers them).'),
      buildInfo: gauge('fanwire_build_info', 'Always 1; the labels say what runs: fanwire version, transport serving, Node version.', ['version', 'transport', 'node']),
    };
    this.counters = {
      opened: counter('fanwire_subscriptions_opened_total', 'Subscriptions opened.'),
      closed: counter('fanwire_subscriptions_closed_total', 'Subscriptions closed, for any reason.'),
      eventsPublished: counter('fanwire_events_published_total', 'Events appended.'),
      framesPublished: counter('fanwire_publish_frames_total', 'Producer frames appended (one item each).'),
      publishErrors: counter('fanwire_publish_errors_total', 'Producer frames rejected, by error code.', ['code']),
      eventsDelivered: counter('fanwire_events_delivered_total', 'Events written to subscriber sockets (one per subscriber that got it).'),
      framesSent: counter('fanwire_frames_sent_total', 'Events messages written to subscriber sockets.'),
      bytesSent: counter('fanwire_bytes_sent_total', 'Bytes of events messages written to subscriber sockets.'),
      dropped: counter('fanwire_subscribers_dropped_total', 'Subscribers closed by the gateway, by reason (lagged, backpressure: 4001; shutdown: 1001; error: 1011).', ['reason']),
      evictions: counter('fanwire_buffer_evictions_total', 'Items evicted from the buffer, by cause.', ['cause']),
      duplicates: counter('fanwire_publish_duplicates_total', 'Producer frames whose idempotencyKey was already appended: acked with the original index, not appended again.'),
      dedupeEvicted: counter('fanwire_dedupe_keys_evicted_total', 'Idempotency keys forgotten before --dedupe-window ended, past --dedupe-keys (a re-send of one would be appended again).'),
      snapshotForgotten: counter('fanwire_snapshot_keys_forgotten_total', 'snapshot=1: (topic, key) pairs the latest table forgot, by cause (keys: past --snapshot-keys; ttl: not updated within --snapshot-ttl).', ['cause']),
      limits: counter('fanwire_limit_rejections_total', 'Connections, frames or producers refused or cut by a limit, by limit flag.', ['limit']),
      refused: counter('fanwire_upgrades_refused_total', 'WebSocket upgrades refused, by error code (bad_query, unauthorized, forbidden, limit_exceeded, ...).', ['code']),
      lagOutcomes: counter(
        'fanwire_lag_outcomes_total',
        'What lag=skip and lag=conflate subscriptions did instead of being dropped, by policy and outcome (gap_evicted, gap_slow: gap messages sent; conflated: conflated messages sent; fallback_skip, fallback_drop: conflation could not keep up).',
        ['policy', 'outcome'],
      ),
      lagSkipped: counter('fanwire_lag_skipped_items_total', 'Items (indexes) covered by gap messages, by policy.', ['policy']),
      conflatedAway: counter('fanwire_lag_events_conflated_away_total', 'Events not sent because a newer event of their topic and key went in a conflated message.'),
    };
    this.clusterMetrics = options.cluster
      ? {
          connected: gauge('fanwire_cluster_connected', 'Cluster mode: 1 while connected to NATS (the shared log), else 0.'),
          sequence: gauge('fanwire_cluster_last_sequence', 'Cluster mode: last stream sequence appended to this node\'s buffer.'),
          publishErrors: counter('fanwire_cluster_publish_errors_total', 'Cluster mode: frames JetStream did not store (not connected, timeout, refused).'),
          reconnects: counter('fanwire_cluster_reconnects_total', 'Cluster mode: times the NATS connection was re-established.'),
          restarts: counter('fanwire_cluster_consumer_restarts_total', 'Cluster mode: times the stream reader was recreated (after reconnects or silence).'),
        }
      : null;
    this.lag = new BucketHistogram('fanwire_subscriber_lag_events', 'Events a subscriber was behind the newest item when its cursor woke to write, observed once per write.', LAG_BUCKETS);
    const topics = options.latencyTopics ?? [];
    this.latency = new BucketHistogram(
      'fanwire_delivery_latency_seconds',
      'Time from append to the socket write, for the oldest item of each write.',
      LATENCY_BUCKETS,
      topics.length > 0 ? 'topic' : null,
    );
    if (topics.length > 0) {
      this.latencyByTopic = new Map(topics.map((t) => [t, this.latency.child(t)]));
      this.latencyOther = this.latency.child('other');
    } else {
      this.latencyByTopic = null;
      this.latencyOther = null;
    }
    r.registerMetric(this.lag as never);
    r.registerMetric(this.latency as never);
  }
  /** Names what runs in `fanwire_build_info`; called once the transport is chosen. */
  setBuildInfo(transport: string): void {
    this.gauges.buildInfo!.reset();
    this.gauges.buildInfo!.set({ version: VERSION, transport, node: process.version }, 1);
  }


  /** Once per cursor drain that wrote something. */
  drained(first: BufferItem<{ topic: string }>): void {
    this.lag.observe(this.buffer.newestIndex - first.index + 1);
    const seconds = (this.now() - first.createdAt) / 1000;
    if (this.latencyByTopic === null) {
      this.latency.observe(seconds);
    } else {
      const topic = first.events?.[0]?.topic;
      this.latency.observe(seconds, (topic !== undefined ? this.latencyByTopic.get(topic) : undefined) ?? this.latencyOther!);
    }
  }

  /** A clock read shared by up to 64 callers within one macrotask. */
  private now(): number {
    if (!this.clockFresh || ++this.clockUses >= 64) {
      this.clockValue = performance.now();
      this.clockUses = 0;
      if (!this.clockFresh) {
        this.clockFresh = true;
        setImmediate(this.expireClock);
      }
    }
    return this.clockValue;
  }

  private readonly expireClock = (): void => {
    this.clockFresh = false;
  };

  /** The text exposition of every metric, from a fresh snapshot. */
  async render(snapshot: MetricsSnapshot): Promise<string> {
    const g = this.gauges;
    const c = this.counters;
    g.subscribers!.reset();
    g.subscribers!.set({ transport: snapshot.transport }, snapshot.subscribers);
    g.publishers!.reset();
    g.publishers!.set({ transport: snapshot.transport }, snapshot.publishers);
    g.backpressured!.set(snapshot.backpressured);

    const lags = snapshot.lags.sort((a, b) => b - a);
    g.lagMax!.set(lags[0] ?? 0);
    g.lagP99!.set(lags.length === 0 ? 0 : lags[Math.floor(lags.length * 0.01)]!);
    for (let rank = 1; rank <= TOP_LAGGARDS; rank++) g.topLaggards!.set({ rank: String(rank) }, lags[rank - 1] ?? 0);

    const buffer = this.buffer;
    g.bufferItems!.set(buffer.length);
    g.oldest!.set(buffer.oldestIndex);
    g.newest!.set(buffer.newestIndex);
    g.retained!.set(buffer.retainedBytes);
    g.snapshotKeys!.set(snapshot.snapshotKeys);
    g.dedupeKeys!.set(snapshot.dedupeKeys);
    setCounter(c.duplicates!, snapshot.duplicates);
    setCounter(c.dedupeEvicted!, snapshot.dedupeEvicted);

    setCounter(c.opened!, snapshot.subscriptionsOpened);
    setCounter(c.closed!, snapshot.subscriptionsClosed);
    setCounter(c.eventsPublished!, snapshot.eventsPublished);
    setCounter(c.framesPublished!, snapshot.framesPublished);
    setCounter(c.eventsDelivered!, snapshot.eventsDelivered);
    setCounter(c.framesSent!, snapshot.framesSent);
    setCounter(c.bytesSent!, snapshot.bytesSent);
    setLabelled(c.publishErrors!, 'code', snapshot.publishErrors);
    setLabelled(c.dropped!, 'reason', snapshot.dropped);
    setLabelled(c.evictions!, 'cause', snapshot.evicted);
    setLabelled(c.snapshotForgotten!, 'cause', snapshot.snapshotForgotten);
    setLabelled(c.limits!, 'limit', snapshot.limitRejections);
    setLabelled(c.refused!, 'code', snapshot.upgradesRefused);
    const cm = this.clusterMetrics;
    if (cm !== null && snapshot.cluster !== undefined) {
      cm.connected.set(snapshot.cluster.connected ? 1 : 0);
      cm.sequence.set(snapshot.cluster.lastSequence);
      setCounter(cm.publishErrors, snapshot.cluster.publishErrors);
      setCounter(cm.reconnects, snapshot.cluster.reconnects);
      setCounter(cm.restarts, snapshot.cluster.consumerRestarts);
    }
    const lag = snapshot.lag;
    c.lagOutcomes!.reset();
    for (const [policy, outcomes] of Object.entries(lag.outcomes)) {
      for (const [outcome, value] of Object.entries(outcomes)) c.lagOutcomes!.inc({ policy, outcome }, value);
    }
    setLabelled(c.lagSkipped!, 'policy', lag.skippedItems);
    setCounter(c.conflatedAway!, lag.eventsConflatedAway);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Counters mirror totals the gateway already keeps; they only ever grow, so setting them keeps counter semantics. */
function setCounter(counter: Counter, value: number): void {
  counter.reset();
  if (value > 0) counter.inc(value);
  else counter.inc(0);
}

function setLabelled(counter: Counter, label: string, values: Readonly<Record<string, number>>): void {
  counter.reset();
  for (const [key, value] of Object.entries(values)) counter.inc({ [label]: key }, value);
}
