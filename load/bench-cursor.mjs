#!/usr/bin/env node
/**
 * Micro-benchmark of the fan-out hot path: N cursors (one per subscriber)
 * over one EventBuffer, each writing into a null Sink that is always ready
 * (every subscriber keeps up). Measures the cursor loop alone: wake-up,
 * drain, frame-cache lookup and the batch hand-off, without sockets or a
 * load client, so a change to `src/fanout/cursor.ts` can be compared before
 * and after on a noisy shared machine.
 *
 *   npm run build && node load/bench-cursor.mjs [--subscribers 5000] [--items 1] [--rounds 400]
 *     [--repeat 7] [--dist dist] [--against OTHER_DIST] [--policy drop|skip|conflate]
 *
 * Each round appends `--items` items in one tick (one wake-up), then waits
 * until every cursor has written them. Prints deliveries/s and ns per
 * delivery for each repetition, and the median and best. With `--against`
 * (e.g. a copy of dist/ built before a change) both builds are loaded into
 * this one process and run alternately, A B A B ..., so the comparison is
 * not at the mercy of whatever else the machine runs between two processes.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '5000' },
    items: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '400' },
    repeat: { type: 'string', default: '7' },
    dist: { type: 'string', default: 'dist' },
    against: { type: 'string' },
    policy: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: node load/bench-cursor.mjs [--subscribers N] [--items N per round] [--rounds N] [--repeat N] [--dist DIR] [--against DIR] [--policy drop|skip|conflate]');
  process.exit(0);
}
const S = Number(values.subscribers);
const ITEMS = Number(values.items);
const ROUNDS = Number(values.rounds);
const REPEAT = Number(values.repeat);

async function load(dir) {
  const dist = path.resolve(dir);
  const at = (file) => pathToFileURL(path.join(dist, file)).href;
  return { name: dir, ...(await import(at('buffer/index.js'))), ...(await import(at('fanout/index.js'))), ...(await import(at('protocol/index.js'))) };
}
const builds = [await load(values.dist)];
if (values.against) builds.push(await load(values.against));

let written = 0;
/** Always ready, never closed: the keeping-up subscriber. */
class NullSink {
  closed = false;
  bufferedAmount() {
    return 0;
  }
  writeBatch(_frames, count) {
    written += count;
  }
  waitDrain() {
    return Promise.resolve();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function once({ EventBuffer, Cursor, FilterRegistry, FrameCache, LagCounters, encodeMsgpack }) {
  const buffer = new EventBuffer({ maxSize: 10_000 });
  const filters = new FilterRegistry();
  const filter = filters.acquire(null);
  const frames = new FrameCache([(index, events) => encodeMsgpack({ type: 'events', index, events })]);
  const options = { highWaterBytes: 1 << 20, dropAfterBytes: 8 << 20, batchBytes: 256 << 10 };
  if (values.policy && values.policy !== 'drop' && LagCounters) {
    // Builds from before lag policies have no LagCounters and run as drop.
    options.lag = {
      policy: values.policy,
      skipTo: 'oldest',
      graceMs: 250,
      maxLagItems: 1000,
      fallback: 'skip',
      buffer,
      counters: new LagCounters(),
      now: () => performance.now(),
      frames: {
        gap: (from, to, reason) => encodeMsgpack({ type: 'gap', from, to, reason }),
        conflated: (index, events) => encodeMsgpack({ type: 'events', index, events, conflated: true }),
      },
    };
  }
  const cursors = [];
  for (let i = 0; i < S; i++) {
    const c = new Cursor(buffer.tailItem(), filter, 0, frames, new NullSink(), options);
    cursors.push(c);
    void c.run();
  }
  await tick();
  const payload = { topic: 't', type: '', key: '', payload: 'x'.repeat(100) };
  written = 0;
  // Warm-up rounds, not measured.
  for (let r = 0; r < 50; r++) {
    for (let i = 0; i < ITEMS; i++) buffer.append([payload]);
    const want = written + S * ITEMS;
    while (written < want) await tick();
  }
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const start = written;
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < ITEMS; i++) buffer.append([payload]);
    const want = written + S * ITEMS;
    while (written < want) await tick();
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const deliveries = written - start;
  for (const c of cursors) c.stop();
  buffer.wakeReaders();
  await tick();
  await tick();
  // CPU time as well as wall time: on a shared machine the wall clock also counts other processes' turns.
  return { perSec: (deliveries / ns) * 1e9, nsPer: ns / deliveries, cpuNsPer: ((cpu.user + cpu.system) * 1000) / deliveries };
}

const results = builds.map(() => []);
for (let i = 0; i < REPEAT; i++) {
  for (const [b, build] of builds.entries()) {
    const r = await once(build);
    results[b].push(r);
    console.log(`${build.name} run ${i + 1}: ${Math.round(r.perSec).toLocaleString('en-US')} deliveries/s, ${r.nsPer.toFixed(1)} ns/delivery (${r.cpuNsPer.toFixed(1)} ns CPU)`);
  }
}
for (const [b, build] of builds.entries()) {
  const sorted = [...results[b]].sort((x, y) => x.nsPer - y.nsPer);
  const median = sorted[Math.floor(sorted.length / 2)];
  const cpu = results[b].map((r) => r.cpuNsPer).sort((x, y) => x - y);
  console.log(
    `${build.name}: cursor drain, ${S} subscribers, ${ITEMS} item(s)/wake, ${ROUNDS} rounds${values.policy ? `, lag=${values.policy}` : ''}: ` +
      `median ${median.nsPer.toFixed(1)} ns/delivery (${Math.round(median.perSec).toLocaleString('en-US')}/s), best ${sorted[0].nsPer.toFixed(1)} ns; ` +
      `CPU median ${cpu[Math.floor(cpu.length / 2)].toFixed(1)} ns, best ${cpu[0].toFixed(1)} ns`,
  );
}
