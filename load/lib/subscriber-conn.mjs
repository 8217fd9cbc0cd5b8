/**
 * One subscriber: a raw `net` socket that performs the WebSocket upgrade
 * itself, then feeds a FrameReader. Reads go through `onread` into a buffer
 * shared by all connections of the process (no Buffer and no stream event per
 * read); everything a message needs is taken out during the callback.
 *
 * Per message it does: decode the scheduled time and sequence number, check
 * ordering (seq for every server, fanwire's `index` as well), and hand the
 * latency to the process-wide Tally.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { clientFrame, FrameReader, OP_CLOSE, OP_PING, OP_PONG, parseClose } from './ws-frames.mjs';
import { decodeFanwire, decodeRaw, decodeSlow } from './payload.mjs';

const KEY = randomBytes(16).toString('base64');
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const MAX_HEAD = 16 * 1024;

/**
 * Process-wide counters the connections write into (see subscriber-worker.mjs).
 * @typedef {object} Tally
 * @property {number} now          receive time of the chunk being parsed (ms, shared clock)
 * @property {(conn: SubscriberConn, scheduledMs: number) => void} delivered
 * @property {(conn: SubscriberConn) => void} ready
 * @property {(conn: SubscriberConn, why: string) => void} failed   before ready
 * @property {(conn: SubscriberConn, code: number, reason: string) => void} closed  after ready
 * @property {(what: 'gap' | 'reorder' | 'indexGap' | 'indexReorder' | 'unexpected', conn: SubscriberConn, detail: string) => void} anomaly
 * @property {(fast: object, slow: object) => void} selfCheck
 */

/**
 * @typedef {object} Target
 * @property {string} host
 * @property {number} port
 * @property {string} path        e.g. /v1/subscribe?topic=t&format=msgpack
 * @property {'fanwire' | 'raw'} mode
 * @property {number} size        payload bytes
 * @property {number} timeoutMs   upgrade (and hello) deadline
 */

const decoded = { kind: '', index: 0, scheduledMs: 0, seq: 0, value: undefined };
let checkedFastPath = false;

export class SubscriberConn {
  /**
   * @param {Target} target
   * @param {string} localAddress
   * @param {Buffer} readBuffer shared by all connections of the process
   * @param {Tally} tally
   */
  constructor(target, localAddress, readBuffer, tally) {
    this.target = target;
    this.tally = tally;
    this.state = 'handshake'; // -> 'open' -> 'closed'
    this.isReady = false;
    this.head = '';
    this.count = 0;
    this.nextSeq = 0;
    this.nextIndex = -1;
    this.reader = new FrameReader({
      onMessage: (op, buf, start, end) => this.onMessage(buf, start, end),
      onControl: (op, buf, start, end) => this.onControl(op, buf, start, end),
      onError: (why) => this.fail(`protocol error: ${why}`),
    });
    this.timer = setTimeout(() => this.fail('timeout waiting for the upgrade'), target.timeoutMs);
    this.sock = net.connect({
      host: target.host,
      port: target.port,
      localAddress,
      noDelay: true,
      onread: { buffer: readBuffer, callback: (n, buf) => this.onRead(n, buf) },
    });
    this.sock.on('connect', () => {
      this.sock.write(
        `GET ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.sock.on('error', (err) => this.fail(err.code ?? err.message));
    this.sock.on('close', () => this.onSocketClose());
  }

  onRead(n, buf) {
    this.tally.now = performance.timeOrigin + performance.now();
    if (this.state === 'open') {
      this.reader.feed(buf, 0, n);
      return;
    }
    if (this.state !== 'handshake') return;
    const before = this.head.length;
    this.head += buf.toString('latin1', 0, n);
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > MAX_HEAD) this.fail('upgrade response too long');
      return;
    }
    const lines = this.head.slice(0, end).split('\r\n');
    if (!/^HTTP\/1\.1 101 /.test(lines[0] + ' ')) {
      return this.fail(`upgrade refused: ${lines[0]} ${this.head.slice(end + 4, end + 200).replace(/\s+/g, ' ')}`.trim());
    }
    const accept = lines.find((l) => /^sec-websocket-accept:/i.test(l))?.split(':')[1]?.trim();
    if (accept !== ACCEPT) return this.fail(`bad Sec-WebSocket-Accept: ${accept}`);
    this.head = '';
    this.state = 'open';
    if (this.target.mode === 'raw') this.markReady();
    const rest = end + 4 - before;
    if (rest < n) this.reader.feed(buf, rest, n);
  }

  markReady() {
    clearTimeout(this.timer);
    this.isReady = true;
    this.tally.ready(this);
  }

  onMessage(buf, start, end) {
    const t = this.target;
    if (t.mode === 'raw') {
      if (!decodeRaw(buf, start, end, decoded)) return this.tally.anomaly('unexpected', this, `message of ${end - start} bytes`);
    } else {
      decodeFanwire(buf, start, end, t.size, decoded);
      if (decoded.kind === 'events' && !checkedFastPath) {
        checkedFastPath = true;
        const fast = { index: decoded.index, seq: decoded.seq, scheduledMs: decoded.scheduledMs };
        const slow = decodeSlow(buf.subarray(start, end), t.size, { ...decoded });
        this.tally.selfCheck(fast, { index: slow.index, seq: slow.seq, scheduledMs: slow.scheduledMs });
      }
      if (decoded.kind === 'hello') {
        if (this.isReady) return this.tally.anomaly('unexpected', this, 'second hello');
        this.nextIndex = decoded.index;
        return this.markReady();
      }
      if (decoded.kind === 'heartbeat') return;
      if (decoded.kind !== 'events') return this.tally.anomaly('unexpected', this, JSON.stringify(decoded.value)?.slice(0, 200));
      if (decoded.index !== this.nextIndex) {
        this.tally.anomaly(decoded.index > this.nextIndex ? 'indexGap' : 'indexReorder', this, `index ${decoded.index}, expected ${this.nextIndex}`);
      }
      this.nextIndex = decoded.index + 1;
    }
    if (decoded.seq !== this.nextSeq) {
      this.tally.anomaly(decoded.seq > this.nextSeq ? 'gap' : 'reorder', this, `seq ${decoded.seq}, expected ${this.nextSeq}`);
    }
    this.nextSeq = decoded.seq + 1;
    this.count++;
    this.tally.delivered(this, decoded.scheduledMs);
  }

  onControl(op, buf, start, end) {
    if (op === OP_PING) {
      this.sock.write(clientFrame(OP_PONG, buf.subarray(start, end)));
    } else if (op === OP_CLOSE) {
      const { code, reason } = parseClose(buf, start, end);
      this.end(code, this.isReady ? reason : `closed before ready: ${code} ${reason}`);
      const echo = Buffer.alloc(2);
      echo.writeUInt16BE(code === 1005 ? 1000 : code);
      this.sock.end(clientFrame(OP_CLOSE, echo));
    }
  }

  onSocketClose() {
    this.end(1006, this.isReady ? 'connection lost without a close frame' : 'connection closed before the upgrade completed');
  }

  /** A problem on our side of the protocol, or a socket error. */
  fail(why) {
    this.end(1006, why);
    this.sock.destroy();
  }

  /** Reports how the connection ended, once: a failure before ready, a close after. */
  end(code, reason) {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    if (this.isReady) this.tally.closed(this, code, reason);
    else this.tally.failed(this, reason);
  }

  /** Ends the connection from our side at the end of a run, silently. */
  destroy() {
    this.state = 'closed';
    clearTimeout(this.timer);
    this.sock.destroy();
  }
}
