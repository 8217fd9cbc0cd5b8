/**
 * A real nginx for the reverse-proxy suites (Debian's package): started as
 * the current user with a temp prefix (its own pid file, error log and temp
 * paths), listening on a free loopback port, in the foreground so it dies
 * with `stop()`. Also `nginx -t` on a given configuration, for the deploy
 * docs.
 *
 * Without an nginx binary the suites are skipped with a loud warning; under
 * CI=true they fail instead (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithBinary, findBinary, type Binary } from '../system-binary.js';

export const NGINX: Binary = { path: findBinary('nginx', 'NGINX'), name: 'nginx', envVar: 'NGINX', covers: 'Running behind a reverse proxy', suites: 'the reverse-proxy suites' };

/** The binary: $NGINX (`none`: act as if missing), else on PATH, else Debian's /usr/sbin. */
export const NGINX_BIN: string | null = NGINX.path;

/** `describe` when nginx is there (see describeWithBinary). */
export function describeWithNginx(name: string, body: () => void): void {
  describeWithBinary(NGINX, name, body);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The main-context lines every temp-prefix nginx needs around an http-level
 * snippet: no daemon, pid, error log and temp files under `dir`, and (as
 * root) workers that stay root, so they can use the 0700 temp dir.
 */
export function wrapHttp(dir: string, httpBody: string): string {
  const asRoot = process.getuid?.() === 0;
  return [
    asRoot ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`),
    httpBody,
    '}',
    '',
  ].join('\n');
}

/** `nginx -t` on a whole configuration; resolves with whether it passed and what nginx said. */
export async function nginxTest(config: string): Promise<{ ok: boolean; output: string }> {
  if (NGINX_BIN === null) throw new Error('nginx is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fanwire-nginx-t-'));
  try {
    await writeFile(join(dir, 'nginx.conf'), config.replaceAll('@DIR@', dir));
    const result = spawnSync(NGINX_BIN, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8', timeout: 15_000 });
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolves once something accepts TCP connections on `port`, or rejects after `ms`. */
async function waitForPort(port: number, ms: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('nginx exited during start');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      const done = (value: boolean): void => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not accept connections on ${port} within ${ms} ms`);
}

export class Nginx {
  readonly port: number;
  readonly dir: string;
  private readonly child: ChildProcess;
  private readonly output: string[] = [];

  private constructor(port: number, dir: string, child: ChildProcess) {
    this.port = port;
    this.dir = dir;
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
  }

  /**
   * Starts nginx on a free loopback port with the http-level `httpBody` from
   * `snippet(port, dir)`; retries (a new port) if the port was taken between
   * picking it and nginx binding it.
   */
  static async start(snippet: (port: number, dir: string) => string): Promise<Nginx> {
    if (NGINX_BIN === null) throw new Error('nginx is not installed');
    for (let attempt = 1; ; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'fanwire-nginx-'));
      const port = await freePort();
      const conf = join(dir, 'nginx.conf');
      await writeFile(conf, wrapHttp(dir, snippet(port, dir)));
      const child = spawn(NGINX_BIN, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const nginx = new Nginx(port, dir, child);
      try {
        await waitForPort(port, 15_000, () => child.exitCode !== null || child.signalCode !== null);
        return nginx;
      } catch (err) {
        const log = await nginx.errorLog();
        await nginx.stop();
        if (attempt >= 3) throw new Error(`${(err as Error).message}\n${log.slice(-2000)}`);
      }
    }
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What nginx wrote to its error log and to stderr (for failure messages). */
  async errorLog(): Promise<string> {
    const file = await readFile(join(this.dir, 'error.log'), 'utf8').catch(() => '');
    return `${this.output.join('')}${file}`;
  }

  /** Stops nginx (SIGTERM; SIGKILL after 10 s) and removes its prefix. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // SIGTERM is nginx's fast stop: open WebSockets through it are cut at once, as a test wants.
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
