/**
 * The software a run measured: Node and the installed versions of the
 * WebSocket libraries fanwire and its peers run on. Recorded with every
 * bench run, because a figure means little without the versions behind it
 * (docs/benchmarks.md prints them).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './servers.mjs';

/** The packages whose version is recorded, by the name they are installed under. */
const PACKAGES = ['ws', 'uWebSockets.js', 'socket.io'];

/** `name@version` from an installed package.json (the registry build of uWebSockets.js is `uwebsockets`), or null when absent. */
function installed(name) {
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    return pkg.name && pkg.name !== name ? `${pkg.name}@${pkg.version}` : pkg.version;
  } catch {
    return null;
  }
}

/** @returns {{node: string, fanwire: string | null, ws: string | null, 'uWebSockets.js': string | null, 'socket.io': string | null}} */
export function versions() {
  let fanwire = null;
  try {
    fanwire = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version ?? null;
  } catch {
    // a copy of load/ outside the repository: leave it out
  }
  return { node: process.version, fanwire, ...Object.fromEntries(PACKAGES.map((n) => [n, installed(n)])) };
}
