// Publishes one event per second (and a batch every fifth) and prints each ack.
// Usage: node examples/producer.mjs [ws://127.0.0.1:8080] [count]
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';

const url = process.argv[2] ?? 'ws://127.0.0.1:8080';
const count = Number(process.argv[3] ?? Infinity);
const ws = new WebSocket(`${url}/v1/publish`);
let sent = 0;
let acked = 0;

ws.on('message', (data) => {
  console.log('reply', unpack(data)); // {type: 'ack', index, id?} or {type: 'error', code, message}
  if (++acked >= count) ws.close();
});
ws.on('open', function tick() {
  if (sent >= count) return;
  const event = { topic: 'orders', type: 'created', key: `o-${sent}`, payload: { total: sent * 10 } };
  ws.send(pack(sent % 5 === 4 ? { id: `batch-${sent}`, events: [event, { topic: 'audit', payload: 'x' }] } : event));
  sent++;
  setTimeout(tick, Number(process.env.INTERVAL_MS ?? 1000));
});
