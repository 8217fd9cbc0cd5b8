/**
 * The WebSocket the client runs on: the browser's global, or the `ws`
 * package in Node (loaded only when there is no global, so bundles for the
 * browser never pull it in). Only the members both share are used.
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

export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  const mod = (await import('ws')) as unknown as { WebSocket: WebSocketConstructor };
  return mod.WebSocket;
}

export const OPEN = 1;

/** Bytes of a binary message, whatever the runtime handed us. */
export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
