/**
 * A streaming parser of what nats-server sends a client (the NATS text
 * protocol), for subscribers that read it out of WebSocket messages.
 *
 * nats-server writes its outbound buffer into WebSocket frames without
 * regard for records: several `MSG` records share a frame, and one record
 * may span frames (a client with a browser User-Agent gets frames of at
 * most 4 KiB). So the parser takes bytes, not frames: `feed(buf, start,
 * end)` any number of times, and each complete record reaches a handler
 * exactly as if the stream had come in one piece.
 *
 * Records: `MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n`,
 * `INFO {json}\r\n`, `PING\r\n`, `PONG\r\n`, `+OK\r\n`, `-ERR 'text'\r\n`.
 *
 * What it costs per message, since a load process parses millions a second:
 * a `MSG` record that sits whole in the bytes fed is handed over in place
 * (`buf`, payload start and end, valid only during the call), its control
 * line scanned once with no string made. Only a record cut by a frame
 * boundary is copied, once, into a buffer of its exact length (its length
 * is known as soon as its control line is). The control line's fields are
 * kept as offsets; `msgFields()` makes strings of them on demand (tests,
 * error messages).
 */

const CR = 0x0d;
const LF = 0x0a;
/** A control line longer than this is a protocol error (nats-server's own limit is 4 KiB; INFO can be a few hundred bytes). */
const MAX_LINE = 64 * 1024;

/**
 * @typedef {object} NatsHandlers
 * @property {(buf: Buffer, start: number, end: number) => void} onMsg  one MSG's payload; `parser.sid` and `parser.msgFields()` describe it
 * @property {(json: string) => void} [onInfo]
 * @property {() => void} [onPing]
 * @property {() => void} [onPong]
 * @property {() => void} [onOk]
 * @property {(text: string) => void} [onErr]   a -ERR line's text
 * @property {(why: string) => void} onError    not the NATS protocol; stop feeding after it
 */

const isSpace = (c) => c === 0x20 || c === 0x09;

export class NatsParser {
  /** @param {NatsHandlers} handlers */
  constructor(handlers) {
    this.h = handlers;
    /** @type {Buffer | null} the start of a control line cut by a chunk boundary */
    this.head = null;
    /** @type {Buffer | null} a MSG record (control line and payload) being filled across chunks */
    this.rec = null;
    this.filled = 0;
    this.failed = false;
    /** The MSG being handed over: its sid as a number (-1 if not a decimal), and its fields as offsets in `lineBuf`. */
    this.sid = -1;
    /** @type {Buffer | null} */
    this.lineBuf = null;
    /** [subject start, end, sid start, end, reply start, end (equal when none)] */
    this.fields = [0, 0, 0, 0, 0, 0];
    this.size = 0;
    this.lineLength = 0;
  }

  /** Feeds bytes `buf[start, end)`. */
  feed(buf, start, end) {
    let pos = start;
    while (pos < end && !this.failed) {
      if (this.rec !== null) {
        const n = Math.min(this.rec.length - this.filled, end - pos);
        buf.copy(this.rec, this.filled, pos, pos + n);
        this.filled += n;
        pos += n;
        if (this.filled < this.rec.length) return;
        const rec = this.rec;
        this.rec = null;
        this.deliver(rec, 0);
        continue;
      }
      let nl = buf.indexOf(LF, pos);
      if (nl >= end) nl = -1; // the buffer may be shared: bytes past `end` are not ours
      if (this.head !== null) {
        if (nl < 0) {
          if (this.head.length + end - pos > MAX_LINE) return this.fail('control line too long');
          this.head = Buffer.concat([this.head, buf.subarray(pos, end)]);
          return;
        }
        // The cut line, whole now: parse it on its own, then go on after it in `buf`.
        const line = Buffer.concat([this.head, buf.subarray(pos, nl + 1)]);
        this.head = null;
        pos = nl + 1;
        const size = this.line(line, 0, line.length);
        if (size < 0) continue; // not a MSG (handled), or failed
        this.rec = Buffer.allocUnsafe(line.length + size + 2);
        line.copy(this.rec, 0);
        this.filled = line.length;
        continue;
      }
      if (nl < 0) {
        if (end - pos > MAX_LINE) return this.fail('control line too long');
        this.head = Buffer.from(buf.subarray(pos, end));
        return;
      }
      const size = this.line(buf, pos, nl + 1);
      if (size < 0) {
        pos = nl + 1;
        continue;
      }
      const total = nl + 1 - pos + size + 2;
      if (end - pos >= total) {
        this.deliver(buf, pos);
        pos += total;
        continue;
      }
      this.rec = Buffer.allocUnsafe(total);
      buf.copy(this.rec, 0, pos, end);
      this.filled = end - pos;
      return;
    }
  }

  /**
   * One control line at buf[start, end) (LF included). A MSG line: returns its
   * payload size, with its fields noted. Anything else is handled here: -1.
   */
  line(buf, start, end) {
    const c0 = buf[start] | 0x20; // operation names are case-insensitive
    if (c0 === 0x6d /* m */ && end - start > 4 && (buf[start + 1] | 0x20) === 0x73 && (buf[start + 2] | 0x20) === 0x67 && isSpace(buf[start + 3])) {
      return this.msgLine(buf, start, end);
    }
    let e = end - 1;
    if (e > start && buf[e - 1] === CR) e--;
    const op = buf.toString('latin1', start, e);
    const upper = op.toUpperCase();
    if (upper === 'PING') this.h.onPing?.();
    else if (upper === 'PONG') this.h.onPong?.();
    else if (upper === '+OK') this.h.onOk?.();
    else if (upper.startsWith('INFO') && isSpace(buf[start + 4])) this.h.onInfo?.(buf.toString('utf8', start + 5, e).trim());
    else if (upper.startsWith('-ERR')) this.h.onErr?.(op.slice(4).trim().replace(/^'(.*)'$/, '$1'));
    else this.fail(`unknown operation: ${op.slice(0, 80)}`);
    return -1;
  }

  /** `MSG <subject> <sid> [reply-to] <#bytes>\r\n`: notes the fields, returns the size (-1 after a failure). */
  msgLine(buf, start, end) {
    const f = this.fields;
    let n = 0; // fields seen
    let p = start + 4;
    let e = end - 1;
    if (buf[e - 1] === CR) e--;
    const starts = [0, 0, 0, 0];
    const ends = [0, 0, 0, 0];
    while (p < e) {
      while (p < e && isSpace(buf[p])) p++;
      if (p >= e) break;
      if (n === 4) return this.fail(`MSG line with too many fields: ${buf.toString('latin1', start, e).slice(0, 80)}`), -1;
      starts[n] = p;
      while (p < e && !isSpace(buf[p])) p++;
      ends[n++] = p;
    }
    if (n < 3) return this.fail(`MSG line with too few fields: ${buf.toString('latin1', start, e).slice(0, 80)}`), -1;
    let size = 0;
    for (let i = starts[n - 1]; i < ends[n - 1]; i++) {
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) return this.fail(`MSG size is not a number: ${buf.toString('latin1', start, e).slice(0, 80)}`), -1;
      size = size * 10 + d;
    }
    f[0] = starts[0] - start;
    f[1] = ends[0] - start;
    f[2] = starts[1] - start;
    f[3] = ends[1] - start;
    f[4] = n === 4 ? starts[2] - start : 0;
    f[5] = n === 4 ? ends[2] - start : 0;
    let sid = 0;
    for (let i = starts[1]; i < ends[1]; i++) {
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) {
        sid = -1;
        break;
      }
      sid = sid * 10 + d;
    }
    this.sid = sid;
    this.size = size;
    this.lineLength = end - start;
    return size;
  }

  /** A whole MSG record at buf[at..]: checks the CRLF after the payload, hands the payload over. */
  deliver(buf, at) {
    const from = at + this.lineLength;
    const to = from + this.size;
    if (buf[to] !== CR || buf[to + 1] !== LF) return this.fail(`MSG payload of ${this.size} bytes is not followed by CRLF`);
    this.lineBuf = buf;
    this.lineAt = at;
    this.h.onMsg(buf, from, to);
    this.lineBuf = null;
  }

  /** The MSG being handed over, as strings (only during onMsg). */
  msgFields() {
    const b = this.lineBuf;
    const at = this.lineAt;
    const f = this.fields;
    if (b === null) throw new Error('msgFields() is only valid inside onMsg');
    return {
      subject: b.toString('latin1', at + f[0], at + f[1]),
      sid: b.toString('latin1', at + f[2], at + f[3]),
      reply: f[5] > f[4] ? b.toString('latin1', at + f[4], at + f[5]) : '',
      size: this.size,
    };
  }

  fail(why) {
    this.failed = true;
    this.h.onError(why);
  }
}

/** The bytes of `CONNECT {...}\r\n` a plain client sends after INFO (no echo of its own publishes matters: subscribers never publish). */
export const NATS_CONNECT = 'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":false,"no_responders":false}\r\n';

/** The subject of topic `i` of `topics`: `t` for one topic, else `t.<i>` (the peers' topic numbers). */
export const natsSubject = (i, topics) => (topics <= 1 ? 't' : `t.${i}`);
