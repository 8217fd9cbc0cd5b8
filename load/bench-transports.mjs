#!/usr/bin/env node
/**
 * Transport benchmark: fanwire on uWS and on ws against a plain uWS native
 * publish server, a plain ws send-loop server, nats-server's WebSocket
 * listener and nginx + Nchan (each skipped, saying why, when not
 * installed), all driven in one run by
 * the same lean load client (raw-socket subscribers in child processes, one
 * fixed-rate publisher process). See load/README.md.
 *
 *   node load/bench-transports.mjs [--subscribers 10000] [--rate 200] [--payload 100]
 *     [--duration 10] [--warmup 2] [--procs 2] [--only a,b] [--runs 1] [--tick 5] [--drain 5]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupOnExit } from './lib/children.mjs';
import { measureServer } from './lib/measure.mjs';
import { MIN_PAYLOAD } from './lib/payload.mjs';
import { checkLimits } from './lib/limits.mjs';
import { cpuMeter } from './lib/procstat.mjs';
import { sleep } from './lib/clock.mjs';
import { bestRuns, machine, ratioLines, ratios, table, writeJson } from './lib/report.mjs';
import { inspectFanwire, ROOT, TRANSPORT_SERVERS, serverSpec } from './lib/servers.mjs';

const NUMBERS = { subscribers: 10_000, rate: 200, payload: 100, duration: 10, warmup: 2, procs: 2, runs: 1, tick: 5, drain: 5 };

function usage() {
  return `Usage: node load/bench-transports.mjs [options]

Measures fanwire (uWS and ws transports) against plain uWS publish, a ws
send loop, nats-server (WebSocket) and nginx + Nchan (1 and auto workers;
skipped when not installed) with one load client: N subscribers on topic "t", one publisher at
a fixed rate, each event delivered to every subscriber.

  --subscribers N   subscribers per server            (default ${NUMBERS.subscribers})
  --rate N          events published per second        (default ${NUMBERS.rate}; offered deliveries/s = rate x subscribers)
  --payload N       event payload bytes, >= ${MIN_PAYLOAD}          (default ${NUMBERS.payload})
  --duration S      measured seconds                   (default ${NUMBERS.duration})
  --warmup S        publishing seconds before that     (default ${NUMBERS.warmup})
  --procs N         subscriber processes               (default ${NUMBERS.procs})
  --only LIST       comma-separated subset of ${TRANSPORT_SERVERS.join(',')}
  --runs N          1: each server once; 2: forwards then backwards (A B C ... C B A), best of each (default ${NUMBERS.runs})
  --tick MS         publisher timer period             (default ${NUMBERS.tick})
  --drain S         wait at most this long after publishing for owed deliveries (default ${NUMBERS.drain})`;
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(Object.keys(NUMBERS).map((k) => [k, { type: 'string' }])), only: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const o = { ...NUMBERS };
  for (const key of Object.keys(NUMBERS)) {
    if (values[key] === undefined) continue;
    const n = Number(values[key]);
    const integer = !['duration', 'warmup', 'tick', 'drain', 'rate'].includes(key);
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`--${key}: expected a ${integer ? 'whole ' : ''}number >= 0, got "${values[key]}"`);
    o[key] = n;
  }
  for (const key of ['subscribers', 'rate', 'duration', 'procs', 'runs', 'tick']) if (o[key] <= 0) throw new Error(`--${key} must be > 0`);
  if (o.payload < MIN_PAYLOAD) throw new Error(`--payload must be at least ${MIN_PAYLOAD} (8-byte time, 4-byte sequence, 4-byte topic)`);
  if (o.runs > 2) throw new Error('--runs is 1 or 2');
  o.only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : [...TRANSPORT_SERVERS];
  for (const name of o.only) if (!TRANSPORT_SERVERS.includes(name)) throw new Error(`--only: unknown server "${name}" (known: ${TRANSPORT_SERVERS.join(', ')})`);
  return o;
}

async function main() {
  cleanupOnExit();
  const o = parseOptions(process.argv.slice(2));
  const limit = checkLimits(o.subscribers, o.procs);
  const say = (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

  const fanwire = inspectFanwire();
  if (fanwire.ok && fanwire.stale) say('note: src/ has files newer than dist/cli.js; run `npm run build` to measure the current code');
  const specs = o.only.map((name) => serverSpec(name, fanwire));
  const skipped = Object.fromEntries(specs.filter((s) => s.skip).map((s) => [s.name, s.skip]));
  for (const [name, why] of Object.entries(skipped)) say(`!! skipping ${name}: ${why}`);
  const runnable = specs.filter((s) => !s.skip);
  if (runnable.length === 0) throw new Error('nothing to run');
  const order = o.runs === 2 ? [...runnable, ...[...runnable].reverse()] : runnable;

  say(
    `transports: ${o.subscribers} subscribers in ${o.procs} process(es), ${o.rate} events/s of ${o.payload} B ` +
      `(${(o.rate * o.subscribers).toLocaleString('en-US')} deliveries/s offered), warm-up ${o.warmup} s, measure ${o.duration} s; ` +
      `order ${order.map((s) => s.name).join(' ')}; open files limit ${limit}`,
  );
  const idle = cpuMeter([]);
  await sleep(1000);
  const busy = idle().other;
  if (busy >= 20) say(`!! other processes are using ${busy.toFixed(0)}% of a core right now: every figure below competes with them`);
  const createdAt = new Date().toISOString();
  const results = [];
  const seen = {};
  for (const spec of order) {
    seen[spec.name] = (seen[spec.name] ?? 0) + 1;
    results.push(await measureServer(spec, o, seen[spec.name], say));
  }

  const best = bestRuns(results);
  const shown = runnable.map((s) => best[s.name] ?? results.find((r) => r.server === s.name));
  const ratioList = ratios(best);
  console.log(`\n${o.runs === 2 ? 'Best of 2 runs per server' : 'Results'} (${o.subscribers} subscribers, ${o.rate} events/s x ${o.payload} B, ${o.duration} s measured):\n`);
  console.log(table(shown));
  for (const [name, why] of Object.entries(skipped)) console.log(`${name}: skipped (${why})`);
  console.log(`\nRatios (best runs):\n${ratioLines(ratioList)}`);
  const file = writeJson(path.join(ROOT, 'load', 'results'), {
    benchmark: 'transports',
    createdAt,
    machine: { ...machine(), otherCpuPercentAtStart: busy },
    options: o,
    fanwire,
    order: order.map((s) => s.name),
    skipped,
    results,
    best: Object.fromEntries(Object.entries(best).map(([k, r]) => [k, r.run])),
    ratios: ratioList,
  });
  console.log(`\nFull record: ${path.relative(process.cwd(), file)}`);
  const failures = results.filter((r) => r.error || r.gaps || r.reorders);
  if (failures.length) {
    console.log(`\n!! ${failures.length} run(s) failed or lost/reordered events: ${failures.map((r) => `${r.server} #${r.run}`).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`bench-transports: ${err.message}`);
  process.exitCode = 1;
});
