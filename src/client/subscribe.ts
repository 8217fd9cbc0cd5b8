/**
 * subscribe(): a fanwire subscription that survives disconnects.
 *
 * It remembers the epoch and the last index it delivered, and reconnects
 * with `index=last+1&epoch=...` (exponential backoff with jitter; at once
 * after a 4001 "dropped" or a 1001 restart), so nothing is lost or
 * repeated while the gateway still holds the gap; when it does not,
 * `onGap` says so. A connection that stops hearing heartbeats is treated as
 * dead. Events arrive through `onEvents`, through async iteration, or both.
 */
import { unpack } from 'msgpackr';
import type { BatchMessage, EventsMessage, Format, GapMessage, HelloMessage } from '../protocol/messages.js';
import type { LagPolicy, SkipTo } from '../protocol/subscribe-query.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { protocolsFor, resolveWebSocket, toBytes, type ClientSocket, type WebSocketConstructor } from './socket.js';
import { SubscriptionState, type Gap, type StateReason } from './states.js';

export interface SubscribeOptions {
  /** The gateway's base URL, e.g. `ws://127.0.0.1:8080` (`http(s)` is turned into `ws(s)`). */
  url: string;
  /** `T` or `T:key` selectors; absent or empty: everything. */
  topics?: readonly string[];
  format?: Format;
  /** Deliver from this index on (resume); absent: live only. */
  fromIndex?: number;
  /** The epoch `fromIndex` belongs to. */
  epoch?: string;
  /**
   * What the gateway does when this subscriber falls behind: `drop` (default:
   * close, and this SDK resumes by index), `skip` (skip what is lost and say
   * so through `onGap`, cause `skipped`) or `conflate` (send only the newest
   * event per topic and key while behind: such messages have `conflated: true`).
   */
  lag?: LagPolicy;
  /** With `lag` skip or conflate: after an eviction, go on from the oldest item still held (default) or only new ones. */
  skipTo?: SkipTo;
  /**
   * Ask for `batch=1`: the gateway may send several events messages in one
   * WebSocket message, which costs a busy subscriber (and the gateway) less.
   * Each is still handed over on its own, so nothing else changes here. Off
   * by default: a gateway older than this option refuses it (HTTP 400).
   */
  batch?: boolean;
  /** Each events message; `message.conflated` is true when it stands for a range (newest event per topic and key). */
  onEvents?: (message: EventsMessage) => void;
  onGap?: (gap: Gap) => void;
  onState?: (state: SubscriptionState, reason: StateReason) => void;
  backoff?: BackoffOptions;
  /** Heartbeat intervals of silence after which the connection counts as dead (default 3). */
  heartbeatMisses?: number;
  /** A token (JWT) where the gateway has auth on; sent as the `fanwire.v1` subprotocol. */
  token?: string;
  /** A WebSocket class; defaults to the global one, or the `ws` package in Node. */
  WebSocket?: WebSocketConstructor;
}

export interface Subscription extends AsyncIterable<EventsMessage> {
  readonly state: SubscriptionState;
  /** The gateway epoch the indexes belong to, once known. */
  readonly epoch: string | null;
  /** Index of the last events message delivered (0 before any). */
  readonly lastIndex: number;
  /** Stops for good; iteration ends. */
  close(): void;
  /** Resolves once closed. */
  readonly closed: Promise<void>;
}

const DROPPED = 4001;
const GOING_AWAY = 1001;

class FanwireSubscription implements Subscription {
  state: SubscriptionState = SubscriptionState.Connecting;
  epoch: string | null;
  lastIndex = 0;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private socket: ClientSocket | null = null;
  private nextIndex: number | null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceMs = 0;
  private readonly queue: EventsMessage[] = [];
  private waiting: ((result: IteratorResult<EventsMessage>) => void) | null = null;
  private iterating = false;
  private readonly options: SubscribeOptions;
  private Ctor: WebSocketConstructor | null = null;

  constructor(options: SubscribeOptions) {
    this.options = options;
    this.epoch = options.epoch ?? null;
    this.nextIndex = options.fromIndex ?? null;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.setState(SubscriptionState.Connecting, 'start');
    void resolveWebSocket(options.WebSocket).then((Ctor) => {
      this.Ctor = Ctor;
      if (this.state !== SubscriptionState.Closed) this.connect();
    });
  }

  private url(): string {
    const base = this.options.url.replace(/^http/, 'ws').replace(/\/+$/, '');
    const query = new URLSearchParams();
    for (const topic of this.options.topics ?? []) query.append('topic', topic);
    if (this.nextIndex !== null) query.set('index', String(this.nextIndex));
    if (this.nextIndex !== null && this.epoch !== null) query.set('epoch', this.epoch);
    query.set('format', this.options.format ?? 'msgpack');
    if (this.options.lag !== undefined && this.options.lag !== 'drop') {
      query.set('lag', this.options.lag);
      if (this.options.skipTo !== undefined) query.set('skip_to', this.options.skipTo);
    }
    if (this.options.batch === true) query.set('batch', '1');
    return `${base}/v1/subscribe?${query}`;
  }

  private connect(): void {
    const socket = new this.Ctor!(this.url(), protocolsFor(this.options.token));
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onmessage = (event) => this.onMessage(socket, event.data);
    socket.onclose = (event) => this.onClose(socket, event.code, event.reason);
    socket.onerror = () => {
      // 'close' follows and decides what to do.
    };
  }

  private decode(data: unknown): { type: string } & Record<string, unknown> {
    const bytes = toBytes(data);
    if (bytes !== null) return unpack(bytes) as { type: string };
    return JSON.parse(String(data)) as { type: string };
  }

  private onMessage(socket: ClientSocket, data: unknown): void {
    if (socket !== this.socket) return;
    this.armSilenceTimer();
    const message = this.decode(data);
    if (message.type === 'events') {
      this.onEventsMessage(message as unknown as EventsMessage);
    } else if (message.type === 'batch') {
      for (const events of (message as unknown as BatchMessage).messages) {
        // A listener may close the subscription mid-batch: deliver nothing after that.
        if (socket !== this.socket) return;
        this.onEventsMessage(events);
      }
    } else if (message.type === 'gap') {
      const gap = message as unknown as GapMessage;
      // The skipped items are gone for this subscription: a reconnect resumes after them.
      this.nextIndex = gap.to + 1;
      this.options.onGap?.({ requestedIndex: gap.from, resumedAt: gap.to + 1, cause: 'skipped', reason: gap.reason, epoch: this.epoch ?? '' });
    } else if (message.type === 'hello') {
      this.onHello(message as unknown as HelloMessage);
    }
  }

  private onEventsMessage(events: EventsMessage): void {
    this.lastIndex = events.index;
    this.nextIndex = events.index + 1;
    this.options.onEvents?.(events);
    this.push(events);
  }

  private onHello(hello: HelloMessage): void {
    const requested = this.nextIndex;
    const epochChanged = this.epoch !== null && this.epoch !== hello.epoch;
    this.epoch = hello.epoch;
    this.silenceMs = hello.heartbeat * 1000 * (this.options.heartbeatMisses ?? 3);
    this.armSilenceTimer();
    if (hello.gap && requested !== null) {
      this.options.onGap?.({ requestedIndex: requested, resumedAt: hello.index, cause: epochChanged ? 'epoch' : 'evicted', epoch: hello.epoch });
    }
    this.nextIndex = hello.index;
    this.attempt = 0;
    this.setState(SubscriptionState.Live, 'hello');
  }

  private onClose(socket: ClientSocket, code: number, _reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.clearSilenceTimer();
    if (this.state === SubscriptionState.Closed) return;
    const reason: StateReason = code === DROPPED ? 'dropped' : code === GOING_AWAY ? 'going_away' : 'connection_lost';
    this.setState(SubscriptionState.Reconnecting, reason);
    // A drop or a restart is news, not trouble: come back at once.
    const delay = reason === 'connection_lost' ? backoffDelay(this.attempt++, this.options.backoff) : 0;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== SubscriptionState.Closed) this.connect();
    }, delay);
  }

  private armSilenceTimer(): void {
    if (this.silenceMs <= 0) return;
    this.clearSilenceTimer();
    this.silenceTimer = setTimeout(() => {
      const socket = this.socket;
      if (socket === null) return;
      this.setState(SubscriptionState.Reconnecting, 'heartbeat_timeout');
      this.socket = null;
      socket.close();
      this.retryTimer = setTimeout(() => this.connect(), backoffDelay(this.attempt++, this.options.backoff));
    }, this.silenceMs);
  }

  private clearSilenceTimer(): void {
    if (this.silenceTimer !== null) clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
  }

  private setState(state: SubscriptionState, reason: StateReason): void {
    this.state = state;
    this.options.onState?.(state, reason);
  }

  close(): void {
    if (this.state === SubscriptionState.Closed) return;
    this.setState(SubscriptionState.Closed, 'closed_by_client');
    this.clearSilenceTimer();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    this.resolveClosed();
  }

  private push(message: EventsMessage): void {
    if (!this.iterating) return;
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: message, done: false });
    } else {
      this.queue.push(message);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<EventsMessage> {
    this.iterating = true;
    return {
      next: () => {
        const queued = this.queue.shift();
        if (queued !== undefined) return Promise.resolve({ value: queued, done: false });
        if (this.state === SubscriptionState.Closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Opens a subscription (it connects in the background); see SubscribeOptions. */
export function subscribe(options: SubscribeOptions): Subscription {
  return new FanwireSubscription(options);
}
