/**
 * One contract for every transport's Connection, checked by a real `ws`
 * client: prepared (shared) messages arrive intact in every WebSocket length
 * class, batches keep their order, and backpressure is reported and released.
 * For ws both the broadcast fast path (pre-framed messages written under one
 * cork, reaching into ws internals) and its `ws.send` fallback are run.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createWsTransport, loadUws, type Connection, type Transport, type TransportHandlers, type TransportOptions } from '../../src/transport/index.js';
import { createUwsTransport } from '../../src/transport/uws.js';
import { TRANSPORTS } from '../helpers.js';

const OPTIONS: TransportOptions = { maxPayloadBytes: 1024, maxBackpressureBytes: 1024 * 1024 * 1024, compression: false, idleTimeoutMs: 0, handshakeTimeoutMs: 10_000 };

const FACTORIES: Array<[string, <C>(h: TransportHandlers<C>) => Transport]> = [
  ['ws (fast path: raw corked writes)', (h) => createWsTransport(h, OPTIONS)],
  ['ws (fallback: ws.send)', (h) => createWsTransport(h, { ...OPTIONS, disableFastPath: true })],
];
// Where uWebSockets.js does not load, helpers.ts warns (or, under CI, keeps it so this fails).
if (TRANSPORTS.includes('uws')) FACTORIES.push(['uws', (h) => createUwsTransport(loadUws().native, h, OPTIONS)]);

async function serve(factory: <C>(h: TransportHandlers<C>) => Transport) {
  let resolveOpen!: (conn: Connection) => void;
  const opened = new Promise<Connection>((resolve) => (resolveOpen = resolve));
  const transport = factory<null>({
    request: () => ({ status: 404, body: '{}' }),
    upgrade: () => ({ accept: true, context: null, maxPayload: 1024 }),
    open: (conn) => {
      resolveOpen(conn);
      return { message: () => {}, close: () => {} };
    },
  });
  const { port } = await transport.listen('127.0.0.1', 0);
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  const received: Array<{ data: Buffer; binary: boolean }> = [];
  client.on('message', (data: Buffer, binary: boolean) => received.push({ data, binary }));
  await once(client, 'open');
  return { transport, client, received, conn: await opened };
}

const waitFor = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

/** Payload sizes on both sides of each WebSocket length encoding (7-bit, 16-bit, 64-bit). */
const SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000];

for (const [name, factory] of FACTORIES) {
  describe(`Connection over ${name}`, () => {
    for (const binary of [true, false]) {
      it(`delivers prepared ${binary ? 'binary' : 'text'} messages of every length class intact and in order, then a plain send`, async () => {
        const { transport, client, received, conn } = await serve(factory);
        const payloads = SIZES.map((size, i) => Buffer.alloc(size, 65 + (i % 26)));
        const frames = payloads.map((p) => transport.framer.prepare(p, binary));
        conn.sendPrepared(frames[0]!);
        conn.writeBatch(frames.slice(1), frames.length - 1);
        conn.send(Buffer.from('after'), false);

        await waitFor(() => received.length >= payloads.length + 1);
        expect(received.map((m) => m.data.length)).toEqual([...SIZES, 5]);
        payloads.forEach((p, i) => {
          expect(received[i]!.data.equals(p)).toBe(true);
          expect(received[i]!.binary).toBe(binary);
        });
        expect(received.at(-1)).toMatchObject({ binary: false });
        expect(received.at(-1)!.data.toString()).toBe('after');

        client.close();
        await once(client, 'close');
        await transport.close();
      });
    }

    it('prepares a message its sinks take, sized for the fan-out, with the encoded message inside; ws joins runs of them, uws does not', async () => {
      const transport = factory<null>({ request: () => ({ status: 404, body: '' }), upgrade: () => ({ accept: false, reply: { status: 404, body: '' } }), open: () => ({ message: () => {}, close: () => {} }) });
      const payload = Buffer.alloc(300, 7);
      const message = transport.framer.prepare(payload, true);
      expect(message.byteLength).toBeGreaterThanOrEqual(payload.byteLength);
      expect(Buffer.from(transport.framer.payload(message)).equals(payload)).toBe(true);
      expect(transport.framer.join === null).toBe(name === 'uws');
      await transport.close();
    });

    if (name.startsWith('ws')) {
      it('delivers a joined batch (whole frames back to back in one buffer) as separate messages, in order', async () => {
        const { transport, client, received, conn } = await serve(factory);
        const payloads = SIZES.map((size, i) => Buffer.alloc(size, 97 + (i % 26)));
        const frames = payloads.map((p) => transport.framer.prepare(p, true));
        const joined = transport.framer.join!(frames, frames.length, frames.reduce((n, f) => n + f.byteLength, 0));
        expect(joined.byteLength).toBe(Buffer.concat(frames as Uint8Array[]).byteLength);
        conn.writeBatch([joined], 1);
        await waitFor(() => received.length >= payloads.length);
        expect(received.map((m) => m.data.length)).toEqual(SIZES);
        payloads.forEach((p, i) => expect(received[i]!.data.equals(p)).toBe(true));
        client.close();
        await once(client, 'close');
        await transport.close();
      });
    }

    if (name.startsWith('ws')) {
      it('drops writes to a connection whose socket is already destroyed, before ws learns of it, without touching the socket', async () => {
        const { transport, client, conn } = await serve(factory);
        client.on('error', () => {});
        // The server's socket, as a failed write (a peer reset) leaves it: destroyed,
        // while ws still says OPEN until a later tick. A write now would only build
        // an error per frame (the cost that stalled a reconnect storm).
        const socket = (conn as unknown as { ws: { _socket: import('node:net').Socket } }).ws._socket;
        const calls = { write: 0, _write: 0 };
        const counted = socket as unknown as Record<'write' | '_write', (...args: unknown[]) => unknown>;
        for (const method of ['write', '_write'] as const) {
          const original = counted[method]!.bind(socket);
          counted[method] = (...args: unknown[]) => {
            calls[method]++;
            return original(...args);
          };
        }
        socket.destroy();
        const frame = transport.framer.prepare(Buffer.from('late'), true);
        for (let i = 0; i < 100; i++) {
          conn.sendPrepared(frame);
          conn.writeBatch([frame, frame], 2);
          conn.send(Buffer.from('late ack'), false);
        }
        expect(calls).toEqual({ write: 0, _write: 0 });
        await waitFor(() => conn.closed);
        expect(conn.closed).toBe(true);
        await transport.close();
      });
    }

    it('reports buffered bytes once the peer stops reading, and releases one shared drain waiter when it reads again', async () => {
      const { transport, client, conn } = await serve(factory);
      client.pause(); // stop reading: kernel buffers fill, then the transport's own
      const frame = transport.framer.prepare(Buffer.alloc(256 * 1024), true);
      for (let i = 0; i < 400 && conn.bufferedAmount() === 0; i++) conn.writeBatch([frame], 1);
      expect(conn.bufferedAmount()).toBeGreaterThan(0);
      const waiter = conn.waitDrain();
      expect(conn.waitDrain()).toBe(waiter);
      client.resume();
      await waiter;
      expect(conn.closed).toBe(false);
      client.terminate();
      await waitFor(() => conn.closed);
      expect(conn.closed).toBe(true);
      await transport.close();
    });

    it('keeps a plain send queued behind backed-up prepared writes in order, and still releases the drain waiter', async () => {
      const { transport, client, received, conn } = await serve(factory);
      client.pause();
      const frame = transport.framer.prepare(Buffer.alloc(64 * 1024, 7), true);
      let written = 0;
      for (; written < 2000 && conn.bufferedAmount() === 0; written++) conn.writeBatch([frame], 1);
      for (let i = 0; i < 4; i++, written++) conn.writeBatch([frame], 1); // more behind the first that did not fit
      conn.send(Buffer.from('last'), true);
      expect(conn.bufferedAmount()).toBeGreaterThan(4 * 64 * 1024);
      const waiter = conn.waitDrain();
      client.resume();
      await waiter;
      await waitFor(() => received.length === written + 1);
      expect(received.length).toBe(written + 1);
      expect(received.slice(0, written).every((m) => m.data.length === 64 * 1024 && m.data[0] === 7)).toBe(true);
      expect(received[written]!.data.toString()).toBe('last');
      client.terminate();
      await waitFor(() => conn.closed);
      await transport.close();
    });

    it('closes with the code and reason given, and marks the connection closed', async () => {
      const { transport, client, conn } = await serve(factory);
      const closed = once(client, 'close');
      conn.close(4001, 'dropped: test');
      const [code, reason] = (await closed) as [number, Buffer];
      expect([code, reason.toString()]).toEqual([4001, 'dropped: test']);
      await waitFor(() => conn.closed);
      expect(conn.closed).toBe(true);
      conn.sendPrepared(transport.framer.prepare(Buffer.from('x'), true)); // must be a no-op, not a throw
      await transport.close();
    });
  });
}
