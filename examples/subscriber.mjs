// Follows topic "orders" and resumes after a drop or disconnect without missing an event.
// Usage: node examples/subscriber.mjs [ws://127.0.0.1:8080] [stop-after-index]
import { unpack } from 'msgpackr';
import WebSocket from 'ws';

const url = process.argv[2] ?? 'ws://127.0.0.1:8080';
const stopAfter = Number(process.argv[3] ?? Infinity);
let epoch = null;
let resumeAt = null; // last index seen + 1

function connect() {
  const query = new URLSearchParams({ topic: 'orders' });
  if (resumeAt !== null) query.append('index', String(resumeAt));
  if (epoch !== null) query.append('epoch', epoch);
  const ws = new WebSocket(`${url}/v1/subscribe?${query}`);
  ws.on('error', () => {}); // 'close' follows and reconnects
  ws.on('message', (data) => {
    const msg = unpack(data);
    if (msg.type === 'hello') {
      epoch = msg.epoch;
      if (msg.gap) console.log(`gap: events before index ${msg.index} are gone`);
    } else if (msg.type === 'events') {
      console.log(msg.index, JSON.stringify(msg.events));
      resumeAt = msg.index + 1;
      if (msg.index >= stopAfter) ws.close(1000);
    }
  });
  ws.on('close', (code, reason) => {
    if (code === 1000) return;
    console.log(`closed ${code} ${reason}; reconnecting`); // 4001 "dropped", 1001 restart, ...
    setTimeout(connect, 500);
  });
}
connect();
