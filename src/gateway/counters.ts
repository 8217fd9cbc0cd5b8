/**
 * The gateway's plain counters, read by `GET /v1/stats`, /metrics and tests,
 * and the one place they are bumped. Each method names what happened, so
 * call sites read as events ("an upgrade was refused") rather than as
 * arithmetic on a record keyed by a string.
 *
 * Updated per frame, per connection or per state change, never per event per
 * subscriber: deliveries are counted on each cursor and handed over here once,
 * when its subscription closes. The fields stay public and plain, in the
 * shapes reports.ts and the metrics read.
 */
import type { EvictionCause } from '../buffer/index.js';
import type { DropCause } from '../errors.js';
import { LagCounters } from '../fanout/index.js';

/** Why the gateway closed a subscriber: a laggard (4001), shutdown (1001), or a gateway error (1011). */
export type DropReason = DropCause | 'shutdown' | 'error';

/** What a closed subscription's cursor wrote (a Cursor is one). */
export interface Deliveries {
  readonly framesWritten: number;
  readonly eventsWritten: number;
  readonly bytesWritten: number;
}

export class GatewayCounters {
  eventsPublished = 0;
  framesPublished = 0;
  /** Rejected producer frames by error code. */
  readonly publishErrors: Record<string, number> = {};
  /** Deliveries of subscriptions that have closed; live ones are summed from their cursors. */
  framesDelivered = 0;
  eventsDelivered = 0;
  bytesDelivered = 0;
  subscriptionsOpened = 0;
  subscriptionsClosed = 0;
  /** Frames whose idempotencyKey was already appended: answered with the original index, not appended. */
  duplicates = 0;
  /** Idempotency keys forgotten before their window ended (past --dedupe-keys). */
  dedupeEvicted = 0;
  /** (topic, key) pairs the latest table forgot, by cause. */
  readonly snapshotForgotten = { keys: 0, ttl: 0 };
  evictedSize = 0;
  evictedTtl = 0;
  readonly dropped: Record<DropReason, number> = { lagged: 0, backpressure: 0, shutdown: 0, error: 0 };
  /** What lag=skip and lag=conflate cursors did instead of dropping (bumped by the cursors, per occurrence). */
  readonly lag = new LagCounters();
  /** Connections or frames refused by a limit, by limit (flag name). */
  readonly limitRejections: Record<string, number> = {};
  /** WebSocket upgrades refused, by error code (bad_query, unauthorized, forbidden, limit_exceeded, ...). */
  readonly upgradesRefused: Record<string, number> = {};

  get publishErrorsTotal(): number {
    let n = 0;
    for (const v of Object.values(this.publishErrors)) n += v;
    return n;
  }

  /** A producer frame of `events` events was appended (or, in cluster mode, acked). */
  published(events: number): void {
    this.framesPublished++;
    this.eventsPublished += events;
  }

  /** A frame's idempotencyKey was already appended: acked as a duplicate. */
  duplicate(): void {
    this.duplicates++;
  }

  /** A producer frame was answered with the error `code`. */
  publishRefused(code: string): void {
    bump(this.publishErrors, code);
  }

  /** A connection or frame was refused by `limit` (the flag's name, or `handshake-timeout`/`idle-timeout`). */
  limitReached(limit: string): void {
    bump(this.limitRejections, limit);
  }

  /** A WebSocket upgrade was refused with the error `code`. */
  upgradeRefused(code: string): void {
    bump(this.upgradesRefused, code);
  }

  /** snapshot=1's latest table forgot `count` (topic, key) pairs: past --snapshot-keys, or not updated within --snapshot-ttl. */
  snapshotKeysForgotten(cause: 'keys' | 'ttl', count: number): void {
    this.snapshotForgotten[cause] += count;
  }

  /** The buffer evicted `count` items, for its size or their age. */
  evicted(cause: EvictionCause, count: number): void {
    if (cause === 'size') this.evictedSize += count;
    else this.evictedTtl += count;
  }

  subscriptionOpened(): void {
    this.subscriptionsOpened++;
  }

  /** The gateway closed a subscriber (4001, 1001 or 1011). */
  subscriberDropped(reason: DropReason): void {
    this.dropped[reason]++;
  }

  /** A subscription closed: its cursor's deliveries move from the live sums to the totals, once. */
  subscriptionClosed(cursor: Deliveries): void {
    this.framesDelivered += cursor.framesWritten;
    this.eventsDelivered += cursor.eventsWritten;
    this.bytesDelivered += cursor.bytesWritten;
    this.subscriptionsClosed++;
  }
}

/** The one place the count-by-key idiom is written. */
function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
