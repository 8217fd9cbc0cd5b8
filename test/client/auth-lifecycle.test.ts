/**
 * fanwire/client through real auth lifecycles, on every transport: tokens
 * from a function that expire while the stream runs, refusals that end a
 * subscription instead of looping, refused tokens retried with backoff, and
 * AbortSignal. (The same lifecycles in Chromium: test/client/browser.test.ts.)
 */
import { SignJWT, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  connectPublisher,
  FanwireClientError,
  subscribe,
  SubscriptionState,
  type Publisher,
  type Subscription,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import { TRANSPORTS, startTestGateway, until, type TestGateway } from '../helpers.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(SECRET);
/** A token; `expiresIn` in seconds from now, or a jose time span. */
const token = (claims: JWTPayload, expiresIn: string | number = '1h'): Promise<string> =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('dash')
    .setIssuedAt()
    .setExpirationTime(typeof expiresIn === 'number' ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn)
    .sign(key);

/** The `ws` class, counting the connections the client opens. */
function countingWebSocket(): { Ctor: WebSocketConstructor; count: () => number } {
  let count = 0;
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      count++;
    }
  }
  return { Ctor: Counting as unknown as WebSocketConstructor, count: () => count };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const transport of TRANSPORTS) {
  describe(`fanwire/client with auth on (${transport})`, () => {
    let gw: TestGateway | null = null;
    const subs: Subscription[] = [];
    const pubs: Publisher[] = [];
    afterEach(async () => {
      for (const s of subs.splice(0)) s.close();
      for (const p of pubs.splice(0)) await p.close();
      await gw?.stop();
      gw = null;
    });
    const start = async () => (gw = await startTestGateway({ transport, authSecret: SECRET }));
    const refusedMetric = async (code: string): Promise<number> => {
      const text = await (await fetch(`${gw!.http}/metrics`, { headers: { authorization: `Bearer ${await token({ ops: true })}` } })).text();
      return Number(new RegExp(`fanwire_upgrades_refused_total\\{code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };

    it('outlives tokens that expire every ~2 s: 10 s of events, every one received in order, the function called again at each expiry', async () => {
      await start();
      let calls = 0;
      const received: number[] = [];
      const reasons: string[] = [];
      const sub = subscribe({
        url: gw!.ws,
        topics: ['orders'],
        token: async () => {
          calls++;
          return token({ topics: ['orders'] }, 2); // expires 1-2 s from now
        },
        onEvents: (m) => received.push(m.index),
        onState: (_s, r) => reasons.push(r),
      });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live || undefined, 'live');
      const pub = await connectPublisher({ url: gw!.ws, token: await token({ publish: ['orders'] }) });
      pubs.push(pub);
      const until10s = Date.now() + 10_000;
      let published = 0;
      while (Date.now() < until10s) {
        await pub.publish({ topic: 'orders', payload: published });
        published++;
        await sleep(20);
      }
      await until(() => received.at(-1) === published || undefined, `all ${published} events`, 15_000);
      expect(received).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      expect(calls).toBeGreaterThanOrEqual(3);
      expect(reasons.filter((r) => r === 'token_expired').length).toBeGreaterThanOrEqual(2);
      expect(sub.error).toBeNull();
    }, 40_000);

    it('ends a subscription to a topic its token does not allow after exactly one upgrade: closed, onError code forbidden', async () => {
      await start();
      const socket = countingWebSocket();
      const errors: FanwireClientError[] = [];
      const states: string[] = [];
      const sub = subscribe({
        url: gw!.ws,
        topics: ['audit'],
        token: async () => token({ topics: ['orders'] }),
        WebSocket: socket.Ctor,
        onError: (e) => errors.push(e),
        onState: (s, r) => states.push(`${s}:${r}`),
        backoff: { initialMs: 10, maxMs: 20 },
      });
      subs.push(sub);
      await sub.closed;
      await sleep(300); // a retry, were there one, would have started by now (backoff 10-20 ms)
      expect(socket.count()).toBe(1);
      expect(await refusedMetric('forbidden')).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(FanwireClientError);
      expect(errors[0]).toMatchObject({ code: 'forbidden', closeCode: 4403 });
      expect(errors[0]!.message).toContain('audit');
      expect(sub.error).toBe(errors[0]);
      expect(states).toEqual(['connecting:start', 'closed:error']);
    });

    it('ends on a malformed query (bad_query) and on a fixed token that is refused (unauthorized), each after one upgrade', async () => {
      await start();
      for (const [options, code] of [
        [{ topics: ['not a topic!'], token: await token({ topics: '*' }) }, 'bad_query'],
        [{ topics: ['orders'], token: await token({ topics: '*' }, -10) }, 'unauthorized'],
      ] as const) {
        const socket = countingWebSocket();
        let error: FanwireClientError | null = null;
        const sub = subscribe({ url: gw!.ws, ...options, WebSocket: socket.Ctor, onError: (e) => (error = e), backoff: { initialMs: 10, maxMs: 20 } });
        subs.push(sub);
        await sub.closed;
        await sleep(300);
        expect(socket.count(), code).toBe(1);
        expect(error, code).toMatchObject({ code });
        expect(sub.state).toBe(SubscriptionState.Closed);
      }
    });

    it('retries a refused token with backoff, calling the function each time, and goes live once it hands out a good one', async () => {
      await start();
      const socket = countingWebSocket();
      let calls = 0;
      const reasons: string[] = [];
      const sub = subscribe({
        url: gw!.ws,
        topics: ['orders'],
        token: async () => (++calls <= 3 ? 'not-a-jwt' : token({ topics: ['orders'] })),
        WebSocket: socket.Ctor,
        onState: (_s, r) => reasons.push(r),
        backoff: { initialMs: 10, maxMs: 40 },
      });
      subs.push(sub);
      await until(() => sub.state === SubscriptionState.Live || undefined, 'live');
      expect(calls).toBe(4);
      expect(socket.count()).toBe(4);
      expect(reasons.filter((r) => r === 'unauthorized')).toHaveLength(3);
      expect(await refusedMetric('unauthorized')).toBe(3);
    });

    it('closes a subscription and a publisher when their AbortSignal fires', async () => {
      await start();
      const controller = new AbortController();
      const sub = subscribe({ url: gw!.ws, topics: ['orders'], token: await token({ topics: ['orders'] }), signal: controller.signal });
      const pub = await connectPublisher({ url: gw!.ws, token: await token({ publish: ['orders'] }), signal: controller.signal });
      await until(() => sub.state === SubscriptionState.Live || undefined, 'live');
      expect(await pub.publish({ topic: 'orders', payload: 1 })).toBe(1);
      controller.abort();
      await sub.closed;
      expect(sub.state).toBe(SubscriptionState.Closed);
      await expect(pub.publish({ topic: 'orders', payload: 2 })).rejects.toMatchObject({ code: 'connection_closed' });
      await until(() => gw!.gateway.subscriberCount === 0 || undefined, 'the gateway to see both go');
      // Already aborted: nothing connects at all.
      const socket = countingWebSocket();
      const late = subscribe({ url: gw!.ws, WebSocket: socket.Ctor, signal: controller.signal });
      expect(late.state).toBe(SubscriptionState.Closed);
      await expect(connectPublisher({ url: gw!.ws, WebSocket: socket.Ctor, signal: controller.signal })).rejects.toMatchObject({ code: 'connection_closed' });
      await sleep(50);
      expect(socket.count()).toBe(0);
    });

    it('closes a publisher while it is getting a new token after an expiry', async () => {
      await start();
      let calls = 0;
      const pub = await connectPublisher({
        url: gw!.ws,
        // The second token never comes: the publisher stays between connections.
        token: () => (++calls === 1 ? token({ publish: ['orders'] }, 2) : new Promise<string>(() => {})),
      });
      expect(await pub.publish({ topic: 'orders', payload: 1 })).toBe(1);
      await until(() => calls === 2 || undefined, 'the token expiry and the call for a new one', 10_000);
      const waiting = pub.publish({ topic: 'orders', payload: 2 });
      await pub.close();
      await expect(waiting).rejects.toMatchObject({ code: 'connection_closed' });
    });

    it('keeps a publisher with a token function across token expiry: every publish acked once, in order', async () => {
      await start();
      let calls = 0;
      const pub = await connectPublisher({
        url: gw!.ws,
        token: async () => {
          calls++;
          return token({ publish: ['orders'] }, 2);
        },
      });
      pubs.push(pub);
      const acked: number[] = [];
      const lost: string[] = [];
      const until5s = Date.now() + 5_000;
      while (Date.now() < until5s) {
        // A frame in flight when the token expires is unknown (connection_closed); on a loaded
        // machine a fresh token can also expire before its upgrade is verified, and calls
        // waiting then fail with unauthorized (the publisher retries). Nothing else fails.
        await pub.publish({ topic: 'orders', payload: acked.length }).then(
          (index) => acked.push(index),
          (err: FanwireClientError) => lost.push(err.code),
        );
        await sleep(20);
      }
      expect(calls).toBeGreaterThanOrEqual(3);
      expect(lost.filter((code) => code !== 'connection_closed' && code !== 'unauthorized')).toEqual([]);
      expect(acked.length).toBeGreaterThan(50);
      for (let i = 1; i < acked.length; i++) expect(acked[i]).toBeGreaterThan(acked[i - 1]!);
      expect(gw!.gateway.buffer.newestIndex).toBeGreaterThanOrEqual(acked.at(-1)!);
      expect(pub.error).toBeNull();
    }, 20_000);
  });
}
