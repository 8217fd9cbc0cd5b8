/**
 * Test harness: real gateways (in-process or as the `fanwire` CLI in a child
 * process) and real `ws` clients. Every wait is bounded, so a broken build
 * fails a test instead of hanging it; no wait's length decides a result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import { Gateway, type GatewayOptions } from '../src/index.js';
import { loadUws } from '../src/transport/index.js';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export type TransportName = 'ws' | 'uws';

/** Set by CI systems (CI=true): suites that would skip for something missing fail instead. */
export const IN_CI = Boolean(process.env.CI);

/**
 * Why the uws transport cannot run here (the loader's message: not
 * installed, no binary for this platform, a hash that does not match), or
 * null when uWebSockets.js loads with its binary verified.
 */
export const UWS_UNAVAILABLE: string | null = (() => {
  try {
    loadUws();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
})();

/**
 * Set by .ci/run for its pass on another Node line whose uWebSockets.js
 * binary cannot load on the CI machine (the registry build for Node 24 needs
 * glibc 2.38), with the reason: uws is then left out even under CI, loudly.
 * Ignored when uws loads after all.
 */
const UWS_DECLARED_UNSUPPORTED = process.env.FANWIRE_TEST_UWS_UNSUPPORTED || null;

/**
 * Every transport the contract suites run against. Where uWebSockets.js does
 * not load, uws is left out with a warning naming why; under CI it stays in,
 * so its suites fail with that reason instead of passing without having run
 * (unless .ci/run declared it unsupported on this Node, above).
 */
export const TRANSPORTS: readonly TransportName[] = UWS_UNAVAILABLE === null || (IN_CI && UWS_DECLARED_UNSUPPORTED === null) ? ['ws', 'uws'] : ['ws'];
if (UWS_UNAVAILABLE !== null) {
  console.warn(
    UWS_DECLARED_UNSUPPORTED !== null
      ? `\n*** SKIPPING the uws tests of this file on Node ${process.version}, declared unsupported here by .ci/run: ${UWS_DECLARED_UNSUPPORTED} ***\n`
      : IN_CI
        ? `\n*** uWebSockets.js does not load, and CI=true: the uws tests of this file run and fail. ${UWS_UNAVAILABLE} ***\n`
        : `\n*** SKIPPING the uws tests of this file, uws is NOT tested in this run: ${UWS_UNAVAILABLE} (under CI=true they fail instead) ***\n`,
  );
}

/** Polls `check` every few ms until it returns a value other than undefined/false, or throws after `ms`. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface TestGateway {
  gateway: Gateway;
  http: string;
  ws: string;
  stop(): Promise<void>;
}

export async function startTestGateway(options: GatewayOptions = {}): Promise<TestGateway> {
  const gateway = new Gateway({ host: '127.0.0.1', port: 0, shutdownTimeoutMs: 2_000, ...options });
  const { port } = await gateway.start();
  return { gateway, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, stop: () => gateway.stop() };
}

export interface CliGateway {
  child: ChildProcess;
  http: string;
  ws: string;
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `node dist/cli.js` (or another build's `cli`) on a free port and resolves once it logs that it listens. */
export async function spawnGateway(args: string[] = [], env: NodeJS.ProcessEnv = {}, cli = CLI): Promise<CliGateway> {
  const child = spawn(process.execPath, [cli, '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'fanwire listening') resolve(entry.url as string);
      } catch {
        stderr.push(line);
      }
    });
    child.once('exit', (code) => reject(new Error(`fanwire exited with ${code} before listening: ${stderr.join('\n')}`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const url = await listening.finally(() => clearTimeout(timer));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    http: url,
    ws: url.replace('http:', 'ws:'),
    logs,
    stderr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

export type Message = Record<string, any>;

/** A subscriber: collects decoded messages and the close frame. */
export class Sub {
  readonly ws: WebSocket;
  readonly messages: Message[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly format: 'msgpack' | 'json';
  /** Set when the server refused the upgrade. */
  refused: { status: number; body: Message } | null = null;

  /** `options`: the ws client's (a source address with `localAddress`, extra `headers`). */
  constructor(url: string, format: 'msgpack' | 'json' = 'msgpack', options?: WebSocket.ClientOptions) {
    this.format = format;
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.messages.push(isBinary ? (unpack(data) as Message) : (JSON.parse(data.toString()) as Message));
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    this.ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        this.refused = { status: res.statusCode ?? 0, body: JSON.parse(body) as Message };
      });
    });
    this.ws.on('error', () => {});
  }

  static async open(base: string, query = '', format: 'msgpack' | 'json' = 'msgpack', options?: WebSocket.ClientOptions): Promise<Sub> {
    const q = new URLSearchParams(query);
    if (format === 'json') q.set('format', 'json');
    const sub = new Sub(`${base}/v1/subscribe?${q}`, format, options);
    await sub.hello();
    return sub;
  }

  async hello(): Promise<Message> {
    const first = await until(() => this.messages[0] ?? (this.refused ? { refused: this.refused } : undefined), 'hello');
    if ('refused' in first) throw new Error(`upgrade refused: ${JSON.stringify(first.refused)}`);
    return first;
  }

  /** The `events` messages received so far, those inside `batch` messages (batch=1) included, in order. */
  get events(): Message[] {
    const events: Message[] = [];
    for (const m of this.messages) {
      if (m.type === 'events') events.push(m);
      else if (m.type === 'batch') events.push(...(m.messages as Message[]));
    }
    return events;
  }

  get indexes(): number[] {
    return this.events.map((m) => m.index as number);
  }

  waitForIndex(index: number, ms?: number): Promise<true> {
    return until(() => this.indexes.includes(index) || (this.closed ? Promise.reject(new Error(`closed ${this.closed.code} ${this.closed.reason} before index ${index}`)) : false), `index ${index}`, ms);
  }

  waitForClose(ms?: number): Promise<{ code: number; reason: string }> {
    return until(() => this.closed ?? undefined, 'close', ms);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.waitForClose();
  }
}

/** A producer over WebSocket: each `publish` resolves with its own reply (replies come in order). */
export class Pub {
  readonly ws: WebSocket;
  private readonly waiting: Array<(reply: Message) => void> = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const reply = isBinary ? (unpack(data) as Message) : (JSON.parse(data.toString()) as Message);
      this.waiting.shift()?.(reply);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    ws.on('error', () => {});
  }

  static async open(base: string, options?: WebSocket.ClientOptions): Promise<Pub> {
    const ws = new WebSocket(`${base}/v1/publish`, options);
    await once(ws, 'open');
    return new Pub(ws);
  }

  /** Sends a frame as msgpack (binary) or, with `json`, as text. Raw bytes/strings are sent as is. */
  send(frame: unknown, json = false): Promise<Message> {
    const reply = new Promise<Message>((resolve) => this.waiting.push(resolve));
    if (typeof frame === 'string') this.ws.send(frame);
    else if (frame instanceof Uint8Array) this.ws.send(frame, { binary: true });
    else if (json) this.ws.send(JSON.stringify(frame));
    else this.ws.send(pack(frame), { binary: true });
    return reply;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await until(() => this.closed ?? undefined, 'publisher close');
  }
}

export async function getJson(url: string): Promise<{ status: number; body: Message }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Message };
}

/**
 * A TCP proxy in front of a gateway, so tests can cut or freeze the network
 * under a client without touching either end: `drop()` destroys every
 * connection through it (like a lost route), `freeze()` stops forwarding
 * while keeping them open (like a dead peer that sends no FIN).
 */
export class TcpProxy {
  readonly server: import('node:net').Server;
  private readonly pairs = new Set<[import('node:net').Socket, import('node:net').Socket]>();
  private frozen = false;
  port = 0;
  /** Where new connections go; change it to move clients to another gateway. */
  targetPort = 0;

  private constructor(server: import('node:net').Server) {
    this.server = server;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const net = await import('node:net');
    let proxy!: TcpProxy;
    const server = net.createServer((client) => {
      const upstream = net.connect(proxy.targetPort, '127.0.0.1');
      const pair: [import('node:net').Socket, import('node:net').Socket] = [client, upstream];
      proxy.pairs.add(pair);
      const forward = (from: import('node:net').Socket, to: import('node:net').Socket) =>
        from.on('data', (chunk) => {
          if (!proxy.frozen) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      const end = () => {
        client.destroy();
        upstream.destroy();
        proxy.pairs.delete(pair);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    proxy = new TcpProxy(server);
    proxy.targetPort = targetPort;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy.port = (server.address() as import('node:net').AddressInfo).port;
    return proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  drop(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  freeze(on = true): void {
    this.frozen = on;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A raw client that completes the WebSocket handshake on `path`, for writing broken frames by hand. */
export async function rawUpgrade(port: number, path: string): Promise<import('node:net').Socket> {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64')}\r\n\r\n`,
  );
  await new Promise<void>((resolve) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  return socket;
}

/** Header of a masked binary frame announcing `length` bytes (client frames must be masked). */
export function maskedHeader(length: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  header.writeUInt32BE(0, 10); // a zero mask leaves the payload as is
  return header;
}
