/**
 * The `ws` transport: node:http for routes and upgrades, the `ws` library for
 * the WebSocket protocol.
 *
 * Broadcast fast path: `prepare` builds each shared message's complete
 * WebSocket frame (server frames are unmasked, so the bytes are the same for
 * every subscriber), and `writeBatch` hands a cursor's whole batch to the
 * socket in one write (one buffer straight to the libuv handle, several
 * under one cork), instead of one `ws.send` (header allocation + two
 * writes) per message per subscriber. Producer acks are corked until the
 * frames of the current read are handled. That reaches into ws internals
 * (`_socket`, `_sender`) and net.Socket's `_write`; it is feature-detected
 * per write, and falls back to `ws.send` of the payload whenever ws could be
 * holding queued frames of its own.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { TooBigError } from '../errors.js';
import { DrainWaiter } from './drain-waiter.js';
import type {
  Connection,
  ConnectionHandlers,
  HttpReply,
  HttpRequest,
  ListenAddress,
  Transport,
  TransportHandlers,
  TransportOptions,
  UpgradeDecision,
} from './transport.js';

const CHOSEN_PROTOCOL = Symbol('fanwire.protocol');

export interface WsTransportOptions extends Partial<TransportOptions> {
  /** Disable the raw-write fast path (tests exercise the fallback with it). */
  disableFastPath?: boolean;
}

/** Builds an unmasked, final, single-frame WebSocket message. */
export function frameMessage(data: Uint8Array, binary: boolean): Buffer {
  const length = data.byteLength;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = binary ? 0x82 : 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.set(data, headerLength);
  return frame;
}

/** The message inside a frame built by frameMessage (a view into it). */
export function framePayload(frame: Uint8Array): Uint8Array {
  const marker = frame[1]! & 0x7f;
  return frame.subarray(marker < 126 ? 2 : marker === 126 ? 4 : 10);
}

/**
 * Inverse of frameMessage for the fallback path: sends each message of
 * `frames`, which may hold several whole frames back to back (a joined batch),
 * through ws.send.
 */
function sendUnframed(ws: WebSocket, frames: Uint8Array): void {
  let at = 0;
  while (at < frames.byteLength) {
    const marker = frames[at + 1]! & 0x7f;
    const headerLength = marker < 126 ? 2 : marker === 126 ? 4 : 10;
    const view = Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength);
    const length = marker < 126 ? marker : marker === 126 ? view.readUInt16BE(at + 2) : view.readUInt32BE(at + 2) * 2 ** 32 + view.readUInt32BE(at + 6);
    const start = at + headerLength;
    ws.send(frames.subarray(start, start + length), { binary: (frames[at]! & 0x0f) === 0x02 });
    at = start + length;
  }
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * The connection of a WebSocket (or of its raw socket). Per-connection
 * listeners are shared functions that find their connection here: a closure
 * per listener per connection costs memory for every idle subscriber.
 */
const CONNECTION = Symbol('fanwire.connection');
type WithConnection = Record<typeof CONNECTION, WsConnection>;
const connectionOf = (emitter: unknown): WsConnection => (emitter as WithConnection)[CONNECTION];

function onSocketDrain(this: unknown): void {
  connectionOf(this).onDrain();
}

function uncorkReplies(conn: WsConnection, socket: RawSocket): void {
  conn.corked = false;
  socket.uncork();
}

function onPong(this: WebSocket): void {
  connectionOf(this).alive = true;
}

function onWsError(this: WebSocket, err: Error & { code?: string }): void {
  // ws reports protocol errors (oversized or invalid frames) here and then
  // closes with the matching code itself; without a listener they would crash
  // the process. Its 'close' event shows how the socket ended, not the 1009 it sent.
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') connectionOf(this).sentCode = 1009;
}

function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const conn = connectionOf(this);
  conn.alive = true;
  if (!conn.closed) conn.events!.message(data, isBinary);
}

/** Pending connections the kernel may queue for us. */
const LISTEN_BACKLOG = 4096;

interface RawSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
  destroy(err?: Error): void;
  destroyed: boolean;
  connecting: boolean;
  writableLength: number;
  writableCorked: number;
  /** net.Socket's hand-off to its libuv handle (what Writable.write calls when nothing is queued). */
  _write?(chunk: Uint8Array, encoding: string, cb: (err?: Error | null) => void): void;
  /** Bytes libuv holds for this socket (writes the kernel did not take at once). */
  _handle?: { writeQueueSize?: number } | null;
}

interface WsInternals {
  _socket?: RawSocket;
  _sender?: { _queue?: unknown[]; _state?: number };
}

class WsConnection implements Connection {
  readonly remoteAddress: string;
  closed = false;
  /** Heard from since the last idle sweep (pong or message). */
  alive = true;
  /** The gateway's handlers, once open. */
  events: ConnectionHandlers | null = null;
  /** The close code ws sent itself (1009), which its 'close' event does not show. */
  sentCode: number | null = null;
  /** Created on the first wait: most connections never wait for a drain. */
  private drain: DrainWaiter | null = null;
  private readonly ws: WebSocket;
  private readonly fastPath: boolean;

  constructor(ws: WebSocket, remoteAddress: string, fastPath: boolean) {
    this.ws = ws;
    this.remoteAddress = remoteAddress;
    this.fastPath = fastPath;
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
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    const socket = (this.ws as unknown as WsInternals)._socket;
    return socket === undefined || !socket.destroyed;
  }

  /** The socket, when raw writes cannot interleave with frames ws itself holds back. */
  private rawSocket(): RawSocket | null {
    if (!this.fastPath) return null;
    const internals = this.ws as unknown as WsInternals;
    const socket = internals._socket;
    const sender = internals._sender;
    if (socket === undefined || socket.destroyed || sender === undefined) return null;
    if (sender._state !== 0 || sender._queue === undefined || sender._queue.length !== 0) return null;
    return socket;
  }

  bufferedAmount(): number {
    // Direct writes the kernel did not take at once wait in libuv, outside
    // the stream's count. (A stream write in flight is in both: counted twice,
    // which errs towards backpressure.)
    const queued = (this.ws as unknown as WsInternals)._socket?._handle?.writeQueueSize ?? 0;
    return this.ws.bufferedAmount + queued;
  }

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

  /** Set while send() holds the socket corked until the current read is handled. */
  corked = false;

  /** Prepared frames are whole wire frames: a joined batch is one write (unless compression was negotiated). */
  get joinsFrames(): boolean {
    return this.fastPath;
  }

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
    if (socket.writableLength === 0 && socket.writableCorked === 0 && !socket.connecting && socket._handle != null && socket._write !== undefined) {
      socket._write(chunk, 'buffer', (this.directDone ??= (err) => this.afterDirect(socket, err)));
    } else {
      socket.write(chunk);
    }
  }

  /** Created on the first direct write: a connection that never gets an event never pays for it. */
  private directDone: ((err?: Error | null) => void) | null = null;

  /** Completion of a direct write: an error ends the socket (as a stream write's would); else wake a drain waiter once none of ours is queued. */
  private afterDirect(socket: RawSocket, err?: Error | null): void {
    if (err) {
      socket.destroy(err);
      return;
    }
    if (this.drain !== null && (socket._handle?.writeQueueSize ?? 0) <= socket.writableLength) this.onDrain();
  }

  waitDrain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.drain === null) {
      this.drain = new DrainWaiter();
      // Hooked on first use, with a listener shared by every connection.
      const raw = (this.ws as unknown as WsInternals)._socket as unknown as (NodeJS.EventEmitter & Record<symbol, WsConnection>) | undefined;
      if (raw !== undefined) {
        raw[CONNECTION] = this;
        raw.on('drain', onSocketDrain);
      }
    }
    return this.drain.wait();
  }

  onDrain(): void {
    this.drain?.release();
  }

  pause(): void {
    if (!this.closed) this.ws.pause();
  }

  resume(): void {
    if (!this.closed) this.ws.resume();
  }

  close(code: number, reason: string): void {
    if (this.closed || this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** One idle sweep: cut a peer that stayed silent since the last (true), else ping it. */
  sweep(): boolean {
    if (this.closed) return false;
    if (!this.alive) {
      this.ws.terminate();
      return true;
    }
    this.alive = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
    return false;
  }
}

class NodeHttpRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly remoteAddress: string;
  private readonly req: http.IncomingMessage;

  constructor(req: http.IncomingMessage) {
    this.req = req;
    this.method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fanwire.invalid');
    this.path = url.pathname;
    this.query = url.searchParams;
    this.remoteAddress = req.socket.remoteAddress ?? '';
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  readBody(limit: number): Promise<Buffer> {
    const declared = Number(this.req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      return Promise.reject(new TooBigError(`body of ${declared} bytes is over the ${limit}-byte limit`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > limit) {
          this.req.off('data', onData);
          this.req.pause();
          reject(new TooBigError(`body is over the ${limit}-byte limit`));
          return;
        }
        chunks.push(chunk);
      };
      this.req.on('data', onData);
      this.req.once('end', () => resolve(Buffer.concat(chunks, size)));
      this.req.once('error', reject);
    });
  }
}

function writeReply(res: http.ServerResponse, reply: HttpReply, close = false): void {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...reply.headers };
  if (close) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

/** Answers a refused upgrade on the raw socket, the only way to say why before a WebSocket exists. */
function refuseUpgrade(socket: Duplex, reply: HttpReply): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...reply.headers,
    'content-length': String(body.length),
    connection: 'close',
  };
  const head =
    `HTTP/1.1 ${reply.status} ${http.STATUS_CODES[reply.status] ?? ''}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  socket.end(Buffer.concat([Buffer.from(head), body]));
}

export function createWsTransport<C>(handlers: TransportHandlers<C>, options: WsTransportOptions = {}): Transport {
  const fastPath = options.disableFastPath !== true;
  const compression = options.compression === true;
  const servers = new Map<number, WebSocketServer>();
  const sockets = new Set<Duplex>();
  let serverClosed: Promise<void> | null = null;

  /** ws enforces maxPayload per server, so there is one server per limit (two in practice). */
  const serverFor = (maxPayload: number): WebSocketServer => {
    let wss = servers.get(maxPayload);
    if (wss === undefined) {
      wss = new WebSocketServer({
        noServer: true,
        maxPayload,
        perMessageDeflate: compression,
        // The transport tracks open connections itself (`live`).
        clientTracking: false,
        // The gateway chose (or not) a subprotocol while deciding the upgrade.
        handleProtocols: (_offered, request) => (request as unknown as Record<symbol, string | undefined>)[CHOSEN_PROTOCOL] ?? false,
      });
      servers.set(maxPayload, wss);
    }
    return wss;
  };

  const handshakeTimeout = options.handshakeTimeoutMs ?? 10_000;
  const serverOptions: http.ServerOptions = {};
  if (handshakeTimeout > 0) {
    // Node checks these on a timer; check often enough for the limit to mean something.
    serverOptions.headersTimeout = handshakeTimeout;
    serverOptions.requestTimeout = Math.max(handshakeTimeout, 300_000);
    serverOptions.connectionsCheckingInterval = Math.max(100, Math.min(1_000, Math.floor(handshakeTimeout / 2)));
  }
  const live = new Set<WsConnection>();
  const idleTimeout = options.idleTimeoutMs ?? 0;
  let idleTimer: NodeJS.Timeout | null = null;
  if (idleTimeout > 0) {
    // One timer for all connections: every half timeout, ping the live and cut the silent.
    idleTimer = setInterval(() => {
      for (const conn of live) if (conn.sweep()) handlers.timedOut?.('idle');
    }, Math.max(50, Math.floor(idleTimeout / 2)));
    idleTimer.unref();
  }

  const tls = options.tls ?? null;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let reply: Promise<HttpReply> | HttpReply;
    try {
      reply = handlers.request(new NodeHttpRequest(req));
    } catch (err) {
      reply = { status: 500, body: JSON.stringify({ code: 'internal', message: (err as Error).message }) };
    }
    Promise.resolve(reply).then(
      (r) => writeReply(res, r, !req.complete),
      (err: unknown) => writeReply(res, { status: 500, body: JSON.stringify({ code: 'internal', message: String(err) }) }, true),
    );
  };
  const server: http.Server = tls === null
    ? http.createServer(serverOptions, onRequest)
    : https.createServer({ ...serverOptions, cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, onRequest);
  const forgetSocket = function (this: Duplex): void {
    sockets.delete(this);
  };
  server.on(tls === null ? 'connection' : 'secureConnection', (socket: Duplex) => {
    sockets.add(socket);
    socket.on('close', forgetSocket);
  });
  const onWsClose = function (this: WebSocket, code: number, reason: Buffer): void {
    const conn = connectionOf(this);
    conn.closed = true;
    live.delete(conn);
    conn.onDrain();
    conn.events!.close(conn.sentCode ?? code, reason.toString('utf8'));
  };
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Node's headersTimeout (--handshake-timeout) arrives here as a request timeout.
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) handlers.timedOut?.('handshake');
    if (socket.writable) socket.end(timedOut ? 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // A shared listener: a closure here would keep the request and `head` alive as long as the socket.
    socket.on('error', destroyOnError);
    let pending;
    try {
      pending = Promise.resolve(handlers.upgrade(new NodeHttpRequest(req)));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (decision) => {
        if (socket.destroyed) return;
        if (!decision.accept) refuseUpgrade(socket, decision.reply);
        else accept(req, socket, head, decision);
      },
      (err: unknown) => {
        if (!socket.destroyed) refuseUpgrade(socket, { status: 500, body: JSON.stringify({ code: 'internal', message: String(err) }) });
      },
    );
  });

  const accept = (req: http.IncomingMessage, socket: Duplex, head: Buffer, decision: Extract<UpgradeDecision<C>, { accept: true }>): void => {
    // Handed over once, then let go: the context may pin buffer items for as long as this scope lives.
    let context: C | null = decision.context;
    (req as unknown as Record<symbol, string | undefined>)[CHOSEN_PROTOCOL] = decision.protocol;
    const remoteAddress = req.socket.remoteAddress ?? '';
    serverFor(decision.maxPayload).handleUpgrade(req, socket, head, (ws) => {
      ws.binaryType = 'nodebuffer';
      // Raw writes would bypass compression: a connection that negotiated it always goes through ws.send.
      const conn = new WsConnection(ws, remoteAddress, fastPath && ws.extensions === '');
      try {
        const opened = context as C;
        context = null;
        conn.events = handlers.open(conn, opened);
      } catch {
        conn.closed = true;
        ws.terminate();
        return;
      }
      live.add(conn);
      (ws as unknown as WithConnection)[CONNECTION] = conn;
      ws.on('pong', onPong);
      ws.on('error', onWsError);
      ws.on('message', onWsMessage);
      ws.on('close', onWsClose);
    });
  };

  return {
    name: 'ws',
    prepare: frameMessage,
    unprepare: framePayload,
    listen(host: string, port: number): Promise<ListenAddress> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        // Node's default backlog (511) overflows when thousands of clients
        // reconnect at once (a restart or a resume storm); the kernel caps
        // this at net.core.somaxconn.
        server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          const address = server.address();
          if (address === null || typeof address === 'string') {
            reject(new Error('server has no TCP address'));
            return;
          }
          resolve({ host: address.address, port: address.port });
        });
      });
    },
    stopAccepting(): void {
      if (serverClosed === null && server.listening) {
        serverClosed = new Promise((resolve) => server.close(() => resolve()));
      }
      server.closeIdleConnections();
    },
    async close(): Promise<void> {
      if (idleTimer !== null) clearInterval(idleTimer);
      this.stopAccepting();
      for (const conn of live) conn.terminate();
      for (const socket of sockets) socket.destroy();
      await serverClosed;
    },
  };
}
