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
 */
import type { BufferItem } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';

/** Builds the bytes of one message for `events` (already filtered) at `index`. */
export type ItemEncoder<E> = (index: number, events: readonly E[]) => Uint8Array;

class ItemFrames {
  slot: number;
  frame: Uint8Array | null;
  more: Map<number, Uint8Array | null> | null = null;

  constructor(slot: number, frame: Uint8Array | null) {
    this.slot = slot;
    this.frame = frame;
  }
}

export class FrameCache<E extends Routable> {
  private readonly encoders: readonly ItemEncoder<E>[];
  /** Encodes done, for tests and metrics: the proof that work is per item and filter, not per subscriber. */
  encodes = 0;

  /** `encoders[i]` produces the bytes for encoding number `i` (e.g. 0 = msgpack, 1 = json). */
  constructor(encoders: readonly ItemEncoder<E>[]) {
    this.encoders = encoders;
  }

  /** The frame for `item` as seen through `filter` in `encoding`, or null when no event matches. */
  get(item: BufferItem<E>, filter: Filter, encoding: number): Uint8Array | null {
    const slot = filter.id * this.encoders.length + encoding;
    let frames = item.attachment as ItemFrames | undefined;
    if (frames !== undefined) {
      if (frames.slot === slot) return frames.frame;
      const cached = frames.more?.get(slot);
      if (cached !== undefined) return cached;
    }
    const frame = this.build(item, filter, encoding);
    if (frames === undefined) {
      item.attachment = new ItemFrames(slot, frame);
    } else {
      (frames.more ??= new Map()).set(frames.slot, frames.frame);
      frames.slot = slot;
      frames.frame = frame;
    }
    return frame;
  }

  private build(item: BufferItem<E>, filter: Filter, encoding: number): Uint8Array | null {
    const events = item.events;
    if (events === null) return null;
    const selected = filter.select(events);
    if (selected === null) return null;
    this.encodes++;
    return this.encoders[encoding]!(item.index, selected);
  }
}
