/**
 * Zero-loss deploys on the topology people run: two cluster nodes on a real
 * NATS JetStream behind a real nginx (both nodes upstream, WebSocket upgrade
 * proxied, a refused connection retried on the other node). SDK subscribers
 * and a `reconnect: true` publisher at 100 frames/s while each node in turn
 * gets SIGTERM and is restarted, then one gets SIGKILL:
 * - every publish() resolves (exactly once, being a promise);
 * - each frame is in the stream once, at the index its publish resolved with;
 * - every subscriber has every index once and in order.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectPublisher, subscribe, type Subscription } from '../../src/client/index.js';
import { NATS, NatsServer } from '../cluster/nats-server.js';
import { spawnGateway, until, type CliGateway } from '../helpers.js';
import { describeWithBinaries } from '../system-binary.js';
import { NGINX, Nginx, freePort } from '../transport/nginx.js';

/** Needs both nats-server and nginx: skipped loudly locally, failing under CI=true, when either is missing. */
const describeTopology = (name: string, body: () => void) => describeWithBinaries([NATS, NGINX], name, body);

/** docs/deploy.md's cluster site ("Rolling a cluster behind nginx"), with this test's ports: the topology as documented. */
const DOC = readFileSync(fileURLToPath(new URL('../../docs/deploy.md', import.meta.url)), 'utf8');
const CLUSTER_SITE = [...DOC.matchAll(/^```nginx\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).find((b) => b.includes('proxy_next_upstream'))!;
const upstreamSite = (upstreams: number[]) => (port: number) => {
  let n = 0;
  const site = CLUSTER_SITE.replace(/server 10\.0\.0\.\d+:8080/g, () => `server 127.0.0.1:${upstreams[n++]!}`).replace('listen 80;', `listen 127.0.0.1:${port};`);
  expect(n).toBe(upstreams.length);
  return site;
};

describeTopology('rolling deploy of a two-node cluster behind nginx (real nats-server, real nginx)', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('through SIGTERM and restart of each node, then SIGKILL of one: every publish resolves once, each frame is stored once at its index, every subscriber gets every index once in order', async () => {
    const stream = 'ROLL';
    const ports = [await freePort(), await freePort()];
    const args = (port: number) => ['--port', String(port), '--cluster', nats.url, '--cluster-stream', stream, '--cluster-subject', `${stream}.events`, '--shutdown-timeout', '10s'];
    const nodes: CliGateway[] = [await spawnGateway(args(ports[0]!)), await spawnGateway(args(ports[1]!))];
    const nginx = await Nginx.start(upstreamSite(ports));
    const url = nginx.url;
    const subs: Array<{ sub: Subscription; indexes: number[] }> = [];
    let publishing = true;
    try {
      for (let s = 0; s < 3; s++) {
        const indexes: number[] = [];
        const sub = subscribe({ url, topics: ['t'], fromIndex: 1, backoff: { initialMs: 20, maxMs: 200 }, onEvents: (m) => indexes.push(m.index) });
        subs.push({ sub, indexes });
      }
      const publisher = await connectPublisher({ url, reconnect: true, backoff: { initialMs: 20, maxMs: 200 } });
      const results: Array<Promise<number>> = [];
      const producing = (async () => {
        for (let i = 1; publishing; i++) {
          results.push(publisher.publish({ topic: 't', payload: i }));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const settle = () => new Promise((resolve) => setTimeout(resolve, 800));
      const restart = async (n: number, signal: 'SIGTERM' | 'SIGKILL') => {
        if (signal === 'SIGTERM') expect(await nodes[n]!.stop()).toBe(0);
        else {
          nodes[n]!.child.kill('SIGKILL');
          await once(nodes[n]!.child, 'exit');
        }
        nodes[n] = await spawnGateway(args(ports[n]!));
      };
      await settle();
      await restart(0, 'SIGTERM');
      await settle();
      await restart(1, 'SIGTERM');
      await settle();
      await restart(0, 'SIGKILL');
      await settle();
      publishing = false;
      await producing;
      const indexes = await Promise.all(results); // rejects if any publish() failed
      await publisher.close();
      expect(indexes.length).toBeGreaterThan(200);

      // The stream: each payload once, at the index its publish resolved with.
      const nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info(stream);
      const stored = new Map<number, number>();
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const msg = await jsm.streams.getMessage(stream, { seq });
        for (const event of (unpack(msg!.data) as { events: Array<{ payload: number }> }).events) {
          expect(stored.has(event.payload), `payload ${event.payload} stored twice`).toBe(false);
          stored.set(event.payload, seq);
        }
      }
      await nc.close();
      expect(stored.size).toBe(indexes.length);
      indexes.forEach((index, i) => expect(stored.get(i + 1), `payload ${i + 1}`).toBe(index));

      // Every subscriber: every index once, in order, up to the last.
      const last = state.last_seq;
      for (const { indexes: got } of subs) {
        await until(() => got.at(-1) === last || undefined, 'a subscriber to reach the last index', 30_000);
        expect(got).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      }
    } finally {
      publishing = false;
      for (const { sub } of subs) sub.close();
      await nginx.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 180_000);
});
