/**
 * LatestSync and the latest-table stream against a real nats-server: the
 * records that let a node started later know keys the main stream evicted.
 * The invariant that matters: however the nodes' writes interleave, the
 * stream's record of a key is its newest event of the ranges written.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLog, LatestLog } from '../../src/cluster/index.js';
import { LatestTable } from '../../src/fanout/index.js';
import { LatestSync, delayFor, latestToken, localTime, rangeSizeFor } from '../../src/gateway/latest-sync.js';
import { decodeFrame, parsePublishFrame, type Event } from '../../src/protocol/index.js';
import { until } from '../helpers.js';
import { NatsServer, describeWithNats } from '../cluster/nats-server.js';

const quiet = { info() {}, warn() {}, error() {} };
const ev = (topic: string, key: string, payload: number): Event => ({ topic, key, payload }) as Event;

describe('latest-table records: names and ranges', () => {
  it('gives every (topic, key) its own subject token, whatever characters they hold', () => {
    const pairs: Array<[string, string]> = [
      ['a', ''],
      ['a', '_'],
      ['a.b', 'c'],
      ['a', 'b.c'],
      ['ü', '*'],
      ['>', ' '],
    ];
    const tokens = pairs.map(([t, k]) => latestToken(t, k));
    expect(new Set(tokens).size).toBe(pairs.length);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]+\.([0-9a-f]+|_)$/);
  });

  it('derives the range size from the main stream max_msgs: 1/16 of it, at least 1', () => {
    expect(rangeSizeFor(10)).toBe(1);
    expect(rangeSizeFor(1_600)).toBe(100);
    expect(rangeSizeFor(1_000_000)).toBe(62_500);
    expect(rangeSizeFor(-1)).toBe(65_536);
  });

  it('writes a quiet key after half the ranges the main stream holds, so well before it evicts the key', () => {
    expect(delayFor(1_000_000, rangeSizeFor(1_000_000))).toBe(8);
    expect(delayFor(10, rangeSizeFor(10))).toBe(5);
    expect(delayFor(-1, rangeSizeFor(-1))).toBe(8);
  });
});

describeWithNats('LatestSync (real nats-server)', () => {
  let nats: NatsServer;
  const logs: JetStreamLog[] = [];
  let no = 0;

  beforeAll(async () => {
    nats = await NatsServer.start();
    for (let i = 0; i < 2; i++) logs.push(await JetStreamLog.open({ servers: [nats.url], stream: `MAIN${i}`, subject: `main${i}.events` }));
  });
  afterAll(async () => {
    await Promise.all(logs.map((l) => l.close()));
    await nats?.dispose();
  });

  const openLatest = async (log: JetStreamLog, name: string) => LatestLog.open(log, { stream: name, subjectPrefix: `lt.${name}`, maxMsgs: 10_000 });
  const newestByKey = async (latest: LatestLog) => {
    const out = new Map<string, { seq: number; payload: unknown }>();
    for (const r of await latest.readAll(10_000)) {
      const [event] = parsePublishFrame(decodeFrame(r.data, true)).events;
      out.set(`${event!.topic}/${event!.key}`, { seq: r.seq, payload: event!.payload });
    }
    return out;
  };

  /** One node's side: its table and its sync, fed the log in order as ClusterNode does. */
  const node = (latest: LatestLog, rangeSize: number, delay: number) => {
    const table = new LatestTable<Event>({ maxKeys: 1_000 });
    const sync = new LatestSync(latest, table, rangeSize, delay, quiet);
    const feed = (seq: number, events: Event[], storedAt = Date.now()) => {
      table.recordEvents(seq, events, 10, localTime(storedAt));
      sync.observe(seq, storedAt);
    };
    return { table, sync, feed };
  };

  it('writes a key once it has been quiet for `delay` ranges, and never a key updated in every range', async () => {
    const latest = await openLatest(logs[0]!, `L${++no}`);
    const { sync, feed } = node(latest, 2, 1);
    const log = [ev('t', 'a', 1), ev('t', 'b', 2), ev('t', 'a', 3), ev('u', '', 4), ev('t', 'a', 5), ev('t', 'c', 6), ev('t', 'b', 7), ev('t', 'a', 8), ev('t', 'a', 9)];
    log.forEach((e, i) => feed(i + 1, [e]));
    await until(() => sync.backlog === 0 || undefined, 'records written');
    // Ranges {1,2} {3,4} {5,6} {7,8} {9}: entering range R writes the keys last updated in range R-2.
    // Seq 5 writes b@2, seq 7 writes u@4, seq 9 writes c@6; a is updated in every range and never written.
    // b's record is older than b@7, which the main stream holds until b is quiet long enough to be written again.
    expect(Object.fromEntries(await newestByKey(latest))).toEqual({
      't/b': { seq: 2, payload: 2 },
      'u/': { seq: 4, payload: 4 },
      't/c': { seq: 6, payload: 6 },
    });
    expect(sync.stats).toMatchObject({ written: 3, duplicates: 0, skippedRanges: 0 });
  });

  it('stores a record every node writes once, and leaves ranges closed longer ago than half the duplicate window unwritten', async () => {
    const name = `L${++no}`;
    const [a, b] = [node(await openLatest(logs[0]!, name), 1, 0), node(await openLatest(logs[1]!, name), 1, 0)];
    const old = Date.now() - 120_000; // the default duplicate window: too old to write safely
    for (const n of [a, b]) {
      n.feed(1, [ev('t', 'old', 1)], old);
      n.feed(2, [ev('t', 'k', 2)], old); // closes {1}, long ago: 'old' is left unwritten
      n.feed(3, [ev('t', 'z', 3)]); // closes {2} now: k@2 is written
    }
    await until(() => (a.sync.backlog === 0 && b.sync.backlog === 0) || undefined, 'records written');
    expect(a.sync.stats.written + b.sync.stats.written).toBe(1);
    expect(a.sync.stats.duplicates + b.sync.stats.duplicates).toBe(1);
    expect([a.sync.stats.skippedRanges, b.sync.stats.skippedRanges]).toEqual([1, 1]);
    expect(Object.fromEntries(await newestByKey(await openLatest(logs[0]!, name)))).toEqual({ 't/k': { seq: 2, payload: 2 } });
  });

  it('property: however two nodes interleave their writes, and one stops midway, a written key ends with its newest event', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', ''), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 80, maxLength: 80 }), // 1, 2: node 1 moves (it tends to run ahead)
        fc.integer({ min: 1, max: 60 }),
        async (entries, rangeSize, delay, turns, stopAfter) => {
          const name = `L${++no}`;
          const nodes = [node(await openLatest(logs[0]!, name), rangeSize, delay), node(await openLatest(logs[1]!, name), rangeSize, delay)];
          // The log: one item per entry, of `count` events of key k (payload: (item index + 1) * 10 + event index).
          const items = entries.map(([key, count], i) => Array.from({ length: count }, (_, j) => ev('t', key, (i + 1) * 10 + j)));
          // Then enough of another key for every real item to be `delay` ranges behind: every real key is written.
          for (let i = 0; i < (delay + 2) * rangeSize; i++) items.push([ev('pad', 'p', 0)]);
          // Node 0 stops (a deploy, a crash) after `stopAfter` items; node 1 reads the whole log.
          const end = [Math.min(stopAfter, items.length), items.length];
          const next = [0, 0];
          let turn = 0;
          while (next[0]! < end[0]! || next[1]! < end[1]!) {
            const w = next[0]! >= end[0]! ? 1 : next[1]! >= end[1]! ? 0 : turns[turn++ % turns.length]! > 0 ? 1 : 0;
            const seq = ++next[w]!;
            nodes[w]!.feed(seq, items[seq - 1]!);
            if (w === 0 && seq === end[0]) nodes[0]!.sync.stop();
            if (turn % 3 === 0) await new Promise((resolve) => setImmediate(resolve)); // let writes of both race
          }
          await until(() => nodes[1]!.sync.backlog === 0 || undefined, 'records written');
          await new Promise((resolve) => setTimeout(resolve, 20)); // node 0's last writes in flight, if any, land
          const want = new Map<string, number>();
          for (const events of items) for (const e of events) if (e.topic === 't') want.set(`${e.topic}/${e.key}`, e.payload as number);
          const got = await newestByKey(await openLatest(logs[0]!, name));
          for (const [key, payload] of want) expect(got.get(key)?.payload, key).toBe(payload);
        },
      ),
      { numRuns: 200 },
    );
  }, 120_000);
});
