/**
 * Snapshots: what a `snapshot=1` subscriber is sent before its stream, the
 * newest event of every (topic, key) its filter passes with an index below
 * the point its stream starts from (latest-table.ts), cut into messages of
 * about `chunkBytes`, the last one marked complete.
 *
 * Built once per (filter, encoding, snapshot point) and shared: the
 * subscribers of a join storm at one point get the same prepared messages.
 * The last build of each (filter, encoding) is kept until a later point is
 * asked for; at most MAX_SLOTS of them, the oldest dropped first, so
 * filters that come and go do not pile up snapshots.
 */
import type { Filter, Routable } from './filter.js';
import type { LatestEntry, LatestTable } from './latest-table.js';
import type { Prepared } from './sink.js';

/** Builds one snapshot message of `entries[from, to)`; `complete` on the last one. */
export type SnapshotEncoder<E> = (entries: readonly LatestEntry<E>[], from: number, to: number, complete: boolean) => Prepared;

const MAX_SLOTS = 64;

interface Built {
  point: number;
  messages: readonly Prepared[];
}

export class Snapshots<E extends Routable> {
  private readonly table: LatestTable<E>;
  private readonly encoders: readonly SnapshotEncoder<E>[];
  private readonly chunkBytes: number;
  private readonly built = new Map<number, Built>();
  /** Snapshots built, for tests and the join-storm benchmark: once per (filter, encoding, point), not per subscriber. */
  builds = 0;

  /** `encoders[i]` builds messages in encoding `i` (the frame cache's numbering). */
  constructor(table: LatestTable<E>, encoders: readonly SnapshotEncoder<E>[], chunkBytes: number) {
    this.table = table;
    this.encoders = encoders;
    this.chunkBytes = chunkBytes;
  }

  /** The snapshot messages for a stream through `filter` in `encoding` starting at index `point`. Never empty. */
  messages(filter: Filter, encoding: number, point: number): readonly Prepared[] {
    const slot = filter.id * this.encoders.length + encoding;
    const hit = this.built.get(slot);
    if (hit !== undefined && hit.point === point) return hit.messages;
    const messages = this.build(filter, encoding, point);
    this.builds++;
    this.built.delete(slot);
    this.built.set(slot, { point, messages });
    if (this.built.size > MAX_SLOTS) this.built.delete(this.built.keys().next().value!);
    return messages;
  }

  private build(filter: Filter, encoding: number, point: number): Prepared[] {
    const encode = this.encoders[encoding]!;
    const entries = this.table.select(filter, point);
    const messages: Prepared[] = [];
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      bytes += entries[i]!.bytes;
      if (bytes >= this.chunkBytes && i + 1 < entries.length) {
        messages.push(encode(entries, from, i + 1, false));
        from = i + 1;
        bytes = 0;
      }
    }
    messages.push(encode(entries, from, entries.length, true));
    return messages;
  }
}
