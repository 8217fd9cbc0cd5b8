/**
 * A real nats-server for the cluster suites: JetStream on, file storage in a
 * temp dir (streams survive restarts), loopback only, a free port. It can be
 * stopped and started again on the same port and store, which is how the
 * suites simulate an outage.
 *
 * Without a nats-server binary the suites are skipped with a loud warning;
 * under CI=true they fail instead (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithBinary, findBinary, type Binary } from '../system-binary.js';

export const NATS: Binary = { path: findBinary('nats-server', 'NATS_SERVER'), name: 'nats-server', envVar: 'NATS_SERVER', covers: 'Cluster mode', suites: 'the cluster suites' };

/** The binary: $NATS_SERVER (`none`: act as if missing), else on PATH, else Debian's /usr/sbin. */
export const NATS_SERVER_BIN: string | null = NATS.path;

/** `describe` when nats-server is there (see describeWithBinary). */
export function describeWithNats(name: string, body: () => void): void {
  describeWithBinary(NATS, name, body);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something on `port` sends the NATS INFO line, or rejects after `ms`. */
async function waitForInfo(port: number, ms: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('nats-server exited during start');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      const done = (value: boolean): void => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('data', (chunk) => done(chunk.toString().startsWith('INFO')));
      socket.once('error', () => done(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nats-server did not accept connections on ${port} within ${ms} ms`);
}

export class NatsServer {
  readonly port: number;
  readonly storeDir: string;
  private child: ChildProcess | null = null;
  private readonly output: string[] = [];

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
  }

  /** Starts a fresh server (new store dir, free port). */
  static async start(): Promise<NatsServer> {
    if (NATS_SERVER_BIN === null) throw new Error('nats-server is not installed');
    const storeDir = await mkdtemp(join(tmpdir(), 'fanwire-nats-'));
    for (let attempt = 1; ; attempt++) {
      const server = new NatsServer(await freePort(), storeDir);
      try {
        await server.startProcess();
        return server;
      } catch (err) {
        if (attempt >= 3) throw err; // the port was taken between freePort() and the bind
      }
    }
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the server printed (for failure messages). */
  get log(): string {
    return this.output.join('');
  }

  private async startProcess(): Promise<void> {
    const child = spawn(NATS_SERVER_BIN!, ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    try {
      await waitForInfo(this.port, 15_000, () => child.exitCode !== null || child.signalCode !== null);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${this.log.slice(-2000)}`);
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after 10 s); the store stays for `restart`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === null || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }

  /** Starts it again on the same port and store dir; retries while the old socket lingers. */
  async start(): Promise<void> {
    if (this.running) return;
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await this.startProcess();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the server and removes its store. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
