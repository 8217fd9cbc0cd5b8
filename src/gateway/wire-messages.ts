/**
 * Every message the gateway sends subscribers, built in one place: each
 * item's events message (per filter and format, cached by the frame cache),
 * batches of them (batch=1), hello, heartbeat, and the lag policies' gap and
 * conflated messages. Each is encoded, then prepared by the transport's
 * framer (`prepare`) so that one message is shared by every connection it
 * goes to; a batch wraps its items' own encoded messages, which `payload`
 * gives back without a copy, and a run of several is joined by the framer
 * where it can (`join`). Replies to producers are not here: they go to one
 * producer each and are not prepared (producer.ts).
 *
 * Gap and conflated messages are per subscriber (a conflated message depends
 * on where that subscriber was), so they are encoded when written, never
 * cached on items.
 */
import { FrameCache, Snapshots, type Framer, type LagFrames, type LatestEntry, type LatestTable, type Prepared } from '../fanout/index.js';
import { batchMessage, encode, encodeJson, encodeMsgpack, isBinaryFormat, type Event, type Format } from '../protocol/index.js';

/** A format's encoder number in the frame cache: the order of the encoders `frameCache` builds. */
export const ENCODING: Record<Format, number> = { msgpack: 0, json: 1 };

export class WireMessages {
  private readonly framer: Framer;
  private readonly prepare: Framer['prepare'];
  /** A heartbeat never changes: prepared once per format. */
  private readonly heartbeats: Record<Format, Prepared>;
  private readonly lagFrames = new Map<Format, LagFrames<Event>>();

  constructor(framer: Framer) {
    this.framer = framer;
    this.prepare = framer.prepare;
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
    const { prepare, payload, join } = this.framer;
    return new FrameCache<Event>(
      [
        (index, events) => prepare(encodeMsgpack({ type: 'events', index, events }), true),
        (index, events) => prepare(encodeJson({ type: 'events', index, events }), false),
      ],
      [
        (frames, count) => prepare(batchMessage(frames, count, true, payload), true),
        (frames, count) => prepare(batchMessage(frames, count, false, payload), false),
      ],
      join,
    );
  }

  /**
   * The snapshots of `table` (snapshot=1), in messages of about `chunkBytes`,
   * each built once per filter, format and snapshot point.
   */
  snapshots(table: LatestTable<Event>, chunkBytes: number): Snapshots<Event> {
    const { prepare } = this.framer;
    const message = (entries: readonly LatestEntry<Event>[], from: number, to: number, complete: boolean, format: Format) => {
      const events = [];
      for (let i = from; i < to; i++) events.push({ ...entries[i]!.event, index: entries[i]!.index });
      return prepare(encode(complete ? { type: 'snapshot', events, complete: true } : { type: 'snapshot', events }, format), isBinaryFormat(format));
    };
    return new Snapshots<Event>(
      table,
      [(entries, from, to, complete) => message(entries, from, to, complete, 'msgpack'), (entries, from, to, complete) => message(entries, from, to, complete, 'json')],
      chunkBytes,
    );
  }

  /** The first message of a subscription: the epoch, the first index it can deliver, whether items were missed. */
  hello(format: Format, epoch: string, index: number, gap: boolean, heartbeatMs: number): Prepared {
    return this.prepare(encode({ type: 'hello', epoch, index, gap, heartbeat: heartbeatMs / 1000 }, format), isBinaryFormat(format));
  }

  heartbeat(format: Format): Prepared {
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
