/**
 * Loads uWebSockets.js for the uws transport, and only a binary whose sha256
 * fanwire has recorded (uws-binaries.ts).
 *
 * Why not `require('uWebSockets.js')`: the package is an optional dependency
 * installed from a third-party republication (`uwebsockets@3.0.6`, 54
 * prebuilt binaries, license metadata that disagrees with its LICENSE file),
 * and its `uws.js` loads whatever `uws_<platform>_<arch>_<abi>.node` it finds.
 * A native binary runs with the gateway's privileges and sees every message,
 * so the loader pins the bytes:
 *
 *   package.json of uWebSockets.js   (resolved from here, or `packageDir`)
 *        │
 *        ├─ uws_<process.platform>_<process.arch>_<process.versions.modules>.node
 *        │        │ sha256
 *        │        ▼
 *        │   UWS_BINARIES.sha256[name] ── absent or different ─▶ UwsLoadError, nothing loaded
 *        │        │ equal
 *        ▼        ▼
 *   require() of that .node file itself (never the package's uws.js)
 *
 * Every failure is a UwsLoadError whose `reason` says which step failed and
 * whose message says what to do; `--transport uws` turns it into exit 1, never
 * a silent fallback. The file is hashed and then loaded by path: this guards
 * against a tampered or swapped package on disk, not against a local attacker
 * racing the process between the two steps.
 *
 * Each successful load is remembered per binary path and expected hash, as
 * Node's require cache remembers the module: a binary is opened once per
 * process, so hashing it again on every gateway start (~30 ms for its 7 MB)
 * would check a file that no longer matters.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UWS_BINARIES, type UwsBinaries } from './uws-binaries.js';
import type { UwsModule } from './uws-native.js';

/** Which step refused: the package, the binary for this platform, its hash, or the native load itself. */
export type UwsLoadFailure = 'not_installed' | 'no_binary' | 'unrecorded' | 'mismatch' | 'load_failed';

export class UwsLoadError extends Error {
  override name = 'UwsLoadError';
  readonly reason: UwsLoadFailure;
  /** The binary this was about (absolute path), when one was found. */
  readonly binary: string | null;
  /** Recorded and actual sha256, for `unrecorded` (expected null) and `mismatch`. */
  readonly expected: string | null;
  readonly actual: string | null;

  constructor(reason: UwsLoadFailure, message: string, details: { binary?: string; expected?: string | null; actual?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.binary = details.binary ?? null;
    this.expected = details.expected ?? null;
    this.actual = details.actual ?? null;
  }
}

export interface LoadedUws {
  native: UwsModule;
  /** Absolute path of the loaded binary. */
  binary: string;
  sha256: string;
  /** The package's own name and version, e.g. `uwebsockets` `3.0.6`. */
  package: string;
  version: string;
}

export interface LoadUwsOptions {
  /** The package directory to load from; default: uWebSockets.js as resolved from fanwire. Tests point it at copies. */
  packageDir?: string;
  /** The recorded hashes; default: uws-binaries.ts. */
  binaries?: UwsBinaries;
}

/** The binary uws.js would pick on this process: platform, architecture and Node ABI. */
export function uwsBinaryName(platform: string = process.platform, arch: string = process.arch, abi: string = process.versions.modules): string {
  return `uws_${platform}_${arch}_${abi}.node`;
}

const loaded = new Map<string, LoadedUws>();

function installHint(binaries: UwsBinaries): string {
  return `install it with \`npm install ${binaries.install}\` (or an official uWebSockets.js release: README, "uWebSockets.js transport")`;
}

function findPackageDir(binaries: UwsBinaries): string {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('uWebSockets.js/package.json'));
  } catch (err) {
    throw new UwsLoadError('not_installed', `uWebSockets.js is not installed (it is an optional dependency of fanwire); ${installHint(binaries)}`, { cause: err });
  }
}

export function loadUws(options: LoadUwsOptions = {}): LoadedUws {
  const binaries = options.binaries ?? UWS_BINARIES;
  const packageDir = path.resolve(options.packageDir ?? findPackageDir(binaries));
  let pkg: { name?: string; version?: string };
  try {
    pkg = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as typeof pkg;
  } catch (err) {
    throw new UwsLoadError('not_installed', `uWebSockets.js is not installed at ${packageDir} (no readable package.json); ${installHint(binaries)}`, { cause: err });
  }
  const installed = `${pkg.name ?? '?'}@${pkg.version ?? '?'}`;
  const recorded = `${binaries.package}@${binaries.version}`;
  const name = uwsBinaryName();
  const binary = path.join(packageDir, name);
  const expected = binaries.sha256[name];
  const cacheKey = `${binary}\0${expected}`;
  const cached = loaded.get(cacheKey);
  if (cached !== undefined) return cached;

  if (!existsSync(binary)) {
    throw new UwsLoadError('no_binary', `uWebSockets.js (${installed}) has no binary for ${process.platform} ${process.arch} and Node ABI ${process.versions.modules}: ${binary} does not exist`, { binary });
  }
  const actual = createHash('sha256').update(readFileSync(binary)).digest('hex');
  // When the package is not the one the hashes were recorded from, say so: that is the likely cause.
  const versionNote = installed === recorded ? `recorded for ${recorded}` : `recorded for ${recorded}, installed is ${installed}`;
  const remedy = 'reinstall the recorded package (npm ci), or, if uWebSockets.js was changed on purpose, review it and run npm run uws:hashes, then npm run build';
  if (expected === undefined) {
    throw new UwsLoadError('unrecorded', `refusing to load ${binary}: its sha256 is ${actual}, expected none (fanwire records no sha256 for ${name}; ${versionNote}); ${remedy}`, {
      binary,
      expected: null,
      actual,
    });
  }
  if (actual !== expected) {
    throw new UwsLoadError('mismatch', `refusing to load ${binary}: its sha256 is ${actual}, expected ${expected} (${versionNote}); ${remedy}`, { binary, expected, actual });
  }
  let native: UwsModule;
  try {
    native = createRequire(import.meta.url)(binary) as UwsModule;
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
    throw new UwsLoadError('load_failed', `uWebSockets.js does not load on this machine (${binary}, sha256 verified: ${why})`, { binary, cause: err });
  }
  const result: LoadedUws = { native, binary, sha256: actual, package: pkg.name ?? '?', version: pkg.version ?? '?' };
  loaded.set(cacheKey, result);
  return result;
}
