/**
 * Plain counters the gateway keeps, read by `GET /v1/stats` and tests.
 * Updated per frame, per drain or per state change, never per event per
 * subscriber. (Prometheus export builds on these in metrics/.)
 */
import type { DropCause } from '../errors.js';

export class GatewayCounters {
  eventsPublished = 0;
  framesPublished = 0;
  publishErrors = 0;
  framesDelivered = 0;
  bytesDelivered = 0;
  subscriptionsOpened = 0;
  subscriptionsClosed = 0;
  evictedSize = 0;
  evictedTtl = 0;
  readonly dropped: Record<DropCause, number> = { lagged: 0, backpressure: 0 };
}
