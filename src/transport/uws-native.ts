/**
 * The part of uWebSockets.js's API that `uws.ts` uses, declared here so that
 * fanwire builds without the package: uWebSockets.js is an optional
 * dependency, and `npm ci --omit=optional` (or a user who skips it) must still
 * compile and run on ws. Nothing here exists at run time; the module object
 * comes from `uws-loader.ts`, which loads the native binary after checking its
 * sha256.
 *
 * Names and signatures follow the package's own `index.d.ts` (uWS.js v20,
 * republished as `uwebsockets@3.0.6`), narrowed to what we call: when
 * `uws.ts` needs another method, declare it here from that file. Handles
 * (`us_listen_socket`, `us_socket_context_t`) are opaque native pointers:
 * pass them back to uWS, never inspect them.
 */

/** What uWS accepts as a string or binary argument (the kinds fanwire passes). */
export type RecognizedString = string | ArrayBuffer | Uint8Array;

/** A native listen socket, handed to the `listen` callback. */
export interface us_listen_socket {}

/** The socket context an `upgrade` handler passes back to `res.upgrade`. */
export interface us_socket_context_t {}

/** A WebSocket, valid from its `open` to its `close` handler (touching it after that throws). */
export interface WebSocket<UserData> {
  /** 1: sent, 0: sent but buffered (backpressure), 2: dropped (past `maxBackpressure`). */
  send(message: RecognizedString, isBinary?: boolean, compress?: boolean): number;
  getBufferedAmount(): number;
  /** Sends a close frame, then runs the close handler at once. */
  end(code?: number, shortMessage?: RecognizedString): void;
  /** Cuts the connection without a close frame; runs the close handler at once. */
  close(): void;
  /** Runs `cb` at once with the socket corked: the sends inside leave in one syscall. */
  cork(cb: () => void): WebSocket<UserData>;
  getUserData(): UserData;
}

/** A response, valid until `onAborted` fires or `end` succeeds. */
export interface HttpResponse {
  writeStatus(status: RecognizedString): HttpResponse;
  writeHeader(key: RecognizedString, value: RecognizedString): HttpResponse;
  end(body?: RecognizedString, closeConnection?: boolean): HttpResponse;
  /** Required before returning from a handler without answering. */
  onAborted(handler: () => void): HttpResponse;
  /** `chunk` is neutered when the handler returns: copy it. */
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): HttpResponse;
  getRemoteAddressAsText(): ArrayBuffer;
  cork(cb: () => void): HttpResponse;
  upgrade<UserData>(
    userData: UserData,
    secWebSocketKey: RecognizedString,
    secWebSocketProtocol: RecognizedString,
    secWebSocketExtensions: RecognizedString,
    context: us_socket_context_t,
  ): void;
}

/** A request, valid only during the synchronous handler call. */
export interface HttpRequest {
  /** The header's value, or '' when absent. */
  getHeader(lowerCaseKey: RecognizedString): string;
  getUrl(): string;
  /** Lowercased. */
  getMethod(): string;
  /** The raw query string (without `?`). */
  getQuery(): string | undefined;
  forEach(cb: (key: string, value: string) => void): void;
}

/** permessage-deflate setting: `DISABLED`, `SHARED_COMPRESSOR`, ... */
export type CompressOptions = number;

/** Settings and handlers of a WebSocket route. */
export interface WebSocketBehavior<UserData> {
  maxPayloadLength?: number;
  /** A boolean in uWS's C++, typed as a number in this build's declarations. */
  closeOnBackpressureLimit?: number;
  /** Seconds, 4 s resolution; 0 disables. */
  idleTimeout?: number;
  compression?: CompressOptions;
  maxBackpressure?: number;
  sendPingsAutomatically?: boolean;
  upgrade?: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => void;
  open?: (ws: WebSocket<UserData>) => void;
  message?: (ws: WebSocket<UserData>, message: ArrayBuffer, isBinary: boolean) => void;
  drain?: (ws: WebSocket<UserData>) => void;
  close?: (ws: WebSocket<UserData>, code: number, message: ArrayBuffer) => void;
}

export interface AppOptions {
  key_file_name?: RecognizedString;
  cert_file_name?: RecognizedString;
}

/** An App or SSLApp. */
export interface TemplatedApp {
  listen(host: RecognizedString, port: number, cb: (listenSocket: us_listen_socket | false) => void): TemplatedApp;
  any(pattern: RecognizedString, handler: (res: HttpResponse, req: HttpRequest) => void): TemplatedApp;
  ws<UserData>(pattern: RecognizedString, behavior: WebSocketBehavior<UserData>): TemplatedApp;
  /** Closes every socket, listen sockets included. */
  close(): TemplatedApp;
}

/** The loaded native module (what `require('uWebSockets.js')` would return). */
export interface UwsModule {
  App(options?: AppOptions): TemplatedApp;
  SSLApp(options: AppOptions): TemplatedApp;
  us_listen_socket_close(listenSocket: us_listen_socket): void;
  us_socket_local_port(socket: us_listen_socket): number;
  readonly DISABLED: CompressOptions;
  readonly SHARED_COMPRESSOR: CompressOptions;
}
