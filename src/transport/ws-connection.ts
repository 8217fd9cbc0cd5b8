/**
 * One ws WebSocket as the gateway sees it (Connection, and the fan-out's
 * Sink): its lifecycle (open, closing, closed, the close code ws sent
 * itself), liveness for the idle sweep, reads paused for a producer that
 * does not read its replies, and a drain waiter. How bytes reach the socket
 * is the raw writer's (ws-raw-writer.ts, the class this one extends); this
 * file touches only ws's public API.
 *
 * Per-connection listeners are shared functions that find their connection
 * on the WebSocket: a closure per listener per connection costs memory for
 * every idle subscriber.
 */
import type { Prepared } from '../fanout/index.js';
import { CloseCode } from '../protocol/index.js';
import { WebSocket } from 'ws';
import { DrainWaiter } from './drain-waiter.js';
import type { Connection, ConnectionHandlers } from './transport.js';
import { WsRawWriter } from './ws-raw-writer.js';

const CONNECTION = Symbol('fanwire.connection');
type WithConnection = Record<typeof CONNECTION, WsConnection>;

/** The connection bound to a WebSocket by bindConnection. */
export const connectionOf = (ws: WebSocket): WsConnection => (ws as unknown as WithConnection)[CONNECTION];

function onPong(this: WebSocket): void {
  connectionOf(this).alive = true;
}

function onWsError(this: WebSocket, err: Error & { code?: string }): void {
  // ws reports protocol errors (oversized or invalid frames) here and then
  // closes with the matching code itself; without a listener they would crash
  // the process. Its 'close' event shows how the socket ended, not the 1009 it sent.
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') connectionOf(this).sentCode = CloseCode.MESSAGE_TOO_BIG;
}

function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const conn = connectionOf(this);
  conn.alive = true;
  if (!conn.closed) conn.events!.message(data, isBinary);
}

/** Binds `conn` to its WebSocket and hooks the shared pong, error and message listeners (the server hooks 'close'). */
export function bindConnection(ws: WebSocket, conn: WsConnection): void {
  (ws as unknown as WithConnection)[CONNECTION] = conn;
  ws.on('pong', onPong);
  ws.on('error', onWsError);
  ws.on('message', onWsMessage);
}

export class WsConnection extends WsRawWriter implements Connection {
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

  /** `fastPath`: whether raw writes may be used (the writer still checks that ws allows them). */
  constructor(ws: WebSocket, remoteAddress: string, fastPath: boolean) {
    super(ws, fastPath);
    this.remoteAddress = remoteAddress;
  }

  override send(data: Uint8Array, binary: boolean): void {
    if (!this.closed) super.send(data, binary);
  }

  // Prepared messages are wsFramer's: whole frames (Buffers), or joined runs of them.
  override sendPrepared(message: Prepared): void {
    if (!this.closed) super.sendPrepared(message as Uint8Array);
  }

  override writeBatch(messages: readonly Prepared[], count: number): void {
    if (!this.closed) super.writeBatch(messages as readonly Uint8Array[], count);
  }

  waitDrain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.drain === null) {
      this.drain = new DrainWaiter();
      this.watchDrain(this);
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
