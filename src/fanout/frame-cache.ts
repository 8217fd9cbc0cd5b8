/**
 * Encode once, share the bytes: the encoded message for an item is built the
 * first time any subscriber with a given (filter, encoding) pair reaches it,
 * and every later subscriber with the same pair gets the same Uint8Array.
 *
 * Frames live on the item itself (`BufferItem.attachment`), so they die with
 * it and a lookup costs no hashing in the common case: a single-entry front
 * slot holds the last (filter, encoding) asked for, and a Map is made only
 * when one item is read through several (as centrifuge's hub does with its
 * prepared data).
 *
 * Each cache also holds the walker its cursors drain through (walk.ts): the
 * memory of the last walk over these frames belongs to this cache, so two
 * gateways in one process share none of it.
 */
import type { BufferItem } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';
import { Walker } from './walk.js';

/** Builds the bytes of one message for `events` (already filtered) at `index`. */
export type ItemEncoder<E> = (index: number, events: readonly E[]) => Uint8Array;

/** Wraps frames `[0, count)` (count >= 2) of one encoding into one message, ready to send. */
export type BatchEncoder = (frames: readonly Uint8Array[], count: number) => Uint8Array;

/** One encoded message and how many events it carries (for delivery counts). */
interface CachedFrame {
  frame: Uint8Array | null;
  events: number;
}

const NO_MATCH: CachedFrame = { frame: null, events: 0 };

class ItemFrames {
  slot: number;
  cached: CachedFrame;
  more: Map<number, CachedFrame> | null = null;

  constructor(slot: number, cached: CachedFrame) {
    this.slot = slot;
    this.cached = cached;
  }
}

/** The last joined batch of one (filter, encoding): items firstIndex..lastIndex of that filter's chain. */
interface JoinedBatch {
  firstIndex: number;
  lastIndex: number;
  count: number;
  bytes: Uint8Array;
}

export class FrameCache<E extends Routable> {
  /**
   * One joined batch per (filter, encoding) slot, by indexes (never items:
   * an item held here would keep every later one alive). A slot reads one
   * chain (the buffer, or its filter's view), so indexes name its items.
   */
  private readonly joins = new Map<number, JoinedBatch>();
  /** The same for batch messages. */
  private readonly batches = new Map<number, JoinedBatch>();
  /** Joined buffers and batch messages built, for tests: once per range, filter and encoding, not per subscriber. */
  joinsBuilt = 0;
  batchesBuilt = 0;
  private readonly encoders: readonly ItemEncoder<E>[];
  private readonly batchers: readonly BatchEncoder[];
  /** Encodes done, for tests and metrics: the proof that work is per item and filter, not per subscriber. */
  encodes = 0;
  /** Events in the frame the last `get` returned; a field, so callers count deliveries without a lookup. */
  lastEvents = 0;
  /** Walks (and replays) the drains of every cursor reading through this cache. */
  readonly walker: Walker<E> = new Walker<E>(this);

  /**
   * `encoders[i]` produces the bytes for encoding number `i` (e.g. 0 = msgpack,
   * 1 = json); `batchers[i]`, where given, wraps several of its frames into
   * one message (see `batched`).
   */
  constructor(encoders: readonly ItemEncoder<E>[], batchers: readonly BatchEncoder[] = []) {
    this.encoders = encoders;
    this.batchers = batchers;
  }

  /** The frame for `item` as seen through `filter` in `encoding`, or null when no event matches. */
  get(item: BufferItem<E>, filter: Filter, encoding: number): Uint8Array | null {
    const slot = filter.id * this.encoders.length + encoding;
    let frames = item.attachment as ItemFrames | undefined;
    let cached: CachedFrame | undefined;
    if (frames !== undefined) {
      cached = frames.slot === slot ? frames.cached : frames.more?.get(slot);
    }
    if (cached === undefined) {
      cached = this.build(item, filter, encoding);
      if (frames === undefined) {
        item.attachment = new ItemFrames(slot, cached);
      } else {
        (frames.more ??= new Map()).set(frames.slot, frames.cached);
        frames.slot = slot;
        frames.cached = cached;
      }
    }
    this.lastEvents = cached.events;
    return cached.frame;
  }

  /**
   * The `count` frames in `batch` (items firstIndex..lastIndex through
   * `filter` in `encoding`, `bytes` long in all) joined into one buffer,
   * shared with every caller asking for the same range. Transports whose
   * prepared frames are whole wire frames write it in one go.
   */
  joined(firstIndex: number, lastIndex: number, count: number, bytes: number, filter: Filter, encoding: number, batch: readonly Uint8Array[]): Uint8Array {
    const slot = filter.id * this.encoders.length + encoding;
    const hit = sameRange(this.joins.get(slot), firstIndex, lastIndex, count);
    if (hit !== null) return hit;
    const joined = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const frame = batch[i]!;
      joined.set(frame, at);
      at += frame.byteLength;
    }
    this.joinsBuilt++;
    remember(this.joins, slot, firstIndex, lastIndex, count, joined);
    return joined;
  }

  /**
   * The `count` frames in `batch` (as for `joined`) as one message, built by
   * the batch encoder of `encoding` and shared like a joined buffer. For
   * subscriptions that accept several items per message.
   */
  batched(firstIndex: number, lastIndex: number, count: number, filter: Filter, encoding: number, batch: readonly Uint8Array[]): Uint8Array {
    const slot = filter.id * this.encoders.length + encoding;
    const hit = sameRange(this.batches.get(slot), firstIndex, lastIndex, count);
    if (hit !== null) return hit;
    const batcher = this.batchers[encoding];
    if (batcher === undefined) throw new TypeError(`no batch encoder for encoding ${encoding}`);
    const message = batcher(batch, count);
    this.batchesBuilt++;
    remember(this.batches, slot, firstIndex, lastIndex, count, message);
    return message;
  }

  /** Whether `batched` works for `encoding`. */
  canBatch(encoding: number): boolean {
    return this.batchers[encoding] !== undefined;
  }

  /** Lets go of every joined buffer and batch (each slot keeps its last one, up to a batch's bytes, until this or the next). */
  releaseJoined(): void {
    this.joins.clear();
    this.batches.clear();
  }

  private build(item: BufferItem<E>, filter: Filter, encoding: number): CachedFrame {
    const events = item.events;
    if (events === null) return NO_MATCH;
    const selected = filter.select(events);
    if (selected === null) return NO_MATCH;
    this.encodes++;
    return { frame: this.encoders[encoding]!(item.index, selected), events: selected.length };
  }
}

function sameRange(entry: JoinedBatch | undefined, firstIndex: number, lastIndex: number, count: number): Uint8Array | null {
  return entry !== undefined && entry.firstIndex === firstIndex && entry.lastIndex === lastIndex && entry.count === count ? entry.bytes : null;
}

function remember(map: Map<number, JoinedBatch>, slot: number, firstIndex: number, lastIndex: number, count: number, bytes: Uint8Array): void {
  const entry = map.get(slot);
  if (entry === undefined) map.set(slot, { firstIndex, lastIndex, count, bytes });
  else {
    entry.firstIndex = firstIndex;
    entry.lastIndex = lastIndex;
    entry.count = count;
    entry.bytes = bytes;
  }
}
