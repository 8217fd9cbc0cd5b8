/**
 * The WebSocket the client runs on: the browser's global, or the `ws`
 * package in Node (loaded only when there is no global, so bundles for the
 * browser never pull it in). Only the members both share are used.
 */
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

/** The subprotocol that carries a token from clients that cannot set headers (browsers). */
export const TOKEN_SUBPROTOCOL = 'fanwire.v1';

export function protocolsFor(token: string | undefined): string[] | undefined {
  return token === undefined ? undefined : [TOKEN_SUBPROTOCOL, token];
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
