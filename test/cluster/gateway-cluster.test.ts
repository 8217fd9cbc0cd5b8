/**
 * A gateway in cluster mode, in process, against a real nats-server: how it
 * answers producers, what it reports, how it starts and stops. The
 * multi-process scenarios of issue 8 are in cluster-mode.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Pub, Sub, TRANSPORTS, getJson, startTestGateway, until, type Message, type TestGateway } from '../helpers.js';
import type { GatewayOptions } from '../../src/index.js';
import { NatsServer, describeWithNats } from './nats-server.js';

const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

for (const transport of TRANSPORTS) {
  describeWithNats(`gateway in cluster mode (${transport})`, () => {
    let nats: NatsServer;
    let streamNo = 0;
    const gateways: TestGateway[] = [];
    const clients: Array<Sub | Pub> = [];

    beforeAll(async () => {
      nats = await NatsServer.start();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
      await Promise.all(gateways.splice(0).map((g) => g.stop()));
      await nats.start();
    });
    afterAll(async () => {
      await nats?.dispose();
    });

    const freshStream = () => `G${transport.toUpperCase()}${++streamNo}`;
    async function gateway(stream: string, extra: GatewayOptions = {}): Promise<TestGateway> {
      const gw = await startTestGateway({ transport, cluster: [nats.url], clusterStream: stream, clusterSubject: `${stream}.events`, ...extra });
      gateways.push(gw);
      return gw;
    }
    const track = <T extends Sub | Pub>(client: T): T => {
      clients.push(client);
      return client;
    };

    it('reports the same stream-derived epoch on every node, in hello and stats', async () => {
      const stream = freshStream();
      const [a, b] = [await gateway(stream), await gateway(stream)];
      expect(a.gateway.epoch).toMatch(/^[0-9a-f]{16}$/);
      expect(b.gateway.epoch).toBe(a.gateway.epoch);
      const hello = (await track(await Sub.open(b.ws))).messages[0]!;
      expect(hello).toMatchObject({ epoch: a.gateway.epoch, index: 1, gap: false });
      expect((await getJson(`${a.http}/v1/stats`)).body.epoch).toBe(a.gateway.epoch);
    });

    it('keeps replies to one producer in frame order when errors follow frames still waiting for JetStream', async () => {
      const gw = await gateway(freshStream());
      const pub = track(await Pub.open(gw.ws));
      const replies = await Promise.all([
        pub.send({ topic: 't', payload: 1, id: 'a' }),
        pub.send({ topic: 't', id: 'b' }), // no payload: invalid, answerable at once
        pub.send({ topic: 't', payload: 2, id: 'c' }),
        pub.send('{"topic":', true), // not JSON
        pub.send({ topic: 't', payload: 3, id: 'e' }, true),
      ]);
      expect(replies).toEqual([
        { type: 'ack', index: 1, id: 'a' },
        { type: 'error', code: 'invalid_frame', message: 'payload: required', id: 'b' },
        { type: 'ack', index: 2, id: 'c' },
        expect.objectContaining({ type: 'error', code: 'decode_failed' }),
        { type: 'ack', index: 3, id: 'e' },
      ]);
    });

    it('acks POST /v1/publish with the stream sequence, once stored', async () => {
      const gw = await gateway(freshStream());
      const post = (body: string) => fetch(`${gw.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const first = await post('{"topic":"t","payload":1,"id":"x"}');
      expect([first.status, await first.json()]).toEqual([200, { index: 1, id: 'x' }]);
      const bad = await post('{"topic":"t"}');
      expect([bad.status, ((await bad.json()) as Message).code]).toEqual([400, 'invalid_frame']);
      const stored = await gw.gateway.cluster!.log.info();
      expect(stored.state.messages).toBe(1);
    });

    it('reports cluster_unavailable on /readyz and answers unavailable while NATS is down, keeping subscribers, then recovers by itself', async () => {
      const gw = await gateway(freshStream());
      const subscriber = track(await Sub.open(gw.ws));
      const pub = track(await Pub.open(gw.ws));
      expect(await pub.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
      await nats.stop();
      await until(() => gw.gateway.readyStatus === 'cluster_unavailable' || undefined, 'the node to notice the outage');
      expect(await getJson(`${gw.http}/readyz`)).toEqual({ status: 503, body: { status: 'cluster_unavailable' } });
      expect(await pub.send({ topic: 't', payload: 2, id: 9 })).toMatchObject({ type: 'error', code: 'unavailable', id: 9 });
      const stats = await getJson(`${gw.http}/v1/stats`);
      expect(stats.body.cluster).toMatchObject({ connected: false, lastSequence: 1, stream: expect.any(String), servers: [nats.url] });
      expect(stats.body.totals.publishErrorsByCode).toEqual({ unavailable: 1 });
      await nats.start();
      await until(() => gw.gateway.readyStatus === 'ready' || undefined, 'the node to reconnect', 30_000);
      expect(await pub.send({ topic: 't', payload: 3 })).toEqual({ type: 'ack', index: 2 });
      await subscriber.waitForIndex(2, 30_000);
      expect(subscriber.indexes).toEqual([1, 2]);
      expect(subscriber.closed).toBeNull();
    }, 90_000);

    it('exposes fanwire_cluster_* metrics that pass promtool', async () => {
      const gw = await gateway(freshStream());
      const pub = track(await Pub.open(gw.ws));
      await pub.send({ topic: 't', payload: 1 });
      await until(() => gw.gateway.cluster!.lastSequence === 1 || undefined, 'the item to be read back');
      const body = await (await fetch(`${gw.http}/metrics`)).text();
      expect(body).toMatch(/^fanwire_cluster_connected 1$/m);
      expect(body).toMatch(/^fanwire_cluster_last_sequence 1$/m);
      expect(body).toMatch(/^fanwire_cluster_publish_errors_total 0$/m);
      expect(body).toMatch(/^fanwire_cluster_reconnects_total 0$/m);
      expect(body).toMatch(/^fanwire_cluster_consumer_restarts_total 0$/m);
      if (hasPromtool) {
        const result = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
        expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
      }
    });

    it('delivers every item it acked to its subscribers before closing them with 1001 on stop', async () => {
      const gw = await gateway(freshStream(), { heartbeatMs: 3_600_000 });
      const subs = [track(await Sub.open(gw.ws)), track(await Sub.open(gw.ws, '', 'json'))];
      const pub = track(await Pub.open(gw.ws));
      const acked: number[] = [];
      const inFlight: Array<Promise<void>> = [];
      for (let i = 0; i < 200; i++) {
        inFlight.push(pub.send({ topic: 't', payload: i }).then((reply) => void (reply.type === 'ack' && acked.push(reply.index as number))));
      }
      await until(() => acked.length >= 50 || undefined, '50 acks');
      const stopping = gw.gateway.stop(); // while frames wait for JetStream
      for (const s of subs) expect(await s.waitForClose(20_000)).toEqual({ code: 1001, reason: 'shutting down' });
      await stopping;
      await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      for (const s of subs) expect(acked.filter((index) => !s.indexes.includes(index))).toEqual([]);
    });

    it('skips stream messages that are not fanwire frames, and goes on with the next', async () => {
      const stream = freshStream();
      const gw = await gateway(stream);
      const subscriber = track(await Sub.open(gw.ws));
      const nc = await connect({ servers: nats.url });
      await nc.request(`${stream}.events`, new TextEncoder().encode('not msgpack at all'));
      await nc.close();
      const pub = track(await Pub.open(gw.ws));
      expect(await pub.send({ topic: 't', payload: 'ok' })).toEqual({ type: 'ack', index: 2 });
      await subscriber.waitForIndex(2, 30_000);
      expect(subscriber.indexes).toEqual([2]);
      expect((await getJson(`${gw.http}/v1/stats`)).body.cluster.skipped).toBe(1);
    });

    it('refuses a frame too large for a NATS message with invalid_frame, appending nothing', async () => {
      const gw = await gateway(freshStream(), { maxFrameBytes: 4 * 1024 * 1024 });
      const pub = track(await Pub.open(gw.ws));
      const reply = await pub.send({ topic: 't', payload: 'x'.repeat(1_500_000) });
      expect(reply).toMatchObject({ type: 'error', code: 'invalid_frame' });
      expect(reply.message).toMatch(/max_payload/);
      expect(await pub.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
    });

    it('stops by itself when its stream is deleted and created again under it', async () => {
      const stream = freshStream();
      let fatal: Error | null = null;
      const gw = await gateway(stream, { onFatal: (err) => (fatal = err) });
      const jsm = gw.gateway.cluster!.log.jsm;
      await jsm.streams.delete(stream);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.events`] });
      await until(() => fatal ?? undefined, 'the replacement to be noticed', 30_000);
      expect(String(fatal)).toMatch(/was recreated/);
    });

    it('answers snapshot=1 identically on every node for the same hello.index, a node started after the keys were published included', async () => {
      const stream = freshStream();
      const a = await gateway(stream);
      const b = await gateway(stream);
      const pub = track(await Pub.open(a.ws));
      for (let i = 0; i < 30; i++) expect((await pub.send({ topic: `t${i % 2}`, key: `k${i % 5}`, payload: i })).type).toBe('ack');
      const c = await gateway(stream); // joins after every key was published
      for (const gw of [a, b, c]) await until(() => gw.gateway.buffer.newestIndex === 30 || undefined, 'caught up');
      const answers = [];
      for (const gw of [a, b, c]) {
        const sub = track(await Sub.open(gw.ws, 'snapshot=1&topic=t0&topic=t1'));
        await until(() => sub.messages.some((m) => m.type === 'snapshot' && m.complete === true) || undefined, 'snapshot');
        answers.push({ hello: sub.messages[0]!.index, snapshot: sub.messages.filter((m) => m.type === 'snapshot') });
      }
      expect(answers[0]!.hello).toBe(31);
      expect((answers[0]!.snapshot[0]!.events as unknown[]).length).toBe(10);
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    });

    it('answers the same snapshot from a node started later whose buffer window holds none of the keys', async () => {
      const stream = freshStream();
      const a = await gateway(stream, { bufferSize: 5 });
      const pub = track(await Pub.open(a.ws));
      for (let i = 0; i < 30; i++) expect((await pub.send({ topic: 't', key: `k${i % 10}`, payload: i })).type).toBe('ack');
      for (let i = 0; i < 10; i++) expect((await pub.send({ topic: 'u', key: 'only', payload: i })).type).toBe('ack');
      const c = await gateway(stream, { bufferSize: 5 }); // its backfill window: the last 5 messages, all of topic u
      await until(() => c.gateway.buffer.newestIndex === 40 || undefined, 'caught up');
      expect(c.gateway.buffer.oldestIndex).toBe(36);
      const answers = [];
      for (const gw of [a, c]) {
        const sub = track(await Sub.open(gw.ws, 'snapshot=1'));
        await until(() => sub.messages.some((m) => m.type === 'snapshot' && m.complete === true) || undefined, 'snapshot');
        answers.push({ hello: sub.messages[0]!.index, snapshot: sub.messages.filter((m) => m.type === 'snapshot') });
      }
      expect(answers[0]!.hello).toBe(41);
      expect((answers[0]!.snapshot[0]!.events as unknown[]).length).toBe(11);
      expect(answers[1]).toEqual(answers[0]);
    });

    async function snapshotOf(gw: TestGateway, query = 'snapshot=1') {
      const sub = track(await Sub.open(gw.ws, query));
      await until(() => sub.messages.some((m) => m.type === 'snapshot' && m.complete === true) || undefined, 'snapshot');
      return { hello: sub.messages[0]!.index, snapshot: sub.messages.filter((m) => m.type === 'snapshot') };
    }

    it('answers the same snapshot from a node started alone after the stream evicted every message of most keys', async () => {
      const stream = freshStream();
      const nc = await connect({ servers: nats.url });
      await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [`${stream}.events`], storage: 'file', max_msgs: 10 });
      await nc.close();
      const a = await gateway(stream);
      const pub = track(await Pub.open(a.ws));
      for (let i = 0; i < 20; i++) expect((await pub.send({ topic: 't', key: `k${i}`, payload: i })).type).toBe('ack');
      for (let i = 0; i < 20; i++) expect((await pub.send({ topic: 'u', key: 'hot', payload: i })).type).toBe('ack');
      const node = a.gateway.cluster!;
      expect((await node.log.info()).state.first_seq).toBe(31); // k0..k19 are gone from the main stream
      // max_msgs 10: ranges of one sequence; a key is written once quiet for 5 of them: k0..k19, not hot.
      await until(() => (node.stats().latest!.written === 20 ? true : undefined), 'latest-table records written');
      const before = await snapshotOf(a);
      expect(before.hello).toBe(41);
      expect((before.snapshot[0]!.events as Message[]).map((e) => e.key)).toEqual([...Array.from({ length: 20 }, (_, i) => `k${i}`), 'hot']);
      await a.stop();
      gateways.splice(gateways.indexOf(a), 1);
      const c = await gateway(stream); // nobody running knows k0..k19
      expect(await snapshotOf(c)).toEqual(before);
    });

    it('sends in a snapshot only what the token may read, on a node started later as on the one published to', async () => {
      const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
      const sign = (claims: Record<string, unknown>) =>
        new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      const stream = freshStream();
      const a = await gateway(stream, { authSecret: secret });
      const producer = new WebSocket(`${a.ws}/v1/publish`, { headers: { authorization: `Bearer ${await sign({ topics: '*', publish: '*' })}` } });
      await once(producer, 'open');
      let acks = 0;
      producer.on('message', () => acks++);
      for (const [topic, key] of [['orders', 'acme'], ['orders', 'globex'], ['audit', ''], ['secrets', 'k']]) producer.send(JSON.stringify({ topic, key, payload: `${topic}/${key}` }));
      await until(() => acks === 4 || undefined, 'four acks');
      producer.close();
      const c = await gateway(stream, { authSecret: secret });
      const jwt = await sign({ topics: ['orders:acme', 'audit'] });
      for (const gw of [a, c]) {
        await until(() => gw.gateway.buffer.newestIndex === 4 || undefined, 'caught up');
        const { snapshot } = await snapshotOf(gw, `snapshot=1&format=json&token=${jwt}&topic=orders:acme&topic=audit`);
        expect(snapshot.flatMap((m) => (m.events as Message[]).map((e) => e.payload))).toEqual(['orders/acme', 'audit/']);
        await expect(Sub.open(gw.ws, `snapshot=1&token=${jwt}`)).rejects.toThrow(/403|forbidden/);
      }
    });

    it('forgets by --snapshot-ttl on JetStream time, so a node started later forgets what the others forgot', async () => {
      const stream = freshStream();
      const a = await gateway(stream, { snapshotTtlMs: 1_000 });
      const pub = track(await Pub.open(a.ws));
      expect((await pub.send({ topic: 't', key: 'old', payload: 1 })).type).toBe('ack');
      await new Promise((resolve) => setTimeout(resolve, 1_200)); // 'old' is now older than the TTL on any clock
      expect((await pub.send({ topic: 't', key: 'new', payload: 2 })).type).toBe('ack');
      const c = await gateway(stream, { snapshotTtlMs: 1_000 }); // read 'old' just now; its age is JetStream's
      const answers = [await snapshotOf(a), await snapshotOf(c)];
      expect((answers[0]!.snapshot[0]!.events as Message[]).map((e) => e.key)).toEqual(['new']);
      expect(answers[1]).toEqual(answers[0]);
    });

    it('refuses to start when NATS cannot be reached, naming the servers', async () => {
      await expect(startTestGateway({ transport, cluster: ['nats://127.0.0.1:1'], clusterStartTimeoutMs: 1_500 })).rejects.toThrow(/cluster mode: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
    });
  });
}
