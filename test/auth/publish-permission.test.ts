/**
 * Publish permission covers every selector a subscriber can match an event
 * by: its key and each of its filterKeys. A producer limited to
 * `orders:acme` once reached `orders:globex` subscribers by publishing
 * `{key: "acme", filterKeys: ["globex"]}`; these tests pin the fix on both
 * transports, with signed tokens, real sockets and real HTTP.
 */
import { once } from 'node:events';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Sub, TRANSPORTS, startTestGateway, type Message, type TestGateway } from '../helpers.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);

function token(claims: { topics?: string[]; publish?: string[] }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('test').setIssuedAt().setExpirationTime('1h').sign(key);
}

/** A producer socket with a bearer token; `send` resolves with that frame's reply (replies come in order). */
async function producer(gw: TestGateway, publish: string[]): Promise<{ send(frame: unknown): Promise<Message>; close(): void }> {
  const ws = new WebSocket(`${gw.ws}/v1/publish`, { headers: { authorization: `Bearer ${await token({ publish })}` } });
  const waiting: Array<(reply: Message) => void> = [];
  ws.on('message', (data: Buffer) => waiting.shift()?.(JSON.parse(data.toString()) as Message));
  ws.on('error', () => {});
  await once(ws, 'open');
  return {
    send(frame) {
      const reply = new Promise<Message>((resolve) => waiting.push(resolve));
      ws.send(JSON.stringify(frame));
      return reply;
    },
    close: () => ws.close(),
  };
}

/** The filterKeys trick: an event keyed to a granted key, routed to another key's subscribers. */
const SMUGGLED = { topic: 'orders', key: 'acme', filterKeys: ['globex'], payload: 'smuggled' };

for (const transport of TRANSPORTS) {
  describe(`publish permission (${transport})`, () => {
    let gw: TestGateway | null = null;
    const closers: Array<() => unknown> = [];
    afterEach(async () => {
      for (const close of closers.splice(0)) await close();
      await gw?.stop();
      gw = null;
    });

    /** A gateway with auth on, a subscriber allowed only `orders:globex`, and an admin producer for sentinels. */
    async function setUp() {
      gw = await startTestGateway({ transport, authSecret: SECRET });
      const globex = await Sub.open(gw.ws, `topic=orders:globex&token=${await token({ topics: ['orders:globex'] })}`, 'json');
      const admin = await producer(gw, ['*']);
      closers.push(() => globex.close(), () => admin.close());
      /**
       * Proves the globex subscriber got nothing before now: appends a
       * sentinel it matches and expects that to be the first event it sees
       * (a cursor delivers in buffer order), with no timing involved.
       */
      const expectNothingDelivered = async () => {
        const sentinel = await admin.send({ topic: 'orders', key: 'globex', payload: 'sentinel' });
        expect(sentinel).toMatchObject({ type: 'ack' });
        await globex.waitForIndex(sentinel.index as number);
        expect(globex.events.flatMap((m) => m.events.map((e: Message) => e.payload))).toEqual(['sentinel']);
      };
      return { gw, globex, expectNothingDelivered };
    }

    it('refuses an event whose filterKeys name a key outside the publish claims, with forbidden naming that selector, and delivers nothing', async () => {
      const { gw, expectNothingDelivered } = await setUp();
      const acme = await producer(gw, ['orders:acme']);
      closers.push(() => acme.close());
      const before = gw.gateway.buffer.newestIndex;
      const reply = await acme.send(SMUGGLED);
      expect(reply).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(reply.message).toContain('"orders:globex"');
      expect(gw.gateway.buffer.newestIndex).toBe(before);
      await expectNothingDelivered();
    });

    it('refuses a whole batch frame when one of its events has a filterKey outside the claims, appending none of it', async () => {
      const { gw, expectNothingDelivered } = await setUp();
      const acme = await producer(gw, ['orders:acme']);
      closers.push(() => acme.close());
      const before = gw.gateway.buffer.newestIndex;
      const reply = await acme.send({ events: [{ topic: 'orders', key: 'acme', payload: 'allowed alone' }, SMUGGLED] });
      expect(reply).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(reply.message).toContain('"orders:globex"');
      expect(gw.gateway.buffer.newestIndex).toBe(before);
      // The producer is still usable, and the allowed event alone is accepted.
      expect(await acme.send({ topic: 'orders', key: 'acme', payload: 'allowed alone' })).toEqual({ type: 'ack', index: before + 1 });
      await expectNothingDelivered();
    });

    it('answers POST /v1/publish with 403 forbidden for an event whose filterKeys reach outside the claims, appending nothing', async () => {
      const { gw, expectNothingDelivered } = await setUp();
      const jwt = await token({ publish: ['orders:acme'] });
      const post = (body: unknown) =>
        fetch(`${gw.http}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` }, body: JSON.stringify(body) });
      const before = gw.gateway.buffer.newestIndex;
      const refused = await post(SMUGGLED);
      const body = (await refused.json()) as Message;
      expect([refused.status, body.code]).toEqual([403, 'forbidden']);
      expect(body.message).toContain('"orders:globex"');
      expect(gw.gateway.buffer.newestIndex).toBe(before);
      await expectNothingDelivered();
      // The same token is fine without the foreign filterKey.
      expect((await post({ topic: 'orders', key: 'acme', filterKeys: ['acme'], payload: 1 })).status).toBe(200);
    });

    it('acks and delivers an event when the token holds its key and every filterKey', async () => {
      const { gw, globex } = await setUp();
      const both = await producer(gw, ['orders:acme', 'orders:globex']);
      closers.push(() => both.close());
      const reply = await both.send(SMUGGLED);
      expect(reply).toEqual({ type: 'ack', index: gw.gateway.buffer.newestIndex });
      await globex.waitForIndex(reply.index as number);
      expect(globex.events[0]!.events).toEqual([{ topic: 'orders', type: '', key: 'acme', filterKeys: ['globex'], payload: 'smuggled' }]);
    });

    it('acks any filterKeys from a token holding the whole topic', async () => {
      const { gw, globex } = await setUp();
      const orders = await producer(gw, ['orders']);
      closers.push(() => orders.close());
      const reply = await orders.send({ topic: 'orders', filterKeys: ['globex', 'initech'], payload: 'keyless' });
      expect(reply).toMatchObject({ type: 'ack' });
      await globex.waitForIndex(reply.index as number);
    });
  });
}
