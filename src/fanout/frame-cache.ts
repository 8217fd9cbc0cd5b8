/**
 * Encode once, share the bytes: the encoded message for an item is built the
 * first time any subscriber with a given (filter, encoding) pair reaches it,
 * and every later subscriber with the same pair gets the same prepared message.
 *
 * Frames live on the item itself (`BufferItem.attachment`), so they die with
 * it and a lookup costs no hashing in the common case: a single-entry front
 * slot holds the last (filter, encoding) asked for, and a Map is made only
 * when one item is read through several (as centrifuge's hub does with its
 * prepared data).
 *
 * Several frames that one cursor writes at once are joined into one message
 * by the transport's `join` (a capability: absent, frames go one by one),
 * shared by every cursor writing the same range.
 *
 * Each cache also holds the walker its cursors drain through (walk.ts): the
 * memory of the last walk over these frames belongs to this cache, so two
 * gateways in one process share none of it.
 */
import type { BufferItem } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';
import type { Framer, Prepared } from './sink.js';
import { Walker } from './walk.js';

/** Builds the message, prepared for the transport, for `events` (already filtered) at `index`. */
export type ItemEncoder<E> = (index: number, events: readonly E[]) => Prepared;

/** Wraps frames `[0, count)` (count >= 2) of one encoding into one message, ready to send. */
export type BatchEncoder = (frames: readonly Prepared[], count: number) => Prepared;

/** Joins prepared messages into one (`Framer.join`). */
export type Joiner = NonNullable<Framer['join']>;

/** One encoded message and how many events it carries (for delivery counts). */
interface CachedFrame {
  frame: Prepared | null;
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
  message: Prepared;
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
  private readonly join: Joiner | null;
  /** Encodes done, for tests and metrics: the proof that work is per item and filter, not per subscriber. */
  encodes = 0;
  /** Events in the frame the last `get` returned; a field, so callers count deliveries without a lookup. */
  lastEvents = 0;
  /** Walks (and replays) the drains of every cursor reading through this cache. */
  readonly walker: Walker<E> = new Walker<E>(this);

  /**
   * `encoders[i]` produces the bytes for encoding number `i` (e.g. 0 = msgpack,
   * 1 = json); `batchers[i]`, where given, wraps several of its frames into
   * one message (see `batched`); `join` is the transport's (`Framer.join`),
   * null where it cannot join messages.
   */
  constructor(encoders: readonly ItemEncoder<E>[], batchers: readonly BatchEncoder[] = [], join: Joiner | null = null) {
    this.encoders = encoders;
    this.batchers = batchers;
    this.join = join;
  }

  /** Whether `joined` works: the transport can write several messages as one. */
  get canJoin(): boolean {
    return this.join !== null;
  }

  /** The frame for `item` as seen through `filter` in `encoding`, or null when no event matches. */
  get(item: BufferItem<E>, filter: Filter, encoding: number): Prepared | null {
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
   * `filter` in `encoding`, `bytes` long in all) joined into one message by
   * the transport, shared with every caller asking for the same range. Only
   * where `canJoin`.
   */
  joined(firstIndex: number, lastIndex: number, count: number, bytes: number, filter: Filter, encoding: number, batch: readonly Prepared[]): Prepared {
    const slot = filter.id * this.encoders.length + encoding;
    const hit = sameRange(this.joins.get(slot), firstIndex, lastIndex, count);
    if (hit !== null) return hit;
    if (this.join === null) throw new TypeError('this transport cannot join messages');
    const joined = this.join(batch, count, bytes);
    this.joinsBuilt++;
    remember(this.joins, slot, firstIndex, lastIndex, count, joined);
    return joined;
  }

  /**
   * The `count` frames in `batch` (as for `joined`) as one message, built by
   * the batch encoder of `encoding` and shared like a joined buffer. For
   * subscriptions that accept several items per message.
   */
  batched(firstIndex: number, lastIndex: number, count: number, filter: Filter, encoding: number, batch: readonly Prepared[]): Prepared {
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

function sameRange(entry: JoinedBatch | undefined, firstIndex: number, lastIndex: number, count: number): Prepared | null {
  return entry !== undefined && entry.firstIndex === firstIndex && entry.lastIndex === lastIndex && entry.count === count ? entry.message : null;
}

function remember(map: Map<number, JoinedBatch>, slot: number, firstIndex: number, lastIndex: number, count: number, message: Prepared): void {
  const entry = map.get(slot);
  if (entry === undefined) map.set(slot, { firstIndex, lastIndex, count, message });
  else {
    entry.firstIndex = firstIndex;
    entry.lastIndex = lastIndex;
    entry.count = count;
    entry.message = message;
  }
}
