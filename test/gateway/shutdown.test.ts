/**
 * A graceful stop loses nothing a subscriber can read: every item written to
 * it, then the 1001 close frame, on every transport, however slowly it
 * reads; only connections still open at --shutdown-timeout are cut, and the
 * log says how many and what they were owed.
 */
import type { Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Pub, Sub, spawnGateway, startTestGateway, TRANSPORTS, until, type TestGateway } from '../helpers.js';

/**
 * Reads `sub`'s socket in small sips, a phone on a slow link: after each
 * chunk the socket stops reading for a while (pausing inside the data event
 * stops libuv's read loop, which would otherwise read up to 32 chunks).
 */
function throttle(sub: Sub): void {
  const socket = (sub.ws as unknown as { _socket: Socket })._socket;
  socket.on('data', () => {
    socket.pause();
    setTimeout(() => socket.resume(), 20);
  });
}

const EVENTS = 120;
const PAYLOAD = 'x'.repeat(48 * 1024);

for (const transport of TRANSPORTS) {
  describe(`graceful stop (${transport})`, () => {
    let gw: TestGateway | null = null;
    const subs: Sub[] = [];
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.close().catch(() => {})));
      await gw?.stop();
      gw = null;
    });

    it('gives slow readers owed several MiB at SIGTERM every item written to them, then 1001, before the process exits', async () => {
      // The real command: what is still in a transport's own buffer when the process exits is lost.
      const cli = await spawnGateway(['--transport', transport, '--drop-after-bytes', '256MiB', '--shutdown-timeout', '120s']);
      let exit: number | null | undefined;
      try {
        const slow: Sub[] = [];
        const fast: Sub[] = [];
        for (let i = 0; i < 6; i++) slow.push(await Sub.open(cli.ws));
        for (let i = 0; i < 2; i++) fast.push(await Sub.open(cli.ws));
        subs.push(...slow, ...fast);
        slow.forEach(throttle);
        const pub = await Pub.open(cli.ws);
        for (let i = 0; i < EVENTS; i++) expect((await pub.send({ topic: 't', payload: PAYLOAD })).type).toBe('ack');
        // Right after the last ack: the slow readers are owed most of 5.6 MiB each.
        const behind = slow.filter((s) => !s.indexes.includes(EVENTS)).length;
        const exited = cli.stop();
        for (const sub of [...slow, ...fast]) {
          const close = await sub.waitForClose(120_000);
          expect({ code: close.code, indexes: sub.indexes }).toEqual({ code: 1001, indexes: Array.from({ length: EVENTS }, (_, i) => i + 1) });
        }
        exit = await exited;
        expect(behind).toBeGreaterThan(0); // the case is real: some were behind when the signal came
      } finally {
        if (exit === undefined) await cli.stop();
      }
      expect(exit).toBe(0);
    }, 150_000);

    it('with --drain-window, stops accepting at once and closes subscribers with 1001 spread over the window, each with everything before its close', async () => {
      gw = await startTestGateway({ transport, drainWindowMs: 2_000 });
      const many: Sub[] = [];
      for (let i = 0; i < 20; i++) many.push(await Sub.open(gw.ws));
      subs.push(...many);
      const closedAt = new Map<Sub, number>();
      for (const sub of many) sub.ws.once('close', () => closedAt.set(sub, performance.now()));
      const pub = await Pub.open(gw.ws);
      for (let i = 0; i < 5; i++) expect((await pub.send({ topic: 't', payload: i })).type).toBe('ack');
      await Promise.all(many.map((s) => s.waitForIndex(5)));
      const began = performance.now();
      const stopped = gw.gateway.stop();
      // At once: the port stops accepting (a balancer's health check and a reconnecting client go elsewhere).
      await expect(fetch(`${gw.http}/readyz`)).rejects.toThrow(/fetch failed/);
      expect(gw.gateway.readyStatus).toBe('shutting_down');
      await stopped;
      gw = null;
      for (const sub of many) {
        expect((await sub.waitForClose()).code).toBe(1001);
        expect(sub.indexes).toEqual([1, 2, 3, 4, 5]);
      }
      const times = [...closedAt.values()].sort((a, b) => a - b);
      // The i-th of 20 is closed at (i + 1) * 100 ms: never earlier (timers do not fire early).
      expect(times[0]! - began).toBeGreaterThanOrEqual(90);
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(1_000);
      expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(3_000);
      await pub.close().catch(() => {});
    }, 30_000);

    it('cuts, at --shutdown-timeout, only the connections still open, and logs how many and what they were owed', async () => {
      const lines: Array<Record<string, unknown>> = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
      gw = await startTestGateway({ transport, dropAfterBytes: 256 * 1024 * 1024, shutdownTimeoutMs: 1_000, logger });
      const stuck = await Sub.open(gw.ws);
      const reader = await Sub.open(gw.ws);
      subs.push(stuck, reader);
      (stuck.ws as unknown as { _socket: Socket })._socket.pause(); // never reads again
      const pub = await Pub.open(gw.ws);
      for (let i = 0; i < EVENTS; i++) expect((await pub.send({ topic: 't', payload: PAYLOAD })).type).toBe('ack');
      await reader.waitForIndex(EVENTS);
      await pub.close();
      await gw.gateway.stop();
      gw = null;
      (stuck.ws as unknown as { _socket: Socket })._socket.resume(); // to see the cut
      expect(reader.indexes).toHaveLength(EVENTS);
      expect((await reader.waitForClose()).code).toBe(1001);
      const cut = await until(() => lines.find((l) => l.msg === 'shutdown timeout: cutting the connections still open'), 'the cut to be logged');
      expect(cut).toMatchObject({ subscribers: 1, producers: 0, shutdownTimeoutMs: 1_000 });
      expect((cut.bufferedBytes as number) + (cut.itemsBehind as number)).toBeGreaterThan(0);
    }, 60_000);
  });
}
