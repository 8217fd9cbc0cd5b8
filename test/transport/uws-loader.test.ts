/**
 * The uws loader opens a uWebSockets.js binary only when its sha256 is the
 * one fanwire recorded, and says what to do when it refuses. Run against
 * copies of the installed package (intact, one byte longer, unrecorded), and
 * the hash script against the installed package itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadUws, selectTransport, TransportUnavailableError, UWS_BINARIES, UwsLoadError, uwsBinaryName } from '../../src/transport/index.js';
import { IN_CI, TRANSPORTS } from '../helpers.js';
import { copyUwsPackage, INSTALLED_UWS_DIR, ROOT, sha256 } from './uws-package.js';

const LOAD_UWS = fileURLToPath(new URL('../fixtures/load-uws.mjs', import.meta.url));
const HASH_SCRIPT = path.join(ROOT, 'scripts/uws-hashes.mjs');
const NAME = uwsBinaryName();
const RECORDED = `${UWS_BINARIES.package}@${UWS_BINARIES.version}`;
// Copies need the installed package; where it is absent helpers.ts has warned, and under CI these run and fail.
const HAVE_PACKAGE = INSTALLED_UWS_DIR !== null || IN_CI;

const tmp = mkdtempSync(path.join(tmpdir(), 'fanwire-uws-loader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let copies = 0;
const fresh = (): string => path.join(tmp, `copy-${++copies}`);

/** Runs the loader in a process of its own on `dir` (see fixtures/load-uws.mjs). */
function loadInChild(dir: string): { ok: boolean; reason?: string; message?: string; binary?: string; sha256?: string; app?: string; opened: string[] } {
  const result = spawnSync(process.execPath, [LOAD_UWS, dir], { encoding: 'utf8', timeout: 15_000 });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim()) as ReturnType<typeof loadInChild>;
}

function loadError(fn: () => unknown): UwsLoadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UwsLoadError) return err;
    throw err;
  }
  throw new Error('expected a UwsLoadError, but it loaded');
}

describe('uws-binaries', () => {
  it('records a sha256 for the Linux x64 binaries of Node 20, 22 and 24 (ABIs 115, 127, 137)', () => {
    for (const abi of ['115', '127', '137']) expect(UWS_BINARIES.sha256[uwsBinaryName('linux', 'x64', abi)], abi).toMatch(/^[0-9a-f]{64}$/);
  });

  it.skipIf(!HAVE_PACKAGE)('is exactly what npm run uws:hashes writes from the installed package (--check)', () => {
    const result = spawnSync(process.execPath, [HASH_SCRIPT, '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!HAVE_PACKAGE)('npm run uws:hashes rewrites the hash file from the package it is given, and --check then passes', () => {
    const { dir, binary } = copyUwsPackage(fresh(), { tamper: true });
    const out = path.join(tmp, `uws-binaries-${copies}.ts`);
    const write = spawnSync(process.execPath, [HASH_SCRIPT, '--package-dir', dir, '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(write.status, write.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain(`'${NAME}': '${sha256(readFileSync(binary))}',`);
    expect(text.match(/'uws_[^']+\.node'/g)).toEqual([`'${NAME}'`]);
    expect(text).toContain(`install: '${UWS_BINARIES.install}',`);
    const check = spawnSync(process.execPath, [HASH_SCRIPT, '--package-dir', dir, '--out', out, '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    const drift = spawnSync(process.execPath, [HASH_SCRIPT, '--out', out, '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(drift.status).toBe(1);
    expect(drift.stderr).toContain(`does not match ${RECORDED} in ${INSTALLED_UWS_DIR}: run npm run uws:hashes`);
  });
});

describe.skipIf(!HAVE_PACKAGE)('loadUws', () => {
  it.skipIf(!TRANSPORTS.includes('uws'))('loads an intact copy by opening its binary directly (the copy’s uws.js throws)', () => {
    const { dir, binary } = copyUwsPackage(fresh());
    const result = loadInChild(dir);
    expect(result).toMatchObject({ ok: true, binary, sha256: UWS_BINARIES.sha256[NAME], app: 'function' });
    expect(result.opened).toEqual([binary]);
  });

  it('refuses a binary with one byte appended, naming the file and both sha256s, and opens nothing', () => {
    const { dir, binary } = copyUwsPackage(fresh(), { tamper: true });
    const actual = sha256(readFileSync(binary));
    const expected = UWS_BINARIES.sha256[NAME]!;
    expect(actual).not.toBe(expected);

    const err = loadError(() => loadUws({ packageDir: dir }));
    expect(err).toMatchObject({ reason: 'mismatch', binary, expected, actual });
    expect(err.message).toBe(
      `refusing to load ${binary}: its sha256 is ${actual}, expected ${expected} (recorded for ${RECORDED}); ` +
        'reinstall the recorded package (npm ci), or, if uWebSockets.js was changed on purpose, review it and run npm run uws:hashes, then npm run build',
    );
    expect(loadInChild(dir)).toEqual({ ok: false, reason: 'mismatch', message: err.message, opened: [] });
  });

  it('refuses a binary with no recorded sha256, and names the installed and the recorded package when they differ', () => {
    const { dir, binary } = copyUwsPackage(fresh());
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'uWebSockets.js', version: '20.0.0-other', main: 'uws.js' }));
    const err = loadError(() => loadUws({ packageDir: dir, binaries: { ...UWS_BINARIES, sha256: {} } }));
    expect(err).toMatchObject({ reason: 'unrecorded', binary, expected: null, actual: UWS_BINARIES.sha256[NAME] });
    expect(err.message).toContain(`refusing to load ${binary}: its sha256 is ${UWS_BINARIES.sha256[NAME]}, expected none`);
    expect(err.message).toContain(`recorded for ${RECORDED}, installed is uWebSockets.js@20.0.0-other`);
  });

  it('says which binary is missing when the package has none for this platform, Node ABI included', () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'uwebsockets', version: '3.0.6' }));
    const err = loadError(() => loadUws({ packageDir: dir }));
    expect(err.reason).toBe('no_binary');
    expect(err.message).toContain(`has no binary for ${process.platform} ${process.arch} and Node ABI ${process.versions.modules}: ${path.join(dir, NAME)} does not exist`);
  });

  it('says how to install it when the package is not there', () => {
    const err = loadError(() => loadUws({ packageDir: path.join(tmp, 'nothing-here') }));
    expect(err.reason).toBe('not_installed');
    expect(err.message).toContain(`install it with \`npm install ${UWS_BINARIES.install}\``);
  });

  it('makes selectTransport("uws") reject with the refusal rather than fall back to ws', async () => {
    const { dir } = copyUwsPackage(fresh(), { tamper: true });
    const selection = selectTransport('uws', { packageDir: dir });
    await expect(selection).rejects.toThrow(TransportUnavailableError);
    await expect(selection).rejects.toThrow(/^--transport uws: refusing to load .*: its sha256 is [0-9a-f]{64}, expected [0-9a-f]{64} .*; --transport ws serves without it$/);
  });
});
