/**
 * Picks the transport. `ws` (pure JavaScript) is the default: `auto` means ws.
 * `uws` (uWebSockets.js, native) is an explicit opt-in, for two reasons:
 * - its native parser cannot answer hostile frames as RFC 6455 and our
 *   contract say (an unmasked frame hangs until the idle timeout; a frame
 *   over maxPayloadLength or invalid UTF-8 is cut without a close frame), and
 *   nothing in JavaScript can change that (docs/protocol.md lists the cases);
 * - it is an optional dependency from a third-party republication, loaded
 *   only through uws-loader.ts, which checks the binary's sha256 first.
 * `--transport uws` that cannot load (not installed, no binary for this
 * platform, a hash that does not match, a binary that does not open) is an
 * error with the loader's explanation, never a quiet fallback to ws.
 */
import path from 'node:path';
import type { TransportFactory } from './transport.js';
import { uwsTransport } from './uws.js';
import { loadUws, UwsLoadError, type LoadUwsOptions } from './uws-loader.js';
import { createWsTransport } from './ws.js';

export type TransportChoice = 'auto' | 'uws' | 'ws';
export const TRANSPORT_CHOICES: readonly TransportChoice[] = ['auto', 'uws', 'ws'];

export interface TransportSelection {
  name: 'uws' | 'ws';
  /** Why this one: for the startup log. */
  reason: string;
  create: TransportFactory;
}

/** `--transport uws` was asked for and uWebSockets.js does not load here (the loader's UwsLoadError is the cause). */
export class TransportUnavailableError extends Error {
  override name = 'TransportUnavailableError';
}

const AUTO_REASON = 'auto: ws (uws is opt-in, see docs/protocol.md)';

/** `uws` options are for tests and embedders that load uWebSockets.js from elsewhere (see LoadUwsOptions). */
export async function selectTransport(choice: TransportChoice, uws: LoadUwsOptions = {}): Promise<TransportSelection> {
  if (choice !== 'uws') {
    return { name: 'ws', reason: choice === 'ws' ? 'asked for with --transport ws' : AUTO_REASON, create: createWsTransport as TransportFactory };
  }
  let loaded;
  try {
    loaded = loadUws(uws);
  } catch (err) {
    // The loader's errors say what failed and what to do; anything else is a bug worth its stack.
    if (!(err instanceof UwsLoadError)) throw err;
    throw new TransportUnavailableError(`--transport uws: ${err.message}; --transport ws serves without it`, { cause: err });
  }
  return {
    name: 'uws',
    reason: `asked for with --transport uws (${loaded.package}@${loaded.version}, ${path.basename(loaded.binary)} sha256 verified)`,
    create: uwsTransport(loaded.native),
  };
}
