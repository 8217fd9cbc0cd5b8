/**
 * WebSocket frames as the ws transport prepares them: its framer (`wsFramer`:
 * prepare, payload, join).
 *
 * Server frames are unmasked, so a shared message's complete frame is the
 * same bytes for every subscriber: it is built once per item and filter, and
 * a broadcast is a raw socket write of it (ws-raw-writer.ts). This file owns
 * the frame layout both ways: building a frame, the payload view inside one,
 * joining several into one run (one socket write for a whole drain), and
 * splitting a run of frames back into messages for the plain `ws.send`
 * path. It names no ws internals.
 */
import type { Framer, Prepared } from '../fanout/index.js';

/** Builds an unmasked, final, single-frame WebSocket message. */
export function frameMessage(data: Uint8Array, binary: boolean): Buffer {
  const length = data.byteLength;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = binary ? 0x82 : 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.set(data, headerLength);
  return frame;
}

/** The message inside a frame built by frameMessage (a view into it). */
export function framePayload(frame: Uint8Array): Uint8Array {
  const marker = frame[1]! & 0x7f;
  return frame.subarray(marker < 126 ? 2 : marker === 126 ? 4 : 10);
}

/** Frames `[0, count)` back to back in one buffer (`bytes` long): still a valid run of whole frames. */
export function joinFrames(frames: readonly Prepared[], count: number, bytes: number): Buffer {
  const joined = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const frame = frames[i] as Uint8Array;
    joined.set(frame, at);
    at += frame.byteLength;
  }
  return joined;
}

/**
 * The ws transport's framer: a prepared message is its whole unmasked frame
 * (a Buffer), and frames join by concatenation. Free functions, so callers
 * may hold them apart from the object.
 */
export const wsFramer: Framer = {
  prepare: frameMessage,
  payload: (message) => framePayload(message as Uint8Array),
  join: joinFrames,
};

/** What the plain path hands each message to: ws's public `send`. */
export interface MessageSender {
  send(data: Uint8Array, options: { binary: boolean }): void;
}

/**
 * Inverse of frameMessage for the plain path: sends each message of `frames`,
 * which may hold several whole frames back to back (a joined batch), through
 * `ws.send`.
 */
export function sendUnframed(ws: MessageSender, frames: Uint8Array): void {
  let at = 0;
  while (at < frames.byteLength) {
    const marker = frames[at + 1]! & 0x7f;
    const headerLength = marker < 126 ? 2 : marker === 126 ? 4 : 10;
    const view = Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength);
    const length = marker < 126 ? marker : marker === 126 ? view.readUInt16BE(at + 2) : view.readUInt32BE(at + 2) * 2 ** 32 + view.readUInt32BE(at + 6);
    const start = at + headerLength;
    ws.send(frames.subarray(start, start + length), { binary: (frames[at]! & 0x0f) === 0x02 });
    at = start + length;
  }
}
