/**
 * Hostile and broken clients: each gets its documented answer, and a healthy
 * subscriber keeps receiving everything meanwhile. Where uWebSockets.js
 * handles a case itself (unmasked frames, idle timeout in 4 s steps), the uws
 * run checks its own documented answer: the idle timeout ends the connection.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Pub, Sub, TRANSPORTS, rawUpgrade, startTestGateway, until, type TestGateway } from '../helpers.js';

for (const transport of TRANSPORTS) {
  describe(`hostile clients (${transport})`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });
    const port = () => Number(new URL(gw!.http).port);
    const metricsText = async () => (await fetch(`${gw!.http}/metrics`)).text();

    /** Publishes `n` events and checks the healthy subscriber got exactly them. */
    async function stillServing(healthy: Sub, n: number): Promise<void> {
      const pub = await Pub.open(gw!.ws);
      const first = gw!.gateway.buffer.newestIndex + 1;
      for (let i = 0; i < n; i++) expect((await pub.send({ topic: 't', payload: i })).type).toBe('ack');
      await healthy.waitForIndex(first + n - 1);
      expect(healthy.indexes.slice(-n)).toEqual(Array.from({ length: n }, (_, i) => first + i));
      await pub.close();
    }

    it('answers frames past --max-publish-rate with rate_limited and appends only what it acked', async () => {
      gw = await startTestGateway({ transport, maxPublishRate: 20 });
      const pub = await Pub.open(gw.ws);
      const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => pub.send({ topic: 't', payload: i })));
      const acks = replies.filter((r) => r.type === 'ack');
      const limited = replies.filter((r) => r.code === 'rate_limited');
      expect(acks.length + limited.length).toBe(100);
      expect(limited.length).toBeGreaterThan(0);
      expect(acks.length).toBeGreaterThanOrEqual(20);
      expect(gw.gateway.buffer.newestIndex).toBe(acks.length);
      await pub.close();
    });

    // What a producer sees for an oversized or invalid message. On uws, uWebSockets.js
    // itself cuts a message past its maxPayloadLength (twice the larger of
    // --max-frame-bytes and 64 KiB, so 128 KiB here) and invalid UTF-8 before the
    // gateway sees them, with no close frame: a client reports 1006
    // (docs/protocol.md, "uws transport deviations").
    const LIMIT = 1024;
    const UWS_CUT = 2 * 64 * 1024;
    const oversized: Array<{ what: string; parts: number[]; text?: Buffer; ws: number; uws: number }> = [
      { what: 'one frame just over the limit', parts: [LIMIT + 1], ws: 1009, uws: 1009 },
      { what: 'one frame 64 times the limit', parts: [64 * LIMIT], ws: 1009, uws: 1009 },
      { what: "one frame past uWS's own cut", parts: [UWS_CUT + 1], ws: 1009, uws: 1006 },
      { what: 'fragments adding up to just over the limit', parts: [256, 256, 256, 257], ws: 1009, uws: 1009 },
      { what: 'fragments adding up to 64 times the limit', parts: Array.from({ length: 16 }, () => 4 * LIMIT), ws: 1009, uws: 1009 },
      { what: "fragments adding up past uWS's own cut", parts: Array.from({ length: 33 }, () => 4 * LIMIT), ws: 1009, uws: 1006 },
      { what: 'a text frame that is not valid UTF-8', parts: [], text: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), ws: 1007, uws: 1006 },
    ];
    for (const c of oversized) {
      it(`closes a producer that sends ${c.what} with ${c[transport]}${c[transport] === 1006 ? ' (no close frame: a uws deviation)' : ''}, appending nothing`, async () => {
        gw = await startTestGateway({ transport, maxFrameBytes: LIMIT });
        const healthy = await Sub.open(gw.ws);
        const ws = new WebSocket(`${gw.ws}/v1/publish`);
        ws.on('error', () => {}); // a cut connection is reported as an error too
        await once(ws, 'open');
        const closed = once(ws, 'close');
        if (c.text) ws.send(c.text, { binary: false });
        c.parts.forEach((n, i) => ws.send(Buffer.alloc(n, 0x61), { binary: false, fin: i === c.parts.length - 1 }));
        const [code] = (await closed) as [number];
        expect(code).toBe(c[transport]);
        expect(gw.gateway.buffer.newestIndex).toBe(0);
        if (code === 1009) {
          await until(async () => (await metricsText()).includes('fanwire_limit_rejections_total{limit="max-frame-bytes"} 1') || undefined, 'the 1009 counted');
        }
        await stillServing(healthy, 3);
        await healthy.close();
      });
    }

    it('answers a flood of 10,000 connection attempts (2,000 in flight) with 101 or 429 limit_exceeded, never anything else', async () => {
      gw = await startTestGateway({ transport, maxSubscribers: 200 });
      const healthy = await Sub.open(gw.ws);
      const total = 10_000;
      const inFlight = 2_000; // each attempt holds two descriptors here (client and server side)
      const counts: Record<number, number> = {};
      const accepted: WebSocket[] = []; // held open, so the limit stays reached
      let started = 0;
      const attempt = (i: number): Promise<number> => {
        const ws = new WebSocket(`${gw!.ws}/v1/subscribe`, { localAddress: `127.0.0.${(i % 250) + 2}` });
        return new Promise<number>((resolve) => {
          ws.once('open', () => {
            resolve(101);
            accepted.push(ws);
          });
          ws.once('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
          });
          ws.on('error', () => resolve(-1)); // a reset or a refused connect: not a documented answer
        });
      };
      const lane = async (): Promise<void> => {
        while (started < total) {
          const status = await attempt(started++);
          counts[status] = (counts[status] ?? 0) + 1;
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
      // The healthy subscriber holds one of the 200 places.
      expect(counts).toEqual({ 101: 199, 429: total - 199 });
      expect(await metricsText()).toContain(`fanwire_limit_rejections_total{limit="max-subscribers"} ${total - 199}`);
      await stillServing(healthy, 5);
      for (const ws of accepted) ws.terminate();
      await healthy.close();
    });

    it('answers malformed WebSocket handshakes with 400 (426 without an Upgrade) and keeps serving', async () => {
      gw = await startTestGateway({ transport });
      const healthy = await Sub.open(gw.ws);
      const upgrade = 'GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n';
      const cases: Array<[string, string, RegExp]> = [
        ['no key', `${upgrade}Sec-WebSocket-Version: 13\r\n\r\n`, /^HTTP\/1\.1 400 /],
        ['a key that is not 16 bytes of base64', `${upgrade}Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n`, /^HTTP\/1\.1 400 /],
        ['no version', `${upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, /^HTTP\/1\.1 400 /],
        ['version 7', `${upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n`, /^HTTP\/1\.1 400 /],
        ['no Upgrade header', 'GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 426 /],
      ];
      for (const [what, request, answer] of cases) {
        const socket = net.connect(port(), '127.0.0.1');
        socket.on('error', () => {});
        let response = '';
        socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
        socket.write(request);
        await until(() => answer.test(response) || undefined, `the answer to a handshake with ${what} (got ${JSON.stringify(response.slice(0, 40))})`);
        socket.destroy();
      }
      await stillServing(healthy, 3);
      await healthy.close();
    });

    it(`closes a slowloris connection that dribbles its handshake (${transport === 'ws' ? 'past --handshake-timeout' : "uWS's own HTTP timer"})`, async () => {
      gw = await startTestGateway({ transport, handshakeTimeoutMs: 300 });
      const healthy = await Sub.open(gw.ws);
      const slow = net.connect(port(), '127.0.0.1');
      await once(slow, 'connect');
      // Long enough that sending it all at this pace would take 20 s.
      const request = `GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Pad: ${'a'.repeat(400)}\r\n`;
      let sent = 0;
      const dribble = setInterval(() => {
        if (sent < request.length && !slow.destroyed) slow.write(request[sent++]!);
      }, 50);
      slow.on('error', () => {});
      let answer = '';
      slow.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      await until(() => slow.destroyed || slow.readableEnded || undefined, 'the gateway to cut the slow handshake', 15_000);
      clearInterval(dribble);
      expect(sent).toBeLessThan(request.length); // cut before it finished
      if (transport === 'ws') {
        // uWS closes silently from native code, where we cannot count it.
        expect(answer).toMatch(/^HTTP\/1\.1 408 /);
        await until(async () => (await metricsText()).includes('fanwire_limit_rejections_total{limit="handshake-timeout"} 1') || undefined, 'the cut counted');
      }
      await stillServing(healthy, 3);
      await healthy.close();
    });

    it.skipIf(transport === 'uws')('cuts a WebSocket peer that stops answering pings after --idle-timeout (ws; uws: see below)', async () => {
      gw = await startTestGateway({ transport, idleTimeoutMs: 300 });
      const healthy = await Sub.open(gw.ws);
      const silent = await rawUpgrade(port(), '/v1/subscribe'); // never sends a pong
      silent.on('error', () => {});
      await until(() => silent.destroyed || silent.readableEnded || undefined, 'the silent peer to be cut', 10_000);
      await stillServing(healthy, 3); // the healthy ws client answers pings and stays
      expect(healthy.closed).toBeNull();
      expect(await metricsText()).toContain('fanwire_limit_rejections_total{limit="idle-timeout"} 1');
      await healthy.close();
    });

    it.runIf(transport === 'uws')('ends, at the idle timeout, a silent peer and one that sent an unmasked frame (uws: 8 s, its smallest step)', async () => {
      gw = await startTestGateway({ transport, idleTimeoutMs: 8_000 });
      const healthy = await Sub.open(gw.ws);
      const silent = await rawUpgrade(port(), '/v1/subscribe'); // never sends a pong
      const unmasked = await rawUpgrade(port(), '/v1/publish');
      for (const raw of [silent, unmasked]) raw.on('error', () => {});
      unmasked.write(Buffer.from([0x81, 0x02, 0x7b, 0x7d])); // "{}" unmasked: uWS waits for a mask key that never comes
      // uWS pings half-way and cuts at the timeout; 8-12 s here, bounded well above.
      const ended = (raw: typeof silent) => raw.destroyed || raw.readableEnded;
      await until(() => (ended(silent) && ended(unmasked)) || undefined, 'both peers to be cut', 30_000);
      expect(gw.gateway.buffer.newestIndex).toBe(0); // the unmasked frame appended nothing
      await stillServing(healthy, 3); // the healthy ws client answered the pings and stays
      expect(healthy.closed).toBeNull();
      expect(await metricsText()).toContain('fanwire_limit_rejections_total{limit="idle-timeout"} 2');
      await healthy.close();
    }, 60_000);

    it.skipIf(transport === 'uws')('closes a client that sends an unmasked frame with 1002 (ws; uws: see the idle-timeout case)', async () => {
      gw = await startTestGateway({ transport });
      const healthy = await Sub.open(gw.ws);
      const raw = await rawUpgrade(port(), '/v1/publish');
      let reply = Buffer.alloc(0);
      raw.on('data', (c: Buffer) => (reply = Buffer.concat([reply, c])));
      raw.on('error', () => {});
      raw.write(Buffer.from([0x81, 0x02, 0x7b, 0x7d])); // "{}" unmasked
      await until(() => raw.destroyed || raw.readableEnded || undefined, 'close', 10_000);
      expect(reply[0]).toBe(0x88); // a close frame
      expect(reply.readUInt16BE(2)).toBe(1002);
      expect(gw.gateway.buffer.newestIndex).toBe(0);
      await stillServing(healthy, 3);
      await healthy.close();
    });
  });
}
