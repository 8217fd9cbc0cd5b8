/**
 * Laggards. The gateway runs as the real CLI in its own process, so the
 * publisher and the healthy reader here never compete with it for an event
 * loop: a reader that cannot run would look exactly like a laggard.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pub, Sub, getJson, spawnGateway, type CliGateway, TRANSPORTS } from '../helpers.js';

const PAYLOAD = 'x'.repeat(64 * 1024);
/** Enough to fill the kernel's loopback buffers (several MiB) many times over; the loop stops at the first drop. */
const MAX_EVENTS = 4_000;

async function publishUntilDropped(gw: CliGateway, pub: Pub): Promise<number> {
  let published = 0;
  while (published < MAX_EVENTS) {
    const reply = await pub.send({ topic: 't', payload: PAYLOAD });
    expect(reply.type).toBe('ack');
    published++;
    if (published % 50 === 0) {
      const { body } = await getJson(`${gw.http}/v1/stats`);
      if (body.totals.dropped.lagged + body.totals.dropped.backpressure > 0) return published;
    }
  }
  throw new Error(`no subscriber was dropped after ${MAX_EVENTS} events`);
}

for (const transport of TRANSPORTS) {
  describe(`slow subscribers (${transport})`, () => {
    let gw: CliGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });

    it('closes a subscriber that fell more than the buffer behind with 4001 "dropped" and its resume position, while a reading one gets everything', async () => {
      gw = await spawnGateway(['--transport', transport, '--buffer-size', '100', '--high-water-bytes', '256KiB', '--max-frame-bytes', '1MiB']);
      const pub = await Pub.open(gw.ws);
      const healthy = await Sub.open(gw.ws, 'topic=t');
      const slow = await Sub.open(gw.ws, 'topic=t');
      const epoch = slow.messages[0]!.epoch as string;
      slow.ws.pause(); // stops reading from the socket: the kernel buffers fill, then the gateway's

      const published = await publishUntilDropped(gw, pub);
      await healthy.waitForIndex(published);
      expect(healthy.indexes).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      expect(healthy.closed).toBeNull();

      slow.ws.resume(); // read what was queued before the close frame
      const closed = await slow.waitForClose();
      expect(closed.code).toBe(4001);
      const m = /^dropped: fell (\d+) events behind; resume index=(\d+) epoch=([0-9a-f]+)$/.exec(closed.reason);
      expect(m, closed.reason).not.toBeNull();
      const resumeAt = Number(m![2]);
      expect(m![3]).toBe(epoch);
      expect(Number(m![1])).toBeGreaterThanOrEqual(100);
      // Everything before the resume index was delivered, in order, without gaps.
      expect(slow.indexes).toEqual(Array.from({ length: resumeAt - 1 }, (_, i) => i + 1));

      const { body } = await getJson(`${gw.http}/v1/stats`);
      expect(body.totals.dropped).toEqual({ lagged: 1, backpressure: 0, shutdown: 0, error: 0 });

      // Coming back by index works: what is still buffered arrives, with the gap reported.
      const back = await Sub.open(gw.ws, `topic=t&index=${resumeAt}&epoch=${epoch}`);
      expect(back.messages[0]).toMatchObject({ type: 'hello', gap: true, index: published - 99 });
      await back.waitForIndex(published);
      await Promise.all([healthy.close(), back.close(), pub.close()]);
    });

    it('pauses the cursor of a subscriber whose socket backs up, and resumes it after drain without loss', async () => {
      gw = await spawnGateway(['--transport', transport, '--buffer-size', '100000', '--high-water-bytes', '64KiB', '--drop-after-bytes', '1GiB']);
      const pub = await Pub.open(gw.ws);
      const slow = await Sub.open(gw.ws);
      slow.ws.pause();
      let published = 0;
      while (published < MAX_EVENTS) {
        expect((await pub.send({ topic: 't', payload: PAYLOAD })).type).toBe('ack');
        published++;
        if (published % 20 === 0 && (await getJson(`${gw.http}/v1/stats`)).body.backpressured === 1) break;
      }
      expect((await getJson(`${gw.http}/v1/stats`)).body.backpressured).toBe(1);
      slow.ws.resume();
      await pub.send({ topic: 't', payload: 'last' });
      published += 1;
      await slow.waitForIndex(published, 30_000);
      expect(slow.indexes).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      expect(slow.closed).toBeNull();
      const { body } = await getJson(`${gw.http}/v1/stats`);
      expect(body.backpressured).toBe(0);
      expect(body.totals.dropped).toEqual({ lagged: 0, backpressure: 0, shutdown: 0, error: 0 });
      await Promise.all([slow.close(), pub.close()]);
    });

    it('drops a subscriber whose unsent bytes pass --drop-after-bytes with reason "bytes unsent"', async () => {
      gw = await spawnGateway(['--transport', transport, '--buffer-size', '10000', '--high-water-bytes', '1KiB', '--drop-after-bytes', '2KiB']);
      const pub = await Pub.open(gw.ws);
      const slow = await Sub.open(gw.ws);
      slow.ws.pause();
      await publishUntilDropped(gw, pub);
      slow.ws.resume();
      const closed = await slow.waitForClose();
      expect(closed.code).toBe(4001);
      expect(closed.reason).toMatch(/^dropped: \d+ bytes unsent; resume index=\d+ epoch=[0-9a-f]+$/);
      const { body } = await getJson(`${gw.http}/v1/stats`);
      expect(body.totals.dropped).toEqual({ lagged: 0, backpressure: 1, shutdown: 0, error: 0 });
      await pub.close();
    });
  });
}
