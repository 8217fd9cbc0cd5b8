/**
 * The ws transport's broadcast fast path (pre-framed messages written under
 * one cork, reaching into ws internals) and its fallback (`ws.send`) must put
 * the same messages on the wire. A real `ws` client is the judge.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createWsTransport, type Connection, type Transport } from '../../src/transport/index.js';

async function serve(disableFastPath: boolean): Promise<{ transport: Transport; url: string; opened: Promise<Connection> }> {
  let resolveOpen!: (conn: Connection) => void;
  const opened = new Promise<Connection>((resolve) => (resolveOpen = resolve));
  const transport = createWsTransport<null>(
    {
      request: () => ({ status: 404, body: '{}' }),
      upgrade: () => ({ accept: true, context: null, maxPayload: 1024 }),
      open: (conn) => {
        resolveOpen(conn);
        return { message: () => {}, close: () => {} };
      },
    },
    { disableFastPath },
  );
  const { port } = await transport.listen('127.0.0.1', 0);
  return { transport, url: `ws://127.0.0.1:${port}/`, opened };
}

/** Payload sizes on both sides of each WebSocket length encoding (7-bit, 16-bit, 64-bit). */
const SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000];

for (const disableFastPath of [false, true]) {
  describe(`ws transport (${disableFastPath ? 'fallback: ws.send' : 'fast path: raw corked writes'})`, () => {
    it('delivers prepared binary and text messages of every length class intact and in order', async () => {
      const { transport, url, opened } = await serve(disableFastPath);
      const client = new WebSocket(url);
      const received: Array<{ data: Buffer; binary: boolean }> = [];
      client.on('message', (data: Buffer, binary: boolean) => received.push({ data, binary }));
      await once(client, 'open');
      const conn = await opened;

      const payloads = SIZES.map((size, i) => Buffer.alloc(size, 65 + (i % 26)));
      const frames = payloads.map((p, i) => transport.prepare(p, i % 2 === 0));
      conn.sendPrepared(frames[0]!);
      conn.writeBatch(frames.slice(1), frames.length - 1);
      conn.send(Buffer.from('after'), false);

      for (let i = 0; i < 2000 && received.length < payloads.length + 1; i++) await new Promise((r) => setTimeout(r, 5));
      expect(received.map((m) => m.data.length)).toEqual([...SIZES, 5]);
      payloads.forEach((p, i) => {
        expect(received[i]!.data.equals(p)).toBe(true);
        expect(received[i]!.binary).toBe(i % 2 === 0);
      });
      expect(received.at(-1)!.data.toString()).toBe('after');

      client.close();
      await once(client, 'close');
      await transport.close();
    });

    it('reports buffered bytes and resolves one shared drain waiter when the socket drains', async () => {
      const { transport, url, opened } = await serve(disableFastPath);
      const client = new WebSocket(url);
      await once(client, 'open');
      const conn = await opened;
      client.pause(); // stop reading: kernel buffers fill, then ws's own
      const frame = transport.prepare(Buffer.alloc(256 * 1024), true);
      for (let i = 0; i < 400 && conn.bufferedAmount() === 0; i++) conn.writeBatch([frame], 1);
      expect(conn.bufferedAmount()).toBeGreaterThan(0);
      const waiter = conn.waitDrain();
      expect(conn.waitDrain()).toBe(waiter);
      let drained = false;
      void waiter.then(() => (drained = true));
      client.resume();
      await waiter;
      expect(drained).toBe(true);
      client.terminate();
      await transport.close();
    });
  });
}
