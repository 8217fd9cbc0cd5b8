/**
 * @fanwire/client (packages/client) as its users get it: a browser bundle of
 * subscribe() alone within its gzip budget, and the packed tarball installed
 * from the npm registry into an empty folder, bringing msgpackr and nothing of
 * the server, then subscribing to a real gateway from there.
 *
 * The tarball is made once (`npm pack`, whose prepack script compiles
 * src/client into packages/client/dist first), so the bundle is measured on
 * what the tarball holds. Installing needs the npm registry (msgpackr comes
 * from there), as `npm ci` does.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPublisher } from '../../src/client/index.js';
import { startTestGateway, until, type TestGateway } from '../helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGE_DIR = join(ROOT, 'packages/client');
/** The budget of a browser bundle of subscribe() alone, gzip -9 (issue 22). */
const BUNDLE_BUDGET = 8 * 1024;
/** Registry round trips: generous, a slow mirror is not a failure of the package. */
const NPM_TIMEOUT_MS = 180_000;

/**
 * npm as a user runs it. Under `npm test` this process inherits npm_* variables
 * (npm_config_*, npm_package_*); they must not steer the inner npm back into
 * this repository's workspace.
 */
function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, env, timeout: NPM_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`npm ${args.join(' ')} failed in ${cwd}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

interface Installed {
  name: string;
  version: string;
  dir: string;
  dependencies: string[];
}

/** Every package under node_modules, nested ones included, read from its package.json. */
function installedPackages(nodeModules: string): Installed[] {
  const found: Installed[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        visit(path);
        continue;
      }
      const manifest = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as {
        name: string;
        version: string;
        dependencies?: Record<string, string>;
        optionalDependencies?: Record<string, string>;
      };
      found.push({
        name: manifest.name,
        version: manifest.version,
        dir: path,
        dependencies: Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }),
      });
      if (existsSync(join(path, 'node_modules'))) visit(join(path, 'node_modules'));
    }
  };
  visit(nodeModules);
  return found;
}

/** Names reachable from `from` through dependencies and optionalDependencies of what was installed. */
function closureOf(from: string, packages: Installed[]): Set<string> {
  const closure = new Set<string>();
  const pending = [from];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (closure.has(name)) continue;
    closure.add(name);
    for (const pkg of packages.filter((p) => p.name === name)) pending.push(...pkg.dependencies);
  }
  return closure;
}

/** Apparent size in bytes of everything under `dir` (what `du -sb` says). */
function bytesUnder(dir: string): number {
  let total = statSync(dir).size;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(path) : statSync(path).size;
  }
  return total;
}

/** Runs `node args` in `cwd`; resolves once `line` is printed, then resolves `exited` with the whole output. */
function runNode(args: string[], cwd: string): { out: () => string; exited: Promise<{ code: number | null; out: string }>; kill: () => void } {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.once('exit', (code) => resolve({ code, out })));
  return { out: () => out, exited, kill: () => child.kill('SIGKILL') };
}

describe('@fanwire/client, the SDK as a package of its own', () => {
  let work: string;
  let tarball: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'fanwire-client-pkg-'));
    const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], PACKAGE_DIR)) as [{ filename: string; size: number }];
    tarball = join(work, packed[0].filename);
    console.log(`@fanwire/client tarball: ${packed[0].filename}, ${packed[0].size} bytes`);
  }, NPM_TIMEOUT_MS);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('bundles subscribe() alone for a browser in at most 8 KiB gzip: the msgpack decoder comes, the encoder and ws stay out', async () => {
    const result = await build({
      stdin: { contents: "import { subscribe } from '@fanwire/client';\nglobalThis.subscribe = subscribe;\n", resolveDir: ROOT, loader: 'js' },
      bundle: true,
      minify: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const bytes = result.outputFiles[0]!.contents;
    const gzip = gzipSync(bytes, { level: 9 }).length;
    // What the bundle holds: files esbuild read but shook out have 0 bytes in it.
    const inputs = Object.values(result.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([file]) => file));
    console.log(`subscribe() alone, browser bundle: ${bytes.length} bytes minified, ${gzip} bytes gzip -9 (budget ${BUNDLE_BUDGET})`);
    // From the package's dist (what the tarball ships), not from src/client.
    expect(inputs.some((i) => i.includes('packages/client/dist/client/subscribe.js'))).toBe(true);
    expect(inputs.some((i) => i.endsWith('msgpackr/unpack.js'))).toBe(true);
    expect(inputs.filter((i) => i.endsWith('msgpackr/pack.js') || i.includes('/ws/'))).toEqual([]);
    expect(gzip).toBeLessThanOrEqual(BUNDLE_BUDGET);
  });

  describe('installed from its tarball into an empty folder', () => {
    let app: string;
    let gw: TestGateway | null = null;

    beforeAll(async () => {
      app = join(work, 'app');
      rmSync(app, { recursive: true, force: true });
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      await npm(['install', tarball, '--no-audit', '--no-fund'], app);
    }, NPM_TIMEOUT_MS);

    afterAll(async () => {
      await gw?.stop();
    });

    it('brings msgpackr and its own dependencies, nothing of the server', () => {
      const nodeModules = join(app, 'node_modules');
      const packages = installedPackages(nodeModules);
      const allowed = new Set(['@fanwire/client', ...closureOf('msgpackr', packages)]);
      const total = bytesUnder(nodeModules);
      console.log(
        `npm install @fanwire/client: ${packages.length} packages, ${total} bytes (${(total / 1024).toFixed(0)} KiB) in node_modules\n` +
          packages.map((p) => `  ${p.name}@${p.version} ${(bytesUnder(p.dir) / 1024).toFixed(0)} KiB`).join('\n'),
      );
      expect(packages.map((p) => p.name)).toContain('@fanwire/client');
      expect(packages.map((p) => p.name)).toContain('msgpackr');
      expect(packages.map((p) => p.name).filter((name) => !allowed.has(name))).toEqual([]);
    });

    it('works from there: a Node script importing @fanwire/client subscribes to a real gateway and receives an event published to it', async () => {
      gw = await startTestGateway();
      // A fresh install has no `ws` (an optional peer): Node 20 gets its global
      // WebSocket from a flag, Node 22 and later have it.
      const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? [] : ['--experimental-websocket'];
      writeFileSync(
        join(app, 'probe.mjs'),
        [
          "import { subscribe } from '@fanwire/client';",
          'const sub = subscribe({',
          '  url: process.argv[2],',
          "  topics: ['orders'],",
          "  onState: (state) => { if (state === 'live') console.log('live'); },",
          '  onEvents: (message) => { console.log(JSON.stringify({ index: message.index, events: message.events })); sub.close(); },',
          "  onError: (err) => { console.error('error', err.code, err.message); process.exit(1); },",
          '});',
          'await sub.closed;',
        ].join('\n'),
      );
      const probe = runNode([...flags, 'probe.mjs', gw.ws], app);
      const killer = setTimeout(probe.kill, 20_000);
      try {
        // Publish only once it is live, or the event would go before it listens.
        let ended: string | null = null;
        void probe.exited.then(({ out }) => (ended = out));
        await until(() => probe.out().includes('live') || ended !== null, 'the probe to be live');
        expect(ended, `the probe ended before it was live:\n${ended}`).toBeNull();
        const pub = await connectPublisher({ url: gw.ws });
        expect(await pub.publish({ topic: 'orders', key: 'o-1', payload: { total: 40 } })).toBe(1);
        await pub.close();
        const { code, out } = await probe.exited;
        expect(code, out).toBe(0);
        expect(out).toContain('{"index":1,"events":[{"topic":"orders","type":"","key":"o-1","payload":{"total":40}}]}');
      } finally {
        clearTimeout(killer);
        probe.kill();
      }
    });
  });
});
