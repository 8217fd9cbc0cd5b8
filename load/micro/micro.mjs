/**
 * Micro-benchmarks of the hot functions, for before/after figures on a
 * hot-path change (issue 11): buffer append and wake-up, cursor drain, frame
 * cache, filter selection, codec. No sockets: a cursor writes to a sink that
 * only counts, so this measures the JavaScript per delivery and nothing else.
 *
 *   npm run build && node load/micro/micro.mjs [--only cursor,codec] [--rounds 5]
 *
 * Each case runs `rounds` times after a warm-up and reports the best round
 * (ops/s) and the spread; compare figures only within one run or between
 * runs on an otherwise idle machine. Where a case has a natural peer (the bare
 * library call under our wrapper), the ratio to it is printed too.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: node load/micro/micro.mjs [--only buffer,cursor,frames,filter,codec] [--rounds N]');
  process.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a positive integer, got ${values.rounds}`);
  process.exit(2);
}

let dist;
try {
  dist = {
    buffer: await import('../../dist/buffer/index.js'),
    fanout: await import('../../dist/fanout/index.js'),
    protocol: await import('../../dist/protocol/index.js'),
  };
} catch (err) {
  console.error(`dist/ is missing or stale (${err.message}): run npm run build first`);
  process.exit(2);
}
const { EventBuffer } = dist.buffer;
const { Cursor, FilterRegistry, FrameCache } = dist.fanout;
const { decodeFrame, parsePublishFrame, encodeMsgpack } = dist.protocol;

const results = [];

/**
 * Times `round()` (which does `ops` operations and may be async) `rounds`
 * times after one warm-up round; records the best.
 */
async function bench(name, ops, round, unit = 'ops') {
  await round();
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await round();
    rates.push(ops / ((performance.now() - t0) / 1000));
  }
  const best = Math.max(...rates);
  const worst = Math.min(...rates);
  const row = { name, unit, best, spread: best / worst };
  results.push(row);
  console.log(`${name.padEnd(58)} ${fmt(best).padStart(12)} ${unit}/s   (spread ${row.spread.toFixed(2)}x over ${rounds})`);
  return row;
}

function fmt(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

function ratio(what, a, b) {
  console.log(`  ratio ${what}: ${(a.best / b.best).toFixed(2)}x`);
}

const events = (n, topics = 1) =>
  Array.from({ length: n }, (_, i) => ({ topic: `t${i % topics}`, key: `k${i % 50}`, type: 'update', payload: { i, v: 'x'.repeat(60) } }));

const want = (name) => values.only === undefined || values.only.split(',').includes(name);

if (want('buffer')) {
  // Appends with no reader: the write path alone (item, link, eviction, wake scheduling).
  const items = 200_000;
  const one = events(1);
  await bench('buffer: append 1 event (10k retained)', items, () => {
    const buffer = new EventBuffer({ maxSize: 10_000 });
    for (let i = 0; i < items; i++) buffer.append(one, 100);
  });
  // One append waking 10k parked readers: the shared promise resolves once for all.
  const readers = 10_000;
  await bench('buffer: one append wakes 10k parked readers', readers, async () => {
    const buffer = new EventBuffer({ maxSize: 100 });
    const tail = buffer.tailItem();
    let woken = 0;
    const waits = [];
    for (let i = 0; i < readers; i++) waits.push(tail.link.waker.wait().then(() => woken++));
    buffer.append(one, 100);
    await Promise.all(waits);
    if (woken !== readers) throw new Error('not every reader woke');
  }, 'wake-ups');
}

/** A sink that accepts everything at once and counts; drains never wait. */
class CountingSink {
  closed = false;
  frames = 0;
  bytes = 0;
  bufferedAmount() {
    return 0;
  }
  writeBatch(frames, count) {
    this.frames += count;
    for (let i = 0; i < count; i++) this.bytes += frames[i].byteLength;
  }
  waitDrain() {
    return Promise.resolve();
  }
}

if (want('cursor')) {
  // 10k cursors each deliver `perRound` single-event items appended in one
  // burst: the JS cost per delivery of wake-up + drain + cached-frame lookup.
  const subscribers = 10_000;
  const perRound = 20;
  for (const [label, filtersWanted] of [['one filter', 1], ['100 topic:key filters', 100]]) {
    const registry = new FilterRegistry();
    const filters = Array.from({ length: filtersWanted }, (_, i) =>
      filtersWanted === 1 ? registry.acquire(null) : registry.acquire([{ topic: `t${i % 10}`, key: `k${i % 50}` }]),
    );
    const burst = events(perRound * 10, 10);
    // Counted per item visited per subscriber (with filters, most visits find no match).
    await bench(`cursor: 10k subscribers x ${perRound} items, ${label}`, subscribers * perRound, async () => {
      const buffer = new EventBuffer({ maxSize: 1_000 });
      const frames = new FrameCache([(index, evs) => encodeMsgpack({ type: 'events', index, events: evs })]);
      const sinks = [];
      const runs = [];
      for (let i = 0; i < subscribers; i++) {
        const sink = new CountingSink();
        sinks.push(sink);
        const cursor = new Cursor(buffer.tailItem(), filters[i % filters.length], 0, frames, sink, {
          highWaterBytes: 1 << 20,
          dropAfterBytes: 8 << 20,
          batchBytes: 64 << 10,
        });
        runs.push(cursor.run());
      }
      // Every item carries ten events, one per topic, so each filter matches some.
      for (let i = 0; i < perRound; i++) buffer.append(burst.slice(i * 10, i * 10 + 10), 1000);
      buffer.appendError(new Error('end of round'));
      const ends = await Promise.all(runs);
      if (ends.some((e) => e.reason !== 'error')) throw new Error('a cursor ended early');
    }, 'visits');
  }
}

if (want('frames')) {
  const registry = new FilterRegistry();
  const all = registry.acquire(null);
  const frames = new FrameCache([(index, evs) => encodeMsgpack({ type: 'events', index, events: evs })]);
  const buffer = new EventBuffer({ maxSize: 1_000 });
  const item = buffer.append(events(10), 1000);
  frames.get(item, all, 0);
  const lookups = 2_000_000;
  await bench('frame cache: hit', lookups, () => {
    for (let i = 0; i < lookups; i++) frames.get(item, all, 0);
  }, 'lookups');
}

if (want('filter')) {
  const registry = new FilterRegistry();
  const filter = registry.acquire(Array.from({ length: 20 }, (_, i) => ({ topic: `t${i}`, key: i % 2 ? `k${i}` : null })));
  const batch = events(100, 40);
  const calls = 200_000;
  await bench('filter: select 100 events through 20 selectors', calls * batch.length, () => {
    for (let i = 0; i < calls; i++) filter.select(batch);
  }, 'events');
}

if (want('codec')) {
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const batch = { events: events(100) };
  const frame = packr.pack(batch);
  const frames = 20_000;
  const ours = await bench('codec: decode + validate a 100-event msgpack frame', frames * 100, () => {
    for (let i = 0; i < frames; i++) parsePublishFrame(decodeFrame(frame, true));
  }, 'events');
  const bare = await bench('  peer: msgpackr unpack alone', frames * 100, () => {
    for (let i = 0; i < frames; i++) packr.unpack(frame);
  }, 'events');
  ratio('ours / bare unpack', ours, bare);
  const message = { type: 'events', index: 1, events: events(10) };
  const encodes = 200_000;
  const enc = await bench('codec: encode a 10-event events message', encodes, () => {
    for (let i = 0; i < encodes; i++) encodeMsgpack(message);
  }, 'messages');
  const encBare = await bench('  peer: msgpackr pack alone', encodes, () => {
    for (let i = 0; i < encodes; i++) packr.pack(message);
  }, 'messages');
  ratio('ours / bare pack', enc, encBare);
}

console.log(JSON.stringify({ benchmark: 'micro', node: process.version, createdAt: new Date().toISOString(), results }));
