/**
 * Child process (fork): one producer that publishes as fast as fanwire
 * acknowledges, with a bounded window of frames in flight (pipelined: a new
 * frame goes out for every ack). Raw socket, one pre-encoded frame with an
 * all-zero mask written many times, so the producer costs little per frame
 * and the measurement is of the server's publish path.
 *
 * Parent -> child: {type: 'run', host, port, size, batch, window, warmupMs, durationMs}
 * Child -> parent: {type: 'tick', acked}  {type: 'done', result}  {type: 'fatal', message}
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { nowMs } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { frameEncoder } from './payload.mjs';
import { FrameReader, OP_BINARY, OP_CLOSE, parseClose, zeroMaskedFrame } from './ws-frames.mjs';

const ACK = Buffer.from([0x82, 0xa4, ...Buffer.from('type'), 0xa3, ...Buffer.from('ack')]);

function fatal(message) {
  process.send?.({ type: 'fatal', message });
  process.exit(1);
}

function run({ host, port, size, batch, window, warmupMs, durationMs }) {
  const payload = frameEncoder('fanwire', size, 1, batch > 1)(0, batch, nowMs());
  const frame = zeroMaskedFrame(OP_BINARY, payload);
  const copies = Buffer.concat(Array.from({ length: window }, () => frame));
  const sentAt = new Float64Array(window); // ring: send time of each frame in flight, in order
  let head = 0;
  let inFlight = 0;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  const errorExamples = [];
  let windowAcks = 0;
  let from = Infinity;
  let to = Infinity;
  const ackLatency = new Histogram();
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  let upgraded = false;
  let owed = 0; // acks answered in the current chunk: one write of that many frames after it
  let text = '';

  const send = (n) => {
    for (let i = 0; i < n; i++) sentAt[(head + inFlight + i) % window] = nowMs();
    inFlight += n;
    sent += n;
    sock.write(n === window ? copies : copies.subarray(0, n * frame.length));
  };

  const reader = new FrameReader({
    onMessage: (op, buf, start, end) => {
      const now = nowMs();
      if (buf.compare(ACK, 0, ACK.length, start, Math.min(end, start + ACK.length)) === 0) acked++;
      else {
        errors++;
        if (errorExamples.length < 5) errorExamples.push(buf.subarray(start, end).toString('latin1').slice(0, 200));
      }
      if (now >= from && now < to) {
        windowAcks++;
        ackLatency.recordMs(now - sentAt[head]);
      }
      head = (head + 1) % window;
      inFlight--;
      if (now < to) owed++;
    },
    onControl: (op, buf, start, end) => {
      if (op === OP_CLOSE) {
        const { code, reason } = parseClose(buf, start, end);
        fatal(`the server closed the producer connection: ${code} ${reason}`);
      }
    },
    onError: (why) => fatal(`producer: protocol error: ${why}`),
  });

  const sock = net.connect({ host, port, noDelay: true }, () => {
    sock.write(`GET /v1/publish HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  sock.on('error', (err) => fatal(`producer: ${err.message}`));
  sock.on('close', () => finished || fatal('producer: connection closed'));
  const feed = (chunk) => {
    reader.feed(chunk, 0, chunk.length);
    if (owed) send(owed);
    owed = 0;
    if (inFlight === 0 && nowMs() >= to && !finished) finish();
  };
  sock.on('data', (chunk) => {
    if (upgraded) return feed(chunk);
    text += chunk.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return;
    if (!text.startsWith('HTTP/1.1 101') || !text.includes(accept)) fatal(`producer upgrade refused: ${text.slice(0, 200)}`);
    upgraded = true;
    const rest = Buffer.from(text.slice(end + 4), 'latin1');
    from = nowMs() + warmupMs;
    to = from + durationMs;
    setInterval(() => process.send?.({ type: 'tick', acked }), 1000).unref();
    send(window);
    if (rest.length) feed(rest);
  });

  let finished = false;
  function finish() {
    finished = true;
    sock.destroy();
    const seconds = durationMs / 1000;
    process.send?.({
      type: 'done',
      result: {
        frames: sent,
        acked,
        errors,
        errorExamples,
        framesPerSec: windowAcks / seconds,
        eventsPerSec: (windowAcks * batch) / seconds,
        frameBytes: payload.length,
        ackLatency: ackLatency.summary(),
      },
    });
  }
}

process.on('message', (msg) => {
  if (msg.type === 'run') run(msg);
});
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => fatal(err.stack ?? String(err)));
