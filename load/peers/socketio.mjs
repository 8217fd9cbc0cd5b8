/**
 * Peer: Socket.IO 4 as its users write it. Subscribers connect to the default
 * namespace over the WebSocket transport only (`transports: ['websocket']`,
 * no HTTP long-polling); every producer message becomes one
 * `io.emit('e', {t, s, p})` broadcast (Socket.IO encodes the packet and its
 * WebSocket frame once per broadcast, then writes it to every socket).
 *
 * The producer speaks plain WebSocket on /v1/publish, like for the other
 * peers: each binary message is one event payload (load/lib/payload.mjs):
 * t = scheduled time (ms), s = sequence number, p = the filler as a string of
 * the same length, so the JSON a subscriber receives,
 * `42["e",{"t":...,"s":...,"p":"aaa..."}]`, is about as long as the payload
 * plus Socket.IO's framing.
 *
 * Topics: a subscriber that connects with `c=N` in its handshake query joins
 * room `cN`, and events of topic N then go to `io.to('cN').emit(...)`. Without
 * any such subscriber every event is a plain `io.emit`.
 *
 * Usage: node load/peers/socketio.mjs PORT   (listens on 127.0.0.1; exits when stdin closes)
 */
import http from 'node:http';
import { Server } from 'socket.io';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: socketio.mjs PORT');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end('not found');
});
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
  destroyUpgrade: false, // /v1/publish upgrades are ours
});

let rooms = false;
io.on('connection', (socket) => {
  const c = socket.handshake.query.c;
  if (typeof c === 'string' && /^\d+$/.test(c)) {
    rooms = true;
    socket.join(`c${c}`);
  }
});

/** @type {Map<number, string>} */
const fillers = new Map();
const filler = (n) => fillers.get(n) ?? (fillers.set(n, 'a'.repeat(n)), fillers.get(n));

const producers = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
server.on('upgrade', (req, socket, head) => {
  if ((req.url ?? '').split('?')[0] !== '/v1/publish') {
    if (!req.url?.startsWith('/socket.io/')) socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  producers.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data) => {
      if (!Buffer.isBuffer(data) || data.length < 16) return;
      const event = { t: data.readDoubleLE(0), s: data.readUInt32LE(8), p: filler(data.length - 16) };
      if (rooms) io.to(`c${data.readUInt32LE(12)}`).emit('e', event);
      else io.emit('e', event);
    });
  });
});

server.listen(port, '127.0.0.1');
server.on('error', (err) => {
  console.error(`socketio: ${err.message}`);
  process.exit(1);
});

process.stdin.on('close', () => process.exit(0)).resume();
