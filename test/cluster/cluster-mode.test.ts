/**
 * Cluster mode as users run it: several `fanwire --cluster` processes on one
 * real nats-server, on both transports. Every wait is bounded and generous;
 * what is checked is which events arrived, never how fast.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, getJson, spawnGateway, until, type CliGateway, type Message } from '../helpers.js';
import { NatsServer, describeWithNats } from './nats-server.js';

/** Publishes numbered frames one after another (up to `window` in flight) until stopped; records every reply. */
function produce(pub: Pub, window = 8) {
  const acked: number[] = [];
  const errors: Message[] = [];
  let stopped = false;
  let sent = 0;
  let seenErrors = 0;
  const done = (async () => {
    const inFlight = new Set<Promise<void>>();
    while (!stopped && pub.closed === null) {
      const n = sent++;
      const p = pub.send({ topic: 'orders', key: `o-${n}`, payload: { n } }).then((reply) => {
        if (reply.type === 'ack') acked.push(reply.index as number);
        else errors.push(reply);
      });
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= window) await Promise.race(inFlight);
      // Back off after errors, as a client would (and stay under --max-publish-rate);
      // otherwise let readers on this process run between frames (FIELD-NOTES: a starved reader looks like a laggard).
      const newError = errors.length > seenErrors;
      seenErrors = errors.length;
      await new Promise((resolve) => (newError ? setTimeout(resolve, 20) : setImmediate(resolve)));
    }
    await Promise.all(inFlight);
  })();
  return {
    acked,
    errors,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const transport of TRANSPORTS) {
  describeWithNats(`cluster mode (${transport})`, () => {
    let nats: NatsServer;
    let streamNo = 0;
    const nodes: CliGateway[] = [];
    const clients: Array<Sub | Pub> = [];

    beforeAll(async () => {
      nats = await NatsServer.start();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
      await nats.start();
    });
    afterAll(async () => {
      await nats?.dispose();
    });

    const freshStream = () => `C${transport.toUpperCase()}${++streamNo}`;
    async function node(stream: string, extra: string[] = []): Promise<CliGateway> {
      const gw = await spawnGateway(['--transport', transport, '--cluster', nats.url, '--cluster-stream', stream, '--cluster-subject', `${stream}.events`, ...extra]);
      nodes.push(gw);
      return gw;
    }
    async function sub(base: string, query = '', format: 'msgpack' | 'json' = 'msgpack'): Promise<Sub> {
      const s = await Sub.open(base, query, format);
      clients.push(s);
      return s;
    }
    async function pub(base: string): Promise<Pub> {
      const p = await Pub.open(base);
      clients.push(p);
      return p;
    }

    it('gives subscribers on two nodes identical index sequences for frames published to one of them', async () => {
      const stream = freshStream();
      const [a, b] = [await node(stream), await node(stream)];
      const onA = await sub(a.ws);
      const onB = await sub(b.ws, '', 'json');
      expect(onB.messages[0]!.epoch).toBe(onA.messages[0]!.epoch);
      const producer = await pub(a.ws);
      const acked: number[] = [];
      for (let i = 0; i < 20; i++) {
        const reply = i % 5 === 4 ? await producer.send({ id: i, events: [{ topic: 'orders', payload: i }, { topic: 'audit', payload: 'x' }] }) : await producer.send({ topic: 'orders', payload: i });
        expect(reply.type).toBe('ack');
        acked.push(reply.index as number);
      }
      expect(acked).toEqual(range(1, 20)); // a fresh stream numbers from 1, one sequence per frame
      await onA.waitForIndex(20, 30_000);
      await onB.waitForIndex(20, 30_000);
      expect(onA.indexes).toEqual(acked);
      expect(onB.indexes).toEqual(acked);
      expect(onB.events.map((m) => m.events)).toEqual(onA.events.map((m) => m.events));
    });

    it('lets a subscriber whose node is killed resume on another node with index=last+1, missing nothing', async () => {
      const stream = freshStream();
      const [a, b] = [await node(stream), await node(stream)];
      const first = await sub(a.ws);
      const epoch = first.messages[0]!.epoch as string;
      const producer = produce(await pub(b.ws));
      await until(() => first.indexes.length >= 30 || undefined, '30 items on node A', 30_000);
      a.child.kill('SIGKILL');
      await first.waitForClose(20_000);
      const last = first.indexes.at(-1)!;
      const resumed = await sub(b.ws, `index=${last + 1}&epoch=${epoch}`);
      expect(resumed.messages[0]).toMatchObject({ type: 'hello', epoch, index: last + 1, gap: false });
      await until(() => producer.acked.length >= first.indexes.length + 30 || undefined, '30 more acks', 30_000);
      await producer.stop();
      const newest = Math.max(...producer.acked);
      await resumed.waitForIndex(newest, 30_000);
      const seen = [...first.indexes, ...resumed.indexes];
      expect(seen).toEqual(range(1, newest)); // in order, no duplicates, no gaps
      expect(producer.errors).toEqual([]);
    });

    it('backfills a restarted node, which then serves resume requests for indexes it never saw live', async () => {
      const stream = freshStream();
      const a = await node(stream, ['--buffer-size', '15']);
      const b = await node(stream);
      const toA = await pub(a.ws);
      for (let i = 1; i <= 10; i++) expect(await toA.send({ topic: 'orders', payload: i })).toEqual({ type: 'ack', index: i });
      await toA.close();
      expect(await a.stop()).toBe(0);
      nodes.splice(nodes.indexOf(a), 1);
      const toB = await pub(b.ws);
      for (let i = 11; i <= 20; i++) expect(await toB.send({ topic: 'orders', payload: i })).toEqual({ type: 'ack', index: i });

      const again = await node(stream, ['--buffer-size', '15']); // A restarted: holds the last 15 (6-20)
      const stats = await getJson(`${again.http}/v1/stats`);
      expect(stats.body.buffer).toMatchObject({ items: 15, oldestIndex: 6, newestIndex: 20 });
      const resumed = await sub(again.ws, 'index=11');
      expect(resumed.messages[0]).toMatchObject({ index: 11, gap: false });
      await resumed.waitForIndex(20, 30_000);
      expect(resumed.indexes).toEqual(range(11, 20));
      expect(resumed.events.map((m) => m.events[0].payload)).toEqual(range(11, 20));
      // Older than this node holds (but still in the stream): told so, from the oldest it has.
      const tooOld = await sub(again.ws, 'index=2');
      expect(tooOld.messages[0]).toMatchObject({ index: 6, gap: true });
      await tooOld.waitForIndex(20, 30_000);
      expect(tooOld.indexes).toEqual(range(6, 20));
    });

    it('answers producers with errors while nats-server is down, loses no acked event, and converges every node after it returns', async () => {
      const stream = freshStream();
      const [a, b] = [await node(stream), await node(stream)];
      const onA = await sub(a.ws);
      const onB = await sub(b.ws);
      const producer = produce(await pub(a.ws), 4);
      await until(() => producer.acked.length >= 20 || undefined, '20 acks before the outage', 30_000);

      await nats.stop();
      await until(() => producer.errors.length >= 3 || undefined, 'error replies during the outage', 30_000);
      expect(producer.errors.every((e) => e.code === 'unavailable')).toBe(true);
      const ready = await getJson(`${a.http}/readyz`);
      expect([ready.status, ready.body]).toEqual([503, { status: 'cluster_unavailable' }]);
      const posted = await fetch(`${b.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"t","payload":1}' });
      expect([posted.status, ((await posted.json()) as Message).code]).toEqual([503, 'unavailable']);

      await nats.start();
      const ackedBefore = producer.acked.length;
      await until(() => producer.acked.length >= ackedBefore + 20 || undefined, '20 acks after the outage', 60_000);
      await producer.stop();
      const acked = [...producer.acked].sort((x, y) => x - y);
      const newest = acked.at(-1)!;
      await onA.waitForIndex(newest, 60_000);
      await onB.waitForIndex(newest, 60_000);
      // Subscribers kept their connections through the outage.
      expect([onA.closed, onB.closed]).toEqual([null, null]);
      for (const s of [onA, onB]) expect(acked.filter((index) => !s.indexes.includes(index))).toEqual([]);
      expect(onB.indexes).toEqual(onA.indexes);
      const [statsA, statsB] = [await getJson(`${a.http}/v1/stats`), await getJson(`${b.http}/v1/stats`)];
      expect(statsA.body.cluster.lastSequence).toBe(statsB.body.cluster.lastSequence);
      expect(statsA.body.cluster.connected).toBe(true);
      expect((await getJson(`${a.http}/readyz`)).status).toBe(200);
    }, 180_000);
  });
}
