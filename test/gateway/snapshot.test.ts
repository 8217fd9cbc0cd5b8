/**
 * snapshot=1 (docs/protocol.md, "Snapshots"): after hello and before any
 * events, the newest event of every (topic, key) the subscription selects
 * with an index below hello's; then the stream from hello's index, nothing
 * sent twice, nothing missing. On both transports, embedded and in cluster
 * mode (a real nats-server; the cluster-only cases, nodes started later and
 * keys the stream evicted, are in test/cluster/gateway-cluster.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pub, Sub, startTestGateway, TRANSPORTS, until, type TestGateway } from '../helpers.js';
import { NatsServer, describeWithNats } from '../cluster/nats-server.js';

type Message = Record<string, unknown>;
interface SnapEvent {
  topic: string;
  key: string;
  payload: unknown;
  index: number;
}

const snapshots = (sub: Sub): Message[] => sub.messages.filter((m) => m.type === 'snapshot');
const snapshotEvents = (sub: Sub): SnapEvent[] => snapshots(sub).flatMap((m) => m.events as SnapEvent[]);
const complete = (sub: Sub): Promise<true> => until(() => snapshots(sub).some((m) => m.complete === true) || undefined, 'complete snapshot');

/** (topic, key) -> payload, from a snapshot and then the events after it: what a dashboard shows. */
function fold(sub: Sub): Map<string, unknown> {
  const state = new Map<string, unknown>();
  for (const e of snapshotEvents(sub)) state.set(`${e.topic}/${e.key}`, e.payload);
  for (const m of sub.events) for (const e of m.events as SnapEvent[]) state.set(`${e.topic}/${e.key}`, e.payload);
  return state;
}

const MODES = [
  { name: 'embedded', describe: describe },
  { name: 'cluster', describe: describeWithNats },
] as const;

for (const mode of MODES) for (const transport of TRANSPORTS) {
  mode.describe(`snapshot=1 (${transport}, ${mode.name})`, () => {
    let gw: TestGateway | null = null;
    const subs: Sub[] = [];
    let pub: Pub | null = null;
    let nats: NatsServer | null = null;
    let streamNo = 0;
    if (mode.name === 'cluster') {
      beforeAll(async () => {
        nats = await NatsServer.start();
      });
      afterAll(async () => {
        await nats?.dispose();
      });
    }
    const clusterOptions = () => {
      if (nats === null) return {};
      const stream = `SNAP${transport.toUpperCase()}${++streamNo}`;
      return { cluster: [nats.url], clusterStream: stream, clusterSubject: `${stream}.events` };
    };
    const start = async (options: Parameters<typeof startTestGateway>[0] = {}) => {
      gw = await startTestGateway({ transport, ...clusterOptions(), ...options });
      pub = await Pub.open(gw.ws);
      if (nats !== null) {
        // In cluster mode an ack means stored in JetStream; the node appends
        // (and records in its table) once it reads it back. These cases open
        // subscribers right after acks, so wait for that.
        const node = gw.gateway;
        const send = pub.send.bind(pub);
        pub.send = async (frame: unknown, json?: boolean) => {
          const reply = await send(frame, json);
          if (reply.type === 'ack') await until(() => node.buffer.newestIndex >= (reply.index as number) || undefined, 'the node to read its ack back');
          return reply;
        };
      }
      return { gw, pub };
    };
    const open = async (query: string, format: 'msgpack' | 'json' = 'msgpack') => {
      const sub = await Sub.open(gw!.ws, query, format);
      subs.push(sub);
      return sub;
    };
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.close()));
      await pub?.close();
      pub = null;
      await gw?.stop();
      gw = null;
    });

    it('sends, between hello and the first events, the newest event of every (topic, key) with its index, keyless events under ""', async () => {
      const { pub } = await start();
      await pub.send({ topic: 'prices', key: 'a', payload: 1 });
      await pub.send({ topic: 'prices', key: 'b', payload: 2 });
      await pub.send({ topic: 'prices', key: 'a', payload: 3 });
      await pub.send({ topic: 'status', payload: 'up' });
      await pub.send({ topic: 'status', payload: 'down' });
      const subscribers = [await open('snapshot=1', 'msgpack'), await open('snapshot=1', 'json')];
      for (const sub of subscribers) {
        await complete(sub);
        expect(sub.messages[0]).toMatchObject({ type: 'hello', index: 6, gap: false });
        expect(sub.messages[1]).toEqual({
          type: 'snapshot',
          complete: true,
          events: [
            { topic: 'prices', type: '', key: 'b', payload: 2, index: 2 },
            { topic: 'prices', type: '', key: 'a', payload: 3, index: 3 },
            { topic: 'status', type: '', key: '', payload: 'down', index: 5 },
          ],
        });
      }
      await pub.send({ topic: 'prices', key: 'a', payload: 4 });
      for (const sub of subscribers) {
        await sub.waitForIndex(6);
        expect(sub.messages.findIndex((m) => m.type === 'events')).toBe(2);
      }
    });

    it('keeps an evicted item\'s events in the snapshot until a newer event for the same key replaces them', async () => {
      const { pub } = await start({ bufferSize: 3 });
      await pub.send({ topic: 't', key: 'old', payload: 'kept' });
      for (let i = 0; i < 10; i++) await pub.send({ topic: 't', key: `k${i % 2}`, payload: i });
      expect(gw!.gateway.buffer.oldestIndex).toBeGreaterThan(1);
      const sub = await open('snapshot=1');
      await complete(sub);
      expect(snapshotEvents(sub).map((e) => [e.key, e.payload, e.index])).toEqual([
        ['old', 'kept', 1],
        ['k0', 8, 10],
        ['k1', 9, 11],
      ]);
    });

    it('holds only what the subscription\'s topics select, and is one empty complete message when nothing matches', async () => {
      const { pub } = await start();
      await pub.send({ topic: 'a', key: 'x', payload: 1 });
      await pub.send({ topic: 'b', key: 'y', payload: 2 });
      await pub.send({ topic: 'b', key: 'z', payload: 3 });
      const keyed = await open('snapshot=1&topic=b:z&topic=a');
      await complete(keyed);
      expect(snapshotEvents(keyed).map((e) => `${e.topic}:${e.key}`)).toEqual(['a:x', 'b:z']);
      const none = await open('snapshot=1&topic=c');
      await complete(none);
      expect(snapshots(none)).toEqual([{ type: 'snapshot', events: [], complete: true }]);
    });

    it('sends no snapshot on an exact resume, and heals a gap with one: hello says gap and the stream goes on from the tail', async () => {
      const { pub } = await start({ bufferSize: 3 });
      for (let i = 1; i <= 3; i++) await pub.send({ topic: 't', key: `k${i}`, payload: i });
      const exact = await open('snapshot=1&index=2');
      await exact.waitForIndex(3);
      expect(snapshots(exact)).toEqual([]);
      expect(exact.indexes).toEqual([2, 3]);
      for (let i = 4; i <= 8; i++) await pub.send({ topic: 't', key: `k${i % 4}`, payload: i });
      const healed = await open('snapshot=1&index=2');
      await complete(healed);
      expect(healed.messages[0]).toMatchObject({ type: 'hello', index: 9, gap: true });
      expect(snapshotEvents(healed).map((e) => [e.key, e.payload])).toEqual([
        ['k1', 5],
        ['k2', 6],
        ['k3', 7],
        ['k0', 8],
      ]);
      expect(healed.events).toEqual([]);
    });

    it('builds a snapshot once per filter, format and snapshot point, not once per subscriber', async () => {
      const { pub } = await start();
      for (let i = 0; i < 5; i++) await pub.send({ topic: 't', key: `k${i}`, payload: i });
      const built = () => (gw!.gateway.stats().snapshot as { built: number }).built;
      const before = built();
      const joined = await Promise.all(Array.from({ length: 20 }, (_, i) => open('snapshot=1&topic=t', i % 2 ? 'json' : 'msgpack')));
      for (const sub of joined) await complete(sub);
      expect(built() - before).toBe(2);
      expect(new Set(joined.map((sub) => JSON.stringify(snapshotEvents(sub)))).size).toBe(1);
    });

    it('works with every lag policy and with batch=1: the snapshot first, then the stream from hello.index', async () => {
      const { pub } = await start();
      await pub.send({ topic: 't', key: 'a', payload: 1 });
      const joined = await Promise.all(['lag=skip', 'lag=conflate', 'lag=drop&batch=1', 'lag=skip&batch=1'].map((q) => open(`snapshot=1&${q}`)));
      for (const sub of joined) await complete(sub);
      for (let i = 2; i <= 4; i++) await pub.send({ topic: 't', key: 'b', payload: i });
      for (const sub of joined) {
        await sub.waitForIndex(4);
        expect(snapshotEvents(sub).map((e) => [e.key, e.payload])).toEqual([['a', 1]]);
        expect(sub.messages.slice(0, 2).map((m) => m.type)).toEqual(['hello', 'snapshot']);
        expect(sub.indexes).toEqual([2, 3, 4]);
      }
    });

    it('refuses strict=1 with snapshot=1 (400 bad_query)', async () => {
      await start();
      await expect(Sub.open(gw!.ws, 'snapshot=1&strict=1&index=1')).rejects.toThrow(/bad_query/);
    });

    it('sends a snapshot larger than the high-water mark in several messages, the last one complete', async () => {
      const { pub } = await start({ highWaterBytes: 2048, batchBytes: 1024 });
      const payload = 'x'.repeat(200);
      const frame = { events: Array.from({ length: 200 }, (_, i) => ({ topic: 't', key: `k${i}`, payload })) };
      expect((await pub.send(frame)).type).toBe('ack');
      const sub = await open('snapshot=1');
      await complete(sub);
      const messages = snapshots(sub);
      expect(messages.length).toBeGreaterThan(5);
      expect(messages.slice(0, -1).every((m) => m.complete === undefined)).toBe(true);
      expect(snapshotEvents(sub).map((e) => e.key)).toEqual(frame.events.map((e) => e.key));
    });

    it('drops (4001, resume at the snapshot point) a subscriber that does not take its snapshot before the buffer evicts what follows it', async () => {
      const { pub } = await start({ bufferSize: 5, highWaterBytes: 4096, batchBytes: 4096 });
      const payload = 'x'.repeat(16 * 1024);
      for (let f = 0; f < 24; f++) {
        const events = Array.from({ length: 50 }, (_, i) => ({ topic: 't', key: `k${f * 50 + i}`, payload }));
        expect((await pub.send({ events })).type).toBe('ack');
      }
      const sub = await open('snapshot=1');
      sub.ws.pause(); // reads nothing more: 19 MB of snapshot, more than the sockets hold
      const hello = sub.messages[0]!;
      for (let i = 0; i < 10; i++) expect((await pub.send({ topic: 't', key: 'late', payload: i })).type).toBe('ack');
      await until(() => ((gw!.gateway.stats().totals as { dropped: { lagged: number } }).dropped.lagged === 1) || undefined, 'the drop', 10_000);
      sub.ws.resume();
      const closed = await sub.waitForClose(20_000);
      expect(closed.code).toBe(4001);
      expect(closed.reason).toContain(`resume index=${hello.index as number}`);
      expect(sub.events).toEqual([]);
      expect(snapshots(sub).some((m) => m.complete === true)).toBe(false);
    });

    it('forgets the key updated longest ago past --snapshot-keys', async () => {
      const { pub } = await start({ snapshotKeys: 2 });
      await pub.send({ topic: 't', key: 'a', payload: 1 });
      await pub.send({ topic: 't', key: 'b', payload: 2 });
      await pub.send({ topic: 't', key: 'a', payload: 3 });
      await pub.send({ topic: 't', key: 'c', payload: 4 });
      const sub = await open('snapshot=1');
      await complete(sub);
      expect(snapshotEvents(sub).map((e) => e.key)).toEqual(['a', 'c']);
      expect(gw!.gateway.counters.snapshotForgotten.keys).toBe(1);
    });

    it('joins consistently while a producer publishes: snapshot below hello.index, stream from it with nothing twice or missing, every join folding to the producer\'s final state', async () => {
      const { pub } = await start({ bufferSize: 10_000 });
      const KEYS = 20;
      const TOTAL = 600;
      let sent = 0;
      const producing = (async () => {
        for (; sent < TOTAL; sent++) {
          const ack = await pub.send({ topic: 't', key: `k${sent % KEYS}`, payload: sent });
          expect(ack.type).toBe('ack');
        }
      })();
      const joined: Sub[] = [];
      while (sent < TOTAL - 50) {
        joined.push(await open('snapshot=1'));
        await new Promise((r) => setTimeout(r, 5));
      }
      await producing;
      const expected = new Map(Array.from({ length: KEYS }, (_, k) => [`t/k${k}`, TOTAL - KEYS + k]));
      expect(joined.length).toBeGreaterThan(3);
      for (const sub of joined) {
        await complete(sub);
        await sub.waitForIndex(TOTAL);
        const hello = sub.messages[0]!;
        expect(snapshotEvents(sub).every((e) => e.index < (hello.index as number))).toBe(true);
        expect(sub.indexes).toEqual(Array.from({ length: TOTAL - (hello.index as number) + 1 }, (_, i) => (hello.index as number) + i));
        expect(fold(sub)).toEqual(expected);
      }
    });
  });
}
