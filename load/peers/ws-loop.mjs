/**
 * Peer: the plain `ws` server most people write first. Subscribers
 * (/v1/subscribe for topic number 0, /v1/subscribe/cN for topic N) are kept
 * in a Set per topic; every producer (/v1/publish) message is
 * forwarded unchanged by a loop calling `client.send(data)` per client of the
 * topic numbered by its bytes 12-15 (uint32 LE, see load/lib/payload.mjs).
 *
 * Usage: node load/peers/ws-loop.mjs PORT   (listens on 127.0.0.1; exits when stdin closes)
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: ws-loop.mjs PORT');
  process.exit(2);
}

/** @type {Map<number, Set<import('ws').WebSocket>>} topic number -> subscribers */
const topics = new Map();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
const server = http.createServer((req, res) => res.writeHead(404).end('not found'));

server.on('upgrade', (req, socket, head) => {
  const path = (req.url ?? '').split('?')[0];
  const sub = /^\/v1\/subscribe(?:\/c(\d+))?$/.exec(path);
  if (!sub && path !== '/v1/publish') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (sub) {
      const topic = Number(sub[1] ?? 0);
      if (!topics.has(topic)) topics.set(topic, new Set());
      const subscribers = topics.get(topic);
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
    } else {
      ws.on('message', (data) => {
        const subscribers = topics.get(data.length >= 16 ? data.readUInt32LE(12) : 0);
        if (subscribers) for (const client of subscribers) client.send(data);
      });
    }
  });
});

server.listen(port, '127.0.0.1');
server.on('error', (err) => {
  console.error(`ws-loop: ${err.message}`);
  process.exit(1);
});

process.stdin.on('close', () => process.exit(0)).resume();
