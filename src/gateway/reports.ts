/**
 * Reports over the live subscriptions, computed when someone asks (a scrape,
 * GET /v1/stats, GET /v1/subscribers): O(subscribers) then, nothing per
 * event. Live cursors count their own deliveries; closed ones have handed
 * theirs to the gateway's counters (counters.ts).
 */
import { performance } from 'node:perf_hooks';
import type { EventBuffer } from '../buffer/index.js';
import type { MetricsSnapshot } from '../metrics/index.js';
import type { Event } from '../protocol/index.js';
import type { ClusterStats } from './cluster-node.js';
import type { GatewayCounters } from './counters.js';
import type { SubscriberReport, Subscription } from './subscription.js';

/** Subscribers whose cursor waits for their socket to drain. */
export function countBackpressured(subscriptions: Iterable<Subscription>): number {
  let n = 0;
  for (const sub of subscriptions) if (sub.cursor.backpressured) n++;
  return n;
}

/** What live cursors wrote so far. */
export function liveTotals(subscriptions: Iterable<Subscription>): { frames: number; events: number; bytes: number } {
  let frames = 0;
  let events = 0;
  let bytes = 0;
  for (const { cursor } of subscriptions) {
    frames += cursor.framesWritten;
    events += cursor.eventsWritten;
    bytes += cursor.bytesWritten;
  }
  return { frames, events, bytes };
}

/** What lag=skip and lag=conflate did, for GET /v1/stats. */
export function lagTotals(c: GatewayCounters): Record<string, unknown> {
  const { outcomes, skippedItems, eventsConflatedAway } = c.lag;
  return { skip: { ...outcomes.skip, skippedItems: skippedItems.skip }, conflate: { ...outcomes.conflate, skippedItems: skippedItems.conflate, eventsConflatedAway } };
}

/** What GET /v1/stats reports from. */
export interface StatsSources {
  epoch: string;
  transport: string;
  startedAt: number;
  ready: boolean;
  /** Cluster mode only. */
  cluster: ClusterStats | null;
  buffer: EventBuffer<Event>;
  counters: GatewayCounters;
  subscriptions: ReadonlySet<Subscription>;
  publishers: number;
  filters: number;
  encodes: number;
  /** snapshot=1: pairs the latest table holds, snapshots built (once per filter, format and point). */
  snapshotKeys: number;
  snapshotsBuilt: number;
  /** Idempotency keys remembered now (embedded mode). */
  dedupeKeys: number;
}

/** Everything GET /v1/stats reports. */
export function statsReport(s: StatsSources): Record<string, unknown> {
  const { buffer, counters: c, subscriptions } = s;
  const live = liveTotals(subscriptions);
  return {
    epoch: s.epoch,
    transport: s.transport,
    uptimeSeconds: Math.round((Date.now() - s.startedAt) / 1000),
    ready: s.ready,
    ...(s.cluster !== null ? { cluster: s.cluster } : {}),
    buffer: {
      items: buffer.length,
      maxItems: buffer.maxSize,
      oldestIndex: buffer.oldestIndex,
      newestIndex: buffer.newestIndex,
      evicted: { size: c.evictedSize, ttl: c.evictedTtl },
    },
    subscribers: subscriptions.size,
    backpressured: countBackpressured(subscriptions),
    lagMax: lagMax(subscriptions, buffer.newestIndex),
    publishers: s.publishers,
    filters: s.filters,
    encodes: s.encodes,
    snapshot: { keys: s.snapshotKeys, built: s.snapshotsBuilt, forgotten: { ...c.snapshotForgotten } },
    dedupe: { keys: s.dedupeKeys, duplicates: c.duplicates, evicted: c.dedupeEvicted },
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

/** Everything /metrics reports. */
export function metricsSnapshot(
  subscriptions: ReadonlySet<Subscription>,
  c: GatewayCounters,
  newestIndex: number,
  extra: { transport: string; publishers: number; snapshotKeys: number; dedupeKeys: number },
): MetricsSnapshot {
  const live = liveTotals(subscriptions);
  const lags: number[] = [];
  for (const { cursor } of subscriptions) lags.push(newestIndex - cursor.lastIndex);
  return {
    transport: extra.transport,
    subscribers: subscriptions.size,
    publishers: extra.publishers,
    backpressured: countBackpressured(subscriptions),
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
    snapshotKeys: extra.snapshotKeys,
    snapshotForgotten: c.snapshotForgotten,
    duplicates: c.duplicates,
    dedupeKeys: extra.dedupeKeys,
    dedupeEvicted: c.dedupeEvicted,
    limitRejections: c.limitRejections,
    upgradesRefused: c.upgradesRefused,
    lag: c.lag,
    lags,
  };
}

/** How far behind the furthest-behind subscriber is: a plain pass, no report rows (GET /v1/stats runs it). */
export function lagMax(subscriptions: Iterable<Subscription>, newestIndex: number): number {
  let max = 0;
  for (const { cursor } of subscriptions) {
    const lag = newestIndex - cursor.lastIndex;
    if (lag > max) max = lag;
  }
  return max;
}

/**
 * The subscribers furthest behind: what no Prometheus label may carry (one
 * series per subscriber would explode), served as JSON instead.
 */
export function laggards(subscriptions: Iterable<Subscription>, newestIndex: number, transport: string, limit: number): SubscriberReport[] {
  const now = performance.now();
  // Rank on two numbers per subscriber; build the full row only for those returned.
  const ranked: Array<{ sub: Subscription; lagEvents: number; lagSeconds: number }> = [];
  for (const sub of subscriptions) {
    const next = sub.cursor.nextItem;
    ranked.push({ sub, lagEvents: newestIndex - sub.cursor.lastIndex, lagSeconds: next === null ? 0 : Math.max(0, (now - next.createdAt) / 1000) });
  }
  ranked.sort((a, b) => b.lagEvents - a.lagEvents || b.lagSeconds - a.lagSeconds);
  return ranked.slice(0, limit).map(({ sub, lagEvents, lagSeconds }) => ({
    id: sub.id,
    remoteAddress: sub.conn.remoteAddress,
    topics: sub.filter.selectors,
    format: sub.format,
    nextIndex: sub.cursor.lastIndex + 1,
    lagEvents,
    lagSeconds,
    bufferedBytes: sub.conn.closed ? 0 : sub.conn.bufferedAmount(),
    backpressured: sub.cursor.backpressured,
    lag: sub.lag,
    conflating: sub.cursor.conflating,
    connectedSince: new Date(sub.connectedAt).toISOString(),
    transport,
  }));
}
