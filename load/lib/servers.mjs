/**
 * The servers under test and how to start, wait for and stop them.
 * Each runs as its own process, started directly (no shell), so its pid is
 * the process whose memory and CPU we read.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sleep } from './clock.mjs';
import { exited, removeDir, stop, track, trackDir, trackPid, untrackPid } from './children.mjs';
import { natsSkip, natsWsArgs, nchanArgs, nchanSkip } from './native-peers.mjs';
import { childPids } from './procstat.mjs';

const LOAD_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ROOT = path.dirname(LOAD_DIR);
const CLI = path.join(ROOT, 'dist', 'cli.js');

/**
 * The Node flag the `fanwire` command runs with (dist/cli.js re-executes
 * itself with it where Node can): fanwire is measured as that command runs,
 * on every Node, started as `node FLAG dist/cli.js` so the pid stays theirs.
 */
async function launcherFlags() {
  const file = path.join(ROOT, 'dist', 'cli', 'young-generation.js');
  if (!existsSync(file)) return [];
  const { YOUNG_GENERATION_FLAG } = await import(pathToFileURL(file).href);
  return [YOUNG_GENERATION_FLAG];
}
const FANWIRE_NODE_FLAGS = await launcherFlags();

/** fanwire and the two plain servers it is compared with most closely (bench-transports' first four). */
export const SERVER_NAMES = ['fanwire-uws', 'uws-publish', 'fanwire-ws', 'ws-loop'];
/** fanwire with subscribers asking for batch messages (`batch=1`, docs/protocol.md): the opt-in extension measured on its own. */
export const BATCH_SERVERS = ['fanwire-uws-batch', 'fanwire-ws-batch'];
/** The servers users pick instead that are not Node programs (native-peers.mjs); skipped, saying why, when not installed. */
export const NATIVE_SERVERS = ['nats-ws', 'nchan', 'nchan-auto'];
/** Every server load.mjs and bench.mjs know. */
export const ALL_SERVERS = [...SERVER_NAMES, ...BATCH_SERVERS, 'socketio', ...NATIVE_SERVERS];
/** bench-transports' run order for one pass; `--runs 2` runs it forwards then backwards (A B C D ... D C B A). */
export const TRANSPORT_SERVERS = [...SERVER_NAMES, ...NATIVE_SERVERS];

/**
 * Extra node flags for the servers only, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
 * to profile them (node refuses --cpu-prof in NODE_OPTIONS).
 */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

/** The environment for servers: ours without FANWIRE_* settings, so every run measures the defaults. */
const SERVER_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FANWIRE_')));
SERVER_ENV.NODE_ENV = 'production';

/** What the built fanwire CLI supports, checked once. */
export function inspectFanwire() {
  if (!existsSync(CLI)) return { ok: false, why: `${path.relative(process.cwd(), CLI)} is missing: run \`npm run build\`` };
  let help = '';
  try {
    help = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', timeout: 10_000, env: SERVER_ENV });
  } catch (err) {
    return { ok: false, why: `\`node dist/cli.js --help\` failed: ${err.message}` };
  }
  const newestSrc = newestMtime(path.join(ROOT, 'src'));
  const flags = [...new Set(help.match(/--[a-z][a-z-]+/g) ?? [])];
  return { ok: true, hasTransportFlag: flags.includes('--transport'), flags, stale: newestSrc > statSync(CLI).mtimeMs };
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * How to start server `name`, or why it cannot run.
 * @param {string} name
 * @param {ReturnType<typeof inspectFanwire>} fanwire
 * @param {string[]} [extra] more fanwire flags (e.g. --buffer-size 200); ignored by the peers
 * @returns {{name: string, mode: 'fanwire' | 'raw' | 'socketio' | 'nats' | 'nchan', args: (port: number) => string[], skip?: string, query?: string,
 *   native?: (dir: string, port: number) => {command: string, args: string[]}, workers?: boolean}}
 *   `query`: more subscribe query parameters (fanwire); `native`: a server that is not a Node program, started as
 *   `command args` with its files in the temp dir `dir`; `workers`: its work happens in child processes (nginx), whose
 *   memory and CPU count as the server's
 */
export function serverSpec(name, fanwire, extra = []) {
  const fanwireArgs = (transport) => (port) => {
    const args = [...FANWIRE_NODE_FLAGS, CLI, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
    if (fanwire.hasTransportFlag) args.push('--transport', transport);
    return [...args, ...extra];
  };
  switch (name) {
    case 'fanwire-uws':
      return {
        name,
        mode: 'fanwire',
        args: fanwireArgs('uws'),
        skip: !fanwire.ok ? fanwire.why : !fanwire.hasTransportFlag ? 'dist/cli.js has no --transport flag yet (rebuild once it lands)' : undefined,
      };
    case 'fanwire-ws':
      return { name, mode: 'fanwire', args: fanwireArgs('ws'), skip: fanwire.ok ? undefined : fanwire.why };
    case 'fanwire-uws-batch':
    case 'fanwire-ws-batch': {
      const plain = serverSpec(name.slice(0, -'-batch'.length), fanwire, extra);
      return { ...plain, name, query: 'batch=1' };
    }
    case 'uws-publish':
    case 'ws-loop':
      return { name, mode: 'raw', args: (port) => [path.join(LOAD_DIR, 'peers', `${name}.mjs`), String(port)] };
    case 'socketio':
      return { name, mode: 'socketio', args: (port) => [path.join(LOAD_DIR, 'peers', 'socketio.mjs'), String(port)] };
    case 'nats-ws':
      return { name, mode: 'nats', args: () => [], native: (dir, port) => natsWsArgs(dir, port), skip: natsSkip() };
    case 'nchan':
    case 'nchan-auto':
      return { name, mode: 'nchan', args: () => [], native: (dir, port) => nchanArgs(dir, port, name === 'nchan' ? '1' : 'auto'), workers: true, skip: nchanSkip() };
    default:
      throw new Error(`unknown server "${name}" (known: ${ALL_SERVERS.join(', ')})`);
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A started server: its process, the last lines it printed, and stop(). */
export class ServerProcess {
  constructor(spec, port) {
    this.port = port;
    this.lines = [];
    this.spec = spec;
    /** A native server's config, logs and temp files; removed once it has exited. */
    this.dir = null;
    /** @type {number[]} worker processes (nginx), killed with the server if it is killed */
    this.workers = [];
    if (spec.native) {
      this.dir = mkdtempSync(path.join(tmpdir(), `fanwire-bench-${spec.name}-`));
      trackDir(this.dir);
      const { command, args } = spec.native(this.dir, port);
      this.command = [command, ...args].join(' ');
      this.child = track(spawn(command, args, { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'], env: SERVER_ENV }));
      const dir = this.dir;
      this.child.once('exit', () => removeDir(dir));
    } else {
      this.command = ['node', ...spec.args(port)].join(' ');
      this.child = track(spawn(process.execPath, [...SERVER_NODE_ARGS, ...spec.args(port)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: SERVER_ENV }));
    }
    this.pid = this.child.pid;
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (text) => {
        for (const line of text.split('\n')) if (line.trim()) this.lines.push(line.slice(0, 500));
        if (this.lines.length > 50) this.lines.splice(0, this.lines.length - 50);
      });
    }
    this.child.stdin.on('error', () => {}); // a server that exits early closes its stdin
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the port accepts TCP connections; rejects if the process exits or time runs out. */
  async waitListening(timeoutMs = 15_000) {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.alive) throw new Error(`server exited (code ${this.child.exitCode ?? this.child.signalCode}): ${this.lines.slice(-5).join(' | ')}`);
      if (await canConnect(this.port)) {
        if (this.spec.workers) await this.findWorkers(deadline);
        return;
      }
      await sleep(100);
    }
    throw new Error(`server did not listen on port ${this.port} within ${timeoutMs} ms`);
  }

  /** nginx's workers: the processes that hold the connections. Registered so a kill of everything takes them too. */
  async findWorkers(deadline) {
    while (performance.now() < deadline) {
      this.workers = childPids(this.pid);
      if (this.workers.length) break;
      await sleep(50);
    }
    for (const pid of this.workers) trackPid(pid);
  }

  /** The server's pids: its main process, then its workers. */
  get pids() {
    return [this.pid, ...this.workers];
  }

  async stop() {
    this.child.stdin.end();
    await stop(this.child, 6000); // fanwire's graceful shutdown is 5 s at most; nginx's fast shutdown ends its workers first
    this.killWorkers();
  }

  /** Workers left behind (a master killed with SIGKILL leaves them running, still listening). */
  killWorkers() {
    for (const pid of this.workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      untrackPid(pid);
    }
  }

  exited() {
    return exited(this.child);
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
