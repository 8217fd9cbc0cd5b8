/**
 * Idempotent publish (docs/protocol.md, "Idempotent publish"): a frame
 * whose idempotencyKey was already appended within --dedupe-window is not
 * appended again; the ack carries the original index and `duplicate: true`.
 * On both transports, over WebSocket and POST, embedded and across cluster
 * nodes (JetStream's message-id deduplication).
 */
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';
import { GatewayCounters } from '../../src/gateway/counters.js';
import { DedupeTable } from '../../src/gateway/dedupe-table.js';
import { publishFrame } from '../../src/gateway/publish-path.js';
import type { Event } from '../../src/protocol/index.js';
import { NatsServer, describeWithNats } from '../cluster/nats-server.js';
import { Pub, Sub, startTestGateway, TRANSPORTS, until, type TestGateway } from '../helpers.js';

const post = (gw: TestGateway, body: unknown) =>
  fetch(`${gw.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

describe('DedupeTable', () => {
  it('remembers a key for the window, then forgets it', () => {
    let now = 0;
    const table = new DedupeTable({ windowMs: 1_000, maxKeys: 10, now: () => now });
    table.set('a', 1);
    now = 999;
    expect(table.get('a')).toBe(1);
    now = 1_001;
    expect(table.get('a')).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('forgets the oldest key early past maxKeys, and says so', () => {
    let evicted = 0;
    const table = new DedupeTable({ windowMs: 60_000, maxKeys: 2, onEvict: (n) => (evicted += n) });
    table.set('a', 1);
    table.set('b', 2);
    table.set('c', 3);
    expect([table.get('a'), table.get('b'), table.get('c'), evicted]).toEqual([undefined, 2, 3, 1]);
  });

  it('property: whatever frames are re-sent, each key is appended once, every ack of a key names the same index, and frames without a key are all appended', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.constantFrom('k1', 'k2', 'k3', 'k4'), { nil: undefined }), { maxLength: 60 }), (keys) => {
        const buffer = new EventBuffer<Event>({ maxSize: 1_000 });
        const table = new DedupeTable({ windowMs: 60_000, maxKeys: 100 });
        const first = new Map<string, number>();
        let keyless = 0;
        for (const key of keys) {
          const frame = key === undefined ? { topic: 't', payload: 1 } : { topic: 't', payload: 1, idempotencyKey: key };
          const reply = publishFrame(buffer, new GatewayCounters(), Buffer.from(JSON.stringify(frame)), false, null, 100, table);
          expect(reply.type).toBe('ack');
          if (reply.type !== 'ack') return;
          if (key === undefined) {
            keyless++;
            expect(reply.duplicate).toBeUndefined();
          } else if (first.has(key)) {
            expect(reply).toEqual({ type: 'ack', index: first.get(key), duplicate: true });
          } else {
            first.set(key, reply.index);
            expect(reply.duplicate).toBeUndefined();
          }
        }
        expect(buffer.length).toBe(first.size + keyless);
      }),
      { numRuns: 500 },
    );
  });
});

for (const transport of TRANSPORTS) {
  describe(`idempotent publish (${transport})`, () => {
    let gw: TestGateway | null = null;
    const clients: Array<Pub | Sub> = [];
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
      await gw?.stop();
      gw = null;
    });

    it('appends a re-sent frame once and acks it with the original index and duplicate: true, over WebSocket and POST alike', async () => {
      gw = await startTestGateway({ transport });
      const sub = await Sub.open(gw.ws);
      const pub = await Pub.open(gw.ws);
      clients.push(sub, pub);
      expect(await pub.send({ topic: 't', payload: 'a', idempotencyKey: 'order-1', id: 1 })).toEqual({ type: 'ack', index: 1, id: 1 });
      expect(await pub.send({ topic: 't', payload: 'a', idempotencyKey: 'order-1', id: 2 })).toEqual({ type: 'ack', index: 1, id: 2, duplicate: true });
      expect(await pub.send({ events: [{ topic: 't', payload: 'b' }, { topic: 't', payload: 'c' }], idempotencyKey: 'batch-1' })).toEqual({ type: 'ack', index: 2 });
      expect(await post(gw, { events: [{ topic: 't', payload: 'b' }, { topic: 't', payload: 'c' }], idempotencyKey: 'batch-1' })).toEqual({ status: 200, body: { index: 2, duplicate: true } });
      expect(await post(gw, { topic: 't', payload: 'd', idempotencyKey: 'order-2' })).toEqual({ status: 200, body: { index: 3 } });
      expect(await pub.send({ topic: 't', payload: 'd', idempotencyKey: 'order-2' })).toEqual({ type: 'ack', index: 3, duplicate: true });
      await sub.waitForIndex(3);
      await pub.send({ topic: 't', payload: 'end' });
      await sub.waitForIndex(4);
      expect(sub.indexes).toEqual([1, 2, 3, 4]);
      expect((gw.gateway.stats().dedupe as Record<string, number>)).toMatchObject({ keys: 3, duplicates: 3 });
    });

    it('keeps idempotency keys per token subject: another producer cannot claim a key (or learn its index)', async () => {
      const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
      gw = await startTestGateway({ transport, authSecret: secret });
      const tokenOf = (sub: string) => new SignJWT({ publish: '*' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      const as = async (sub: string, key: string) => {
        const res = await fetch(`${gw!.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenOf(sub)}` }, body: JSON.stringify({ topic: 't', payload: sub, idempotencyKey: key }) });
        return res.json();
      };
      expect(await as('alice', 'k')).toEqual({ index: 1 });
      expect(await as('mallory', 'k')).toEqual({ index: 2 });
      expect(await as('alice', 'k')).toEqual({ index: 1, duplicate: true });
    });

    it('refuses an idempotencyKey that is not a string of 1-128 bytes (invalid_frame), appending nothing', async () => {
      gw = await startTestGateway({ transport });
      const pub = await Pub.open(gw.ws);
      clients.push(pub);
      for (const bad of ['', 'x'.repeat(129), 7, null]) {
        expect(await pub.send({ topic: 't', payload: 1, idempotencyKey: bad })).toMatchObject({ type: 'error', code: 'invalid_frame', message: 'idempotencyKey: must be a string of 1-128 bytes' });
      }
      expect(gw.gateway.buffer.newestIndex).toBe(0);
    });
  });
}

describeWithNats('idempotent publish across cluster nodes (real nats-server)', () => {
  let nats: NatsServer;
  const gateways: TestGateway[] = [];
  const clients: Pub[] = [];
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await Promise.all(gateways.map((g) => g.stop()));
    await nats?.dispose();
  });

  it('answers a key already appended through another node with the original sequence and duplicate: true', async () => {
    const options = { cluster: [nats.url], clusterStream: 'IDEM', clusterSubject: 'IDEM.events' };
    const a = await startTestGateway(options);
    const b = await startTestGateway(options);
    gateways.push(a, b);
    const [pa, pb] = [await Pub.open(a.ws), await Pub.open(b.ws)];
    clients.push(pa, pb);
    expect(await pa.send({ topic: 't', payload: 1 })).toEqual({ type: 'ack', index: 1 });
    expect(await pa.send({ topic: 't', payload: 2, idempotencyKey: 'k' })).toEqual({ type: 'ack', index: 2 });
    expect(await pb.send({ topic: 't', payload: 2, idempotencyKey: 'k' })).toEqual({ type: 'ack', index: 2, duplicate: true });
    expect(await post(b, { topic: 't', payload: 2, idempotencyKey: 'k' })).toEqual({ status: 200, body: { index: 2, duplicate: true } });
    expect(await pb.send({ topic: 't', payload: 3 })).toEqual({ type: 'ack', index: 3 });
    for (const gw of [a, b]) await until(() => gw.gateway.buffer.newestIndex === 3 || undefined, 'caught up');
    expect(a.gateway.buffer.length).toBe(3);
  });
});
