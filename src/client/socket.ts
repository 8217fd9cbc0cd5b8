/**
 * The WebSocket the client runs on: the browser's global, or the `ws`
 * package in Node (loaded only when there is no global). Only the members
 * both share are used.
 *
 * `ws` is imported through a variable, not a literal: bundlers follow a
 * literal `import('ws')` even though a browser never takes that path, and
 * esbuild then added ws's browser stub with its CommonJS interop helpers,
 * 342 bytes of the 8 KB gzip budget of a subscribe-only bundle
 * (test/client/package.test.ts). The comments tell webpack and Vite to leave
 * it alone too. @fanwire/client lists `ws` as an optional peer: Node 22 has a
 * global WebSocket, Node 20 needs `ws` installed (or `--experimental-websocket`,
 * or the `WebSocket` option).
 */
import { FanwireClientError } from './errors.js';

export interface ClientSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string[]) => ClientSocket;

/**
 * The subprotocol the client always offers. It carries a token from clients
 * that cannot set headers (browsers), and asks the gateway to answer a
 * refused upgrade with a close code (4400, 4401, 4403, 4410) a browser can
 * see, instead of an HTTP status it cannot.
 */
export const SUBPROTOCOL = 'fanwire.v1';

export function protocolsFor(token: string | undefined): string[] {
  return token === undefined ? [SUBPROTOCOL] : [SUBPROTOCOL, token];
}

/** A token (JWT), or a function called before every connection attempt for a fresh one. */
export type TokenSource = string | (() => string | Promise<string>);

/** The token for the next connection attempt; throws FanwireClientError `token_unavailable` when a function fails. */
export async function nextToken(source: TokenSource | undefined): Promise<string | undefined> {
  if (typeof source !== 'function') return source;
  let token: unknown;
  try {
    token = await source();
  } catch (err) {
    throw new FanwireClientError('token_unavailable', `the token function failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof token !== 'string' || token === '') throw new FanwireClientError('token_unavailable', 'the token function returned no token (a non-empty string)');
  return token;
}

const WS_PACKAGE = 'ws';

export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  const mod = (await import(/* webpackIgnore: true */ /* @vite-ignore */ WS_PACKAGE)) as { WebSocket: WebSocketConstructor };
  return mod.WebSocket;
}

export const OPEN = 1;

/** Bytes of a binary message, whatever the runtime handed us. */
export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
