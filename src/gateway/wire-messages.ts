/**
 * Every message the gateway sends subscribers, built in one place: each
 * item's events message (per filter and format, cached by the frame cache),
 * batches of them (batch=1), hello, heartbeat, and the lag policies' gap and
 * conflated messages. Each is encoded, then prepared by the transport
 * (`prepare`) so that one set of bytes is shared by every connection it goes
 * to; a batch wraps its items' own encoded messages, which `unprepare` gives
 * back without a copy. Replies to producers are not here: they go to one
 * producer each and are not prepared (producer.ts).
 *
 * Gap and conflated messages are per subscriber (a conflated message depends
 * on where that subscriber was), so they are encoded when written, never
 * cached on items.
 */
import { FrameCache, type LagFrames } from '../fanout/index.js';
import { batchMessage, encode, encodeJson, encodeMsgpack, isBinaryFormat, type Event, type Format } from '../protocol/index.js';
import type { Transport } from '../transport/index.js';

/** A format's encoder number in the frame cache: the order of the encoders `frameCache` builds. */
export const ENCODING: Record<Format, number> = { msgpack: 0, json: 1 };

export class WireMessages {
  private readonly prepare: Transport['prepare'];
  private readonly unprepare: Transport['unprepare'];
  /** A heartbeat never changes: prepared once per format. */
  private readonly heartbeats: Record<Format, Uint8Array>;
  private readonly lagFrames = new Map<Format, LagFrames<Event>>();

  constructor(transport: Pick<Transport, 'prepare' | 'unprepare'>) {
    this.prepare = transport.prepare;
    this.unprepare = transport.unprepare;
    this.heartbeats = {
      msgpack: this.prepare(encodeMsgpack({ type: 'heartbeat' }), true),
      json: this.prepare(encodeJson({ type: 'heartbeat' }), false),
    };
  }

  /**
   * The cache of events messages: each item's message is prepared once per
   * filter and format for this transport, and a batch once per range.
   */
  frameCache(): FrameCache<Event> {
    const { prepare, unprepare } = this;
    return new FrameCache<Event>(
      [
        (index, events) => prepare(encodeMsgpack({ type: 'events', index, events }), true),
        (index, events) => prepare(encodeJson({ type: 'events', index, events }), false),
      ],
      [
        (frames, count) => prepare(batchMessage(frames, count, true, unprepare), true),
        (frames, count) => prepare(batchMessage(frames, count, false, unprepare), false),
      ],
    );
  }

  /** The first message of a subscription: the epoch, the first index it can deliver, whether items were missed. */
  hello(format: Format, epoch: string, index: number, gap: boolean, heartbeatMs: number): Uint8Array {
    return this.prepare(encode({ type: 'hello', epoch, index, gap, heartbeat: heartbeatMs / 1000 }, format), isBinaryFormat(format));
  }

  heartbeat(format: Format): Uint8Array {
    return this.heartbeats[format];
  }

  /** The gap and conflated messages of lag=skip and lag=conflate cursors in `format`; one shared set per format. */
  lag(format: Format): LagFrames<Event> {
    let frames = this.lagFrames.get(format);
    if (frames === undefined) {
      const binary = isBinaryFormat(format);
      const prepare = this.prepare;
      frames = {
        gap: (from, to, reason) => prepare(encode({ type: 'gap', from, to, reason }, format), binary),
        conflated: (index, events) => prepare(encode({ type: 'events', index, events, conflated: true }, format), binary),
      };
      this.lagFrames.set(format, frames);
    }
    return frames;
  }
}
