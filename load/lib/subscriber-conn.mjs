/**
 * One subscriber: a raw `net` socket that performs the WebSocket upgrade
 * itself, then feeds a FrameReader. Reads go through `onread` into a buffer
 * shared by all connections of the process (no Buffer and no stream event per
 * read); everything a message needs is taken out during the callback.
 *
 * Per event it does: take the scheduled time and sequence number, check
 * ordering (the sequence of its stream, a topic or a topic:key pair, see
 * payload.mjs, for every server; fanwire's `index` as well), and hand the
 * latency to the process-wide Tally.
 *
 * Server kinds (`target.mode`):
 * - 'raw': ready once upgraded.
 * - 'fanwire': ready at `hello`. `storm()` drops the socket and comes back
 *   with `index=<last + 1>&epoch=...`, keeping its counters, so anything
 *   missed across the reconnect shows up as a gap. With `target.lag` it
 *   subscribes with that laggard policy; `gap` messages and conflated
 *   `events` messages are expected jumps (counted, not anomalies), and with
 *   `target.redial` a 4001 is followed at once by a resume, as the SDK does.
 *
 * `throttle(bytesPerSec)` makes it a slow reader (it pauses its socket
 * whenever it has read more than that rate allows); `newestMs` is the
 * scheduled time of the newest event it holds, for staleness.
 * - 'socketio': engine.io v4 / socket.io v5 over the WebSocket transport:
 *   waits for the open packet `0{...}`, joins the default namespace with
 *   `40`, is ready at the server's `40{...}`, answers ping `2` with pong `3`.
 * - 'nats': the NATS text protocol inside WebSocket messages (nats-server's
 *   `websocket` listener): at the server's INFO it sends CONNECT, SUB for its
 *   topic's subject and a PING, and is ready at the PONG (nats-server handles
 *   a connection's operations in order, so the subscription is in place by
 *   then); answers PING with PONG. Messages go through a NatsParser, since
 *   records share and span frames; each MSG's payload is the raw payload.
 * - 'nchan': as 'raw' (Nchan writes each published message, unchanged, as
 *   one WebSocket message to every subscriber of the channel).
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { batchCount, decodeFanwireBatch, decodeFanwireSlow, decodeFanwireValue, decodeRaw, decodeSocketio, decodeSocketioSlow, fanwireDecoder, newDecoded, slowPath } from './decode.mjs';
import { NATS_CONNECT, NatsParser, natsSubject } from './nats-parser.mjs';
import { streamCount } from './payload.mjs';
import { subscribePath } from './subscribe-path.mjs';
import { clientFrame, FrameReader, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, parseClose, zeroMaskedFrame } from './ws-frames.mjs';

const KEY = randomBytes(16).toString('base64');
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const MAX_HEAD = 16 * 1024;
const SIO_JOIN = clientFrame(OP_TEXT, Buffer.from('40'));
const SIO_PONG = clientFrame(OP_TEXT, Buffer.from('3'));
const NATS_PONG = zeroMaskedFrame(OP_BINARY, Buffer.from('PONG\r\n'));
/** The sid every NATS subscriber uses (one subscription per connection). */
const NATS_SID = 1;

/**
 * Process-wide counters the connections write into (see subscriber-worker.mjs).
 * @typedef {object} Tally
 * @property {number} now          receive time of the chunk being parsed (ms, shared clock)
 * @property {(conn: SubscriberConn, scheduledMs: number) => void} delivered
 * @property {(conn: SubscriberConn) => void} ready
 * @property {(conn: SubscriberConn, gap: boolean) => void} resumed  a storm reconnect got its hello
 * @property {(conn: SubscriberConn, why: string) => void} resumeRetry  a storm reconnect failed and will be retried
 * @property {(conn: SubscriberConn, why: string) => void} failed   before ready
 * @property {(conn: SubscriberConn, code: number, reason: string) => void} closed  after ready
 * @property {(kind: 'gap' | 'conflated' | 'redial', items: number) => void} lagMessage  a laggard policy at work
 * @property {(what: 'gap' | 'reorder' | 'indexGap' | 'indexReorder' | 'unexpected', conn: SubscriberConn, detail: string) => void} anomaly
 * @property {(fast: object, slow: object) => void} selfCheck
 */

/**
 * @typedef {object} Target
 * @property {string} host
 * @property {number} port
 * @property {'fanwire' | 'raw' | 'socketio' | 'nats' | 'nchan'} mode
 * @property {number} size        payload bytes
 * @property {number} topics      topics of the run
 * @property {number} [keys]      keys per topic (fanwire; 1 or absent: none); subscriber n takes stream n % (topics x keys)
 * @property {number} timeoutMs   upgrade (and hello) deadline
 * @property {string} [lag]       fanwire: laggard policy query part, e.g. `lag=conflate`
 * @property {boolean} [redial]   fanwire: resume by index at once after a 4001
 * @property {string} [userAgent] a User-Agent header for the upgrade (none by default; nats-server caps a browser's frames at 4 KiB)
 */

const decoded = newDecoded();
let checkedFastPath = false;
let checkedBatch = false;
/** @type {ReturnType<typeof fanwireDecoder> | null} */
let decodeFanwire = null;

export class SubscriberConn {
  /**
   * @param {Target} target
   * @param {number} number  global subscriber number (fixes its stream)
   * @param {string} localAddress
   * @param {Buffer} readBuffer shared by all connections of the process
   * @param {Tally} tally
   * @param {number} [fd] an already connected socket to adopt instead of connecting
   */
  constructor(target, number, localAddress, readBuffer, tally, fd) {
    this.target = target;
    this.keys = target.keys ?? 1;
    this.streams = streamCount(target.topics, this.keys);
    /** The stream (topic, or topic:key) it subscribes to; sequences are per stream. */
    this.stream = number % this.streams;
    this.localAddress = localAddress;
    this.readBuffer = readBuffer;
    this.tally = tally;
    this.isReady = false;
    this.resuming = false;
    this.retryUntil = 0;
    this.resumePath = '';
    this.paused = false;
    this.count = 0; // events since the last reset
    this.nextSeq = 0;
    this.lastSeq = -1;
    this.nextIndex = -1;
    this.epoch = '';
    this.redialing = false;
    /** Scheduled time of the newest event received (ms, shared clock); 0 before any. */
    this.newestMs = 0;
    this.rateBps = 0; // 0: reads as fast as it can
    this.tokens = 0;
    this.refilledAt = 0;
    this.throttled = false;
    if (target.mode === 'fanwire' && decodeFanwire === null) decodeFanwire = fanwireDecoder(target.size, target.topics, this.keys);
    this.open(subscribePath(target.mode, this.stream, target.topics, this.keys, null, target.lag), fd);
  }

  /** Opens a socket (or adopts `fd`) and sends the upgrade request. */
  open(path, fd) {
    const t = this.target;
    this.state = 'handshake'; // -> 'open' -> 'closed' (or 'retrying' -> 'handshake' in a storm)
    this.head = '';
    this.reader = new FrameReader({
      onMessage: (op, buf, start, end) => this.onMessage(buf, start, end),
      onControl: (op, buf, start, end) => this.onControl(op, buf, start, end),
      onError: (why) => this.fail(`protocol error: ${why}`),
    });
    this.natsError = '';
    if (t.mode === 'nats') this.nats = this.natsParser();
    this.timer = setTimeout(() => this.fail('timeout waiting for the upgrade'), t.timeoutMs);
    const onread = { buffer: this.readBuffer, callback: (n, buf) => sock === this.sock && this.onRead(n, buf) };
    const request = `GET ${path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${t.userAgent ? `User-Agent: ${t.userAgent}\r\n` : ''}\r\n`;
    /** @type {net.Socket} */
    let sock;
    if (fd === undefined) {
      sock = net.connect({ host: t.host, port: t.port, localAddress: this.localAddress, noDelay: true, onread });
      sock.on('connect', () => sock.write(request));
    } else {
      sock = new net.Socket({ fd, readable: true, writable: true, onread });
      sock.setNoDelay(true);
      sock.write(request);
    }
    this.sock = sock;
    sock.on('error', (err) => sock === this.sock && this.fail(err.code ?? err.message));
    sock.on('close', () => sock === this.sock && this.onSocketClose());
  }

  onRead(n, buf) {
    this.tally.now = performance.timeOrigin + performance.now();
    if (this.rateBps > 0) this.spend(n);
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
    if (this.target.mode === 'raw' || this.target.mode === 'nchan') this.markReady();
    const rest = end + 4 - before;
    if (rest < n) this.reader.feed(buf, rest, n);
  }

  markReady() {
    clearTimeout(this.timer);
    if (this.redialing) {
      this.redialing = false;
      return;
    }
    if (this.resuming) {
      this.resuming = false;
      this.tally.resumed(this, decoded.gap);
      return;
    }
    this.isReady = true;
    this.tally.ready(this);
  }

  onMessage(buf, start, end) {
    const t = this.target;
    let d;
    if (t.mode === 'nats') return this.nats.feed(buf, start, end);
    if (t.mode === 'raw' || t.mode === 'nchan') d = decodeRaw(buf, start, end, decoded);
    else if (t.mode === 'fanwire') {
      const batch = batchCount(buf, start, end);
      if (batch !== null) return this.onBatch(buf, start, end, batch[0], batch[1]);
      d = decodeFanwire(buf, start, end, decoded);
    } else d = decodeSocketio(buf, start, end, decoded);
    if (d.kind === 'events' && !checkedFastPath) this.checkFastPath(buf, start, end, d);
    this.onDecoded(d);
  }

  /** The NATS side of one connection: handshake, PING/PONG, and each MSG's payload into the usual checks. */
  natsParser() {
    let connected = false;
    const parser = new NatsParser({
      onInfo: () => {
        if (connected) return; // nats-server may send INFO again (cluster changes)
        connected = true;
        const subject = natsSubject(this.stream, this.target.topics);
        this.sock.write(zeroMaskedFrame(OP_BINARY, Buffer.from(`${NATS_CONNECT}SUB ${subject} ${NATS_SID}\r\nPING\r\n`)));
      },
      onPing: () => this.sock.write(NATS_PONG),
      onPong: () => {
        if (!this.isReady) this.markReady();
      },
      onOk: () => {},
      onErr: (text) => {
        // nats-server says why before it closes (e.g. 'Slow Consumer Detected'): that is the close's reason.
        this.natsError = `nats-server -ERR '${text}'`;
        if (!this.isReady) this.fail(this.natsError);
      },
      onMsg: (buf, start, end) => {
        if (parser.sid !== NATS_SID) return this.tally.anomaly('unexpected', this, `MSG for sid ${parser.sid}`);
        const d = decodeRaw(buf, start, end, decoded);
        if (d.kind === 'events' && !checkedFastPath) this.checkFastPath(buf, start, end, d);
        this.onDecoded(d);
      },
      onError: (why) => this.fail(`NATS protocol error: ${why}`),
    });
    return parser;
  }

  /**
   * A fanwire batch message (batch=1): its events messages one by one, read
   * in place; one that is not (an unexpected shape) sends the rest of the
   * batch through the full decoder.
   */
  onBatch(buf, start, end, count, p) {
    if (!checkedBatch) this.checkBatch(buf, start, end, count, p);
    for (let i = 0; i < count; i++) {
      const d = decodeFanwire(buf, p, end, decoded, true);
      if (d.next < 0) {
        const rest = decodeFanwireBatch(buf.subarray(start, end)).slice(i);
        if (rest.length !== count - i) return this.tally.anomaly('unexpected', this, `batch of ${count} messages does not decode`);
        for (const m of rest) {
          const slow = decodeFanwireValue(m, this.target.size, decoded);
          if (slow.kind !== 'events') return this.tally.anomaly('unexpected', this, `batch holds a ${slow.kind} message`);
          slowPath.events++;
          this.onDecoded(slow);
        }
        return;
      }
      p = d.next;
      this.onDecoded(d);
    }
    if (p !== end) this.tally.anomaly('unexpected', this, `batch of ${count} messages has ${end - p} bytes after them`);
  }

  /** Once per process: the first batch read in place must agree with the full decoder, message by message. */
  checkBatch(buf, start, end, count, p) {
    checkedBatch = true;
    const slow = decodeFanwireBatch(buf.subarray(start, end));
    const fast = newDecoded();
    const full = newDecoded();
    for (let i = 0; i < count; i++) {
      decodeFanwire(buf, p, end, fast, true);
      if (fast.next < 0) return;
      decodeFanwireValue(slow[i], this.target.size, full);
      this.tally.selfCheck({ index: fast.index, n: fast.n, seq: fast.seqs[0], scheduledMs: fast.times[0] }, { index: full.index, n: full.n, seq: full.seqs[0], scheduledMs: full.times[0] });
      p = fast.next;
    }
  }

  /** One decoded message: hello, heartbeat, gap or events (sequence and index checks). */
  onDecoded(d) {
    const t = this.target;
    switch (d.kind) {
      case 'events':
        break;
      case 'hello':
        if (t.mode === 'fanwire') {
          if (this.redialing) {
            // Back after a 4001; the hello says if (and what) it missed meanwhile.
            if (d.index !== this.nextIndex) this.nextSeq = -1;
          } else if (this.resuming && d.index !== this.nextIndex) this.tally.anomaly('indexGap', this, `resumed at index ${d.index}, asked for ${this.nextIndex}`);
          else if (this.isReady && !this.resuming) return this.tally.anomaly('unexpected', this, 'second hello');
          this.nextIndex = d.index;
          this.epoch = d.epoch;
        }
        return this.markReady();
      case 'heartbeat':
        return;
      case 'gap':
        // lag=skip: items index..to will never come; the stream goes on after them.
        if (d.index !== this.nextIndex) this.tally.anomaly('indexGap', this, `gap from ${d.index}, expected ${this.nextIndex}`);
        this.tally.lagMessage('gap', d.to - d.index + 1);
        this.nextIndex = d.to + 1;
        this.nextSeq = -1;
        return;
      case 'ping':
        this.sock.write(SIO_PONG);
        return;
      case 'eio-open':
        this.sock.write(SIO_JOIN);
        return;
      default:
        return this.tally.anomaly('unexpected', this, typeof d.value === 'string' ? d.value : JSON.stringify(d.value)?.slice(0, 200));
    }
    if (t.mode === 'fanwire') {
      // A conflated message stands for every item up to its index: a jump ahead is expected.
      // With one stream every item is this subscriber's: indexes follow each other; else they only grow.
      if (d.index < this.nextIndex || (this.streams === 1 && !d.conflated && d.index !== this.nextIndex)) {
        this.tally.anomaly(d.index > this.nextIndex ? 'indexGap' : 'indexReorder', this, `index ${d.index}, expected ${this.streams === 1 ? '' : '>= '}${this.nextIndex}`);
      }
      this.nextIndex = d.index + 1;
      if (d.conflated) {
        this.tally.lagMessage('conflated', 0);
        this.nextSeq = -1;
      }
    }
    for (let j = 0; j < d.n; j++) {
      const seq = d.seqs[j];
      // nextSeq -1: after a skip, anything newer than the last one is fine.
      if (this.nextSeq < 0) {
        if (seq <= this.lastSeq) this.tally.anomaly('reorder', this, `stream ${this.stream} seq ${seq} after ${this.lastSeq}`);
      } else if (seq !== this.nextSeq) {
        this.tally.anomaly(seq > this.nextSeq ? 'gap' : 'reorder', this, `stream ${this.stream} seq ${seq}, expected ${this.nextSeq}`);
      }
      this.nextSeq = seq + 1;
      this.lastSeq = seq;
      if (d.times[j] > this.newestMs) this.newestMs = d.times[j];
      this.count++;
      this.tally.delivered(this, d.times[j]);
    }
  }

  /** Once per process: the full decoder must agree with the fast path. */
  checkFastPath(buf, start, end, d) {
    checkedFastPath = true;
    const fast = { index: d.index, n: d.n, seq: d.seqs[0], scheduledMs: d.times[0] };
    const copy = newDecoded();
    const s = this.target.mode === 'fanwire' ? decodeFanwireSlow(buf.subarray(start, end), this.target.size, copy) : this.target.mode === 'socketio' ? decodeSocketioSlow(buf.toString('utf8', start, end), copy) : d;
    this.tally.selfCheck(fast, { index: this.target.mode === 'fanwire' ? s.index : d.index, n: s.n, seq: s.seqs[0], scheduledMs: s.times[0] });
  }

  onControl(op, buf, start, end) {
    if (op === OP_PING) {
      this.sock.write(clientFrame(OP_PONG, buf.subarray(start, end)));
    } else if (op === OP_CLOSE) {
      const { code, reason } = parseClose(buf, start, end);
      const sock = this.sock; // end() may open a new one (a resume after 4001)
      this.end(code, this.isReady ? reason : `closed before ready: ${code} ${reason}`);
      const echo = Buffer.alloc(2);
      echo.writeUInt16BE(code === 1005 ? 1000 : code);
      if (!sock.destroyed) sock.end(clientFrame(OP_CLOSE, echo));
    }
  }

  onSocketClose() {
    this.end(1006, this.isReady ? 'connection lost without a close frame' : 'connection closed before the upgrade completed');
  }

  /** A problem on our side of the protocol, or a socket error. */
  fail(why) {
    const sock = this.sock;
    this.end(1006, why);
    sock?.destroy();
  }

  /**
   * Reports how the connection ended, once: a failure before ready, a close
   * after. A storm reconnect that fails before its hello is retried after
   * 0.25-1 s (as a resuming client would) until `retryUntil`.
   */
  end(code, reason) {
    if (this.state === 'closed' || this.state === 'retrying') return;
    if (this.natsError && !reason.includes(this.natsError)) reason = `${reason} (${this.natsError})`;
    if (code === 4001 && this.target.redial && this.isReady && !this.resuming && !this.redialing) {
      this.tally.closed(this, code, reason);
      this.tally.lagMessage('redial', 0);
      this.redial();
      return;
    }
    if (this.resuming && performance.now() < this.retryUntil) {
      this.state = 'retrying';
      clearTimeout(this.timer);
      const old = this.sock;
      this.sock = null;
      old?.destroy();
      this.tally.resumeRetry(this, reason);
      setTimeout(() => this.state === 'retrying' && this.open(this.resumePath), 250 + Math.random() * 750);
      return;
    }
    this.state = 'closed';
    clearTimeout(this.timer);
    if (this.isReady) this.tally.closed(this, this.resuming ? 1006 : code, this.resuming ? `resume failed: ${reason}` : reason);
    else this.tally.failed(this, reason);
  }

  get live() {
    return this.isReady && !this.resuming && this.state !== 'closed';
  }

  /** Stops reading: the kernel buffers fill, then the server's. */
  pause() {
    this.paused = true;
    this.sock.pause();
  }

  resume() {
    this.paused = false;
    if (!this.throttled) this.sock.resume();
  }

  /** Reads at most `bytesPerSec` on average from now on (0: as fast as it can). */
  throttle(bytesPerSec) {
    this.rateBps = bytesPerSec;
    this.tokens = 0;
    this.refilledAt = performance.now();
  }

  /** Token bucket (at most 100 ms of credit): past the rate, stop reading until it allows more. */
  spend(n) {
    const now = performance.now();
    this.tokens = Math.min(this.rateBps / 10, this.tokens + ((now - this.refilledAt) * this.rateBps) / 1000) - n;
    this.refilledAt = now;
    if (this.tokens >= 0 || this.throttled) return;
    this.throttled = true;
    const sock = this.sock;
    sock.pause();
    setTimeout(() => {
      this.throttled = false;
      if (sock === this.sock && !this.paused && this.state !== 'closed') sock.resume();
    }, (-this.tokens / this.rateBps) * 1000);
  }

  /** After a 4001 (lag=drop): back at once from the resume index, keeping the counters. */
  redial() {
    clearTimeout(this.timer);
    const old = this.sock;
    this.sock = null;
    old?.destroy();
    this.redialing = true;
    this.throttled = false;
    this.open(subscribePath('fanwire', this.stream, this.target.topics, this.keys, { index: this.nextIndex, epoch: this.epoch }, this.target.lag));
  }

  /** New counts for the next run: events since now, sequences from 0 (a new publisher). */
  reset() {
    this.count = 0;
    this.nextSeq = 0;
    this.lastSeq = -1;
  }

  /**
   * Resume storm (fanwire): drop the socket and reconnect from the next index
   * of the same epoch, retrying a failed attempt for `retryMs`.
   */
  storm(retryMs) {
    if (!this.live || this.target.mode !== 'fanwire') return false;
    clearTimeout(this.timer);
    const old = this.sock;
    this.sock = null;
    old.destroy();
    this.resuming = true;
    this.retryUntil = performance.now() + retryMs;
    this.resumePath = subscribePath('fanwire', this.stream, this.target.topics, this.keys, { index: this.nextIndex, epoch: this.epoch }, this.target.lag);
    this.open(this.resumePath);
    return true;
  }

  /** Ends the connection from our side at the end of a run, silently. */
  destroy() {
    this.state = 'closed';
    clearTimeout(this.timer);
    this.sock?.destroy();
  }
}
