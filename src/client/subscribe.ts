/**
 * subscribe(): a fanwire subscription that survives disconnects and token
 * expiry, and ends on errors that retrying cannot fix.
 *
 * It remembers the epoch and the last index it delivered, and reconnects
 * with `index=last+1&epoch=...` (exponential backoff with jitter; at once
 * after a 4001 "dropped", a 1001 restart or a 4003 token expiry, with a
 * fresh token from the token function), so nothing is lost or repeated
 * while the gateway still holds the gap; when it does not, `onGap` says so.
 * A refusal that retrying cannot fix (close-outcome.ts) ends it: state
 * `closed`, reason `error`, and `onError`. A connection that stops hearing
 * heartbeats is treated as dead. Events arrive through `onEvents`, through
 * async iteration, or both. With `snapshot`, the state first: the newest
 * event per (topic, key) through `onSnapshot`, once complete, on the first
 * connection and again after any gap (a resume that finds its index gone).
 */
// The decoder alone (msgpackr/unpack): a subscriber never encodes, and
// msgpackr's root entry would bring the encoder into every browser bundle.
import { unpack } from 'msgpackr/unpack';
import type { BatchMessage, EventsMessage, Format, GapMessage, HelloMessage, LagPolicy, SkipTo, SnapshotEvent, SnapshotMessage } from '../protocol/messages.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { closeOutcome } from './close-outcome.js';
import { FanwireClientError } from './errors.js';
import { nextToken, protocolsFor, resolveWebSocket, toBytes, type ClientSocket, type TokenSource, type WebSocketConstructor } from './socket.js';
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
  /**
   * Ask for `snapshot=1`: before its events, the subscription gets the newest
   * event of every (topic, key) it selects, through `onSnapshot`, once the
   * whole snapshot has arrived; `index` is where the events that follow
   * start. Asked again on every reconnect: the gateway sends one only when
   * the resume is not exact (a gap), so the state is rebuilt, not patched.
   * Cannot be combined with `strict`.
   */
  snapshot?: boolean;
  onSnapshot?: (events: SnapshotEvent[], info: { index: number }) => void;
  /** Each events message; `message.conflated` is true when it stands for a range (newest event per topic and key). */
  onEvents?: (message: EventsMessage) => void;
  onGap?: (gap: Gap) => void;
  onState?: (state: SubscriptionState, reason: StateReason) => void;
  backoff?: BackoffOptions;
  /** Heartbeat intervals of silence after which the connection counts as dead (default 3). */
  heartbeatMisses?: number;
  /**
   * Ask for `strict=1` with `fromIndex`: exactly from that index or not at
   * all. When the gateway no longer holds it (at the start or on a
   * reconnect), the subscription ends with `onError` code `index_gone`
   * instead of going on with `onGap`.
   */
  strict?: boolean;
  /**
   * Where the gateway has auth on: a token (JWT), or a function returning one
   * (or a promise of one), called before every connection attempt. With a
   * function, a token that expires (close 4003) is replaced at once and the
   * stream resumes by index, losing nothing; a refused one (4401) is replaced
   * with backoff. A fixed token that is refused ends the subscription
   * (`onError` code `unauthorized`). Sent as the `fanwire.v1` subprotocol.
   */
  token?: TokenSource;
  /**
   * Called once when the subscription ends because of an error retrying
   * cannot fix: the gateway's `code` (`forbidden`, `bad_query`,
   * `index_gone`, `unauthorized` with a fixed token, `policy_violation`,
   * `too_big`) and message. The state is then `closed`, reason `error`.
   */
  onError?: (error: FanwireClientError) => void;
  /** Closes the subscription when aborted (as `close()`). */
  signal?: AbortSignal;
  /** A WebSocket class; defaults to the global one, or the `ws` package in Node. */
  WebSocket?: WebSocketConstructor;
}

export interface Subscription extends AsyncIterable<EventsMessage> {
  readonly state: SubscriptionState;
  /** The gateway epoch the indexes belong to, once known. */
  readonly epoch: string | null;
  /** Index of the last events message delivered (0 before any). */
  readonly lastIndex: number;
  /** Why the subscription ended, when an error ended it (what `onError` got); else null. */
  readonly error: FanwireClientError | null;
  /** Stops for good; iteration ends. */
  close(): void;
  /** Resolves once closed. */
  readonly closed: Promise<void>;
}

/**
 * A connection this short-lived before its token expired was handed a token
 * already (nearly) expired: back off rather than fetch another at once.
 */
const MIN_TOKEN_LIFE_MS = 1_000;

class FanwireSubscription implements Subscription {
  state: SubscriptionState = SubscriptionState.Connecting;
  epoch: string | null;
  lastIndex = 0;
  error: FanwireClientError | null = null;
  /** When the current connection's hello arrived (Date.now()), or null before it. */
  #liveSince: number | null = null;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #socket: ClientSocket | null = null;
  #nextIndex: number | null;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #silenceTimer: ReturnType<typeof setTimeout> | null = null;
  #silenceMs = 0;
  readonly #queue: EventsMessage[] = [];
  #waiting: ((result: IteratorResult<EventsMessage>) => void) | null = null;
  #iterating = false;
  readonly #options: SubscribeOptions;
  #Ctor: WebSocketConstructor | null = null;
  /** The snapshot arriving on this connection, until its complete message; null when none is. */
  #snapshotParts: SnapshotEvent[] | null = null;

  constructor(options: SubscribeOptions) {
    if (options.snapshot === true && options.strict === true) throw new TypeError('snapshot and strict exclude each other: a snapshot heals the gap strict would refuse');
    this.#options = options;
    this.epoch = options.epoch ?? null;
    this.#nextIndex = options.fromIndex ?? null;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#setState(SubscriptionState.Connecting, 'start');
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        this.close();
        return;
      }
      options.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    void resolveWebSocket(options.WebSocket).then((Ctor) => {
      this.#Ctor = Ctor;
      if (this.state !== SubscriptionState.Closed) void this.#connect();
    });
  }

  readonly #onAbort = (): void => this.close();

  #url(): string {
    const base = this.#options.url.replace(/^http/, 'ws').replace(/\/+$/, '');
    const query = new URLSearchParams();
    for (const topic of this.#options.topics ?? []) query.append('topic', topic);
    if (this.#nextIndex !== null) query.set('index', String(this.#nextIndex));
    if (this.#nextIndex !== null && this.epoch !== null) query.set('epoch', this.epoch);
    query.set('format', this.#options.format ?? 'msgpack');
    if (this.#options.lag !== undefined && this.#options.lag !== 'drop') {
      query.set('lag', this.#options.lag);
      if (this.#options.skipTo !== undefined) query.set('skip_to', this.#options.skipTo);
    }
    if (this.#options.batch === true) query.set('batch', '1');
    if (this.#options.snapshot === true) query.set('snapshot', '1');
    if (this.#options.strict === true && this.#nextIndex !== null) query.set('strict', '1');
    return `${base}/v1/subscribe?${query}`;
  }

  async #connect(): Promise<void> {
    let token: string | undefined;
    try {
      token = await nextToken(this.#options.token);
    } catch {
      if (this.state === SubscriptionState.Closed) return;
      this.#setState(SubscriptionState.Reconnecting, 'token_unavailable');
      this.#retry(backoffDelay(this.#attempt++, this.#options.backoff));
      return;
    }
    if (this.state === SubscriptionState.Closed) return; // closed while the token function ran
    const socket = new this.#Ctor!(this.#url(), protocolsFor(token));
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.onmessage = (event) => this.#onMessage(socket, event.data);
    socket.onclose = (event) => this.#onClose(socket, event.code, event.reason);
    socket.onerror = () => {
      // 'close' follows and decides what to do.
    };
  }

  #decode(data: unknown): { type: string } & Record<string, unknown> {
    const bytes = toBytes(data);
    if (bytes !== null) return unpack(bytes) as { type: string };
    return JSON.parse(String(data)) as { type: string };
  }

  #onMessage(socket: ClientSocket, data: unknown): void {
    if (socket !== this.#socket) return;
    this.#armSilenceTimer();
    const message = this.#decode(data);
    if (message.type === 'events') {
      this.#onEventsMessage(message as unknown as EventsMessage);
    } else if (message.type === 'batch') {
      for (const events of (message as unknown as BatchMessage).messages) {
        // A listener may close the subscription mid-batch: deliver nothing after that.
        if (socket !== this.#socket) return;
        this.#onEventsMessage(events);
      }
    } else if (message.type === 'gap') {
      const gap = message as unknown as GapMessage;
      // The skipped items are gone for this subscription: a reconnect resumes after them.
      this.#nextIndex = gap.to + 1;
      this.#options.onGap?.({ requestedIndex: gap.from, resumedAt: gap.to + 1, cause: 'skipped', reason: gap.reason, epoch: this.epoch ?? '' });
    } else if (message.type === 'snapshot') {
      this.#onSnapshotMessage(message as unknown as SnapshotMessage);
    } else if (message.type === 'hello') {
      this.#onHello(message as unknown as HelloMessage);
    }
  }

  #onSnapshotMessage(message: SnapshotMessage): void {
    const parts = (this.#snapshotParts ??= []);
    for (const event of message.events) parts.push(event);
    if (message.complete !== true) return;
    this.#snapshotParts = null;
    // Where the events after it start: hello's index, which onHello kept as nextIndex.
    this.#options.onSnapshot?.(parts, { index: this.#nextIndex ?? 0 });
  }

  #onEventsMessage(events: EventsMessage): void {
    this.lastIndex = events.index;
    this.#nextIndex = events.index + 1;
    this.#options.onEvents?.(events);
    this.#push(events);
  }

  #onHello(hello: HelloMessage): void {
    const requested = this.#nextIndex;
    const epochChanged = this.epoch !== null && this.epoch !== hello.epoch;
    this.epoch = hello.epoch;
    this.#silenceMs = hello.heartbeat * 1000 * (this.#options.heartbeatMisses ?? 3);
    this.#armSilenceTimer();
    if (hello.gap && requested !== null) {
      this.#options.onGap?.({ requestedIndex: requested, resumedAt: hello.index, cause: epochChanged ? 'epoch' : 'evicted', epoch: hello.epoch });
    }
    this.#nextIndex = hello.index;
    this.#snapshotParts = null; // a snapshot cut short by a lost connection is never handed over
    this.#attempt = 0;
    this.#liveSince = Date.now();
    this.#setState(SubscriptionState.Live, 'hello');
  }

  #onClose(socket: ClientSocket, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    this.#clearSilenceTimer();
    const liveMs = this.#liveSince === null ? 0 : Date.now() - this.#liveSince;
    this.#liveSince = null;
    if (this.state === SubscriptionState.Closed) return;
    const outcome = closeOutcome(code, reason);
    switch (outcome.action) {
      case 'resume': // a drop or a restart is news, not trouble: come back at once
        this.#setState(SubscriptionState.Reconnecting, outcome.reason);
        this.#retry(0);
        return;
      case 'refresh': // with a fixed token the next attempt gets 4401, which ends it
        this.#setState(SubscriptionState.Reconnecting, 'token_expired');
        this.#retry(liveMs >= MIN_TOKEN_LIFE_MS ? 0 : backoffDelay(this.#attempt++, this.#options.backoff));
        return;
      case 'reauthorize':
        if (typeof this.#options.token !== 'function') return this.#fail(outcome.error);
        this.#setState(SubscriptionState.Reconnecting, 'unauthorized');
        this.#retry(backoffDelay(this.#attempt++, this.#options.backoff));
        return;
      case 'final':
        return this.#fail(outcome.error);
      case 'retry':
        this.#setState(SubscriptionState.Reconnecting, 'connection_lost');
        this.#retry(backoffDelay(this.#attempt++, this.#options.backoff));
    }
  }

  #retry(delay: number): void {
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.state !== SubscriptionState.Closed) void this.#connect();
    }, delay);
  }

  /** Ends the subscription for an error retrying cannot fix. */
  #fail(error: FanwireClientError): void {
    this.error = error;
    this.#shutDown('error');
    this.#options.onError?.(error);
  }

  #armSilenceTimer(): void {
    if (this.#silenceMs <= 0) return;
    this.#clearSilenceTimer();
    this.#silenceTimer = setTimeout(() => {
      const socket = this.#socket;
      if (socket === null) return;
      this.#setState(SubscriptionState.Reconnecting, 'heartbeat_timeout');
      this.#socket = null;
      this.#liveSince = null;
      socket.close();
      this.#retry(backoffDelay(this.#attempt++, this.#options.backoff));
    }, this.#silenceMs);
  }

  #clearSilenceTimer(): void {
    if (this.#silenceTimer !== null) clearTimeout(this.#silenceTimer);
    this.#silenceTimer = null;
  }

  #setState(state: SubscriptionState, reason: StateReason): void {
    this.state = state;
    this.#options.onState?.(state, reason);
  }

  close(): void {
    this.#shutDown('closed_by_client');
  }

  #shutDown(reason: StateReason): void {
    if (this.state === SubscriptionState.Closed) return;
    this.#setState(SubscriptionState.Closed, reason);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#clearSilenceTimer();
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000);
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = null;
    this.#resolveClosed();
  }

  #push(message: EventsMessage): void {
    if (!this.#iterating) return;
    if (this.#waiting !== null) {
      const resolve = this.#waiting;
      this.#waiting = null;
      resolve({ value: message, done: false });
    } else {
      this.#queue.push(message);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<EventsMessage> {
    this.#iterating = true;
    return {
      next: () => {
        const queued = this.#queue.shift();
        if (queued !== undefined) return Promise.resolve({ value: queued, done: false });
        if (this.state === SubscriptionState.Closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiting = resolve));
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
