/**
 * The ws raw writer over a real ws server and client on 127.0.0.1. On the
 * ws version package.json pins, the private fields the broadcast fast path
 * needs are there and it is taken; where they are missing or not of the
 * expected shape (a ws upgrade that changed them, seen here through a Proxy
 * over a real WebSocket that hides or replaces them), the writer falls back
 * to `ws.send` without throwing and every message still arrives intact.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { frameMessage } from '../../src/transport/index.js';
import { WsRawWriter } from '../../src/transport/ws-raw-writer.js';

const WS_VERSION = (createRequire(import.meta.url)('ws/package.json') as { version: string }).version;

interface Received {
  data: Buffer;
  binary: boolean;
}

let server: WebSocketServer | null = null;
let client: WebSocket | null = null;

afterEach(async () => {
  client?.terminate();
  client = null;
  if (server !== null) {
    for (const ws of server.clients) ws.terminate();
    await new Promise((resolve) => server!.close(resolve));
    server = null;
  }
});

/** A server-side WebSocket with a client connected to it, and what that client receives. */
async function connect(): Promise<{ ws: WebSocket; received: Received[] }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[WebSocket]>;
  client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const received: Received[] = [];
  client.on('message', (data: Buffer, binary: boolean) => received.push({ data, binary }));
  await once(client, 'open');
  const [ws] = await accepted;
  return { ws, received };
}

/**
 * A real WebSocket as a writer would see it with some fields changed:
 * `fields` maps a name to what reading it gives (a function is called per
 * read, so it may throw). Methods run on the WebSocket itself, and
 * `sends` counts the messages that went through its public `send`.
 */
function altered(ws: WebSocket, fields: Record<string, () => unknown>): { view: WebSocket; sends: () => number } {
  let sends = 0;
  const view = new Proxy(ws, {
    get(target, key) {
      if (typeof key === 'string' && Object.hasOwn(fields, key)) return fields[key]!();
      const value: unknown = Reflect.get(target, key, target);
      if (key === 'send') {
        return (...args: Parameters<WebSocket['send']>) => {
          sends++;
          target.send(...args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { view, sends: () => sends };
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

/** Sizes on both sides of each WebSocket length encoding (7-bit, 16-bit, 64-bit). */
const SIZES = [0, 125, 126, 65_535, 65_536, 70_000];

/**
 * Writes through every path a connection uses (a prepared frame, a joined
 * run of frames, a corked batch, an unprepared message) and checks that the
 * client got each message whole, in order, binary or text as sent.
 */
async function writeAndCheck(writer: WsRawWriter, received: Received[]): Promise<void> {
  const payloads = SIZES.map((size, i) => Buffer.alloc(size, 65 + i));
  const frames = payloads.map((p, i) => frameMessage(p, i % 2 === 0));
  writer.sendPrepared(frames[0]!);
  writer.sendPrepared(Buffer.concat([frames[1]!, frames[2]!]));
  writer.writeBatch(frames.slice(3), 3);
  writer.send(Buffer.from('ack'), false);
  await until(() => received.length === SIZES.length + 1, 'every message');
  received.slice(0, SIZES.length).forEach((message, i) => {
    expect(message.binary, `message ${i}`).toBe(i % 2 === 0);
    expect(message.data.equals(payloads[i]!), `message ${i} (${SIZES[i]} bytes)`).toBe(true);
  });
  expect(received[SIZES.length]).toEqual({ data: Buffer.from('ack'), binary: false });
}

describe('WsRawWriter', () => {
  it(`takes the fast path on the pinned ws ${WS_VERSION}, writing past ws.send, and the client gets every frame intact`, async () => {
    const { ws, received } = await connect();
    const { view, sends } = altered(ws, {});
    const writer = new WsRawWriter(view, true);
    expect(writer.fast).toBe(true);
    await writeAndCheck(writer, received);
    expect(sends()).toBe(0);
  });

  it('uses ws.send when the fast path is not wanted (compression, or turned off), and messages arrive intact', async () => {
    const { ws, received } = await connect();
    const { view, sends } = altered(ws, {});
    const writer = new WsRawWriter(view, false);
    expect(writer.fast).toBe(false);
    await writeAndCheck(writer, received);
    expect(sends()).toBe(SIZES.length + 1);
  });

  const CHANGED: Array<[string, Record<string, () => unknown>]> = [
    ['without ws’s _socket and _sender', { _socket: () => undefined, _sender: () => undefined }],
    ['without ws’s _sender', { _sender: () => undefined }],
    ['with a _sender of another shape (no _queue, no _state)', { _sender: () => ({}) }],
    ['with a _socket that has no _write or _handle', { _socket: () => ({ destroyed: false, on() {}, cork() {}, uncork() {}, write() {} }) }],
    ['with a _socket whose read throws', { _socket: () => { throw new Error('private field moved'); } }],
  ];
  for (const [what, fields] of CHANGED) {
    it(`falls back to ws.send ${what}, without throwing, and messages arrive intact`, async () => {
      const { ws, received } = await connect();
      const { view, sends } = altered(ws, fields);
      let writer: WsRawWriter | null = null;
      expect(() => (writer = new WsRawWriter(view, true))).not.toThrow();
      expect(writer!.fast).toBe(false);
      await writeAndCheck(writer!, received);
      expect(sends()).toBe(SIZES.length + 1);
    });
  }
});
