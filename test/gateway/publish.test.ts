import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { pack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pub, Sub, getJson, startTestGateway, until, type TestGateway, TRANSPORTS } from '../helpers.js';

for (const transport of TRANSPORTS) {
  describe(`publishing (${transport})`, () => {
    let gw: TestGateway;
    let pub: Pub;

    beforeEach(async () => {
      gw = await startTestGateway({ transport, maxFrameBytes: 4096 });
      pub = await Pub.open(gw.ws);
    });
    afterEach(async () => {
      await pub.close();
      await gw.stop();
    });

    describe('WebSocket /v1/publish', () => {
      it('acks each frame with its index, in order, echoing the id', async () => {
        const replies = await Promise.all([
          pub.send({ topic: 't', payload: 1 }),
          pub.send({ id: 'b1', events: [{ topic: 't', payload: 2 }, { topic: 'u', payload: 3 }] }),
          pub.send({ topic: 't', payload: 4, id: 7 }, true),
        ]);
        expect(replies).toEqual([
          { type: 'ack', index: 1 },
          { type: 'ack', index: 2, id: 'b1' },
          { type: 'ack', index: 3, id: 7 },
        ]);
      });

      it('acks the frames of one read in one socket write, not one write per frame', async () => {
        // Linux's count of write syscalls by this process (gateway and client both live here).
        const writes = (): number => Number(/^syscw: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
        await pub.send({ topic: 't', payload: 0 });
        const frames = 200;
        const before = writes();
        // Corked, the client's frames leave in one write and reach the gateway in one read.
        const socket = (pub.ws as unknown as { _socket: Socket })._socket;
        socket.cork();
        const replies = Array.from({ length: frames }, (_, i) => pub.send({ topic: 't', payload: i + 1 }));
        socket.uncork();
        const acks = await Promise.all(replies);
        const used = writes() - before;
        expect(acks).toEqual(Array.from({ length: frames }, (_, i) => ({ type: 'ack', index: i + 2 })));
        expect(used).toBeLessThan(frames / 10);
      });

      it('answers in the format of the frame: msgpack for binary, JSON for text', async () => {
        const binary = await pub.send({ topic: 't', payload: 1 });
        const text = await pub.send(JSON.stringify({ topic: 't', payload: 1 }));
        expect([binary, text]).toEqual([
          { type: 'ack', index: 1 },
          { type: 'ack', index: 2 },
        ]);
      });

      const bad: Array<[string, unknown, string, string]> = [
        ['malformed msgpack', Buffer.from([0x92, 0x01]), 'decode_failed', 'MessagePack'],
        ['malformed JSON', '{"topic":', 'decode_failed', 'JSON'],
        ['an unknown field', { topic: 't', payload: 1, colour: 'red' }, 'invalid_frame', 'colour'],
        ['a topic of the wrong type', { topic: 5, payload: 1 }, 'invalid_frame', 'topic'],
        ['a missing payload', { topic: 't' }, 'invalid_frame', 'payload'],
        ['a batch with one bad event', { id: 'x', events: [{ topic: 't', payload: 1 }, { topic: 't:k', payload: 2 }] }, 'invalid_frame', 'events[1].topic'],
        ['an empty batch', { events: [] }, 'invalid_frame', 'events'],
        ['a non-map frame', [1, 2, 3], 'invalid_frame', 'map'],
      ];
      for (const [what, frame, code, named] of bad) {
        it(`rejects ${what} with an error reply (${code}), appends nothing, and stays open`, async () => {
          const reply = await pub.send(frame);
          expect(reply).toMatchObject({ type: 'error', code });
          expect(reply.message).toContain(named);
          expect(await pub.send({ topic: 't', payload: 'next' })).toEqual({ type: 'ack', index: 1 });
          expect(gw.gateway.buffer.newestIndex).toBe(1);
        });
      }

      it('echoes the id of a rejected frame when the frame has a valid one', async () => {
        expect(await pub.send({ id: 'x', events: [{ topic: 't' }] })).toMatchObject({ type: 'error', code: 'invalid_frame', id: 'x' });
      });

      it('closes a producer that sends a frame over --max-frame-bytes with 1009, and keeps serving others', async () => {
        const big = await Pub.open(gw.ws);
        void big.send({ topic: 't', payload: 'x'.repeat(5000) });
        await until(() => big.closed ?? undefined, 'close');
        expect(big.closed!.code).toBe(1009);
        expect(await pub.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
      });

      // Escape hatch: uWS validates UTF-8 itself and cuts the connection without a
      // close frame (the client sees 1006); docs/protocol.md says so.
      const invalidUtf8Close = transport === 'uws' ? 1006 : 1007;
      it(`closes a producer that sends invalid UTF-8 in a text frame with ${invalidUtf8Close}`, async () => {
        const broken = await Pub.open(gw.ws);
        // ws validates UTF-8 on receipt; send the raw bytes as a text frame.
        broken.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
        await until(() => broken.closed ?? undefined, 'close');
        expect(broken.closed!.code).toBe(invalidUtf8Close);
        expect(await pub.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
      });

      it(
        transport === 'ws'
          ? 'stops reading a producer that does not read its replies, and resumes when it does (ws)'
          : 'closes a producer that leaves more than --drop-after-bytes of replies unread with 1008 (uws)',
        async () => {
          const small = await startTestGateway({ transport, bufferSize: 100, highWaterBytes: 64 * 1024, dropAfterBytes: 256 * 1024, maxPublishRate: 0 });
          try {
            const deaf = await Pub.open(small.ws);
            deaf.ws.pause(); // never reads its acks
            const id = 'i'.repeat(120); // fat acks fill buffers sooner
            const frame = pack({ id, topic: 't', payload: 1 });
            let sent = 0;
            while (sent < 100_000) {
              for (let i = 0; i < 1000; i++) deaf.ws.send(frame);
              sent += 1000;
              await new Promise((r) => setImmediate(r));
              if (transport === 'ws' && deaf.ws.bufferedAmount > 4 * 1024 * 1024) break; // the gateway stopped reading
            }
            if (transport === 'uws') {
              let acks = 0;
              deaf.ws.on('message', () => acks++);
              deaf.ws.resume(); // read what was queued, then the close frame
              await until(() => deaf.closed ?? undefined, 'close', 30_000);
              expect(deaf.closed).toEqual({ code: 1008, reason: 'producer is not reading its replies' });
              // Every frame appended was acked before the cut, and nothing after it was appended.
              expect(small.gateway.buffer.newestIndex).toBe(acks);
              expect(acks).toBeLessThan(sent);
            } else {
              expect(deaf.closed).toBeNull();
              expect(small.gateway.buffer.newestIndex).toBeLessThan(sent);
              let acks = 0;
              deaf.ws.on('message', () => acks++);
              deaf.ws.resume();
              await until(() => acks === sent, `${sent} acks`, 30_000);
              expect(small.gateway.buffer.newestIndex).toBe(sent);
            }
          } finally {
            await small.stop();
          }
        },
      );

      it('refuses query parameters on the publish endpoint with 400 bad_query', async () => {
        const sub = new Sub(`${gw.ws}/v1/publish?x=1`);
        await until(() => sub.refused ?? undefined, 'refusal');
        expect(sub.refused).toMatchObject({ status: 400, body: { code: 'bad_query' } });
      });

      it('delivers payload types faithfully: binary and timestamps to msgpack, base64 and ISO strings to JSON', async () => {
        const mp = await Sub.open(gw.ws, '');
        const json = await Sub.open(gw.ws, '', 'json');
        const when = new Date('2026-01-02T03:04:05.000Z');
        await pub.send({ topic: 't', payload: { bin: Buffer.from([1, 2, 3]), when, big: 2n ** 60n, n: 1.5, list: [null, true] } });
        await mp.waitForIndex(1);
        await json.waitForIndex(1);
        const a = mp.events[0]!.events[0].payload;
        expect(Buffer.from(a.bin)).toEqual(Buffer.from([1, 2, 3]));
        expect(a.when).toEqual(when);
        expect(a.big).toBe(2n ** 60n);
        expect(json.events[0]!.events[0].payload).toEqual({
          bin: 'AQID',
          when: '2026-01-02T03:04:05.000Z',
          big: '1152921504606846976',
          n: 1.5,
          list: [null, true],
        });
        await mp.close();
        await json.close();
      });
    });

    describe('HTTP POST /v1/publish', () => {
      const post = (body: string | Uint8Array, type: string) =>
        fetch(`${gw.http}/v1/publish`, { method: 'POST', headers: { 'content-type': type }, body });

      it('appends a JSON body and answers 200 {index}', async () => {
        const res = await post(JSON.stringify({ id: 'h', topic: 't', payload: 1 }), 'application/json; charset=utf-8');
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ index: 1, id: 'h' });
      });

      it('appends a msgpack body and answers 200 {index}', async () => {
        const res = await post(pack({ events: [{ topic: 't', payload: 1 }] }), 'application/msgpack');
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ index: 1 });
      });

      const bad: Array<[string, string | Uint8Array, string, number, string]> = [
        ['an invalid frame', JSON.stringify({ topic: 't' }), 'application/json', 400, 'invalid_frame'],
        ['malformed JSON', '{', 'application/json', 400, 'decode_failed'],
        ['an unsupported content type', 'hi', 'text/plain', 415, 'unsupported_media_type'],
        ['a body over --max-frame-bytes', JSON.stringify({ topic: 't', payload: 'x'.repeat(5000) }), 'application/json', 413, 'too_big'],
      ];
      for (const [what, body, type, status, code] of bad) {
        it(`answers ${what} with ${status} ${code} and appends nothing`, async () => {
          const res = await post(body, type);
          expect(res.status).toBe(status);
          expect(await res.json()).toMatchObject({ code });
          expect(gw.gateway.buffer.newestIndex).toBe(0);
          expect((await post(JSON.stringify({ topic: 't', payload: 1 }), 'application/json')).status).toBe(200);
        });
      }

      it('answers other methods with 405 and unknown paths with 404', async () => {
        expect((await fetch(`${gw.http}/v1/publish`, { method: 'PUT' })).status).toBe(405);
        expect(await getJson(`${gw.http}/nope`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
      });
    });

    describe('health', () => {
      it('answers /healthz and /readyz with 200 while serving', async () => {
        expect(await getJson(`${gw.http}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
        expect(await getJson(`${gw.http}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } });
      });
    });
  });
}
