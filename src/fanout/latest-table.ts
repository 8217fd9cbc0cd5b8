/**
 * The latest table: for every (topic, key) published, the newest event and
 * the index of the item it came in. Kept apart from the buffer: an evicted
 * item's events stay here until a newer event for the same (topic, key)
 * replaces them. It is what a `snapshot=1` subscriber is sent first
 * (snapshot.ts); events without a key share their topic's key "".
 *
 * Bounded by `maxKeys`: past it, the key updated longest ago is forgotten
 * first (entries are also a list in update order, oldest first: an update
 * moves its entry to the end). With `ttlMs`, a key not updated for that
 * long is forgotten too. Fed once per appended item, on the publish path:
 * an update of a known key is two Map lookups and relinking its entry, with
 * no allocation (no composed key string, no new entry). Read once per
 * (filter, snapshot point), never per subscriber.
 */
import type { BufferItem } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';

export interface LatestEntry<E> {
  readonly event: E;
  /** Index of the item the event came in. */
  readonly index: number;
  /** About how many bytes the event took in its producer frame: what a snapshot message will hold. */
  readonly bytes: number;
  /** When it was recorded (the buffer's clock), for `ttlMs`. */
  readonly at: number;
}

export interface LatestTableOptions {
  /** Keys kept at most; the key updated longest ago is forgotten first. */
  maxKeys: number;
  /** Forget a key not updated for this long; 0: never. */
  ttlMs?: number;
  /** Told how many keys were forgotten and why (for a metric). */
  onForget?: (cause: 'keys' | 'ttl', count: number) => void;
}

/** An entry, updated in place, and its links in update order. */
class Entry<E> implements LatestEntry<E> {
  event: E;
  index: number;
  bytes: number;
  at: number;
  older: Entry<E> | null = null;
  newer: Entry<E> | null = null;

  constructor(event: E, index: number, bytes: number, at: number) {
    this.event = event;
    this.index = index;
    this.bytes = bytes;
    this.at = at;
  }
}

export class LatestTable<E extends Routable> {
  /** topic -> key -> entry: two lookups of strings the decoder made, no composed key. */
  private readonly topics = new Map<string, Map<string, Entry<E>>>();
  /** Update order: `oldest` is the next to forget. */
  private oldest: Entry<E> | null = null;
  private newest: Entry<E> | null = null;
  private count = 0;
  private readonly maxKeys: number;
  private readonly ttlMs: number;
  private readonly onForget: ((cause: 'keys' | 'ttl', count: number) => void) | undefined;

  constructor(options: LatestTableOptions) {
    if (!(options.maxKeys >= 1)) throw new RangeError(`maxKeys must be at least 1, got ${options.maxKeys}`);
    this.maxKeys = options.maxKeys;
    this.ttlMs = options.ttlMs ?? 0;
    this.onForget = options.onForget;
  }

  /** Keys held now. */
  get size(): number {
    return this.count;
  }

  /** Takes the events of an appended item (an error or position-only item has none). */
  record(item: BufferItem<E>): void {
    const events = item.events;
    if (events === null || events.length === 0) return;
    this.recordEvents(item.index, events, item.bytes, item.createdAt);
  }

  /**
   * Takes the events of item `index` (`bytes` long in all, recorded at
   * `at`) that never reach the buffer: cluster mode's backfill of stream
   * messages older than the buffer's window.
   */
  recordEvents(index: number, events: readonly E[], totalBytes: number, at: number): void {
    if (events.length === 0) return;
    const bytes = Math.ceil(totalBytes / events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      let keys = this.topics.get(event.topic);
      if (keys === undefined) {
        keys = new Map();
        this.topics.set(event.topic, keys);
      }
      let entry = keys.get(event.key);
      if (entry === undefined) {
        entry = new Entry(event, index, bytes, at);
        keys.set(event.key, entry);
        this.count++;
      } else {
        entry.event = event;
        entry.index = index;
        entry.bytes = bytes;
        entry.at = at;
        if (entry === this.newest) continue;
        this.unlink(entry);
      }
      this.append(entry);
    }
    const over = this.count - this.maxKeys;
    if (over > 0) {
      for (let i = 0; i < over; i++) this.forget(this.oldest!);
      this.onForget?.('keys', over);
    }
  }

  /** Forgets every key not updated since `now - ttlMs` (no-op without a TTL). */
  expire(now: number): void {
    if (this.ttlMs <= 0) return;
    const before = now - this.ttlMs;
    let count = 0;
    while (this.oldest !== null && this.oldest.at < before) {
      this.forget(this.oldest);
      count++;
    }
    if (count > 0) this.onForget?.('ttl', count);
  }

  /**
   * The newest entry of every key `filter` passes whose item is below
   * `below` (a snapshot point: what a stream starting there will not send
   * again), oldest update first. A copy of each: the table's own entries
   * change with the next append.
   */
  select(filter: Filter, below: number): LatestEntry<E>[] {
    const out: LatestEntry<E>[] = [];
    for (let e = this.oldest; e !== null; e = e.newer) {
      if (e.index < below && filter.match(e.event)) out.push({ event: e.event, index: e.index, bytes: e.bytes, at: e.at });
    }
    return out;
  }

  /**
   * The entries whose newest event came in an item with `after < index <=
   * upTo`: the keys not updated since `upTo`. Walks from the entry updated
   * longest ago and stops at the first one past `upTo`, which is exact when
   * items are recorded in index order, as the buffer and cluster mode do.
   */
  quietBetween(after: number, upTo: number): LatestEntry<E>[] {
    const out: LatestEntry<E>[] = [];
    for (let e = this.oldest; e !== null && e.index <= upTo; e = e.newer) {
      if (e.index > after) out.push({ event: e.event, index: e.index, bytes: e.bytes, at: e.at });
    }
    return out;
  }

  private append(entry: Entry<E>): void {
    entry.older = this.newest;
    entry.newer = null;
    if (this.newest !== null) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private unlink(entry: Entry<E>): void {
    if (entry.older !== null) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer !== null) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = null;
  }

  private forget(entry: Entry<E>): void {
    this.unlink(entry);
    const topic = entry.event.topic;
    const keys = this.topics.get(topic)!;
    keys.delete(entry.event.key);
    if (keys.size === 0) this.topics.delete(topic);
    this.count--;
  }
}
