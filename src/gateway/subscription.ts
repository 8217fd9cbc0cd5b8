/**
 * A live subscription as the gateway tracks it, and the row it becomes in
 * GET /v1/subscribers.
 */
import type { Event, Format, LagPolicy } from '../protocol/index.js';
import type { Cursor, Filter } from '../fanout/index.js';
import type { Connection } from '../transport/index.js';

export interface Subscription {
  id: number;
  conn: Connection;
  format: Format;
  lag: LagPolicy;
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
  lag: LagPolicy;
  /** lag=conflate, behind: sending conflated messages until caught up. */
  conflating: boolean;
  connectedSince: string;
  transport: string;
}
