/**
 * Child process (fork) holding a share of the subscribers. It connects them
 * with bounded concurrency, spreading source addresses over 127.0.0.1-254,
 * and reports to the parent over IPC once a second, never per message.
 *
 * Parent -> child:  {type: 'start', target, count, first, concurrency}
 *                   {type: 'window', from, to}   latency/throughput window (shared clock)
 *                   {type: 'final'}              answer with a last tick and a 'final'
 *                   {type: 'stop'}               close everything and exit
 * Child -> parent:  {type: 'tick', ...}  {type: 'final', ...}  {type: 'fatal', message}
 */
import { Histogram } from './histogram.mjs';
import { SubscriberConn } from './subscriber-conn.mjs';

const REPORT_MS = 1000;
const EXAMPLES = 5; // anomalies and failures kept verbatim per kind

/** @type {SubscriberConn[]} */
const conns = [];
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const hist = new Histogram(); // window only, reset after every tick

const c = {
  connecting: 0,
  ready: 0,
  failed: 0,
  closed: 0,
  received: 0,
  windowReceived: 0,
  gap: 0,
  reorder: 0,
  indexGap: 0,
  indexReorder: 0,
  unexpected: 0,
};
/** @type {Record<string, {count: number, examples: string[]}>} */
const notes = {};
let windowFrom = Infinity;
let windowTo = -Infinity;
let selfCheck = null;

function note(kind, text) {
  const n = (notes[kind] ??= { count: 0, examples: [] });
  n.count++;
  if (n.examples.length < EXAMPLES) n.examples.push(text);
}

/** @type {import('./subscriber-conn.mjs').Tally} */
const tally = {
  now: 0,
  delivered(conn, scheduledMs) {
    c.received++;
    const now = tally.now;
    if (now >= windowFrom && now < windowTo) {
      c.windowReceived++;
      hist.recordMs(now - scheduledMs);
    }
  },
  ready() {
    c.ready++;
    settled();
  },
  failed(conn, why) {
    c.failed++;
    note('connect failure', why);
    settled();
  },
  closed(conn, code, reason) {
    c.closed++;
    note(`closed ${code}`, reason);
  },
  anomaly(kind, conn, detail) {
    c[kind]++;
    note(kind, detail);
  },
  selfCheck(fast, slow) {
    const same = fast.index === slow.index && fast.seq === slow.seq && fast.scheduledMs === slow.scheduledMs;
    selfCheck = { same, fast, slow };
  },
};

let target = null;
let toOpen = 0;
let nextId = 0;
let firstAddr = 0;

function openMore(concurrency) {
  while (nextId < toOpen && c.connecting - c.ready - c.failed < concurrency) {
    const n = firstAddr + nextId;
    const localAddress = `127.0.0.${1 + (n % 254)}`;
    conns.push(new SubscriberConn(target, localAddress, readBuffer, tally));
    nextId++;
    c.connecting++;
  }
}

let concurrencyLimit = 64;
function settled() {
  openMore(concurrencyLimit);
  if (c.ready + c.failed === toOpen) report(); // tell the parent at once that connecting is over
}

function perSubscriber() {
  let min = Infinity;
  let max = 0;
  let readyConns = 0;
  for (const conn of conns) {
    if (!conn.isReady) continue;
    readyConns++;
    if (conn.count < min) min = conn.count;
    if (conn.count > max) max = conn.count;
  }
  return { readyConns, min: readyConns ? min : 0, max };
}

function report() {
  process.send?.({ type: 'tick', at: performance.timeOrigin + performance.now(), counts: { ...c }, hist: hist.toSparse() });
  hist.reset();
}

const ticker = setInterval(report, REPORT_MS);

process.on('message', (msg) => {
  switch (msg.type) {
    case 'start':
      target = msg.target;
      toOpen = msg.count;
      firstAddr = msg.first;
      concurrencyLimit = msg.concurrency;
      openMore(concurrencyLimit);
      break;
    case 'window':
      windowFrom = msg.from;
      windowTo = msg.to;
      break;
    case 'final':
      report();
      process.send?.({ type: 'final', counts: { ...c }, perSubscriber: perSubscriber(), notes, selfCheck });
      break;
    case 'stop':
      clearInterval(ticker);
      for (const conn of conns) conn.destroy();
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
process.on('disconnect', () => process.exit(0)); // the parent is gone
process.on('uncaughtException', (err) => {
  process.send?.({ type: 'fatal', message: err.stack ?? String(err) });
  process.exit(1);
});
