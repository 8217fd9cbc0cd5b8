/**
 * uWebSockets.js is optional: fanwire builds and serves without the package,
 * as `npm ci --omit=optional` or a package user who skips it leaves it, and
 * `--transport uws` then says how to install it. A project with a tampered
 * binary refuses `--transport uws` instead of loading it or falling back.
 * Each case is a real project directory in a temp dir (see uws-package.ts)
 * running the real CLI.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UWS_BINARIES, uwsBinaryName } from '../../src/transport/index.js';
import { IN_CI, spawnGateway } from '../helpers.js';
import { copyUwsPackage, INSTALLED_UWS_DIR, linkNodeModulesWithoutUws, ROOT, sha256 } from './uws-package.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'fanwire-optional-uws-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runCli(project: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(project, 'dist/cli.js'), '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: project,
    encoding: 'utf8',
    timeout: 15_000,
  });
}

describe('without the optional uWebSockets.js package', () => {
  // A clone without uWebSockets.js: the sources, the build's inputs, and node_modules minus that package.
  const project = path.join(tmp, 'without');
  let build: ReturnType<typeof spawnSync>;
  beforeAll(() => {
    for (const entry of ['src', 'scripts', 'packages', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(path.join(ROOT, entry), path.join(project, entry), { recursive: true });
    linkNodeModulesWithoutUws(project);
    build = spawnSync('npm', ['run', 'build'], { cwd: project, encoding: 'utf8', timeout: 170_000 });
  }, 180_000);

  it('is really not visible to the project (the premise of this suite)', () => {
    expect(() => createRequire(path.join(project, 'package.json')).resolve('uWebSockets.js/package.json')).toThrow(/Cannot find module/);
  });

  it('builds: tsc compiles src and @fanwire/client, and the dashboard bundles', () => {
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    expect(existsSync(path.join(project, 'dist/cli.js'))).toBe(true);
    expect(existsSync(path.join(project, 'dist/transport/uws-loader.js'))).toBe(true);
    expect(existsSync(path.join(project, 'packages/client/dist/client/index.js'))).toBe(true);
  });

  it('serves on ws by default and logs that uws is opt-in', async () => {
    const gw = await spawnGateway([], {}, path.join(project, 'dist/cli.js'));
    try {
      expect(gw.logs[0]).toMatchObject({ msg: 'fanwire listening', transport: 'ws', transportReason: 'auto: ws (uws is opt-in, see docs/protocol.md)' });
      const health = await fetch(`${gw.http}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('--transport uws exits 1 saying how to install uWebSockets.js', () => {
    const result = runCli(project, ['--transport', 'uws']);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'fanwire: --transport uws: uWebSockets.js is not installed (it is an optional dependency of fanwire); ' +
        `install it with \`npm install ${UWS_BINARIES.install}\` (or an official uWebSockets.js release: README, "uWebSockets.js transport"); ` +
        '--transport ws serves without it',
    );
  });
});

// Copies need the installed package; where it is absent helpers.ts has warned, and under CI this runs and fails.
describe.skipIf(INSTALLED_UWS_DIR === null && !IN_CI)('with a tampered uWebSockets.js binary', () => {
  it('--transport uws exits 1 naming the file and both sha256s, without falling back to ws', () => {
    // The built fanwire (dist/, as npm test builds it) with node_modules/uWebSockets.js one byte longer.
    const project = path.join(tmp, 'tampered');
    cpSync(path.join(ROOT, 'dist'), path.join(project, 'dist'), { recursive: true });
    cpSync(path.join(ROOT, 'package.json'), path.join(project, 'package.json'));
    linkNodeModulesWithoutUws(project);
    // The loader names the file as Node resolves it (symlinks followed).
    const binary = realpathSync(copyUwsPackage(path.join(project, 'node_modules/uWebSockets.js'), { tamper: true }).binary);

    const result = runCli(project, ['--transport', 'uws']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(''); // nothing logged: it never listened
    const expected = UWS_BINARIES.sha256[uwsBinaryName()]!;
    expect(result.stderr.trim()).toBe(
      `fanwire: --transport uws: refusing to load ${binary}: its sha256 is ${sha256(readFileSync(binary))}, expected ${expected} (recorded for ${UWS_BINARIES.package}@${UWS_BINARIES.version}); ` +
        'reinstall the recorded package (npm ci), or, if uWebSockets.js was changed on purpose, review it and run npm run uws:hashes, then npm run build; ' +
        '--transport ws serves without it',
    );
  });
});
