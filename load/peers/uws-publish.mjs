/**
 * Peer: plain uWebSockets.js native pub/sub. Subscribers of /v1/subscribe
 * join topic "c0", of /v1/subscribe/cN topic "cN" (N < 256: one route each,
 * so no upgrade handler and nothing stored per subscriber, which would cost
 * ~0.3 KB each); every producer (/v1/publish) message is forwarded unchanged
 * with app.publish to the topic numbered by its bytes 12-15 (uint32 LE, see
 * load/lib/payload.mjs). Publishing happens OUTSIDE the message handler: the
 * handler copies and queues, a setImmediate publishes the queue (inside the
 * handler it was measured ~15x slower on this build: a 300-event burst to 10k
 * subscribers ran at ~160k deliveries/s inside it, ~2.4M/s from setImmediate).
 *
 * Usage: node load/peers/uws-publish.mjs PORT   (listens on 127.0.0.1; exits when stdin closes)
 */
import uWS from 'uWebSockets.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: uws-publish.mjs PORT');
  process.exit(2);
}

const app = uWS.App();
/** @type {[ArrayBuffer, boolean][]} */
let queue = [];
let flushing = false;
const TOPICS = Array.from({ length: 256 }, (_, i) => `c${i}`);

function flush() {
  flushing = false;
  const batch = queue;
  queue = [];
  for (const [message, isBinary] of batch) {
    const topic = message.byteLength >= 16 ? new DataView(message).getUint32(12, true) : 0;
    app.publish(TOPICS[topic] ?? `c${topic}`, message, isBinary); // nobody listens past c255
  }
}

const common = {
  compression: uWS.DISABLED,
  idleTimeout: 0,
  maxBackpressure: 8 * 1024 * 1024, // fanwire's default --drop-after-bytes
  closeOnBackpressureLimit: false,
};

for (const [path, topic] of [['/v1/subscribe', TOPICS[0]], ...TOPICS.map((t) => [`/v1/subscribe/${t}`, t])]) {
  app.ws(path, {
    ...common,
    maxPayloadLength: 64 * 1024,
    open: (ws) => ws.subscribe(topic),
  });
}

app.ws('/v1/publish', {
  ...common,
  maxPayloadLength: 1024 * 1024,
  message: (ws, message, isBinary) => {
    queue.push([message.slice(0), isBinary]); // the ArrayBuffer is only valid during this call
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  },
});

app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end('not found');
});

app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uws-publish: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
});

process.stdin.on('close', () => process.exit(0)).resume();
// The bench stops servers with SIGTERM: exit normally, so `--cpu-prof` (BENCH_SERVER_NODE_ARGS) writes its profile.
process.on('SIGTERM', () => process.exit(0));
