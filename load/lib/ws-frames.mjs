/**
 * A minimal WebSocket frame reader for the client side (server frames are
 * unmasked) and the two frames a subscriber ever sends (pong, close).
 *
 * The reader never copies a complete frame that sits inside one chunk: it
 * hands `(buf, start, end)` to the callback, and that view is valid only
 * during the call (the chunk may be a buffer shared by every socket).
 * Only a frame split across chunks is copied, once, into its own buffer.
 */
import { randomBytes } from 'node:crypto';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Largest frame accepted; anything bigger is a protocol error. */
const MAX_FRAME = 64 * 1024 * 1024;

/**
 * @typedef {object} FrameHandlers
 * @property {(opcode: number, buf: Buffer, start: number, end: number) => void} onMessage  a complete text/binary message
 * @property {(opcode: number, buf: Buffer, start: number, end: number) => void} onControl  ping, pong or close
 * @property {(reason: string) => void} onError  protocol violation; stop feeding after it
 */

export class FrameReader {
  /** @param {FrameHandlers} handlers */
  constructor(handlers) {
    this.h = handlers;
    /** @type {Buffer | null} bytes of a frame header cut by a chunk boundary */
    this.head = null;
    /** @type {Buffer | null} a frame (header included) being filled across chunks */
    this.partial = null;
    this.filled = 0;
    /** @type {Buffer[] | null} payloads of a fragmented message (FIN=0) */
    this.fragments = null;
    this.fragOpcode = 0;
    this.failed = false;
  }

  /**
   * Feeds bytes `buf[start, end)`.
   * @param {Buffer} buf
   * @param {number} start
   * @param {number} end
   */
  feed(buf, start, end) {
    if (this.failed) return;
    if (this.head !== null) {
      const joined = Buffer.concat([this.head, buf.subarray(start, end)]);
      this.head = null;
      this.feed(joined, 0, joined.length);
      return;
    }
    let pos = start;
    if (this.partial !== null) {
      const want = this.partial.length - this.filled;
      const n = Math.min(want, end - pos);
      buf.copy(this.partial, this.filled, pos, pos + n);
      this.filled += n;
      pos += n;
      if (this.filled < this.partial.length) return;
      const frame = this.partial;
      this.partial = null;
      this.frame(frame, 0, frame.length);
    }
    while (pos < end && !this.failed) {
      const avail = end - pos;
      if (avail < 2) break;
      const b1 = buf[pos + 1];
      if (b1 & 0x80) return this.fail('masked frame from server');
      const len7 = b1 & 0x7f;
      const hdr = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (avail < hdr) break;
      let len = len7;
      if (len7 === 126) len = buf.readUInt16BE(pos + 2);
      else if (len7 === 127) len = buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6);
      if (len > MAX_FRAME) return this.fail(`frame of ${len} bytes`);
      const total = hdr + len;
      if (avail < total) {
        this.partial = Buffer.allocUnsafe(total);
        buf.copy(this.partial, 0, pos, end);
        this.filled = avail;
        return;
      }
      this.frame(buf, pos, pos + total);
      pos += total;
    }
    if (pos < end && !this.failed) this.head = Buffer.from(buf.subarray(pos, end));
  }

  /** One complete frame at `buf[pos, end)`, header included. */
  frame(buf, pos, end) {
    const b0 = buf[pos];
    const len7 = buf[pos + 1] & 0x7f;
    const start = pos + (len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode >= 0x8) {
      if (!fin || end - start > 125) return this.fail('bad control frame');
      this.h.onControl(opcode, buf, start, end);
      return;
    }
    if (opcode === OP_CONT) {
      if (this.fragments === null) return this.fail('continuation without a first fragment');
      this.fragments.push(Buffer.from(buf.subarray(start, end)));
      if (!fin) return;
      const whole = Buffer.concat(this.fragments);
      this.fragments = null;
      this.h.onMessage(this.fragOpcode, whole, 0, whole.length);
      return;
    }
    if (opcode !== OP_TEXT && opcode !== OP_BINARY) return this.fail(`unknown opcode ${opcode}`);
    if (this.fragments !== null) return this.fail('new message inside a fragmented one');
    if (fin) {
      this.h.onMessage(opcode, buf, start, end);
      return;
    }
    this.fragOpcode = opcode;
    this.fragments = [Buffer.from(buf.subarray(start, end))];
  }

  /** @param {string} reason */
  fail(reason) {
    this.failed = true;
    this.h.onError(reason);
  }
}

/**
 * A masked client frame (FIN set) carrying `payload` (at most 125 bytes: control frames only).
 * @param {number} opcode
 * @param {Uint8Array} payload
 */
export function clientFrame(opcode, payload) {
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  const mask = randomBytes(4);
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/** Close code and reason of a close frame's payload (1005 when it has none). */
export function parseClose(buf, start, end) {
  if (end - start < 2) return { code: 1005, reason: '' };
  return { code: buf.readUInt16BE(start), reason: buf.toString('utf8', start + 2, end) };
}

/**
 * A client frame of any size (FIN set) with an all-zero masking key, so the
 * payload goes out as is: cheap for a client that sends the same frame many
 * times. Servers must unmask it all the same.
 * @param {number} opcode
 * @param {Uint8Array} payload
 */
export function zeroMaskedFrame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = 0x80 | n;
  else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  frame.set(payload, head + 4); // key bytes stay 0
  return frame;
}
