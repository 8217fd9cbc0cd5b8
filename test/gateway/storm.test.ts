/**
 * A reconnect storm: every subscriber drops and comes back by index at once
 * while a producer keeps publishing. While upgrades arrive the gateway wakes
 * cursors in short, time-boxed chunks (upgrade-storm.ts) so the listen
 * queue keeps moving; whatever the chunking, each subscriber must get every
 * event from its resume index on, in order, none twice. The 10k-subscriber
 * run with its timings is the storm scenario in load/ (see the README).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

const SUBSCRIBERS = 1_000;
const BEFORE = 50; // events each subscriber receives before the storm
const DURING = 150; // events published while everyone reconnects

for (const transport of TRANSPORTS) {
  describe(`reconnect storm (${transport})`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });

    it(`brings ${SUBSCRIBERS} subscribers that reconnect at once by index back with every event from their index, in order, none twice`, async () => {
      gw = await startTestGateway({ transport });
      const pub = await Pub.open(gw.ws);
      const first = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => Sub.open(gw!.ws, 'topic=t')));
      for (let i = 0; i < BEFORE; i++) expect((await pub.send({ topic: 't', payload: i })).type).toBe('ack');
      await until(() => first.every((s) => s.indexes.at(-1) === BEFORE) || undefined, 'every subscriber to reach the last event before the storm', 30_000);

      // Everyone drops at once (as after a proxy restart) and comes back where it left off,
      // while the producer keeps publishing.
      const resumeAt = first.map((s) => s.indexes.at(-1)! + 1);
      for (const s of first) s.ws.terminate();
      let published = BEFORE;
      const publishing = (async () => {
        for (let i = 0; i < DURING; i++) {
          expect((await pub.send({ topic: 't', payload: BEFORE + i })).type).toBe('ack');
          published++;
        }
      })();
      const back = await Promise.all(resumeAt.map((index) => Sub.open(gw!.ws, `topic=t&index=${index}`)));
      await publishing;
      expect(published).toBe(BEFORE + DURING);

      const expected = Array.from({ length: DURING }, (_, i) => BEFORE + 1 + i);
      await until(() => back.every((s) => s.indexes.length >= DURING) || undefined, 'every subscriber to catch up', 30_000);
      for (const s of back) expect(s.indexes).toEqual(expected);
      expect(back.every((s) => s.closed === null)).toBe(true);
      await Promise.all(back.map((s) => s.close()));
      await pub.close();
    }, 90_000);
  });
}
