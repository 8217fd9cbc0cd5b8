/**
 * Memory a subscriber may hold: a connected subscriber keeps its cursor's
 * item, never the items behind it. (The transports used to keep the upgrade
 * decision, and through its start item every event appended since, for the
 * life of the connection.)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

// The test process has no --expose-gc; this is the documented way to get gc() at run time.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

for (const transport of TRANSPORTS) {
  describe(`subscriber memory (${transport})`, () => {
    let gw: TestGateway | null = null;
    afterEach(async () => {
      await gw?.stop();
      gw = null;
    });

    it('lets evicted items go while a subscriber stays connected', async () => {
      gw = await startTestGateway({ transport, bufferSize: 10 });
      const pub = await Pub.open(gw.ws);
      expect((await pub.send({ topic: 't', payload: 0 })).type).toBe('ack');
      // The item a live subscriber starts from: the tail when it connects.
      const start = new WeakRef(gw.gateway.buffer.tailItem());
      const sub = await Sub.open(gw.ws);
      for (let i = 1; i <= 50; i++) expect((await pub.send({ topic: 't', payload: i })).type).toBe('ack');
      await sub.waitForIndex(51);
      await until(() => gw!.gateway.buffer.oldestIndex > 1 || undefined, 'eviction');
      expect(await collected(start), 'the start item is still reachable').toBe(true);
      expect(sub.closed).toBeNull();
      await sub.close();
      await pub.close();
    });
  });
}
