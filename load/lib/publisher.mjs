/**
 * Child process (fork): one producer connection that publishes at a fixed
 * rate on a timer schedule, or in one burst. Every `tickMs` it sends the
 * frames due by then; each event carries the nominal time of its tick (its
 * *scheduled* time), so a stalled publisher or a server that stops reading
 * shows up as latency instead of being hidden (no coordinated omission).
 *
 * With `batch` B (fanwire only) a frame carries B events and frames are due
 * at rate / B per second; each event is stamped with its frame's tick.
 * Event k goes to stream k % (topics x keys): a topic, or a topic:key pair (see payload.mjs).
 *
 * How each server takes a frame (one WebSocket message per event for every
 * peer, as a producer forwarding events one by one would send them):
 * - 'fanwire': a MessagePack frame (payload.mjs), acked;
 * - 'raw' (uws-publish, ws-loop, socketio, nchan): the payload itself; Nchan
 *   answers each publish with a text message (`queued messages: ...`),
 *   counted as a reply and otherwise ignored;
 * - 'nats': `PUB <subject> <#bytes>\r\n<payload>\r\n` over nats-server's
 *   WebSocket listener, after CONNECT and a PING/PONG round trip (so the
 *   connection is accepted before the first event); the server's PINGs are
 *   answered, its -ERR lines counted as errors.
 *
 * Parent -> child: {type: 'connect', url, mode, size, topics?, keys?, batch?}
 *                  {type: 'start', startAt, durationMs, rate, tickMs}     fixed rate
 *                  {type: 'burst', startAt, events, write?}                all at once, stamped startAt;
 *                                  write 'frames' (default): one ws.send per frame, as a producer sending
 *                                  events one by one; 'one': every frame of the burst in one TCP write, as a
 *                                  producer flushing a backlog (issue 23: servers take the two differently)
 *                  {type: 'halt'}   fixed rate: end the schedule now (then 'done')
 *                  {type: 'stats'}  {type: 'stop'}
 * Child -> parent: {type: 'open'}  {type: 'tick', stats}  {type: 'done', stats}  {type: 'fatal', message}
 */
import { Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { nowMs } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { NATS_CONNECT, NatsParser, natsSubject } from './nats-parser.mjs';
import { frameEncoder, TOPIC_OFFSET } from './payload.mjs';
import { OP_BINARY, zeroMaskedFrame } from './ws-frames.mjs';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
/** @type {WebSocket | null} */
let ws = null;
let encode = null;
let mode = 'raw';
let batch = 1;
let stopping = false;
const lateness = new Histogram(); // how late each tick's sends finished: part of every latency measured
const s = { sent: 0, frames: 0, writes: 0, total: 0, acks: 0, errors: 0, replies: 0, maxLagMs: 0, maxBufferedBytes: 0, errorExamples: [] };

const stats = () => ({ ...s, tickLateness: lateness.summary() });

function fatal(message) {
  process.send?.({ type: 'fatal', message });
  process.exit(1);
}

function connect(msg) {
  mode = msg.mode;
  batch = msg.batch ?? 1;
  if (mode !== 'fanwire' && batch !== 1) fatal('batches (--batch > 1) are fanwire only');
  encode = frameEncoder(mode === 'fanwire' ? 'fanwire' : 'raw', msg.size, msg.topics ?? 1, batch > 1, msg.keys ?? 1);
  if (mode === 'nats') encode = natsEncoder(encode, msg.size, msg.topics ?? 1);
  ws = new WebSocket(msg.url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
  if (mode === 'nats') natsHandshake(ws);
  else ws.on('open', () => process.send?.({ type: 'open' }));
  ws.on('error', (err) => fatal(`publisher: ${err.message}`));
  ws.on('close', (code, reason) => {
    if (!stopping) fatal(`publisher connection closed: ${code} ${reason}`);
  });
  ws.on('message', (data) => {
    s.replies++;
    if (mode === 'nats') return void nats.feed(data, 0, data.length);
    if (mode !== 'fanwire') return;
    const reply = unpackr.unpack(data);
    if (reply?.type === 'ack') s.acks++;
    else {
      s.errors++;
      if (s.errorExamples.length < 5) s.errorExamples.push(JSON.stringify(reply).slice(0, 300));
    }
  });
}

/** nats: the raw payload inside `PUB <subject of its topic> <size>\r\n...\r\n`. */
function natsEncoder(raw, size, topics) {
  const heads = Array.from({ length: topics }, (_, i) => Buffer.from(`PUB ${natsSubject(i, topics)} ${size}\r\n`));
  const tail = Buffer.from('\r\n');
  return (first, count, scheduledMs) => {
    const payload = raw(first, count, scheduledMs);
    return Buffer.concat([heads[payload.readUInt32LE(TOPIC_OFFSET)], payload, tail]);
  };
}

/** nats: what the server sends the publisher (INFO, PING, PONG, -ERR); 'open' once CONNECT has been answered. */
let nats = null;
function natsHandshake(socket) {
  let opened = false;
  nats = new NatsParser({
    onInfo: () => socket.send(Buffer.from(`${NATS_CONNECT}PING\r\n`)),
    onPong: () => {
      if (opened) return;
      opened = true;
      process.send?.({ type: 'open' });
    },
    onPing: () => socket.send(Buffer.from('PONG\r\n')),
    onErr: (text) => {
      s.errors++;
      if (s.errorExamples.length < 5) s.errorExamples.push(`-ERR '${text}'`);
      if (!opened) fatal(`publisher: nats-server refused the connection: -ERR '${text}'`);
    },
    onMsg: () => {},
    onError: (why) => fatal(`publisher: NATS protocol error: ${why}`),
  });
}

/** Sends every event up to `due` (exclusive), in frames of `batch`, stamped `scheduledMs`. */
function sendUpTo(due, scheduledMs) {
  while (s.sent < due) {
    const n = Math.min(batch, due - s.sent);
    ws.send(encode(s.sent, n, scheduledMs));
    s.sent += n;
    s.frames++;
    s.writes++;
  }
}

function start({ startAt, durationMs, rate, tickMs }) {
  s.total = Math.round((rate * durationMs) / 1000);
  const framesPerMs = rate / batch / 1000;
  let tick = 0;
  const report = setInterval(() => process.send?.({ type: 'tick', stats: stats() }), 1000);

  const onTick = () => {
    const nominal = startAt + tick * tickMs;
    // Node timers may fire up to ~1 ms early on this clock; never send before the schedule.
    if (nowMs() < nominal) {
      setImmediate(onTick);
      return;
    }
    // Frame f's slot is f / (rate / batch); every slot up to this tick's nominal time is due now, stamped with that time.
    const frames = Math.floor(tick * tickMs * framesPerMs + 1e-9) + 1;
    sendUpTo(Math.min(s.total, frames * batch), nominal);
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

/**
 * Every event up to `due` in frames of `batch`, stamped `scheduledMs`, as
 * masked client frames written to the socket at once (one write, so the
 * kernel hands the server as much of it per read as fits). Past ws's sender,
 * which is idle between bursts: anything it still held would go out after.
 */
function writeUpTo(due, scheduledMs) {
  if (ws.bufferedAmount > 0) fatal(`publisher: ${ws.bufferedAmount} bytes still buffered before a one-write burst`);
  const frames = [];
  while (s.sent < due) {
    const n = Math.min(batch, due - s.sent);
    frames.push(zeroMaskedFrame(OP_BINARY, encode(s.sent, n, scheduledMs)));
    s.sent += n;
    s.frames++;
  }
  ws._socket.write(Buffer.concat(frames));
  s.writes++;
}

function burst({ startAt, events, write = 'frames' }) {
  s.total += events;
  const fire = () => {
    if (nowMs() < startAt) return void setImmediate(fire);
    if (write === 'one') writeUpTo(s.total, startAt);
    else sendUpTo(s.total, startAt);
    lateness.recordMs(nowMs() - startAt);
    process.send?.({ type: 'done', stats: stats() });
  };
  setTimeout(fire, Math.max(0, Math.floor(startAt - nowMs())));
}

process.on('message', (msg) => {
  if (msg.type === 'connect') connect(msg);
  else if (msg.type === 'start') start(msg);
  else if (msg.type === 'burst') burst(msg);
  else if (msg.type === 'halt') s.total = Math.min(s.total, s.sent);
  else if (msg.type === 'stats') process.send?.({ type: 'tick', stats: stats() });
  else if (msg.type === 'stop') {
    stopping = true;
    ws?.terminate();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => fatal(err.stack ?? String(err)));
