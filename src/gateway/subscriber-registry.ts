/**
 * The live subscriptions. Opening one (filter, view, cursor, hello), the
 * counts the connection limits read (total, per remote address), how each
 * ends (its close frame, the drop counts), letting go of everything a closed
 * one held, and the heartbeat tick.
 *
 * Every subscription reaches back here through this one object (it is their
 * SubscriptionHost), so a subscriber carries no closures. Nothing here runs
 * per event: cursors deliver on their own and count their own deliveries.
 */
import type { Logger } from 'pino';
import type { Grant } from '../auth/index.js';
import type { EventBuffer } from '../buffer/index.js';
import { DroppedError, PolicyViolationError, ShuttingDownError } from '../errors.js';
import { Cursor, FilterRegistry, type CursorEnd, type FilteredView, type FrameCache, type LatestTable, type Prepared, type Snapshots, type ViewRegistry } from '../fanout/index.js';
import type { GatewayMetrics } from '../metrics/index.js';
import { closeOf, type CloseFrame, type Event, type SubscribeRequest } from '../protocol/index.js';
import type { Connection, ConnectionHandlers } from '../transport/index.js';
import type { StartPlan } from './admission.js';
import type { GatewayConfig } from './config.js';
import type { GatewayCounters } from './counters.js';
import { LagPolicies } from './lag-policies.js';
import type { ServingState } from './serving-state.js';
import { deliverSnapshot } from './snapshot-delivery.js';
import { Subscription, type SubscriptionHost } from './subscription.js';
import { expireWith } from './token-expiry.js';
import { ENCODING, type WireMessages } from './wire-messages.js';

export class SubscriberRegistry implements SubscriptionHost {
  readonly filters = new FilterRegistry();
  private readonly subscriptions = new Set<Subscription>();
  /** Open subscriptions per remote address, for --max-subscribers-per-address. */
  private readonly perAddress = new Map<string, number>();
  private nextId = 1;
  private readonly config: Readonly<GatewayConfig>;
  private readonly buffer: EventBuffer<Event>;
  /** One chain per filter in use (other than "everything"): a filtered subscriber walks only its own items. */
  private readonly views: ViewRegistry<Event>;
  private readonly counters: GatewayCounters;
  private readonly state: ServingState;
  private readonly metrics: GatewayMetrics | null;
  private readonly logger: Logger;
  /** The transport's messages and the frame cache over them; set by `serve`. */
  private messages!: WireMessages;
  private frames!: FrameCache<Event>;
  /** snapshot=1: the latest table's snapshots in this transport's messages; set by `serve`. */
  private snapshots!: Snapshots<Event>;
  /** Settings for lag=skip and lag=conflate cursors; made with the first such subscriber. */
  private lagPolicies: LagPolicies | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** A cursor stopped since the last tick, perhaps while parked on a chain's shared promise. */
  private stoppedWhileParked = false;

  constructor(
    config: Readonly<GatewayConfig>,
    buffer: EventBuffer<Event>,
    views: ViewRegistry<Event>,
    counters: GatewayCounters,
    state: ServingState,
    metrics: GatewayMetrics | null,
    logger: Logger,
  ) {
    this.config = config;
    this.buffer = buffer;
    this.views = views;
    this.counters = counters;
    this.state = state;
    this.metrics = metrics;
    this.logger = logger;
  }

  /** Takes the serving transport's messages, and builds the frame cache over them. */
  serve(messages: WireMessages, latest: LatestTable<Event>): void {
    this.messages = messages;
    this.frames = messages.frameCache();
    this.latest = latest;
    this.snapshots = messages.snapshots(latest, this.config.batchBytes);
  }

  private latest!: LatestTable<Event>;

  /** Snapshots built so far (GET /v1/stats): once per filter, format and snapshot point, not per subscriber. */
  get snapshotsBuilt(): number {
    return this.snapshots?.builds ?? 0;
  }

  startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.config.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  stopHeartbeats(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
  }

  /** The live subscriptions, for reports. */
  get live(): ReadonlySet<Subscription> {
    return this.subscriptions;
  }

  get size(): number {
    return this.subscriptions.size;
  }

  /** Open subscriptions from `address`. */
  countAt(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /** Events messages encoded so far (GET /v1/stats). */
  get encodes(): number {
    return this.frames?.encodes ?? 0;
  }

  /** Opens an admitted subscriber on its connection: hello first, then its cursor starts. */
  open(conn: Connection, plan: StartPlan, request: SubscribeRequest, grant: Grant | null): ConnectionHandlers {
    const { format } = request;
    const { config, counters } = this;
    const filter = this.filters.acquire(request.topics);
    let snapshot: readonly Prepared[] | null = null;
    if (plan.snapshot) {
      // The snapshot point is taken now, with the snapshot: every key's
      // newest event below it is in the snapshot, everything from it on is
      // in the stream, and nothing runs in between.
      plan = { ...plan, start: this.buffer.tailItem(), startAt: 0, index: this.buffer.newestIndex + 1 };
      this.latest.expire(performance.now());
      snapshot = this.snapshots.messages(filter, ENCODING[format], plan.index);
    }
    conn.sendPrepared(this.messages.hello(format, this.state.epoch, plan.index, plan.gap, config.heartbeatMs));
    const view: FilteredView<Event> | null = filter.matchesAll ? null : this.views.acquire(filter);
    const cursor = new Cursor<Event>(view === null ? plan.start : view.positionOf(plan.start), filter, ENCODING[format], this.frames, conn, {
      highWaterBytes: config.highWaterBytes,
      dropAfterBytes: config.dropAfterBytes,
      batchBytes: config.batchBytes,
      startAt: plan.startAt,
      observer: this.metrics,
      lag: request.lag === 'drop' ? null : (this.lagPolicies ??= new LagPolicies(config, counters.lag, this.messages)).optionsFor(request),
      chain: view ?? this.buffer,
      batchMessages: request.batch,
    });
    const sub = new Subscription(this.nextId++, conn, format, request.lag, cursor, filter, view, expireWith(conn, grant), this);
    this.subscriptions.add(sub);
    counters.subscriptionOpened();
    this.perAddress.set(conn.remoteAddress, this.countAt(conn.remoteAddress) + 1);
    if (snapshot === null) cursor.start(sub);
    else {
      const resume = plan.index;
      void deliverSnapshot({
        conn,
        messages: snapshot,
        highWaterBytes: config.highWaterBytes,
        behind: () => cursor.behind,
        done: () => cursor.start(sub),
        dropped: () => {
          counters.subscriberDropped('lagged');
          this.logger.info({ remote: conn.remoteAddress, lastIndex: resume - 1 }, 'subscriber dropped before taking its snapshot');
          const reason = `dropped: did not take its snapshot before the buffer moved on; resume index=${resume} epoch=${this.state.epoch}`;
          const { code, reason: fitted } = closeOf(new DroppedError('lagged', resume - 1), reason);
          conn.close(code, fitted);
        },
      });
    }
    return sub;
  }

  ended(sub: Subscription, end: CursorEnd): void {
    const counters = this.counters;
    const frame = closeFrameFor(end, this.state.epoch, this.buffer.newestIndex);
    if (end.reason === 'dropped') {
      counters.subscriberDropped(end.cause);
      this.logger.info({ remote: sub.conn.remoteAddress, cause: end.cause, lastIndex: end.lastIndex }, 'subscriber dropped');
    } else if (end.reason === 'error') {
      if (end.error instanceof ShuttingDownError) {
        counters.subscriberDropped('shutdown');
      } else {
        counters.subscriberDropped('error');
        this.logger.error({ err: end.error }, 'subscription ended by an error');
      }
    }
    if (frame !== null) sub.conn.close(frame.code, frame.reason);
  }

  /**
   * Closes every live subscriber with 1001 ("shutting down"), spread evenly
   * over `windowMs` (the i-th of n at (i + 1) * windowMs / n), so they
   * reconnect to the other nodes gradually instead of all at once. Each is
   * closed after what was written to it; it resumes by index elsewhere.
   */
  async closeSpread(windowMs: number): Promise<void> {
    const subs = [...this.subscriptions];
    const start = performance.now();
    const { code, reason } = closeOf(new ShuttingDownError());
    for (let i = 0; i < subs.length; i++) {
      const at = start + ((i + 1) * windowMs) / subs.length;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const sub = subs[i]!;
      if (!this.subscriptions.has(sub) || sub.conn.closed) continue;
      this.counters.subscriberDropped('shutdown');
      sub.cursor.stop();
      sub.conn.close(code, reason);
    }
  }

  spoke(sub: Subscription): void {
    const { code, reason } = closeOf(new PolicyViolationError('subscribers may not send messages'));
    sub.conn.close(code, reason);
  }

  closed(sub: Subscription): void {
    if (!this.subscriptions.delete(sub)) return;
    const { conn, cursor } = sub;
    sub.cancelExpiry();
    const left = (this.perAddress.get(conn.remoteAddress) ?? 1) - 1;
    if (left > 0) this.perAddress.set(conn.remoteAddress, left);
    else this.perAddress.delete(conn.remoteAddress);
    cursor.stop();
    this.stoppedWhileParked = true;
    if (sub.view !== null) this.views.release(sub.view);
    this.filters.release(sub.filter);
    // Live cursors are summed at report time; a closed one hands its totals over once.
    this.counters.subscriptionClosed(cursor);
  }

  private heartbeat(): void {
    const highWaterBytes = this.config.highWaterBytes;
    for (const sub of this.subscriptions) {
      // Only to subscribers sent nothing since the last tick: the others just
      // heard from us, and 10k heartbeat writes in one loop stall every
      // stream for as long as they take (~130 ms here).
      const written = sub.cursor.framesWritten;
      if (written !== sub.heartbeatMark) {
        sub.heartbeatMark = written;
        continue;
      }
      if (!sub.conn.closed && sub.conn.bufferedAmount() <= highWaterBytes) {
        sub.conn.sendPrepared(this.messages.heartbeat(sub.format));
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
}

/**
 * The close frame for how a cursor ended (from the error table, through
 * `closeOf`), or null when the connection is already gone. A drop's reason
 * says how far behind it was and where to resume.
 */
export function closeFrameFor(end: CursorEnd, epoch: string, newestIndex: number): CloseFrame | null {
  switch (end.reason) {
    case 'closed':
      return null;
    case 'dropped': {
      const cause =
        end.cause === 'lagged' ? `fell ${newestIndex - end.lastIndex} events behind` : `${end.bufferedBytes} bytes unsent`;
      return closeOf(end.error, `dropped: ${cause}; resume index=${end.lastIndex + 1} epoch=${epoch}`);
    }
    case 'error':
      return closeOf(end.error);
  }
}
