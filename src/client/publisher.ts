/**
 * connectPublisher(): a producer connection whose `publish()` resolves with
 * the index the gateway acked. Calls made in the same tick (or within
 * `batchMs`) travel as one batch frame, so they share one index and one
 * round trip; a rejected frame rejects every call in it with PublishError.
 * It does not reconnect: an unacked publish is unknown, and only the
 * application can decide whether to send it again.
 */
import { pack, unpack } from 'msgpackr';
import type { ErrorCode } from '../errors.js';
import type { Format, PublisherReply, PublishEvent } from '../protocol/messages.js';
import { OPEN, protocolsFor, resolveWebSocket, toBytes, type ClientSocket, type WebSocketConstructor } from './socket.js';

export interface PublisherOptions {
  /** The gateway's base URL, e.g. `ws://127.0.0.1:8080`. */
  url: string;
  format?: Format;
  /** Collect calls for this long before sending one frame (0: until the end of the current tick). */
  batchMs?: number;
  /** Send at once when a batch reaches this many events. */
  maxBatch?: number;
  /** A token (JWT) where the gateway has auth on; sent as the `fanwire.v1` subprotocol. */
  token?: string;
  WebSocket?: WebSocketConstructor;
}

/** The gateway rejected a frame (nothing of it was appended), or the connection ended before its ack. */
export class PublishError extends Error {
  override name = 'PublishError';
  readonly code: ErrorCode | 'connection_closed';
  constructor(code: ErrorCode | 'connection_closed', message: string) {
    super(message);
    this.code = code;
  }
}

export interface Publisher {
  /** Appends one event or several (in one frame with any other calls batched with it); resolves with the index. */
  publish(events: PublishEvent | readonly PublishEvent[]): Promise<number>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

class FanwirePublisher implements Publisher {
  private readonly socket: ClientSocket;
  private readonly options: PublisherOptions;
  private batch: PublishEvent[] = [];
  private batchWaiters: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private scheduled = false;
  /** Frames sent and not yet answered, in order (the gateway answers in order). */
  private readonly inFlight: Pending[][] = [];
  private closedError: PublishError | null = null;
  private readonly closedPromise: Promise<void>;

  constructor(socket: ClientSocket, options: PublisherOptions) {
    this.socket = socket;
    this.options = options;
    let resolveClosed!: () => void;
    this.closedPromise = new Promise((resolve) => (resolveClosed = resolve));
    socket.onmessage = (event) => this.onReply(event.data);
    socket.onclose = (event) => {
      this.closedError = new PublishError('connection_closed', `connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''}) before the ack`);
      for (const waiters of this.inFlight.splice(0)) for (const w of waiters) w.reject(this.closedError);
      for (const w of this.batchWaiters.splice(0)) w.reject(this.closedError);
      resolveClosed();
    };
  }

  publish(events: PublishEvent | readonly PublishEvent[]): Promise<number> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const list = Array.isArray(events) ? events : [events as PublishEvent];
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
    if (this.batch.length === 0) return;
    const frame = { events: this.batch };
    const waiters = this.batchWaiters;
    this.batch = [];
    this.batchWaiters = [];
    if (this.socket.readyState !== OPEN) {
      for (const w of waiters) w.reject(this.closedError ?? new PublishError('connection_closed', 'connection is not open'));
      return;
    }
    this.inFlight.push(waiters);
    this.socket.send(this.options.format === 'json' ? JSON.stringify(frame) : pack(frame));
  }

  private onReply(data: unknown): void {
    const bytes = toBytes(data);
    const reply = (bytes !== null ? unpack(bytes) : JSON.parse(String(data))) as PublisherReply;
    const waiters = this.inFlight.shift();
    if (waiters === undefined) return;
    if (reply.type === 'ack') for (const w of waiters) w.resolve(reply.index);
    else for (const w of waiters) w.reject(new PublishError(reply.code, reply.message));
  }

  close(): Promise<void> {
    this.flush();
    this.socket.close(1000);
    return this.closedPromise;
  }
}

/** Connects a producer; resolves once the WebSocket is open. */
export async function connectPublisher(options: PublisherOptions): Promise<Publisher> {
  const Ctor = await resolveWebSocket(options.WebSocket);
  const socket = new Ctor(`${options.url.replace(/^http/, 'ws').replace(/\/+$/, '')}/v1/publish`, protocolsFor(options.token));
  socket.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new PublishError('connection_closed', `cannot connect to ${options.url}`));
  });
  socket.onerror = () => {};
  return new FanwirePublisher(socket, options);
}
