/**
 * A live subscription as the gateway tracks it, and the row it becomes in
 * GET /v1/subscribers.
 *
 * One object per subscriber, and no closures: it is the connection's
 * handlers and the cursor's owner itself, and reaches the gateway through
 * one host shared by every subscription. An idle subscriber's memory is
 * this, its cursor and its connection.
 */
import type { CursorEnd, CursorOwner, Cursor, FilteredView, Filter } from '../fanout/index.js';
import type { Event, Format, LagPolicy } from '../protocol/index.js';
import type { Connection, ConnectionHandlers } from '../transport/index.js';

/** The gateway's side of every subscription. */
export interface SubscriptionHost {
  /** The cursor ended (dropped, error, or closed): close the connection if it is still open. */
  ended(sub: Subscription, end: CursorEnd): void;
  /** The subscriber sent a data message, which the protocol does not allow. */
  spoke(sub: Subscription): void;
  /** The connection closed: let go of everything the subscription holds. */
  closed(sub: Subscription): void;
}

export class Subscription implements ConnectionHandlers, CursorOwner {
  readonly id: number;
  readonly conn: Connection;
  readonly format: Format;
  readonly lag: LagPolicy;
  readonly cursor: Cursor<Event>;
  readonly filter: Filter;
  /** The filter's view, or null for a subscriber of everything. */
  readonly view: FilteredView<Event> | null;
  readonly connectedAt: number;
  /** Frames written as of the last heartbeat tick: a subscriber written to since needs no heartbeat. */
  heartbeatMark = 0;
  /** Cancels the token-expiry timer (a shared no-op without one). */
  readonly cancelExpiry: () => void;
  private readonly host: SubscriptionHost;

  constructor(
    id: number,
    conn: Connection,
    format: Format,
    lag: LagPolicy,
    cursor: Cursor<Event>,
    filter: Filter,
    view: FilteredView<Event> | null,
    cancelExpiry: () => void,
    host: SubscriptionHost,
  ) {
    this.id = id;
    this.conn = conn;
    this.format = format;
    this.lag = lag;
    this.cursor = cursor;
    this.filter = filter;
    this.view = view;
    this.connectedAt = Date.now();
    this.cancelExpiry = cancelExpiry;
    this.host = host;
  }

  cursorEnded(end: CursorEnd): void {
    this.host.ended(this, end);
  }

  message(): void {
    this.host.spoke(this);
  }

  close(): void {
    this.host.closed(this);
  }
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
