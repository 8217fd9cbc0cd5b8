/**
 * The uWebSockets.js transport: one native App serving both HTTP routes and
 * WebSockets.
 *
 * uWS specifics this file owns (see docs/protocol.md for what clients see):
 * - A uWS socket must never be touched after its `close` handler ran (it
 *   throws): every connection keeps a `closed` flag set in that handler, and
 *   the gateway checks it after each await.
 * - Request objects are only valid inside the synchronous handler: method,
 *   URL, query and headers are copied out at once (the client address behind
 *   a trusted proxy, client-address.ts, is resolved from that copy); bodies
 *   are read through `onData` (whose chunks are copied, uWS reuses them) with
 *   `onAborted` set.
 * - uWS cuts a connection without a close frame when a message exceeds
 *   `maxPayloadLength`; to answer with 1009 as the contract says, uWS is given
 *   twice the documented limit and the limit itself is checked here.
 * - uWS drops messages silently past `maxBackpressure`; it is set far above
 *   the gateway's own drop limit, so the gateway, not uWS, decides who is
 *   dropped (4001).
 * - Writes in a cursor's batch go out inside one `cork`, one syscall.
 * - A prepared message is its bytes and whether they are binary
 *   (`UwsMessage`, uws-message.ts): uWS frames each message natively (a copy per send is
 *   unavoidable through its API), so there is nothing to build ahead and
 *   nothing to join (the framer's `join` is null; a cursor's run of
 *   messages goes out corked instead).
 * - The native module is an argument (`uwsTransport(native)`), never an
 *   import: `uws-loader.ts` loads it after checking the binary's sha256, and
 *   this file sees only the types declared in `uws-native.ts`, so fanwire
 *   builds and runs on ws without the optional package.
 * - What both transports do around an HTTP exchange (the body limit, status
 *   lines with Node's reason phrases, the internal-error answer, asking the
 *   gateway) is http-exchange.ts, so both answer alike.
 */
import { BadHandshakeError, TooBigError } from '../errors.js';
import { closeOf } from '../protocol/index.js';
import type { Prepared } from '../fanout/index.js';
import { DrainWaiter } from './drain-waiter.js';
import { clientAddressOf, type TrustedProxies } from './client-address.js';
import { answerRequest, decideUpgrade, readBody, replyHeaders, statusLine } from './http-exchange.js';
import type {
  Connection,
  ConnectionHandlers,
  HttpReply,
  HttpRequest,
  ListenAddress,
  Transport,
  TransportFactory,
  TransportHandlers,
  TransportOptions,
} from './transport.js';
import { uwsFramer, type UwsMessage } from './uws-message.js';
import type * as uWS from './uws-native.js';

const NO_FRAMES: readonly UwsMessage[] = [];
const SEND_DROPPED = 2;
/** The close text uWS gives (with 1006) when its idle timeout cut a connection. */
const UWS_IDLE_TIMEOUT = 'WebSocket timed out from inactivity';

interface UserData<C> {
  /** The gateway's upgrade decision, until `open` hands it over (then null: it may pin buffer items). */
  context: C | null;
  remoteAddress: string;
  maxPayload: number;
  conn: UwsConnection | null;
  events: ConnectionHandlers | null;
}

let corked: UwsConnection | null = null;
let corkedFrames: readonly UwsMessage[] = NO_FRAMES;
let corkedCount = 0;
function writeCorked(): void {
  corked!.sendAll(corkedFrames, corkedCount);
}
function flushCork(): void {}

class UwsConnection implements Connection {
  readonly remoteAddress: string;
  closed = false;
  private readonly ws: uWS.WebSocket<unknown>;
  /** Created on the first wait: most connections never wait for a drain. */
  private drain: DrainWaiter | null = null;
  /** Set if uWS ever dropped a message (past maxBackpressure): the stream has a hole and must end. */
  lostMessage = false;
  /** close() was called: the close frame goes once uWS's buffer is flushed; nothing else is sent. */
  private ending = false;

  constructor(ws: uWS.WebSocket<unknown>, remoteAddress: string) {
    this.ws = ws;
    this.remoteAddress = remoteAddress;
  }

  bufferedAmount(): number {
    if (this.closed) return 0;
    // A connection that lost a message reports itself as hopelessly backed up, so its cursor drops it.
    return this.lostMessage ? Number.MAX_SAFE_INTEGER : this.ws.getBufferedAmount();
  }

  private sendOne(data: Uint8Array, binary: boolean): void {
    if (this.ws.send(data, binary, false) === SEND_DROPPED) this.lostMessage = true;
  }

  send(data: Uint8Array, binary: boolean): void {
    if (this.closed || this.ending) return;
    this.sendOne(data, binary);
  }

  sendPrepared(prepared: Prepared): void {
    if (this.closed || this.ending) return;
    const message = prepared as UwsMessage;
    this.sendOne(message.bytes, message.binary);
  }

  writeBatch(prepared: readonly Prepared[], count: number): void {
    if (this.closed || this.ending) return;
    const messages = prepared as readonly UwsMessage[];
    if (count === 1) {
      // One message is one syscall corked or not; skip the extra native call.
      const message = messages[0]!;
      this.sendOne(message.bytes, message.binary);
      return;
    }
    // cork() runs its callback at once: the batch travels through module
    // variables to one shared callback, so neither a write nor an idle
    // connection holds a closure.
    corked = this;
    corkedFrames = messages;
    corkedCount = count;
    this.ws.cork(writeCorked);
    corked = null;
    corkedFrames = NO_FRAMES;
  }

  /** The body of a corked batch write; see writeCorked. */
  sendAll(messages: readonly UwsMessage[], count: number): void {
    for (let i = 0; i < count; i++) {
      const message = messages[i]!;
      this.sendOne(message.bytes, message.binary);
    }
  }

  waitDrain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.drain ??= new DrainWaiter();
    return this.drain.wait();
  }

  /** Called from the behaviour's drain handler and on close. Re-checks are the waiter's job (uWS#1047). */
  onDrain(): void {
    this.drain?.release();
  }

  pause(): void {
    // uWS reads on; a producer's replies are bounded by maxBackpressure instead.
  }

  resume(): void {}

  /**
   * Ends the connection with a close frame after every byte written to it.
   * uWS's end() fires the close handler at once, with bytes possibly still
   * in its own buffer, and whoever waits for the close (a graceful stop)
   * then closes the app under them: so end() waits until uWS's buffer is
   * empty. Until then the connection stays open (and counted); what is left
   * is in the kernel, which delivers it after the close.
   */
  close(code: number, reason: string): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.ws.getBufferedAmount() === 0) this.ws.end(code, reason);
    else void this.endWhenFlushed(code, reason);
  }

  private async endWhenFlushed(code: number, reason: string): Promise<void> {
    // The drain event is the wake-up; the timer is in case one never comes
    // (uWS#1047). The empty cork flushes what a send from outside a uWS
    // callback can leave in the loop's cork buffer (seen: a snapshot's last
    // 7 KB, counted in getBufferedAmount, waited there until something else
    // touched the socket).
    while (!this.closed && !this.lostMessage && this.ws.getBufferedAmount() > 0) {
      await Promise.race([this.waitDrain(), new Promise((resolve) => setTimeout(resolve, 100))]);
      if (!this.closed) this.ws.cork(flushCork);
    }
    if (!this.closed) this.ws.end(code, reason);
  }

  terminate(): void {
    if (this.closed) return;
    this.ws.close();
  }
}

/** Copies what the handler needs out of a uWS request, which dies when the handler returns. */
class UwsHttpRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly remoteAddress: string;
  private readonly headers = new Map<string, string>();
  private readonly res: uWS.HttpResponse;
  private aborted = false;
  private abortHandler: (() => void) | null = null;

  constructor(res: uWS.HttpResponse, req: uWS.HttpRequest, proxies: TrustedProxies | null) {
    this.res = res;
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    this.query = new URLSearchParams(req.getQuery() ?? '');
    req.forEach((name, value) => {
      const prior = this.headers.get(name);
      this.headers.set(name, prior === undefined ? value : `${prior}, ${value}`);
    });
    // From the copied headers: a later read of `req` would throw (see the header).
    this.remoteAddress = clientAddressOf(Buffer.from(res.getRemoteAddressAsText()).toString(), (name) => this.headers.get(name), proxies);
  }

  header(name: string): string | undefined {
    return this.headers.get(name);
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  markAborted(): void {
    this.aborted = true;
    this.abortHandler?.();
  }

  readBody(limit: number): Promise<Buffer> {
    return readBody(this.headers.get('content-length'), limit, (body) => {
      this.abortHandler = () => body.fail(new Error('request aborted'));
      // The collector copies each chunk: uWS reuses it after this call.
      this.res.onData((chunk, isLast) => {
        if (body.push(chunk) && isLast) body.end();
      });
    });
  }
}

function writeReply(res: uWS.HttpResponse, reply: HttpReply, closeConnection = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(reply.status));
    for (const [name, value] of Object.entries(replyHeaders(reply))) res.writeHeader(name, value);
    res.end(reply.body, closeConnection);
  });
}

const BAD_HANDSHAKE: HttpReply = {
  status: 400,
  body: JSON.stringify({ code: BadHandshakeError.code, message: 'invalid WebSocket handshake: Sec-WebSocket-Key must be 16 bytes in base64 and Sec-WebSocket-Version 13' }),
};

/**
 * The uws transport factory for a loaded uWebSockets.js module. The module is
 * an argument, not an import: it comes from `loadUws` (uws-loader.ts), which
 * verifies the binary first, and the build never needs the package.
 */
export function uwsTransport(native: uWS.UwsModule): TransportFactory {
  return (handlers, options) => createUwsTransport(native, handlers, options);
}

export function createUwsTransport<C>(native: uWS.UwsModule, handlers: TransportHandlers<C>, options: TransportOptions): Transport {
  const app = options.tls ? native.SSLApp({ cert_file_name: options.tls.certFile, key_file_name: options.tls.keyFile }) : native.App();
  const open = new Set<UwsConnection>();
  const proxies = options.trustedProxies ?? null;
  let listenSocket: uWS.us_listen_socket | null = null;

  app.any('/*', (res, req) => {
    // uWS passes an upgrade without a valid key here as plain HTTP; answer it
    // as the ws transport (and the version check below) does.
    if (req.getHeader('upgrade').toLowerCase() === 'websocket') {
      writeReply(res, BAD_HANDSHAKE, true);
      return;
    }
    const request = new UwsHttpRequest(res, req, proxies);
    res.onAborted(() => request.markAborted());
    answerRequest(handlers, request, (reply, failed) => {
      if (!request.isAborted) writeReply(res, reply, failed || reply.status === 413);
    });
  });

  app.ws<UserData<C>>('/*', {
    compression: options.compression ? native.SHARED_COMPRESSOR : native.DISABLED,
    // Twice the largest limit we accept; our own check answers 1009 below that (see header).
    maxPayloadLength: 2 * options.maxPayloadBytes,
    maxBackpressure: options.maxBackpressureBytes,
    closeOnBackpressureLimit: 0, // false (typed as a number in this build)
    // uWS counts in seconds with a 4 s resolution, and pings half-way by itself.
    idleTimeout: options.idleTimeoutMs > 0 ? Math.max(8, Math.ceil(options.idleTimeoutMs / 4000) * 4) : 0,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const request = new UwsHttpRequest(res, req, proxies);
      const key = req.getHeader('sec-websocket-key');
      const extensions = req.getHeader('sec-websocket-extensions');
      // uWS would answer 101 to a handshake RFC 6455 (and the ws transport) refuse.
      const version = request.header('sec-websocket-version');
      if ((version !== '13' && version !== '8') || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
        writeReply(res, BAD_HANDSHAKE, true);
        return;
      }
      // Whether the decision came after this turn of the loop (see below).
      let late = false;
      setImmediate(() => {
        late = true;
      });
      // The decision may be async (token verification): uWS allows upgrading
      // later, inside a cork, as long as the request was not aborted.
      decideUpgrade(handlers, request, (decision) => {
        if (aborted) return;
        if (!decision.accept) {
          writeReply(res, decision.reply, true);
          return;
        }
        const data: UserData<C> = {
          context: decision.context,
          remoteAddress: request.remoteAddress,
          maxPayload: decision.maxPayload,
          conn: null,
          events: null,
        };
        if (!late) {
          res.cork(() => res.upgrade(data, key, decision.protocol ?? '', extensions, context));
        } else {
          // Decided on a later turn of the loop (token verification). In
          // this uWS build an upgrade inside res.cork from a later turn
          // now and then left a stale cork that closed the new connection
          // (1006) right after its first message: 3 of 40 rounds in
          // scratch reproductions, 0 of 200 without the cork. uWS prints a
          // warning to stderr for each such upgrade; correctness wins.
          res.upgrade(data, key, decision.protocol ?? '', extensions, context);
        }
      });
    },

    open: (ws) => {
      const data = ws.getUserData();
      const conn = new UwsConnection(ws as uWS.WebSocket<unknown>, data.remoteAddress);
      data.conn = conn;
      open.add(conn);
      try {
        const context = data.context as C;
        data.context = null;
        data.events = handlers.open(conn, context);
      } catch {
        ws.close();
      }
    },

    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const conn = data.conn;
      if (conn === null || conn.closed || data.events === null) return;
      if (message.byteLength > data.maxPayload) {
        const { code, reason } = closeOf(new TooBigError('message too big'));
        conn.close(code, reason);
        return;
      }
      // The ArrayBuffer is only valid during this call: copy it out.
      data.events.message(Buffer.from(message.slice(0)), isBinary);
    },

    drain: (ws) => {
      ws.getUserData().conn?.onDrain();
    },

    close: (ws, code, message) => {
      const data = ws.getUserData();
      const conn = data.conn;
      if (conn === null) return;
      conn.closed = true;
      open.delete(conn);
      conn.onDrain();
      const reason = Buffer.from(message).toString('utf8');
      // uWS ends a silent connection itself, reporting it only through this text.
      if (code === 1006 && reason === UWS_IDLE_TIMEOUT) handlers.timedOut?.('idle');
      data.events?.close(code, reason);
    },
  });

  return {
    name: 'uws',
    framer: uwsFramer,
    listen(host: string, port: number): Promise<ListenAddress> {
      return new Promise((resolve, reject) => {
        app.listen(host, port, (socket) => {
          if (socket === false) {
            reject(new Error(`uWS could not listen on ${host}:${port} (in use or not permitted)`));
            return;
          }
          listenSocket = socket;
          resolve({ host, port: native.us_socket_local_port(socket) });
        });
      });
    },
    stopAccepting(): void {
      if (listenSocket !== null) {
        native.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
    },
    async close(): Promise<void> {
      this.stopAccepting();
      for (const conn of [...open]) conn.terminate();
      app.close();
    },
  };
}
