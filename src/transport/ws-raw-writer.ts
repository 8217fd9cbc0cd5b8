/**
 * Writes a ws connection's outgoing messages: the one file in src/ that names
 * ws's and Node's private fields.
 *
 * Fast path: prepared messages are whole WebSocket frames (ws-framing.ts),
 * written to the socket under ws (`_socket`), a cursor's batch in one write:
 * one buffer straight to the libuv handle (net.Socket's `_write`, whose queue
 * shows in `_handle.writeQueueSize`), several under one cork. That replaces
 * one `ws.send` (header allocation + two writes) per message per subscriber.
 * Producer acks are framed here and corked until the frames of the current
 * read are handled.
 *
 * Plain path: `ws.send` of each message, unframed again where needed.
 *
 * Which path: decided at construction, from whether the fields are present
 * with the shape checked against the ws version package.json pins (`fast`),
 * never by throwing; then per write, since a raw write must not overtake
 * frames ws holds back itself (its sender's `_queue`/`_state`), nor go to a
 * socket that is gone. ws is pinned to a minor (~8.23.0): move the pin only
 * with test/transport/ws-raw-writer.test.ts passing on the new one (it
 * asserts the fast path is still taken).
 */
import { WebSocket } from 'ws';
import { frameMessage, sendUnframed } from './ws-framing.js';

/** The part of net.Socket (or tls.TLSSocket) the fast path uses. */
interface RawSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
  destroy(err?: Error): void;
  on(event: 'drain', listener: (this: RawSocket) => void): unknown;
  destroyed: boolean;
  connecting: boolean;
  writableLength: number;
  writableCorked: number;
  /** net.Socket's hand-off to its libuv handle (what Writable.write calls when nothing is queued). */
  _write(chunk: Uint8Array, encoding: string, cb: (err?: Error | null) => void): void;
  /** Bytes libuv holds for this socket (writes the kernel did not take at once); null once closed. */
  _handle: { writeQueueSize?: number } | null;
}

/** ws's Sender: frames it holds back (while compressing, or behind a Blob) wait in `_queue`. */
interface SenderInternals {
  _queue: unknown[];
  _state: number;
}

/** Told when the socket has room again (the connection's drain waiter). */
export interface DrainListener {
  onDrain(): void;
}

const DRAIN_LISTENER = Symbol('fanwire.drainListener');
type WithDrainListener = RawSocket & { [DRAIN_LISTENER]?: DrainListener };

/** Shared by every socket (a closure per socket costs memory for every idle subscriber). */
function onSocketDrain(this: WithDrainListener): void {
  this[DRAIN_LISTENER]!.onDrain();
}

function uncorkReplies(writer: WsRawWriter, socket: RawSocket): void {
  writer.corked = false;
  socket.uncork();
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** ws's `_socket`, when it is a socket with what writable(), bufferedAmount() and drain use. */
function observableSocket(ws: unknown): RawSocket | null {
  const socket = (ws as { _socket?: unknown })._socket;
  if (!isObject(socket) || typeof socket.destroyed !== 'boolean' || typeof socket.on !== 'function') return null;
  return socket as unknown as RawSocket;
}

/** ws's sender, when raw writes can go to `socket` beside it; else null. */
function fastPathSender(ws: unknown, socket: RawSocket | null): SenderInternals | null {
  const sender = (ws as { _sender?: unknown })._sender;
  if (socket === null || !isObject(sender) || !Array.isArray(sender._queue) || typeof sender._state !== 'number') return null;
  const s = socket as unknown as Record<string, unknown>;
  const shaped =
    typeof s.cork === 'function' &&
    typeof s.uncork === 'function' &&
    typeof s.write === 'function' &&
    typeof s.destroy === 'function' &&
    typeof s._write === 'function' &&
    '_handle' in s &&
    typeof s.connecting === 'boolean' &&
    typeof s.writableLength === 'number' &&
    typeof s.writableCorked === 'number';
  return shaped ? (sender as unknown as SenderInternals) : null;
}

/**
 * A connection's writes. The connection is a subclass (ws-connection.ts),
 * not a holder of one: a second object per connection would cost every idle
 * subscriber its header and a pointer.
 */
export class WsRawWriter {
  /** Set while send() holds the socket corked until the current read is handled. */
  corked = false;
  protected readonly ws: WebSocket;
  /** Set only with `fast`: a raw write goes out only while this holds no frames. */
  private readonly sender: SenderInternals | null;
  /** ws's socket, watched (gone? queued in libuv? drained?) on either path where present. */
  private readonly socket: RawSocket | null;
  /** Set by the first watchDrain (a connection that never waits never pays for it). */
  private drainListener: DrainListener | null = null;
  /** Created on the first direct write: a connection that never gets an event never pays for it. */
  private directDone: ((err?: Error | null) => void) | null = null;

  /** `wantFast`: false for the plain path regardless (tests, and connections that negotiated compression). */
  constructor(ws: WebSocket, wantFast: boolean) {
    this.ws = ws;
    let socket: RawSocket | null = null;
    let sender: SenderInternals | null = null;
    try {
      socket = observableSocket(ws);
      if (wantFast) sender = fastPathSender(ws, socket);
    } catch {
      // A getter that throws where a field was expected: the plain path.
      socket = null;
      sender = null;
    }
    this.socket = socket;
    this.sender = sender;
  }

  /** Whether raw writes are possible at all (asked for, no compression, internals as expected). */
  get fast(): boolean {
    return this.sender !== null;
  }

  /**
   * Whether a write can reach the peer. A socket destroyed by a failed write
   * (the peer reset it) tells ws only on a later tick, and every ws.send until
   * then builds an error with a stack trace: in a reconnect storm, a catch-up
   * of hundreds of frames to a client that already gave up cost tens of
   * milliseconds of nothing but errors. Nothing written now could arrive,
   * and the close follows on its own.
   */
  private writable(): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    return this.socket === null || !this.socket.destroyed;
  }

  /** The socket, when raw writes cannot interleave with frames ws itself holds back. */
  private rawSocket(): RawSocket | null {
    const sender = this.sender;
    if (sender === null) return null;
    const socket = this.socket!;
    if (socket.destroyed || sender._state !== 0 || sender._queue.length !== 0) return null;
    return socket;
  }

  bufferedAmount(): number {
    // Direct writes the kernel did not take at once wait in libuv, outside
    // the stream's count. (A stream write in flight is in both: counted twice,
    // which errs towards backpressure.)
    const queued = this.socket?._handle?.writeQueueSize ?? 0;
    return this.ws.bufferedAmount + queued;
  }

  /** One message, not prepared. */
  send(data: Uint8Array, binary: boolean): void {
    if (!this.writable()) return;
    // A producer's ack per frame: one framed buffer, where ws would write the
    // header and the payload apart. One socket read often holds many frames;
    // the socket stays corked until the frames of that read are handled, so
    // their acks leave in one write (a loopback write costs about 10 us,
    // which at one per frame was most of the single-event publish path).
    const socket = this.rawSocket();
    if (socket === null) {
      this.ws.send(data, { binary });
      return;
    }
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncorkReplies, this, socket);
    }
    socket.write(frameMessage(data, binary));
  }

  /** One prepared frame, or a joined run of them. */
  sendPrepared(frame: Uint8Array): void {
    if (!this.writable()) return;
    const socket = this.rawSocket();
    if (socket !== null) this.writeOne(socket, frame);
    else sendUnframed(this.ws, frame);
  }

  writeBatch(frames: readonly Uint8Array[], count: number): void {
    if (!this.writable()) return;
    const socket = this.rawSocket();
    if (socket !== null) {
      // One buffer (a single frame or a joined batch): no cork, which around
      // one chunk only adds a pass over the stream.
      if (count === 1) {
        this.writeOne(socket, frames[0]!);
        return;
      }
      socket.cork();
      for (let i = 0; i < count; i++) socket.write(frames[i]!);
      socket.uncork();
      return;
    }
    for (let i = 0; i < count; i++) sendUnframed(this.ws, frames[i]!);
  }

  /**
   * One chunk to the socket. When the stream holds nothing (the usual case:
   * the kernel takes each write whole), the chunk goes straight to the libuv
   * handle, as Writable.write would pass it after its bookkeeping, which
   * (with the tick it schedules per write) is skipped. libuv keeps these
   * writes in order with the stream's own; what it cannot take at once
   * shows in bufferedAmount() through the handle's writeQueueSize, and
   * afterDirect stands in for the stream's 'drain'.
   */
  private writeOne(socket: RawSocket, chunk: Uint8Array): void {
    if (socket.writableLength === 0 && socket.writableCorked === 0 && !socket.connecting && socket._handle != null) {
      socket._write(chunk, 'buffer', (this.directDone ??= (err) => this.afterDirect(socket, err)));
    } else {
      socket.write(chunk);
    }
  }

  /** Completion of a direct write: an error ends the socket (as a stream write's would); else wake a drain waiter once none of ours is queued. */
  private afterDirect(socket: RawSocket, err?: Error | null): void {
    if (err) {
      socket.destroy(err);
      return;
    }
    if (this.drainListener !== null && (socket._handle?.writeQueueSize ?? 0) <= socket.writableLength) this.drainListener.onDrain();
  }

  /** From now on, tells `listener` when the socket drains (hooked on first use, with a listener shared by every socket). */
  watchDrain(listener: DrainListener): void {
    if (this.drainListener !== null) return;
    this.drainListener = listener;
    const socket = this.socket as WithDrainListener | null;
    if (socket !== null) {
      socket[DRAIN_LISTENER] = listener;
      socket.on('drain', onSocketDrain);
    }
  }
}
