#!/usr/bin/env node
/**
 * `node load/bench-snapshot.mjs [--keys N] [--payload BYTES] [--runs R]`
 * (after `npm run build`): what snapshot=1's latest table costs in memory,
 * in bytes per (topic, key), at N keys (default 100,000).
 *
 * Each run is two child processes (node --expose-gc), each appending N
 * single-event items with N distinct keys (topics t0..t99, a payload of
 * BYTES, 100 by default) to a buffer of 1,000 items, the gateway's way: the
 * table is fed by the buffer's onAppend. One process keeps the latest
 * table, the other does not; both measure the JS heap after full GCs. The
 * difference over N is the table's cost per key: its entry and map slot,
 * and the event it keeps alive (the buffer alone would have let it go).
 * Runs alternate sides; the median is reported with the spread.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

if (process.argv[2] === '--child') {
  const [, , , side, keysText, payloadText] = process.argv;
  const keys = Number(keysText);
  const { EventBuffer } = await import(path.join(root, 'dist/buffer/index.js'));
  const { LatestTable } = await import(path.join(root, 'dist/fanout/index.js'));
  const table = side === 'table' ? new LatestTable({ maxKeys: keys }) : null;
  const buffer = new EventBuffer({ maxSize: 1000, onAppend: table === null ? undefined : (item) => table.record(item) });
  const settle = async () => {
    for (let i = 0; i < 6; i++) {
      globalThis.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().heapUsed;
  };
  const before = await settle();
  for (let i = 0; i < keys; i++) {
    // Fresh strings per event, as the frame decoder makes them.
    const event = { topic: `t${i % 100}`, type: '', key: `key-${i}-${Math.random().toString(36).slice(2, 8)}`, payload: 'x'.repeat(Number(payloadText)) + i };
    buffer.append([event], Number(payloadText) + 40);
  }
  const after = await settle();
  if (table !== null && table.size !== keys) throw new Error(`the table holds ${table.size} keys, not ${keys}`);
  process.stdout.write(JSON.stringify({ side, heapBytes: after - before }));
  process.exit(0);
}

const keys = option('keys', 100_000);
const payload = option('payload', 100);
const runs = option('runs', 3);
const child = (side) =>
  JSON.parse(execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', side, String(keys), String(payload)], { encoding: 'utf8' }));

console.log(`latest table memory: ${keys.toLocaleString('en')} keys, ${payload} B payloads, ${runs} runs (each: with and without the table, alternating)`);
const perKey = [];
for (let r = 0; r < runs; r++) {
  const order = r % 2 === 0 ? ['table', 'none'] : ['none', 'table'];
  const result = Object.fromEntries(order.map((side) => [side, child(side).heapBytes]));
  const bytes = (result.table - result.none) / keys;
  perKey.push(bytes);
  console.log(`  run ${r + 1}/${runs}: heap with table ${(result.table / 2 ** 20).toFixed(1)} MiB, without ${(result.none / 2 ** 20).toFixed(1)} MiB: ${bytes.toFixed(0)} B per key`);
}
perKey.sort((a, b) => a - b);
const median = perKey[Math.floor(perKey.length / 2)];
console.log(`latest table: ${median.toFixed(0)} B per key (median of ${runs}; spread ${perKey[0].toFixed(0)}-${perKey.at(-1).toFixed(0)}), the kept event (${payload} B payload) included`);
