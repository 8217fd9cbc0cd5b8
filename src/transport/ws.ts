/**
 * The `ws` transport's server: node:http (or https) for routes and upgrades,
 * the `ws` library for the WebSocket protocol. This file owns the Transport
 * factory: listening and closing, answering HTTP requests, deciding and
 * completing upgrades (one WebSocketServer per payload limit), and the idle
 * sweep. A connection is ws-connection.ts; its writes, with the broadcast
 * fast path that reaches into ws internals, are ws-raw-writer.ts; the frames
 * its framer builds and joins are ws-framing.ts. What both transports do around an HTTP
 * exchange is http-exchange.ts.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { clientAddressOf, type TrustedProxies } from './client-address.js';
import { answerRequest, decideUpgrade, readBody, replyHeaders, statusLine } from './http-exchange.js';
import type {
  HttpReply,
  HttpRequest,
  ListenAddress,
  Transport,
  TransportHandlers,
  TransportOptions,
  UpgradeDecision,
} from './transport.js';
import { bindConnection, connectionOf, WsConnection } from './ws-connection.js';
import { wsFramer } from './ws-framing.js';

const CHOSEN_PROTOCOL = Symbol('fanwire.protocol');

export interface WsTransportOptions extends Partial<TransportOptions> {
  /** Disable the raw-write fast path (tests exercise the fallback with it). */
  disableFastPath?: boolean;
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** Pending connections the kernel may queue for us. */
const LISTEN_BACKLOG = 4096;

class NodeHttpRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly remoteAddress: string;
  private readonly req: http.IncomingMessage;

  constructor(req: http.IncomingMessage, proxies: TrustedProxies | null) {
    this.req = req;
    this.method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fanwire.invalid');
    this.path = url.pathname;
    this.query = url.searchParams;
    this.remoteAddress = clientAddressOf(req.socket.remoteAddress ?? '', (name) => this.header(name), proxies);
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  readBody(limit: number): Promise<Buffer> {
    const req = this.req;
    return readBody(this.header('content-length'), limit, (body) => {
      const onData = (chunk: Buffer): void => {
        if (body.push(chunk)) return;
        req.off('data', onData);
        req.pause();
      };
      req.on('data', onData);
      req.once('end', () => body.end());
      req.once('error', (err: Error) => body.fail(err));
    });
  }
}

function writeReply(res: http.ServerResponse, reply: HttpReply, close = false): void {
  const headers = replyHeaders(reply);
  if (close) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

/** Answers a refused upgrade on the raw socket, the only way to say why before a WebSocket exists. */
function refuseUpgrade(socket: Duplex, reply: HttpReply): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body);
  const headers: Record<string, string> = {
    ...replyHeaders(reply),
    'content-length': String(body.length),
    connection: 'close',
  };
  const head =
    `HTTP/1.1 ${statusLine(reply.status)}\r\n` +
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
  const proxies = options.trustedProxies ?? null;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    answerRequest(handlers, new NodeHttpRequest(req, proxies), (reply, failed) => writeReply(res, reply, failed || !req.complete));
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
    const request = new NodeHttpRequest(req, proxies);
    decideUpgrade(handlers, request, (decision) => {
      if (socket.destroyed) return;
      if (!decision.accept) refuseUpgrade(socket, decision.reply);
      else accept(req, request.remoteAddress, socket, head, decision);
    });
  });

  const accept = (req: http.IncomingMessage, remoteAddress: string, socket: Duplex, head: Buffer, decision: Extract<UpgradeDecision<C>, { accept: true }>): void => {
    // Handed over once, then let go: the context may pin buffer items for as long as this scope lives.
    let context: C | null = decision.context;
    (req as unknown as Record<symbol, string | undefined>)[CHOSEN_PROTOCOL] = decision.protocol;
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
      bindConnection(ws, conn);
      ws.on('close', onWsClose);
    });
  };

  return {
    name: 'ws',
    framer: wsFramer,
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
