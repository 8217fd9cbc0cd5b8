/**
 * Property (fast-check): a subscriber never receives an event that the
 * producer's `publish` claims do not cover for the selector that matched it.
 *
 * Random publish claims, subscribers (a read token and the topics asked for)
 * and events (topic, optional key, optional filterKeys) over a small
 * alphabet, so that claims, selectors and events collide often. The code
 * under test is the real one: `publishFrame` with a real `Permission`, the
 * subscribe query parser, and `FilterRegistry`/`Filter` matching; the
 * end-to-end variant runs the same cases through a gateway on real sockets.
 * The oracle below is written from the rule in docs/security.md, sharing no
 * code with src/. fast-check prints the failing case and its seed.
 */
import type { Grant } from '../../src/auth/index.js';
import { once } from 'node:events';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { pack, unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Permission } from '../../src/auth/index.js';
import { EventBuffer } from '../../src/buffer/index.js';
import { FilterRegistry } from '../../src/fanout/index.js';
import { GatewayCounters } from '../../src/gateway/counters.js';
import { publishFrame } from '../../src/gateway/publish-path.js';
import { parseSubscribeQuery, type Event } from '../../src/protocol/index.js';
import { Sub, TRANSPORTS, startTestGateway, until, type Message, type TestGateway } from '../helpers.js';

/** A producer's token that may publish `claims` (and read nothing). */
const publisherGrant = (claims: ConstructorParameters<typeof Permission>[0]): Grant => ({ sub: 'producer', expiresAt: null, read: new Permission([]), publish: new Permission(claims), ops: false });

// ---- The oracle: the rule, stated on plain strings ----

interface Sent {
  topic: string;
  key?: string;
  filterKeys?: readonly string[];
  payload: number;
}

interface Selector {
  topic: string;
  /** null: the whole topic. */
  key: string | null;
}

function selectorOf(text: string): Selector {
  const colon = text.indexOf(':');
  return colon === -1 ? { topic: text, key: null } : { topic: text.slice(0, colon), key: text.slice(colon + 1) };
}

/** docs/protocol.md: `T` matches every event of T; `T:k` one whose key is k or whose filterKeys hold k. */
function reaches(s: Selector, e: Sent): boolean {
  if (s.topic !== e.topic) return false;
  return s.key === null || e.key === s.key || (e.filterKeys ?? []).includes(s.key);
}

/**
 * Did the producer have the right to reach selector `s` with event `e`?
 * `*` and `T` cover every selector of topic T. A `T:k` subscriber is covered
 * only by `T:k` itself, however the event reached it (key or filterKey); a
 * whole-topic subscriber by the event's own key.
 */
function covered(claims: readonly string[], s: Selector, e: Sent): boolean {
  if (claims.includes('*') || claims.includes(e.topic)) return true;
  if (s.key !== null) return claims.includes(`${s.topic}:${s.key}`);
  return e.key !== undefined && e.key !== '' && claims.includes(`${e.topic}:${e.key}`);
}

/** docs/security.md's publish rule for one event: what the gateway must accept, exactly. */
function publishable(claims: readonly string[], e: Sent): boolean {
  if (claims.includes('*') || claims.includes(e.topic)) return true;
  if (e.key === undefined || e.key === '') return false;
  return [e.key, ...(e.filterKeys ?? [])].every((k) => claims.includes(`${e.topic}:${k}`));
}

/** The selector the refusal must name for an event `publishable` refused: the topic when keyless, else the first key not held. */
function firstUncovered(claims: readonly string[], e: Sent): string {
  if (e.key === undefined || e.key === '') return e.topic;
  return `${e.topic}:${[e.key, ...(e.filterKeys ?? [])].find((k) => !claims.includes(`${e.topic}:${k}`))}`;
}

// ---- Generators ----

const TOPICS = ['orders', 'audit'];
const KEYS = ['acme', 'globex', 'initech'];
const topic = fc.constantFrom(...TOPICS);
const key = fc.constantFrom(...KEYS);
/** What a subscription may ask for: `T` or `T:k`. */
const selectorText = fc.oneof(topic, fc.tuple(topic, key).map(([t, k]) => `${t}:${k}`));
/** A token's claims: `*`, `T` or `T:k`. */
const claims = fc.uniqueArray(fc.oneof({ weight: 1, arbitrary: fc.constant('*') }, { weight: 6, arbitrary: selectorText }), { maxLength: 4 });
const sent: fc.Arbitrary<Sent> = fc.record(
  { topic, key: fc.constantFrom('', ...KEYS), filterKeys: fc.uniqueArray(key, { maxLength: 3 }), payload: fc.nat(1000) },
  { requiredKeys: ['topic', 'payload'] },
);
/**
 * A subscriber: the topics it asks for (none: everything) and what its token
 * may read. Three times in four the token grants what is asked (plus random
 * extras), so most subscriptions exist; otherwise the claims are random, and
 * the gateway may refuse the subscription.
 */
const subscriber = fc
  .tuple(fc.uniqueArray(selectorText, { maxLength: 3 }), claims, fc.nat(3))
  .map(([asks, extra, mode]) => ({ asks, read: mode === 0 ? extra : [...new Set([...(asks.length > 0 ? asks : ['*']), ...extra])] }));
/**
 * Publish claims for these events: random ones plus some of the events' own
 * `T:key`, as a producer scoped to its keys would hold; that is where a
 * filterKey can reach past the claims.
 */
const publishClaimsFor = (events: readonly Sent[]) =>
  fc
    .tuple(claims, fc.subarray(events.filter((e) => e.key !== undefined && e.key !== '').map((e) => `${e.topic}:${e.key}`)))
    .map(([random, own]) => [...new Set([...random, ...own])]);
const eventList = fc.array(sent, { minLength: 1, maxLength: 4 });
const publishCase = eventList.chain((events) =>
  fc.record({
    events: fc.constant(events),
    publish: publishClaimsFor(events),
    subscribers: fc.array(subscriber, { minLength: 1, maxLength: 4 }),
    /** A single event goes out as a bare event frame unless this is set. */
    batch: fc.boolean(),
    binary: fc.boolean(),
  }),
);
type PublishCase = typeof publishCase extends fc.Arbitrary<infer C> ? C : never;

function frameOf(c: PublishCase): unknown {
  return c.events.length === 1 && !c.batch ? c.events[0] : { events: c.events };
}

/**
 * Checks one subscriber's deliveries: for each event it received, every
 * selector it asked for that reaches the event must be covered by the
 * producer's claims. Returns how many (event, selector) pairs were checked.
 */
function checkDeliveries(publishClaims: readonly string[], asks: readonly string[], delivered: readonly Sent[]): number {
  let checked = 0;
  for (const e of delivered) {
    const selectors = asks.length === 0 ? [{ topic: e.topic, key: null }] : asks.map(selectorOf);
    for (const s of selectors) {
      if (!reaches(s, e)) continue;
      checked++;
      if (!covered(publishClaims, s, e)) {
        throw new Error(`a subscriber of "${s.key === null ? s.topic : `${s.topic}:${s.key}`}" received ${JSON.stringify(e)} from a producer holding ${JSON.stringify(publishClaims)}`);
      }
    }
  }
  return checked;
}

/** `?topic=…&topic=…` for the topics a subscriber asks for. */
function queryOf(topics: readonly string[]): URLSearchParams {
  return new URLSearchParams(topics.map((t): [string, string] => ['topic', t]));
}

/** The gateway's upgrade check (admission.ts checkRead): a subscription exists only if its token allows all it asks. */
function mayRead(read: Permission, asks: readonly string[]): boolean {
  const request = parseSubscribeQuery(queryOf(asks));
  if (request.topics === null) return read.allowsEverything;
  return request.topics.every((s) => read.allowsRead(s.topic, s.key));
}

describe('publish permission (property)', () => {
  it('a subscriber never receives an event the producer may not publish to the selector that matched it', () => {
    let deliveries = 0;
    fc.assert(
      fc.property(publishCase, (c) => {
        const buffer = new EventBuffer<Event>({ maxSize: 4 });
        const filters = new FilterRegistry();
        const subscribers = c.subscribers
          .filter((s) => mayRead(new Permission(s.read), s.asks))
          .map((s) => ({ asks: s.asks, filter: filters.acquire(parseSubscribeQuery(queryOf(s.asks)).topics) }));
        const frame = frameOf(c);
        const bytes = c.binary ? pack(frame) : Buffer.from(JSON.stringify(frame));
        const reply = publishFrame(buffer, new GatewayCounters(), bytes, c.binary, publisherGrant(c.publish));
        if (reply.type !== 'ack') return;
        const appended = buffer.tailItem().events!;
        for (const { asks, filter } of subscribers) {
          const delivered = (filter.select(appended) ?? []).map((e): Sent => ({ ...e, payload: e.payload as number }));
          deliveries += checkDeliveries(c.publish, asks, delivered);
        }
      }),
      { numRuns: 3_000 },
    );
    expect(deliveries).toBeGreaterThan(500); // the cases reach subscribers, so the check above had something to check
  });

  it('accepts a frame exactly when every event is covered, naming the first uncovered selector otherwise, and appends nothing then', () => {
    fc.assert(
      fc.property(eventList.chain((es) => fc.tuple(fc.constant(es), publishClaimsFor(es), fc.boolean())), ([events, publish, binary]) => {
        const buffer = new EventBuffer<Event>({ maxSize: 4 });
        const frame = { events };
        const bytes = binary ? pack(frame) : Buffer.from(JSON.stringify(frame));
        const reply = publishFrame(buffer, new GatewayCounters(), bytes, binary, publisherGrant(publish));
        const refused = events.find((e) => !publishable(publish, e));
        if (refused === undefined) {
          expect(reply).toEqual({ type: 'ack', index: 1 });
          return;
        }
        expect(reply).toMatchObject({ type: 'error', code: 'forbidden' });
        expect((reply as { message: string }).message).toContain(`"${firstUncovered(publish, refused)}"`);
        expect(buffer.newestIndex).toBe(0);
      }),
      { numRuns: 3_000 },
    );
  });
});

// ---- The same invariant end to end: signed tokens, a gateway, real sockets ----

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const secret = new TextEncoder().encode(SECRET);
const jwt = (claims: { topics?: string[]; publish?: string[] }) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('property').setExpirationTime('1h').sign(secret);

/** A topic no case uses: each subscriber also asks for it, so a marker published there shows it has seen everything before. */
const SYNC = 'sync';

/** Opens a producer socket with a token; `send` resolves with the reply to that frame. */
async function producer(gw: TestGateway, publish: string[]): Promise<{ send(bytes: Uint8Array | string): Promise<Message>; close(): void }> {
  const ws = new WebSocket(`${gw.ws}/v1/publish`, { headers: { authorization: `Bearer ${await jwt({ publish })}` } });
  const waiting: Array<(reply: Message) => void> = [];
  ws.on('message', (data: Buffer, binary: boolean) => waiting.shift()?.((binary ? unpack(data) : JSON.parse(data.toString())) as Message));
  ws.on('error', () => {});
  await once(ws, 'open');
  return {
    send(bytes) {
      const reply = new Promise<Message>((resolve) => waiting.push(resolve));
      ws.send(bytes, { binary: typeof bytes !== 'string' });
      return reply;
    },
    close: () => ws.close(),
  };
}

for (const transport of TRANSPORTS) {
  describe(`publish permission end to end (property, ${transport})`, () => {
    let gw: TestGateway;
    let marker: Awaited<ReturnType<typeof producer>>;
    beforeAll(async () => {
      gw = await startTestGateway({ transport, authSecret: SECRET });
      marker = await producer(gw, [SYNC]);
    });
    afterAll(async () => {
      marker.close();
      await gw.stop();
    });

    it('through a gateway, a subscriber never receives an event the producer may not publish to its selector; frames are acked exactly when covered, subscriptions beyond the read token get 403', async () => {
      await fc.assert(
        fc.asyncProperty(publishCase, async (c) => {
          const subs: Array<{ sub: Sub; asks: string[] }> = [];
          const pub = await producer(gw, c.publish);
          try {
            for (const s of c.subscribers) {
              // Every subscription also reads SYNC (everything-subscriptions see it anyway).
              const query = queryOf(s.asks.length > 0 ? [...s.asks, SYNC] : []);
              query.set('format', 'json');
              query.set('token', await jwt({ topics: [...s.read, SYNC] }));
              const sub = new Sub(`${gw.ws}/v1/subscribe?${query}`, 'json');
              await until(() => sub.messages.length > 0 || sub.refused !== null, 'hello or refusal');
              if (mayRead(new Permission([...s.read, SYNC]), s.asks)) {
                expect(sub.messages[0]).toMatchObject({ type: 'hello' });
                subs.push({ sub, asks: s.asks });
              } else {
                expect(sub.refused).toMatchObject({ status: 403, body: { code: 'forbidden' } });
              }
            }
            const frame = frameOf(c);
            const reply = await pub.send(c.binary ? pack(frame) : JSON.stringify(frame));
            const sync = await marker.send(JSON.stringify({ topic: SYNC, payload: 'sync' }));
            for (const { sub, asks } of subs) {
              await sub.waitForIndex(sync.index as number);
              const delivered = sub.events.flatMap((m) => m.events as Sent[]).filter((e) => e.topic !== SYNC);
              checkDeliveries(c.publish, asks, delivered);
            }
            expect(reply.type).toBe(c.events.every((e) => publishable(c.publish, e)) ? 'ack' : 'error');
          } finally {
            pub.close();
            await Promise.all(subs.map(({ sub }) => sub.close()));
          }
        }),
        { numRuns: 30 },
      );
    });
  });
}
