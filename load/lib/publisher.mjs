/**
 * Child process (fork): one producer connection that publishes at a fixed
 * rate on a timer schedule. Every `tickMs` it sends the events due by then;
 * each carries the nominal time of its tick (its *scheduled* time), so a
 * stalled publisher or a server that stops reading shows up as latency
 * instead of being hidden (no coordinated omission).
 *
 * Parent -> child: {type: 'connect', url, mode, size}
 *                  {type: 'start', startAt, durationMs, rate, tickMs}
 * Child -> parent: {type: 'open'}  {type: 'tick', ...}  {type: 'done', ...}  {type: 'fatal', message}
 */
import { Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { nowMs } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { payloadEncoder } from './payload.mjs';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
/** @type {WebSocket | null} */
let ws = null;
let encode = null;
let mode = 'raw';
let stopping = false;
const lateness = new Histogram(); // how late each tick's sends finished: part of every latency measured
const s = { sent: 0, total: 0, acks: 0, errors: 0, replies: 0, maxLagMs: 0, maxBufferedBytes: 0, errorExamples: [] };

const stats = () => ({ ...s, tickLateness: lateness.summary() });

function fatal(message) {
  process.send?.({ type: 'fatal', message });
  process.exit(1);
}

function connect(msg) {
  mode = msg.mode;
  encode = payloadEncoder(msg.mode, msg.size);
  ws = new WebSocket(msg.url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
  ws.on('open', () => process.send?.({ type: 'open' }));
  ws.on('error', (err) => fatal(`publisher: ${err.message}`));
  ws.on('close', (code, reason) => {
    if (!stopping) fatal(`publisher connection closed: ${code} ${reason}`);
  });
  ws.on('message', (data) => {
    s.replies++;
    if (mode !== 'fanwire') return;
    const reply = unpackr.unpack(data);
    if (reply?.type === 'ack') s.acks++;
    else {
      s.errors++;
      if (s.errorExamples.length < 5) s.errorExamples.push(JSON.stringify(reply).slice(0, 300));
    }
  });
}

function start({ startAt, durationMs, rate, tickMs }) {
  s.total = Math.round((rate * durationMs) / 1000);
  const perMs = rate / 1000;
  let tick = 0;
  const report = setInterval(() => process.send?.({ type: 'tick', stats: stats() }), 1000);

  const onTick = () => {
    const nominal = startAt + tick * tickMs;
    // Node timers may fire up to ~1 ms early on this clock; never send before the schedule.
    if (nowMs() < nominal) {
      setImmediate(onTick);
      return;
    }
    // Event k's slot is k / rate; every slot up to this tick's nominal time is due now, stamped with that time.
    const due = Math.min(s.total, Math.floor(tick * tickMs * perMs + 1e-9) + 1);
    while (s.sent < due) {
      ws.send(encode(nominal, s.sent));
      s.sent++;
    }
    const lag = nowMs() - nominal;
    lateness.recordMs(lag);
    if (lag > s.maxLagMs) s.maxLagMs = lag;
    if (ws.bufferedAmount > s.maxBufferedBytes) s.maxBufferedBytes = ws.bufferedAmount;
    if (s.sent >= s.total) {
      clearInterval(report);
      process.send?.({ type: 'done', stats: stats() });
      return;
    }
    tick++;
    setTimeout(onTick, Math.ceil(Math.max(0, startAt + tick * tickMs - nowMs())));
  };
  setTimeout(onTick, Math.ceil(Math.max(0, startAt - nowMs())));
}

process.on('message', (msg) => {
  if (msg.type === 'connect') connect(msg);
  else if (msg.type === 'start') start(msg);
  else if (msg.type === 'stats') process.send?.({ type: 'tick', stats: stats() });
  else if (msg.type === 'stop') {
    stopping = true;
    ws?.terminate();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => fatal(err.stack ?? String(err)));
