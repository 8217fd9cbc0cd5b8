#!/usr/bin/env node
/**
 * `node load/bench-snapshot-storm.mjs [--joiners 1000] [--keys 10000] [--healthy 1000] [--rate 200] [--transport ws|uws]`
 * (after `npm run build`; `npm run bench:snapshot-storm`): a join storm on
 * snapshot=1.
 *
 * One fanwire process (dist/cli.js) holds a latest table of `keys` pairs;
 * a publisher keeps `rate` events/s flowing over them, each stamped with
 * its send time, and `healthy` live subscribers measure delivery latency.
 * Then `joiners` subscribers connect at once with snapshot=1. Each is
 * checked:
 * - its snapshot is complete and holds every key;
 * - every snapshot index is below hello.index;
 * - its events start at hello.index and go on with no index missing;
 * - folded by key, snapshot and events give the publisher's final state.
 *
 * The joiners run in a child process of their own, so decoding their
 * snapshots does not slow the healthy subscribers' clock.
 * Reported: the time until every joiner has its whole snapshot, and the
 * healthy subscribers' p99 latency during the storm. The same run is then
 * made with the joiners connecting without snapshot=1, for comparison.
 * Also reported: the snapshots the gateway built (GET /v1/stats), which is
 * once per snapshot point and format, not once per joiner.
 * Progress goes to stderr; the table goes to stdout.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
};
const JOINERS = Number(option('joiners', 1000));
const KEYS = Number(option('keys', 10_000));
const HEALTHY = Number(option('healthy', 1000));
const RATE = Number(option('rate', 200));
const TRANSPORT = option('transport', 'ws');
const say = (text) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const addressOf = (i) => `127.0.0.${1 + (i % 250)}`;

async function startGateway() {
  const child = spawn(process.execPath, ['--max-semi-space-size=4', path.join(root, 'dist/cli.js'), '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--transport', TRANSPORT, '--max-publish-rate', '0', '--max-subscribers-per-address', '100000', '--buffer-size', '100000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let port = 0;
  let text = '';
  child.stdout.on('data', (chunk) => {
    text += chunk;
    const match = /"url":"https?:\/\/[^"]*:(\d+)"/.exec(text);
    if (match && port === 0) port = Number(match[1]);
  });
  for (let i = 0; i < 200 && port === 0; i++) await sleep(50);
  if (port === 0) throw new Error(`fanwire did not start: ${text}`);
  return { child, port };
}

/** A producer connection: sends msgpack frames, counts acks. */
async function producer(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/publish`);
  await once(ws, 'open');
  let acked = 0;
  ws.on('message', () => acked++);
  return { ws, acked: () => acked };
}

/** A subscriber that keeps what the checks need. */
function subscriber(port, i, query, onLatency) {
  const s = { hello: null, snapshot: [], complete: false, completeAt: 0, indexes: [], state: new Map(), ws: null, error: null };
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/subscribe?${query}`, { localAddress: addressOf(i) });
  s.ws = ws;
  ws.on('message', (data) => {
    const m = unpack(data);
    if (m.type === 'hello') s.hello = m;
    else if (m.type === 'snapshot') {
      for (const e of m.events) {
        s.snapshot.push(e.index);
        s.state.set(e.key, e.payload.n);
      }
      if (m.complete) {
        s.complete = true;
        s.completeAt = performance.now();
      }
    } else if (m.type === 'events') {
      s.indexes.push(m.index);
      for (const e of m.events) {
        s.state.set(e.key, e.payload.n);
        onLatency?.(Date.now() - e.payload.t);
      }
    }
  });
  ws.on('error', (err) => (s.error = err.message));
  return s;
}

const p99 = (values) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
};

/** The child: opens the joiners at once, waits until each is ready, then until each reached `newest` (read from stdin), and reports. */
async function joinerProcess(port, withSnapshot, first) {
  const stormStart = performance.now();
  const joiners = Array.from({ length: JOINERS }, (_, i) => subscriber(port, first + i, withSnapshot ? 'snapshot=1' : '', null));
  const ready = (j) => j.hello !== null && (!withSnapshot || j.complete);
  for (let waited = 0; joiners.some((j) => !ready(j)) && waited < 120_000; waited += 50) {
    if (waited % 2000 === 0) say(`[${withSnapshot ? 'snapshot=1' : 'no snapshot'}] storm: ${joiners.filter(ready).length}/${JOINERS} ready`);
    await sleep(50);
  }
  const allReady = withSnapshot ? Math.max(...joiners.map((j) => j.completeAt)) - stormStart : 0;
  process.stdout.write(`${JSON.stringify({ ready: allReady })}\n`);
  let input = '';
  for await (const chunk of process.stdin) {
    input += chunk;
    if (input.includes('\n')) break;
  }
  const { newest, final } = JSON.parse(input);
  const finalMap = new Map(final);
  for (let waited = 0; joiners.some((j) => j.indexes.at(-1) !== newest) && waited < 30_000; waited += 50) await sleep(50);
  let problems = 0;
  for (const j of joiners) {
    const from = j.hello?.index ?? -1;
    const contiguous = j.indexes.every((index, k) => index === from + k) && j.indexes.at(-1) === newest;
    const below = j.snapshot.every((index) => index < from);
    const whole = !withSnapshot || (j.complete && j.snapshot.length === KEYS);
    const folded = !withSnapshot || [...finalMap].every(([key, value]) => j.state.get(key) === value);
    if (!(contiguous && below && whole && folded) || j.error !== null) problems++;
  }
  process.stdout.write(`${JSON.stringify({ problems })}\n`);
  process.exit(0);
}

async function run(withSnapshot) {
  const label = withSnapshot ? 'snapshot=1' : 'no snapshot';
  const { child, port } = await startGateway();
  try {
    const pub = await producer(port);
    const final = new Map();
    let sent = 0;
    const frame = (events) => {
      for (const e of events) final.set(e.key, e.payload.n);
      pub.ws.send(pack({ events }));
      sent++;
    };
    // The table: every key once, in frames of 500 events.
    let n = 0;
    for (let k = 0; k < KEYS; k += 500) frame(Array.from({ length: Math.min(500, KEYS - k) }, (_, j) => ({ topic: 't', key: `k${k + j}`, payload: { n: n++, t: Date.now() } })));
    while (pub.acked() < sent) await sleep(10);
    say(`[${label}] ${KEYS} keys in the table`);
    const healthyLatency = [];
    let measuring = false;
    const healthy = Array.from({ length: HEALTHY }, (_, i) => subscriber(port, i, '', (ms) => measuring && healthyLatency.push(ms)));
    while (healthy.some((h) => h.hello === null)) await sleep(20);
    say(`[${label}] ${HEALTHY} healthy subscribers live`);
    // Events keep flowing: RATE events/s, one event per frame, over the keys.
    let flowing = true;
    const flow = (async () => {
      const every = 1000 / RATE;
      let next = performance.now();
      while (flowing) {
        frame([{ topic: 't', key: `k${n % KEYS}`, payload: { n: n++, t: Date.now() } }]);
        next += every;
        await sleep(Math.max(0, next - performance.now()));
      }
    })();
    await sleep(1000);
    measuring = true;
    const storm = spawn(process.execPath, [fileURLToPath(import.meta.url), '--joiner-process', String(port), String(withSnapshot), String(HEALTHY), ...process.argv.slice(2)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = [];
    let pending = '';
    storm.stdout.on('data', (chunk) => {
      pending += chunk;
      let at;
      while ((at = pending.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(pending.slice(0, at)));
        pending = pending.slice(at + 1);
      }
    });
    while (lines.length < 1) await sleep(20);
    const allReady = lines[0].ready;
    await sleep(1000);
    measuring = false;
    flowing = false;
    await flow;
    while (pub.acked() < sent) await sleep(10);
    const last = await (await fetch(`http://127.0.0.1:${port}/v1/stats`)).json();
    storm.stdin.write(`${JSON.stringify({ newest: last.buffer.newestIndex, final: [...final] })}\n`);
    while (lines.length < 2) await sleep(20);
    const { problems } = lines[1];
    const built = last.snapshot?.built ?? 0;
    for (const s of healthy) s.ws.terminate();
    pub.ws.close();
    const result = {
      label,
      joiners: JOINERS,
      ready: withSnapshot ? `${(allReady / 1000).toFixed(2)} s` : '-',
      problems,
      healthyP99: p99(healthyLatency),
      samples: healthyLatency.length,
      built,
    };
    say(`[${label}] done: ${JSON.stringify(result)}`);
    return result;
  } finally {
    child.kill('SIGKILL');
  }
}

if (process.argv[2] === '--joiner-process') await joinerProcess(Number(process.argv[3]), process.argv[4] === 'true', Number(process.argv[5]));

say(`snapshot join storm: ${JOINERS} joiners, ${KEYS} keys, ${HEALTHY} healthy subscribers, ${RATE} events/s, transport ${TRANSPORT}`);
const results = [];
for (const withSnapshot of [true, false]) results.push(await run(withSnapshot));
console.log('\n| joiners | all snapshots complete after | joiners failing a check | healthy p99 during the storm | latency samples | snapshots built |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) console.log(`| ${r.joiners} with ${r.label} | ${r.ready} | ${r.problems} | ${r.healthyP99} ms | ${r.samples} | ${r.built} |`);
process.exit(results.some((r) => r.problems > 0) ? 1 : 0);
