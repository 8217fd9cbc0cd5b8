/**
 * The transport seam: everything the gateway needs from a WebSocket/HTTP
 * server, and nothing more. Only the files beside this one import a socket
 * library; the gateway, fan-out, protocol and buffer code see these
 * interfaces.
 *
 * Shape of a connection's life:
 *   upgrade(req) -> refuse (HTTP status + JSON) | accept(context)
 *   open(conn, context) -> { message, close } handlers
 *   conn.send / conn.writeBatch ... conn.close(code, reason) | conn.terminate()
 */
import type { Framer, Prepared, Sink } from '../fanout/index.js';
import type { TrustedProxies } from './client-address.js';

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** The client's address: the socket peer, or behind a trusted proxy the client it names (client-address.ts). */
  readonly remoteAddress: string;
  /** Lower-case header name. */
  header(name: string): string | undefined;
  /** Reads the whole body; rejects with TooBigError past `limit` bytes. */
  readBody(limit: number): Promise<Buffer>;
}

export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  body: string | Uint8Array;
}

export type UpgradeDecision<C> =
  | {
      accept: true;
      context: C;
      /** Largest message the peer may send; past it the connection is closed with 1009. */
      maxPayload: number;
      /** The subprotocol to answer with (one the client offered), if any. */
      protocol?: string;
    }
  | { accept: false; reply: HttpReply };

export interface Connection extends Sink {
  /** The upgrade request's `remoteAddress` (behind a trusted proxy, the client it names). */
  readonly remoteAddress: string;
  /** Sends one message. */
  send(data: Uint8Array, binary: boolean): void;
  /** Sends one message prepared by this transport's framer (`Transport.framer`), shared with other connections. */
  sendPrepared(message: Prepared): void;
  /** Stops reading from the peer (a producer that does not read its replies). */
  pause(): void;
  resume(): void;
  /** Starts the closing handshake; queued data is sent first. Safe to call twice. */
  close(code: number, reason: string): void;
  /** Destroys the socket at once. */
  terminate(): void;
}

export interface ConnectionHandlers {
  message(data: Uint8Array, binary: boolean): void;
  /** Called once, after which the connection must not be used (it is `closed`). */
  close(code: number, reason: string): void;
}

export interface TransportHandlers<C> {
  request(req: HttpRequest): Promise<HttpReply> | HttpReply;
  /** May be async (token verification); the transport holds the handshake meanwhile. */
  upgrade(req: HttpRequest): UpgradeDecision<C> | Promise<UpgradeDecision<C>>;
  open(conn: Connection, context: C): ConnectionHandlers;
  /**
   * The transport cut a connection for a timeout: `handshake` (request headers
   * not complete in time) or `idle` (a WebSocket silent past the idle timeout).
   * For counting; the connection is already gone.
   */
  timedOut?(kind: 'handshake' | 'idle'): void;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Transport {
  readonly name: string;
  /**
   * Makes encoded messages into what `sendPrepared`/`writeBatch` take, once
   * per item and filter, never per subscriber, and joins several into one
   * where this transport can (for `ws`, whole WebSocket frames: a broadcast
   * is a raw socket write, a run of them one write).
   */
  readonly framer: Framer;
  listen(host: string, port: number): Promise<ListenAddress>;
  /** Stops accepting connections. Open connections are the caller's to close. */
  stopAccepting(): void;
  /** Destroys every connection still open and releases the port. */
  close(): Promise<void>;
}

export interface TransportOptions {
  /** Largest message any connection may send (the transport may need a hard cap above it). */
  maxPayloadBytes: number;
  /** Above every per-connection drop limit: the transport must never drop messages on its own. */
  maxBackpressureBytes: number;
  /** permessage-deflate; off by default (it costs CPU per subscriber per message). */
  compression: boolean;
  /** Close a WebSocket that has been silent this long (it is pinged half-way); 0: never. */
  idleTimeoutMs: number;
  /** Close an HTTP connection that has not sent its request headers within this; 0: never (slowloris). */
  handshakeTimeoutMs: number;
  /** Serve https/wss with this PEM certificate chain and key (file paths); absent: plain http/ws. */
  tls?: { certFile: string; keyFile: string } | null;
  /** --trust-proxy: peers whose X-Forwarded-For names the client (client-address.ts); absent or null: none. */
  trustedProxies?: TrustedProxies | null;
}

export type TransportFactory = <C>(handlers: TransportHandlers<C>, options: TransportOptions) => Transport;
