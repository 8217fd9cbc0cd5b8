/**
 * Picks the transport: `ws` always loads (pure JavaScript); `uws` needs the
 * native uWebSockets.js binary for this platform and Node version, loaded
 * only through uws-loader.ts, which checks its sha256 first. `auto` takes
 * uWS when it loads, else ws, and says why, for the startup log.
 * `--transport uws` that cannot load is an error with the loader's
 * explanation, never a quiet fallback to ws.
 */
import path from 'node:path';
import type { TransportFactory } from './transport.js';
import { uwsTransport } from './uws.js';
import { loadUws, UwsLoadError, type LoadedUws, type LoadUwsOptions } from './uws-loader.js';
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

function describe(loaded: LoadedUws): string {
  return `${loaded.package}@${loaded.version}, ${path.basename(loaded.binary)} sha256 verified`;
}

/** `uws` options are for tests and embedders that load uWebSockets.js from elsewhere (see LoadUwsOptions). */
export async function selectTransport(choice: TransportChoice, uws: LoadUwsOptions = {}): Promise<TransportSelection> {
  if (choice === 'ws') return { name: 'ws', reason: 'asked for with --transport ws', create: createWsTransport as TransportFactory };
  let loaded;
  try {
    loaded = loadUws(uws);
  } catch (err) {
    // The loader's errors say what failed and what to do; anything else is a bug worth its stack.
    if (!(err instanceof UwsLoadError)) throw err;
    if (choice === 'uws') throw new TransportUnavailableError(`--transport uws: ${err.message}; --transport ws serves without it`, { cause: err });
    return { name: 'ws', reason: `auto: uWebSockets.js does not load (${err.message}), using ws`, create: createWsTransport as TransportFactory };
  }
  const reason = choice === 'uws' ? `asked for with --transport uws (${describe(loaded)})` : `auto: uWebSockets.js loaded (${describe(loaded)})`;
  return { name: 'uws', reason, create: uwsTransport(loaded.native) };
}
