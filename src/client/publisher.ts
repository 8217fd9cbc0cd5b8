/**
 * connectPublisher(): a producer connection whose `publish()` resolves with
 * the index the gateway acked. Calls made in the same tick (or within
 * `batchMs`) travel as one batch frame, so they share one index and one
 * round trip; a rejected frame rejects every call in it with PublishError.
 *
 * It does not reconnect after a network fault: an unacked publish is
 * unknown, and only the application can decide whether to send it again.
 * The one exception is the token: with a token function, a token that
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
  /** Backoff between attempts after a refused token (with a token function). */
  backoff?: BackoffOptions;
  WebSocket?: WebSocketConstructor;
}

/** The gateway rejected a frame (nothing of it was appended), or the connection ended before its ack. */
export class PublishError extends FanwireClientError {
  override name = 'PublishError';
  constructor(code: ClientErrorCode, message: string, closeCode: number | null = null) {
    super(code, message, closeCode);
  }
}

export interface Publisher {
  /** Appends one event or several (in one frame with any other calls batched with it); resolves with the index. */
  publish(events: PublishEvent | readonly PublishEvent[]): Promise<number>;
  close(): Promise<void>;
  /** Why the publisher ended, when an error ended it (what `onError` got); else null. */
  readonly error: FanwireClientError | null;
}

interface Pending {
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

class FanwirePublisher implements Publisher {
  #socket: ClientSocket | null = null;
  readonly #options: PublisherOptions;
  readonly #Ctor: WebSocketConstructor;
  #batch: PublishEvent[] = [];
  #batchWaiters: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #scheduled = false;
  #attempt = 0;
  /** Frames sent and not yet answered, in order (the gateway answers in order). */
  readonly #inFlight: Pending[][] = [];
  /** Set once the publisher has ended: every later call rejects with it. */
  #ended: PublishError | null = null;
  error: FanwireClientError | null = null;
  #resolveClosed!: () => void;
  readonly #closedPromise = new Promise<void>((resolve) => (this.#resolveClosed = resolve));

  constructor(Ctor: WebSocketConstructor, options: PublisherOptions) {
    this.#Ctor = Ctor;
    this.#options = options;
  }

  /** Opens a connection; resolves once it is open, rejects when it cannot be made. */
  async open(): Promise<void> {
    const token = await nextToken(this.#options.token);
    if (this.#ended !== null) throw this.#ended;
    const socket = new this.#Ctor(`${this.#options.url.replace(/^http/, 'ws').replace(/\/+$/, '')}/v1/publish`, protocolsFor(token));
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new PublishError('connection_closed', `cannot connect to ${this.#options.url}`));
        socket.onclose = () => reject(new PublishError('connection_closed', `cannot connect to ${this.#options.url}`));
      });
    } catch (err) {
      // No socket is left: a close() waiting for this one (it may have caused the failure) is done.
      if (this.#socket === socket) this.#socket = null;
      if (this.#ended !== null) this.#finish();
      throw err;
    }
    socket.onerror = () => {};
    socket.onmessage = (event) => this.#onReply(event.data);
    socket.onclose = (event) => this.#onClose(socket, event.code, event.reason);
    this.#flush(); // calls made while (re)connecting
  }

  readonly onAbort = (): void => void this.close();

  publish(events: PublishEvent | readonly PublishEvent[]): Promise<number> {
    if (this.#ended !== null) return Promise.reject(this.#ended);
    const list = Array.isArray(events) ? events : [events as PublishEvent];
    return new Promise<number>((resolve, reject) => {
      this.#batch.push(...list);
      this.#batchWaiters.push({ resolve, reject });
      if (this.#batch.length >= (this.#options.maxBatch ?? 1000)) this.#flush();
      else this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const batchMs = this.#options.batchMs ?? 0;
    if (batchMs > 0) this.#timer = setTimeout(() => this.#flush(), batchMs);
    else queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    // Not open: the calls wait for the connection being made (open() flushes), or the end rejected them.
    if (this.#batch.length === 0 || this.#socket === null || this.#socket.readyState !== OPEN) return;
    const frame = { events: this.#batch };
    const waiters = this.#batchWaiters;
    this.#batch = [];
    this.#batchWaiters = [];
    this.#inFlight.push(waiters);
    this.#socket.send(this.#options.format === 'json' ? JSON.stringify(frame) : pack(frame));
  }

  #onReply(data: unknown): void {
    const bytes = toBytes(data);
    const reply = (bytes !== null ? unpack(bytes) : JSON.parse(String(data))) as PublisherReply;
    const waiters = this.#inFlight.shift();
    if (waiters === undefined) return;
    if (reply.type === 'ack') {
      this.#attempt = 0;
      for (const w of waiters) w.resolve(reply.index);
    } else for (const w of waiters) w.reject(new PublishError(reply.code, reply.message));
  }

  #onClose(socket: ClientSocket, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    const unknown = new PublishError('connection_closed', `connection closed (${code}${reason ? ` ${reason}` : ''}) before the ack`, code);
    for (const waiters of this.#inFlight.splice(0)) for (const w of waiters) w.reject(unknown);
    if (this.#ended !== null) return this.#finish();
    const outcome = closeOutcome(code, reason);
    const renewable = typeof this.#options.token === 'function';
    if (renewable && outcome.action === 'refresh') return this.#reconnect(0);
    if (renewable && outcome.action === 'reauthorize') {
      // Calls waiting now would wait for as long as the token function hands out bad tokens: fail them.
      this.#rejectQueued(new PublishError(outcome.error.code, outcome.error.message, code));
      return this.#reconnect(backoffDelay(this.#attempt++, this.#options.backoff));
    }
    if (outcome.action === 'final' || outcome.action === 'reauthorize' || outcome.action === 'refresh') {
      this.error = outcome.error;
      this.#end(new PublishError(outcome.error.code, outcome.error.message, code));
      this.#options.onError?.(outcome.error);
      return;
    }
    this.#end(unknown);
  }

  #reconnect(delay: number): void {
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#ended !== null) return;
      this.open().catch((err: unknown) => {
        if (this.#ended !== null) return;
        // The token function failed or the gateway is unreachable: as after a network fault, end.
        const error = err instanceof FanwireClientError ? err : new FanwireClientError('connection_closed', String(err));
        this.#end(new PublishError(error.code, error.message));
      });
    }, delay);
  }

  #rejectQueued(err: PublishError): void {
    const waiters = this.#batchWaiters;
    this.#batch = [];
    this.#batchWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** No more calls: reject what waits, and resolve `close()` once no socket is left. */
  #end(err: PublishError): void {
    if (this.#ended === null) this.#ended = err;
    this.#options.signal?.removeEventListener('abort', this.onAbort);
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#rejectQueued(this.#ended);
    if (this.#socket === null) this.#finish();
  }

  #finish(): void {
    this.#resolveClosed();
  }

  close(): Promise<void> {
    if (this.#ended === null) {
      this.#flush();
      const socket = this.#socket;
      this.#end(new PublishError('connection_closed', 'the publisher is closed'));
      socket?.close(1000);
    }
    return this.#closedPromise;
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
