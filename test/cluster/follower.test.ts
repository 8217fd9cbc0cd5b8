/** Follower against a real nats-server: ordered reading, catching up, surviving restarts. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Follower, JetStreamLog } from '../../src/cluster/index.js';
import { until } from '../helpers.js';
import { NatsServer, describeWithNats } from './nats-server.js';

describeWithNats('Follower (real nats-server)', () => {
  let nats: NatsServer;
  const cleanups: Array<() => Promise<void>> = [];
  let streamNo = 0;

  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await nats.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  async function openLog(stream = `F${++streamNo}`): Promise<JetStreamLog> {
    const log = await JetStreamLog.open({ servers: [nats.url], stream, subject: `${stream}.events` });
    cleanups.push(() => log.close());
    return log;
  }

  function follow(log: JetStreamLog, fromSeq: number, extra: { targetSeq?: number; onReplaced?: (detail: string) => void } = {}) {
    const seen: Array<[number, number]> = [];
    const follower = new Follower(log, { fromSeq, onEntry: (seq, data) => seen.push([seq, data[0]!]), ...extra });
    cleanups.push(() => follower.stop());
    return { follower, seen };
  }

  const publishAll = async (log: JetStreamLog, values: number[]) => {
    for (const v of values) await log.publish(new Uint8Array([v]));
  };

  it('delivers every entry from the requested sequence on, in order, then keeps following new ones', async () => {
    const log = await openLog();
    await publishAll(log, [1, 2, 3, 4, 5]);
    const { seen } = follow(log, 3);
    await until(() => seen.length === 3, 'entries 3-5');
    await publishAll(log, [6, 7]);
    await until(() => seen.length === 5, 'entries 6 and 7');
    expect(seen).toEqual([
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 6],
      [7, 7],
    ]);
  });

  it('reports caught up once it has read up to the target sequence', async () => {
    const log = await openLog();
    await publishAll(log, Array.from({ length: 300 }, (_, i) => i % 256));
    const { follower, seen } = follow(log, 1, { targetSeq: 300 });
    await follower.caughtUp;
    expect(seen.length).toBe(300);
  });

  it('reports caught up at once on an empty stream, and on one read past its end', async () => {
    const empty = await openLog();
    await follow(empty, 1, { targetSeq: 0 }).follower.caughtUp;
    const log = await openLog();
    await publishAll(log, [1, 2]);
    await follow(log, 3).follower.caughtUp;
  });

  it('skips the sequences of deleted messages', async () => {
    const log = await openLog();
    await publishAll(log, [1, 2, 3, 4]);
    await log.jsm.streams.deleteMessage(log.stream, 2);
    const { seen } = follow(log, 1);
    await until(() => seen.length === 3, 'the three remaining entries');
    expect(seen.map(([seq]) => seq)).toEqual([1, 3, 4]);
  });

  it('catches up by itself after nats-server restarts, without losing or repeating a sequence', async () => {
    const log = await openLog();
    const { follower, seen } = follow(log, 1);
    await publishAll(log, [1, 2, 3]);
    await until(() => seen.length === 3, 'entries before the restart');
    await nats.restart();
    await until(() => log.connected, 'the log to reconnect', 30_000);
    await publishAll(log, [4, 5, 6]);
    await until(() => follower.lastSeq === 6, 'entries after the restart', 30_000);
    expect(seen.map(([seq]) => seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('stops and reports it when the stream is deleted and created again under it', async () => {
    const log = await openLog();
    await publishAll(log, [1]);
    let replaced = '';
    const { follower, seen } = follow(log, 1, { onReplaced: (detail) => (replaced = detail) });
    await until(() => seen.length === 1, 'the first entry');
    await log.jsm.streams.delete(log.stream);
    await log.jsm.streams.add({ name: log.stream, subjects: [log.subject] });
    await log.publish(new Uint8Array([9])); // sequence 1 again, of another stream lifetime
    follower.restart('test'); // what the watchdog or a reconnect would do
    await until(() => replaced !== '' || undefined, 'the replacement to be reported', 20_000);
    expect(replaced).toMatch(/was recreated/);
    expect(seen).toEqual([[1, 1]]);
  });
});
