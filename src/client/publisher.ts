/**
 * connectPublisher(): a producer connection whose `publish()` resolves with
 * the index the gateway acked. Calls made in the same tick (or within
 * `batchMs`) travel as one batch frame, so they share one index and one
 * round trip; a rejected frame rejects every call in it with PublishError.
 *
 * Without `reconnect` it does not reconnect after a network fault: an
 * unacked publish is unknown, and only the application can decide whether
 * to send it again. With `reconnect: true` every frame carries an
 * idempotencyKey (docs/protocol.md, "Idempotent publish"), so sending it
 * again is safe: after any close retrying can fix (a network fault, a node
 * shutting down), the publisher reconnects with backoff and re-sends every
 * frame not acked, and every frame answered `shutting_down`, in order; each
 * `publish()` settles once, with the index of the one append (a re-sent
 * frame that had been appended is acked `duplicate` with the original
 * index). Errors a retry cannot fix (`forbidden`, `invalid_frame`, ...)
 * reject at once and are never re-sent.
 * The token: with a token function, a token that
 * expires (close 4003) or is refused (4401) is replaced and the connection
 * made again; frames in flight at the close are rejected as
 * `connection_closed` (unknown), calls not yet sent wait for the new
 * connection. Errors retrying cannot fix end the publisher and reach
 * `onError` (close-outcome.ts).
 */
// msgpackr's subpath entries, not its root: a bundle of subscribe() alone
// then carries the decoder only (msgpackr/pack holds the encoder).
import { pack } from 'msgpackr/pack';
import { unpack } from 'msgpackr/unpack';
import type { Format, PublisherReply, PublishEvent } from '../protocol/messages.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { closeOutcome } from './close-outcome.js';
import { FanwireClientError, type ClientErrorCode } from './errors.js';
import { nextToken, OPEN, protocolsFor, resolveWebSocket, toBytes, type ClientSocket, type TokenSource, type WebSocketConstructor } from './socket.js';

export interface PublisherOptions {
  /** The gateway's base URL, e.g. `ws://127.0.0.1:8080`. */
  url: string;
  format?: Format;
  /** Collect calls for this long before sending one frame (0: until the end of the current tick). */
  batchMs?: number;
  /** Send at once when a batch reaches this many events. */
  maxBatch?: number;
  /**
   * Where the gateway has auth on: a token (JWT), or a function returning one
   * (or a promise of one), called before every connection attempt; with a
   * function the publisher outlives its tokens (see the module header).
   * Sent as the `fanwire.v1` subprotocol.
   */
  token?: TokenSource;
  /** Called once when the publisher ends because of an error retrying cannot fix (a refused token, a 1009 frame). */
  onError?: (error: FanwireClientError) => void;
  /** Closes the publisher when aborted (as `close()`); calls not yet acked reject with `connection_closed`. */
  signal?: AbortSignal;
  /** Backoff between attempts after a refused token (with a token function), and between reconnects. */
  backoff?: BackoffOptions;
  /**
   * Reconnect after a network fault or a gateway shutdown and re-send what
   * was not acked, made safe by an idempotencyKey on every frame (see the
   * module header). Keep it within the gateway's --dedupe-window: a frame
   * re-sent later than that could be appended twice.
   */
  reconnect?: boolean;
  WebSocket?: WebSocketConstructor;
}

/** The gateway rejected a frame (nothing of it was appended), or the connection ended before its ack. */
export class PublishError extends FanwireClientError {
  override name = 'PublishError';
  constructor(code: ClientErrorCode, message: string, closeCode: number | null = null) {
    super(code, message, closeCode);
  }
}

export interface PublishOptions {
  /** Names this publish for deduplication (it then travels as a frame of its own); with `reconnect` every frame gets one anyway. */
  idempotencyKey?: string;
}

export interface Publisher {
  /** Appends one event or several (in one frame with any other calls batched with it); resolves with the index. */
  publish(events: PublishEvent | readonly PublishEvent[], options?: PublishOptions): Promise<number>;
  close(): Promise<void>;
  /** Why the publisher ended, when an error ended it (what `onError` got); else null. */
  readonly error: FanwireClientError | null;
}

interface Pending {
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

/** A frame sent (or to be sent again) and the calls it answers. */
interface Frame {
  waiters: Pending[];
  data: string | Uint8Array;
}

/** Retryable replies: the frame was not appended, and another node (or this one, back) can take it. */
const RESEND_CODES: ReadonlySet<string> = new Set(['shutting_down']);

/** A fresh idempotency key: 128 random bits in hex (getRandomValues, unlike randomUUID, also works on plain-http pages). */
function newKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  let key = '';
  for (const b of bytes) key += b.toString(16).padStart(2, '0');
  return key;
}

class FanwirePublisher implements Publisher {
  private socket: ClientSocket | null = null;
  private readonly options: PublisherOptions;
  private readonly Ctor: WebSocketConstructor;
  private batch: PublishEvent[] = [];
  private batchWaiters: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private scheduled = false;
  private attempt = 0;
  /** Frames sent and not yet answered, in order (the gateway answers in order). */
  private readonly inFlight: Frame[] = [];
  /** reconnect: frames to send again, in order, once connected. */
  private readonly resend: Frame[] = [];
  /** Set once the publisher has ended: every later call rejects with it. */
  private ended: PublishError | null = null;
  error: FanwireClientError | null = null;
  private resolveClosed!: () => void;
  private readonly closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(Ctor: WebSocketConstructor, options: PublisherOptions) {
    this.Ctor = Ctor;
    this.options = options;
  }

  /** Opens a connection; resolves once it is open, rejects when it cannot be made. */
  async open(): Promise<void> {
    const token = await nextToken(this.options.token);
    if (this.ended !== null) throw this.ended;
    const socket = new this.Ctor(`${this.options.url.replace(/^http/, 'ws').replace(/\/+$/, '')}/v1/publish`, protocolsFor(token));
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new PublishError('connection_closed', `cannot connect to ${this.options.url}`));
        socket.onclose = () => reject(new PublishError('connection_closed', `cannot connect to ${this.options.url}`));
      });
    } catch (err) {
      // No socket is left: a close() waiting for this one (it may have caused the failure) is done.
      if (this.socket === socket) this.socket = null;
      if (this.ended !== null) this.finish();
      throw err;
    }
    socket.onerror = () => {};
    socket.onmessage = (event) => this.onReply(event.data);
    socket.onclose = (event) => this.onClose(socket, event.code, event.reason);
    for (const frame of this.resend.splice(0)) this.sendFrame(frame);
    this.flush(); // calls made while (re)connecting
  }

  readonly onAbort = (): void => void this.close();

  publish(events: PublishEvent | readonly PublishEvent[], options?: PublishOptions): Promise<number> {
    if (this.ended !== null) return Promise.reject(this.ended);
    const list = Array.isArray(events) ? events : [events as PublishEvent];
    const key = options?.idempotencyKey;
    if (key !== undefined) {
      // A key names one frame: it does not share a batch.
      return new Promise<number>((resolve, reject) => {
        const frame = this.encode({ events: list, idempotencyKey: key }, [{ resolve, reject }]);
        if (this.socket !== null && this.socket.readyState === OPEN) this.sendFrame(frame);
        else this.resend.push(frame);
      });
    }
    return new Promise<number>((resolve, reject) => {
      this.batch.push(...list);
      this.batchWaiters.push({ resolve, reject });
      if (this.batch.length >= (this.options.maxBatch ?? 1000)) this.flush();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const batchMs = this.options.batchMs ?? 0;
    if (batchMs > 0) this.timer = setTimeout(() => this.flush(), batchMs);
    else queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Not open: the calls wait for the connection being made (open() flushes), or the end rejected them.
    if (this.batch.length === 0 || this.socket === null || this.socket.readyState !== OPEN) return;
    const body = this.options.reconnect ? { events: this.batch, idempotencyKey: newKey() } : { events: this.batch };
    const frame = this.encode(body, this.batchWaiters);
    this.batch = [];
    this.batchWaiters = [];
    this.sendFrame(frame);
  }

  /** Encoded once: a re-sent frame is the same bytes, idempotencyKey included. */
  private encode(body: { events: readonly PublishEvent[]; idempotencyKey?: string }, waiters: Pending[]): Frame {
    return { waiters, data: this.options.format === 'json' ? JSON.stringify(body) : pack(body) };
  }

  private sendFrame(frame: Frame): void {
    this.inFlight.push(frame);
    this.socket!.send(frame.data);
  }

  private onReply(data: unknown): void {
    const bytes = toBytes(data);
    const reply = (bytes !== null ? unpack(bytes) : JSON.parse(String(data))) as PublisherReply;
    const frame = this.inFlight.shift();
    if (frame === undefined) return;
    if (reply.type === 'ack') {
      this.attempt = 0;
      for (const w of frame.waiters) w.resolve(reply.index);
    } else if (this.options.reconnect && RESEND_CODES.has(reply.code)) {
      this.resend.push(frame); // after the reconnect the gateway's close is about to cause
    } else for (const w of frame.waiters) w.reject(new PublishError(reply.code, reply.message));
  }

  private onClose(socket: ClientSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    const unknown = new PublishError('connection_closed', `connection closed (${code}${reason ? ` ${reason}` : ''}) before the ack`, code);
    const outcome = closeOutcome(code, reason);
    if (this.ended === null && this.options.reconnect && (outcome.action === 'resume' || outcome.action === 'retry' || (outcome.action !== 'final' && typeof this.options.token === 'function'))) {
      // Unacked frames are sent again on the next connection: their keys make that safe.
      this.resend.push(...this.inFlight.splice(0));
      const delay = outcome.action === 'resume' || outcome.action === 'refresh' ? 0 : backoffDelay(this.attempt++, this.options.backoff);
      return this.reconnect(delay);
    }
    for (const frame of this.inFlight.splice(0)) for (const w of frame.waiters) w.reject(unknown);
    if (this.ended !== null) return this.finish();
    const renewable = typeof this.options.token === 'function';
    if (renewable && outcome.action === 'refresh') return this.reconnect(0);
    if (renewable && outcome.action === 'reauthorize') {
      // Calls waiting now would wait for as long as the token function hands out bad tokens: fail them.
      this.rejectQueued(new PublishError(outcome.error.code, outcome.error.message, code));
      return this.reconnect(backoffDelay(this.attempt++, this.options.backoff));
    }
    if (outcome.action === 'final' || outcome.action === 'reauthorize' || outcome.action === 'refresh') {
      this.error = outcome.error;
      this.end(new PublishError(outcome.error.code, outcome.error.message, code));
      this.options.onError?.(outcome.error);
      return;
    }
    this.end(unknown);
  }

  private reconnect(delay: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.ended !== null) return;
      this.open().catch((err: unknown) => {
        if (this.ended !== null) return;
        // reconnect: the gateway may be restarting, or this node gone for good behind a balancer; keep trying.
        if (this.options.reconnect) return this.reconnect(backoffDelay(this.attempt++, this.options.backoff));
        // The token function failed or the gateway is unreachable: as after a network fault, end.
        const error = err instanceof FanwireClientError ? err : new FanwireClientError('connection_closed', String(err));
        this.end(new PublishError(error.code, error.message));
      });
    }, delay);
  }

  private rejectQueued(err: PublishError): void {
    const waiters = this.batchWaiters;
    this.batch = [];
    this.batchWaiters = [];
    for (const w of waiters) w.reject(err);
    for (const frame of this.resend.splice(0)) for (const w of frame.waiters) w.reject(err);
  }

  /** No more calls: reject what waits, and resolve `close()` once no socket is left. */
  private end(err: PublishError): void {
    if (this.ended === null) this.ended = err;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.rejectQueued(this.ended);
    if (this.socket === null) this.finish();
  }

  private finish(): void {
    this.resolveClosed();
  }

  close(): Promise<void> {
    if (this.ended === null) {
      this.flush();
      const socket = this.socket;
      this.end(new PublishError('connection_closed', 'the publisher is closed'));
      socket?.close(1000);
    }
    return this.closedPromise;
  }
}

/** Connects a producer; resolves once the WebSocket is open. */
export async function connectPublisher(options: PublisherOptions): Promise<Publisher> {
  if (options.signal?.aborted) throw new PublishError('connection_closed', 'aborted before connecting');
  const publisher = new FanwirePublisher(await resolveWebSocket(options.WebSocket), options);
  await publisher.open();
  options.signal?.addEventListener('abort', publisher.onAbort, { once: true });
  return publisher;
}
