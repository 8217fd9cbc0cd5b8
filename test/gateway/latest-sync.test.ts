/**
 * LatestSync and the latest-table stream against a real nats-server: the
 * records that let a node started later know keys the main stream evicted.
 * The invariant that matters: however the nodes' writes interleave, the
 * stream's record of a key is its newest event of the ranges written.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLog, LatestLog } from '../../src/cluster/index.js';
import { LatestSync, latestToken, rangeSizeFor } from '../../src/gateway/latest-sync.js';
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

  it('derives the range size from the main stream max_msgs: at most 1/16 of it, 1 to 256', () => {
    expect(rangeSizeFor(10)).toBe(1);
    expect(rangeSizeFor(1_600)).toBe(100);
    expect(rangeSizeFor(1_000_000)).toBe(256);
    expect(rangeSizeFor(-1)).toBe(256);
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

  it('writes, per closed range, the newest event of each key, and keeps the last record per key', async () => {
    const name = `L${++no}`;
    const latest = await openLatest(logs[0]!, name);
    const sync = new LatestSync(latest, 4, quiet);
    const now = Date.now();
    const log = [ev('t', 'a', 1), ev('t', 'b', 2), ev('t', 'a', 3), ev('u', '', 4), ev('t', 'a', 5), ev('t', 'c', 6), ev('t', 'b', 7), ev('t', 'a', 8), ev('t', 'a', 9)];
    log.forEach((e, i) => sync.observe(i + 1, [e], now));
    await until(() => sync.backlog === 0 || undefined, 'ranges written');
    // Ranges [1-4] and [5-8] are closed; 9 opened the third, which waits for a later one.
    expect(Object.fromEntries(await newestByKey(latest))).toEqual({
      't/a': { seq: 8, payload: 8 },
      't/b': { seq: 7, payload: 7 },
      't/c': { seq: 6, payload: 6 },
      'u/': { seq: 4, payload: 4 },
    });
    // Range 1 wrote a, b, u; range 2 wrote a, c, b: six records, no duplicate.
    expect(sync.stats).toMatchObject({ written: 6, duplicates: 0, skippedRanges: 0 });
  });

  it('stores a record every node writes once, and leaves ranges older than half the duplicate window unwritten', async () => {
    const name = `L${++no}`;
    const [la, lb] = [await openLatest(logs[0]!, name), await openLatest(logs[1]!, name)];
    const a = new LatestSync(la, 1, quiet);
    const b = new LatestSync(lb, 1, quiet);
    const old = Date.now() - la.duplicateWindowMs; // too old to write safely
    for (const sync of [a, b]) {
      sync.observe(1, [ev('t', 'old', 1)], old);
      sync.observe(2, [ev('t', 'k', 2)], Date.now());
      sync.observe(3, [ev('t', 'k', 3)], Date.now());
    }
    await until(() => (a.backlog === 0 && b.backlog === 0) || undefined, 'ranges written');
    expect(a.stats.written + b.stats.written).toBe(1);
    expect(a.stats.duplicates + b.stats.duplicates).toBe(1);
    expect(a.stats.skippedRanges).toBe(1);
    expect(Object.fromEntries(await newestByKey(la))).toEqual({ 't/k': { seq: 2, payload: 2 } });
  });

  it('property: however two nodes interleave their writes, and one stops midway, each key ends with its newest event', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', ''), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 80, maxLength: 80 }), // 1, 2: node 1 moves (it tends to run ahead)
        fc.integer({ min: 1, max: 50 }),
        async (entries, rangeSize, turns, stopAfter) => {
          const name = `L${++no}`;
          const latests = [await openLatest(logs[0]!, name), await openLatest(logs[1]!, name)];
          const syncs = latests.map((l) => new LatestSync(l, rangeSize, quiet));
          // The log: one item per entry, of `count` events (key k, payload seq*10+i).
          const items = entries.map(([key, count], i) => Array.from({ length: count }, (_, j) => ev('t', key, (i + 1) * 10 + j)));
          items.push([ev('end', 'x', 0)]); // in a range of its own, so every real range closes
          while (items.length % rangeSize !== 1 && rangeSize > 1) items.splice(items.length - 1, 0, [ev('pad', 'p', 0)]);
          // Node 0 stops (a deploy, a crash) after `stopAfter` items; node 1 reads the whole log.
          const end = [Math.min(stopAfter, items.length), items.length];
          const next = [0, 0];
          let turn = 0;
          while (next[0]! < end[0]! || next[1]! < end[1]!) {
            const w = next[0]! >= end[0]! ? 1 : next[1]! >= end[1]! ? 0 : turns[turn++ % turns.length]! > 0 ? 1 : 0;
            const seq = ++next[w]!;
            syncs[w]!.observe(seq, items[seq - 1]!, Date.now());
            if (w === 0 && seq === end[0]) syncs[0]!.stop();
            if (turn % 3 === 0) await new Promise((resolve) => setImmediate(resolve)); // let writes of both race
          }
          await until(() => syncs[1]!.backlog === 0 || undefined, 'ranges written');
          await new Promise((resolve) => setTimeout(resolve, 20)); // node 0's last writes in flight, if any, land
          const want = new Map<string, number>();
          items.slice(0, -1).forEach((events, i) => {
            for (const e of events) want.set(`${e.topic}/${e.key}`, e.payload as number);
          });
          const got = await newestByKey(latests[0]!);
          for (const [key, payload] of want) expect(got.get(key)?.payload, key).toBe(payload);
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);
});
