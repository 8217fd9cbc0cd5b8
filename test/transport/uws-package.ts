/**
 * Real stand-ins for the install states of the optional uWebSockets.js
 * package, built from the installed one: a copy holding its package.json and
 * this process's binary (intact, or with one byte appended), and a project
 * directory whose node_modules links every installed package but
 * uWebSockets.js, as `npm ci --omit=optional` leaves it. No network.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uwsBinaryName } from '../../src/transport/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed package's directory, or null where it is not installed. */
export const INSTALLED_UWS_DIR: string | null = (() => {
  try {
    return path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve('uWebSockets.js/package.json'));
  } catch {
    return null;
  }
})();

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

export interface UwsCopy {
  dir: string;
  /** Absolute path of the copied binary for this platform, architecture and Node ABI. */
  binary: string;
}

/**
 * Copies the installed package's package.json and this process's binary into
 * `dir`; `tamper` appends one zero byte to the binary. The copy's uws.js
 * throws, so whoever loads through it instead of the binary fails.
 */
export function copyUwsPackage(dir: string, options: { tamper?: boolean } = {}): UwsCopy {
  if (INSTALLED_UWS_DIR === null) throw new Error('uWebSockets.js is not installed: nothing to copy');
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(INSTALLED_UWS_DIR, 'package.json'), path.join(dir, 'package.json'));
  writeFileSync(path.join(dir, 'uws.js'), "throw new Error('this copy must be loaded through its binary, not uws.js');\n");
  const binary = path.join(dir, uwsBinaryName());
  copyFileSync(path.join(INSTALLED_UWS_DIR, uwsBinaryName()), binary);
  if (options.tamper) appendFileSync(binary, Buffer.from([0]));
  return { dir, binary };
}

/** Creates `dir/node_modules` with a link to every installed package except uWebSockets.js. */
export function linkNodeModulesWithoutUws(dir: string): void {
  const from = path.join(ROOT, 'node_modules');
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === 'uWebSockets.js' || name === '.package-lock.json') continue;
    symlinkSync(path.join(from, name), path.join(dir, 'node_modules', name));
  }
}
