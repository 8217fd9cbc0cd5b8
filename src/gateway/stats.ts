/**
 * Plain counters the gateway keeps, read by `GET /v1/stats`, /metrics and
 * tests. Updated per frame or per state change, never per event per
 * subscriber (deliveries are counted on each cursor and summed when read).
 */
import type { DropCause } from '../errors.js';
import { LagCounters } from '../fanout/index.js';

/** Why the gateway closed a subscriber: a laggard (4001), shutdown (1001), or a gateway error (1011). */
export type DropReason = DropCause | 'shutdown' | 'error';

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
}
