/**
 * Picks the transport: `ws` always loads (pure JavaScript); `uws` needs the
 * native uWebSockets.js binary for this platform and Node version. `auto`
 * takes uWS when it loads, else ws, and says why, for the startup log.
 * The uWS module is imported only here, lazily, so a missing or broken
 * binary costs nothing unless it is asked for.
 */
import type { TransportFactory } from './transport.js';
import { createWsTransport } from './ws.js';

export type TransportChoice = 'auto' | 'uws' | 'ws';
export const TRANSPORT_CHOICES: readonly TransportChoice[] = ['auto', 'uws', 'ws'];

export interface TransportSelection {
  name: 'uws' | 'ws';
  /** Why this one: for the startup log. */
  reason: string;
  create: TransportFactory;
}

/** `--transport uws` was asked for and uWebSockets.js does not load here. */
export class TransportUnavailableError extends Error {
  override name = 'TransportUnavailableError';
}

async function loadUws(): Promise<TransportFactory> {
  const mod = await import('./uws.js');
  return mod.createUwsTransport as TransportFactory;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
}

export async function selectTransport(choice: TransportChoice): Promise<TransportSelection> {
  if (choice === 'ws') return { name: 'ws', reason: 'asked for with --transport ws', create: createWsTransport as TransportFactory };
  try {
    const create = await loadUws();
    return { name: 'uws', reason: choice === 'uws' ? 'asked for with --transport uws' : 'auto: uWebSockets.js loaded', create };
  } catch (err) {
    if (choice === 'uws') {
      throw new TransportUnavailableError(`--transport uws: uWebSockets.js does not load on this machine (${firstLine(err)}); use --transport ws or auto`, { cause: err });
    }
    return { name: 'ws', reason: `auto: uWebSockets.js does not load (${firstLine(err)}), using ws`, create: createWsTransport as TransportFactory };
  }
}
