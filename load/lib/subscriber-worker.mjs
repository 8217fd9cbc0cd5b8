/**
 * Child process (fork) holding a share of the subscribers. It connects them
 * with bounded concurrency, spreading source addresses over 127.0.0.1-254,
 * and reports to the parent over IPC once a second, never per message.
 *
 * If the environment has LOAD_FDS (a comma-separated list of connected
 * socket descriptors, see small-sockets.py), the first connections adopt
 * those sockets instead of connecting.
 *
 * Parent -> child:  {type: 'start', target, count, first, concurrency}
 *                   {type: 'resize', count}        connect more, or close the newest
 *                   {type: 'window', from, to}     latency/throughput window (shared clock)
 *                   {type: 'reset'}                per-run counters and sequences to zero
 *                   {type: 'pause'} {type: 'resume'}  stop / restart reading on every connection
 *                   {type: 'throttle', bytesPerSec}  read at most this fast on every connection (0: unthrottled)
 *                   {type: 'staleness', everyMs}  sample, inside the window, the age of each
 *                                                  connection's newest event (ticks carry `stale`)
 *                   {type: 'storm', concurrency, retryMs}  fanwire: every live connection drops and resumes by index
 *                   {type: 'final', published}     answer with a last tick and a 'final'
 *                                                  (published: events per stream, for what is owed)
 *                   {type: 'stop'}                 close everything and exit
 * Child -> parent:  {type: 'tick', ...}  {type: 'final', ...}  {type: 'fatal', message}
 */
import { slowPath } from './decode.mjs';
import { streamCount } from './payload.mjs';
import { Histogram } from './histogram.mjs';
import { SubscriberConn } from './subscriber-conn.mjs';

const REPORT_MS = 1000;
const EXAMPLES = 5; // anomalies and failures kept verbatim per kind

/** @type {SubscriberConn[]} */
let conns = [];
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const hist = new Histogram(); // window only, reset after every tick
const staleHist = new Histogram(); // staleness samples, window only, reset after every tick
let staleTimer = null;
const fds = (process.env.LOAD_FDS ?? '').split(',').filter(Boolean).map(Number);

/** Counters that live as long as the process. */
const life = { connecting: 0, ready: 0, failed: 0 };
/** Counters of the current run (zeroed by 'reset'). */
const runZero = { closed: 0, received: 0, windowReceived: 0, gap: 0, reorder: 0, indexGap: 0, indexReorder: 0, unexpected: 0, resumed: 0, resumedGap: 0, resumeRetries: 0, gapMessages: 0, skippedItems: 0, conflatedMessages: 0, redials: 0, firstAt: 0, lastAt: 0, lastResumedAt: 0 };
let run = { ...runZero };
/** @type {Record<string, {count: number, examples: string[]}>} */
let notes = {};
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
    run.received++;
    const now = tally.now;
    if (now >= windowFrom && now < windowTo) {
      run.windowReceived++;
      if (run.firstAt === 0) run.firstAt = now;
      run.lastAt = now;
      hist.recordMs(now - scheduledMs);
    }
  },
  ready() {
    life.ready++;
    inFlight--;
    openMore();
    if (life.ready + life.failed === life.connecting) report(); // tell the parent at once that connecting is over
  },
  resumed(conn, gap) {
    run.resumed++;
    run.lastResumedAt = tally.now;
    if (gap) {
      run.resumedGap++;
      note('resumed with gap: true', `stream ${conn.stream} asked for index ${conn.nextIndex}`);
    }
    stormInFlight--;
    stormMore();
  },
  resumeRetry(conn, why) {
    run.resumeRetries++;
    note('resume retried', why);
  },
  failed(conn, why) {
    life.failed++;
    inFlight--;
    note('connect failure', why);
    openMore();
    if (life.ready + life.failed === life.connecting) report();
  },
  closed(conn, code, reason) {
    run.closed++;
    note(`closed ${code}`, reason);
    if (conn.resuming) {
      stormInFlight--;
      stormMore();
    }
  },
  anomaly(kind, conn, detail) {
    run[kind]++;
    note(kind, detail);
  },
  lagMessage(kind, items) {
    if (kind === 'gap') {
      run.gapMessages++;
      run.skippedItems += items;
    } else if (kind === 'conflated') run.conflatedMessages++;
    else run.redials++;
  },
  selfCheck(fast, slow) {
    const same = fast.index === slow.index && fast.n === slow.n && fast.seq === slow.seq && fast.scheduledMs === slow.scheduledMs;
    // A disagreement, once seen, is what is reported.
    if (selfCheck === null || selfCheck.same) selfCheck = { same, fast, slow };
  },
};

let target = null;
let wanted = 0; // connections to have open
let nextNumber = 0; // global subscriber number of the next connection
let concurrency = 64;
let inFlight = 0;

function openMore() {
  while (inFlight < concurrency && conns.length < wanted) {
    const n = nextNumber++;
    const fd = fds.length ? fds.shift() : undefined;
    conns.push(new SubscriberConn(target, n, `127.0.0.${1 + (n % 254)}`, readBuffer, tally, fd));
    life.connecting++;
    inFlight++;
  }
}

function resize(count) {
  wanted = count;
  conns = conns.filter((c) => c.state !== 'closed');
  while (conns.length > wanted) {
    const conn = conns.pop();
    if (!conn.isReady) {
      // still connecting: it will never report
      inFlight--;
      life.connecting--;
    }
    conn.destroy();
  }
  openMore();
  if (life.ready + life.failed === life.connecting) report();
}

/** @type {SubscriberConn[]} */
let stormQueue = [];
let stormInFlight = 0;
let stormLimit = Infinity;
let stormRetryMs = 0;
function stormMore() {
  while (stormInFlight < stormLimit && stormQueue.length) {
    if (stormQueue.pop().storm(stormRetryMs)) stormInFlight++;
  }
}

function perSubscriber(published) {
  let min = Infinity;
  let max = 0;
  let live = 0;
  let owed = 0;
  for (const conn of conns) {
    if (!conn.live) continue;
    live++;
    if (conn.count < min) min = conn.count;
    if (conn.count > max) max = conn.count;
    if (published) owed += Math.max(0, (published[conn.stream] ?? 0) - conn.count);
  }
  return { live, min: live ? min : 0, max, owed };
}

/** Live connections per stream (topic, or topic:key; see payload.mjs). */
function liveByStream() {
  const by = new Array(target ? streamCount(target.topics, target.keys) : 1).fill(0);
  for (const conn of conns) if (conn.live) by[conn.stream]++;
  return by;
}

function report() {
  const byStream = liveByStream();
  const counts = { ...life, ...run, live: byStream.reduce((a, b) => a + b, 0), wanted, pending: inFlight + Math.max(0, wanted - conns.length), stormInFlight: stormInFlight + stormQueue.length };
  process.send?.({ type: 'tick', at: performance.timeOrigin + performance.now(), counts, liveByStream: byStream, hist: hist.toSparse(), stale: staleTimer ? staleHist.toSparse() : null });
  hist.reset();
  staleHist.reset();
}

/** Age (ms) of each connection's newest event, inside the window; connections that never got one are left out. */
function sampleStaleness() {
  const now = performance.timeOrigin + performance.now();
  if (now < windowFrom || now >= windowTo) return;
  for (const conn of conns) if (conn.isReady && conn.newestMs > 0) staleHist.recordMs(now - conn.newestMs);
}

const ticker = setInterval(report, REPORT_MS);

process.on('message', (msg) => {
  switch (msg.type) {
    case 'start':
      target = msg.target;
      nextNumber = msg.first;
      concurrency = msg.concurrency;
      resize(msg.count);
      break;
    case 'resize':
      resize(msg.count);
      break;
    case 'window':
      windowFrom = msg.from;
      windowTo = msg.to;
      break;
    case 'reset':
      run = { ...runZero };
      notes = {};
      hist.reset();
      for (const conn of conns) conn.reset();
      report();
      break;
    case 'pause':
      for (const conn of conns) if (conn.state !== 'closed') conn.pause();
      break;
    case 'resume':
      for (const conn of conns) if (conn.paused) conn.resume();
      break;
    case 'throttle':
      for (const conn of conns) if (conn.state !== 'closed') conn.throttle(msg.bytesPerSec);
      break;
    case 'staleness':
      clearInterval(staleTimer);
      staleTimer = setInterval(sampleStaleness, msg.everyMs);
      break;
    case 'storm':
      stormLimit = msg.concurrency ?? Infinity;
      stormRetryMs = msg.retryMs ?? 0;
      stormQueue = conns.filter((c) => c.live).reverse();
      stormMore();
      break;
    case 'final':
      report();
      process.send?.({ type: 'final', counts: { ...life, ...run }, perSubscriber: perSubscriber(msg.published), notes, selfCheck: selfCheck && { ...selfCheck, slowPathEvents: slowPath.events } });
      break;
    case 'stop':
      clearInterval(ticker);
      clearInterval(staleTimer);
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
