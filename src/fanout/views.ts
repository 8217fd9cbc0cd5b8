/**
 * Filtered views: one chain per filter, so a filtered subscriber walks and
 * wakes only for the items it receives.
 *
 *   buffer   [1 a] [2 b] [3 a] [4 c] [5 a] ...      every item, every reader of "*"
 *   view a   [1 a]       [3 a]       [5 a] ...      readers of topic a
 *   view c                     [4 c]       ...      readers of topic c
 *
 * Without views every cursor walks every item and is woken by every append:
 * 10k subscribers over 100 topics did 100 item visits per delivery, and
 * filtered fan-out ran at a fifteenth of unfiltered. With them the cost of an
 * item is one routing step per matching filter (looked up by topic and key,
 * never a scan of subscribers), and a subscriber's cost is per item it gets.
 *
 * A view is an EventBuffer of its own (same item, link and wake-up machinery,
 * so a cursor reads it exactly like the main buffer) holding, under the main
 * buffer's index, the events of each item its filter selects. It is kept in
 * step synchronously, from the main buffer's `onAppend`:
 * - created with the first subscriber of its filter, filled from what the
 *   main buffer holds, so a resume by index finds its items;
 * - every item routed to it the moment it is appended (same index, same
 *   clock stamp); the error item that closes the main buffer too;
 * - never holding what the main buffer has evicted for longer than until its
 *   next append or the next sweep (every `maxSize / 4` appends): memory stays
 *   bounded by the main buffer's, and a reader behind an evicted item is
 *   dropped (or skips) as on the main buffer;
 * - dropped from routing when its last subscriber leaves.
 *
 * Positions in a view are indexes of the main buffer, which may skip: a
 * reader parked at a view's tail has passed every item up to the main
 * buffer's newest (`newestIndex` of a view is the main buffer's), which is
 * what lag and resume positions are computed from.
 */
import { BufferItem, EventBuffer } from '../buffer/index.js';
import type { Filter, Routable } from './filter.js';
import type { LagBuffer } from './lag.js';

/** One filter's chain. Reads like the main buffer (see LagBuffer); only the registry writes it. */
export class FilteredView<E extends Routable> implements LagBuffer<E> {
  readonly filter: Filter;
  /** Subscribers reading it; routing stops when it drops to 0. */
  refs = 0;
  /** Index of the last item routed here, so an item of several events is appended once. */
  routedIndex = -1;
  /** While a multi-event item is routed: the events of it this view selects, in item order. */
  selected: E[] | null = null;
  /** The last event put in `selected` (an event reaching a view by its key and a filter key counts once). */
  lastEvent: E | null = null;
  readonly items: EventBuffer<E>;
  private readonly main: EventBuffer<E>;

  constructor(filter: Filter, main: EventBuffer<E>, clock: () => number) {
    this.filter = filter;
    this.main = main;
    this.items = new EventBuffer<E>({ maxSize: main.maxSize, now: clock, settleTurns: main.settleTurns, wakeChunk: main.wakeChunk, sweepBudget: main.sweepBudget });
  }

  headItem(): BufferItem<E> {
    return this.items.headItem();
  }

  tailItem(): BufferItem<E> {
    return this.items.tailItem();
  }

  get length(): number {
    return this.items.length;
  }

  /** The main buffer's newest index: every item up to it has been routed. */
  get newestIndex(): number {
    return this.main.newestIndex;
  }

  /**
   * The position in this view equivalent to `start` in the main buffer (a
   * cursor reading after it gets what a cursor reading after `start` in the
   * main buffer would get, filtered).
   */
  positionOf(start: BufferItem<E>): BufferItem<E> {
    const first = start.link.next;
    if (first === null) return this.items.tailItem();
    const { item } = this.items.startAtClosest(first.index);
    if (this.items.length === 0 || item.index < first.index) return this.items.tailItem();
    return BufferItem.before(item);
  }

  /** Appends the events of `item` this view's filter selects, if any. */
  route(item: BufferItem<E>): void {
    this.routedIndex = item.index;
    const selected = this.filter.select(item.events!);
    if (selected !== null) this.append(item, selected);
  }

  /** Appends `events` (what this view selects of `item`) under the item's index. */
  append(item: BufferItem<E>, events: readonly E[]): void {
    this.items.evictBefore(this.main.oldestIndex);
    this.items.append(events, item.bytes, item.index);
  }
}

/** The views of a buffer, by filter; plugs into the buffer as its `onAppend`. */
export class ViewRegistry<E extends Routable> {
  private readonly byFilter = new Map<number, FilteredView<E>>();
  /** Views of filters that take a whole topic, by topic. */
  private readonly byTopic = new Map<string, FilteredView<E>[]>();
  /** Views of filters that take single keys, by topic then key. */
  private readonly byKey = new Map<string, Map<string, FilteredView<E>[]>>();
  /** The stamp of the item being routed: view items carry the main item's `createdAt`. */
  private stamp = 0;
  private readonly clock = (): number => this.stamp;
  private main: EventBuffer<E> | null = null;
  private sinceSweep = 0;
  private sweepEvery = 1;
  /** Scratch list of the views one multi-event item touches. */
  private readonly touched: FilteredView<E>[] = [];

  /** The buffer whose items are routed (set once, before the first append: pass `onAppend` to its options). */
  attach(main: EventBuffer<E>): void {
    this.main = main;
    this.sweepEvery = Math.max(1, Math.floor(main.maxSize / 4));
  }

  /** For EventBufferOptions.onAppend. */
  readonly onAppend = (item: BufferItem<E>): void => {
    if (this.byFilter.size === 0) return;
    if (item.error !== null) {
      for (const view of this.byFilter.values()) view.items.appendError(item.error);
      return;
    }
    const events = item.events;
    if (events === null) return;
    this.stamp = item.createdAt;
    if (events.length === 1) {
      this.routeEvent(events[0]!, item, null);
    } else {
      // Each view collects the events that reach it as they are routed, in
      // item order: no second pass of every filter over every event.
      const touched = this.touched;
      for (let i = 0; i < events.length; i++) this.routeEvent(events[i]!, item, touched);
      for (let i = 0; i < touched.length; i++) {
        const view = touched[i]!;
        const selected = view.selected!;
        view.selected = null;
        view.lastEvent = null;
        // The whole item when every event reached it (shared, as Filter.select does).
        view.append(item, selected.length === events.length ? events : selected);
      }
      touched.length = 0;
    }
    if (++this.sinceSweep >= this.sweepEvery) this.sweep();
  };

  /** The view for `filter` (which must not match everything), with a reference taken. */
  acquire(filter: Filter): FilteredView<E> {
    let view = this.byFilter.get(filter.id);
    if (view === undefined) {
      const main = this.main;
      if (main === null) throw new Error('ViewRegistry: attach a buffer first');
      view = new FilteredView<E>(filter, main, this.clock);
      this.fill(view, main);
      this.byFilter.set(filter.id, view);
      for (const [topic, keys] of filter.topics) {
        if (keys === null) push(this.byTopic, topic, view);
        else {
          let inner = this.byKey.get(topic);
          if (inner === undefined) this.byKey.set(topic, (inner = new Map()));
          for (const key of keys) push(inner, key, view);
        }
      }
    }
    view.refs++;
    return view;
  }

  release(view: FilteredView<E>): void {
    if (--view.refs > 0 || this.byFilter.get(view.filter.id) !== view) return;
    this.byFilter.delete(view.filter.id);
    for (const [topic, keys] of view.filter.topics) {
      if (keys === null) pull(this.byTopic, topic, view);
      else {
        const inner = this.byKey.get(topic);
        if (inner === undefined) continue;
        for (const key of keys) pull(inner, key, view);
        if (inner.size === 0) this.byKey.delete(topic);
      }
    }
  }

  /** Wakes every reader parked on a view (see EventBuffer.wakeReaders). */
  wakeReaders(): void {
    for (const view of this.byFilter.values()) view.items.wakeReaders();
  }

  /** Number of views (distinct filters other than "everything" in use). */
  get size(): number {
    return this.byFilter.size;
  }

  /** Routes `item` to the views `event` selects; directly, or into `touched` (deduplicated) for a multi-event item. */
  private routeEvent(event: E, item: BufferItem<E>, touched: FilteredView<E>[] | null): void {
    const whole = this.byTopic.get(event.topic);
    if (whole !== undefined) for (let i = 0; i < whole.length; i++) this.visit(whole[i]!, event, item, touched);
    const keyed = this.byKey.get(event.topic);
    if (keyed === undefined) return;
    const views = keyed.get(event.key);
    if (views !== undefined) for (let i = 0; i < views.length; i++) this.visit(views[i]!, event, item, touched);
    const extra = event.filterKeys;
    if (extra === undefined) return;
    for (let k = 0; k < extra.length; k++) {
      const more = keyed.get(extra[k]!);
      if (more !== undefined) for (let i = 0; i < more.length; i++) this.visit(more[i]!, event, item, touched);
    }
  }

  private visit(view: FilteredView<E>, event: E, item: BufferItem<E>, touched: FilteredView<E>[] | null): void {
    if (touched === null) {
      if (view.routedIndex !== item.index) view.route(item);
      return;
    }
    if (view.routedIndex !== item.index) {
      view.routedIndex = item.index;
      view.selected = [event];
      view.lastEvent = event;
      touched.push(view);
    } else if (view.lastEvent !== event) {
      view.selected!.push(event);
      view.lastEvent = event;
    }
  }

  /** Fills a new view from the main buffer's retained items. */
  private fill(view: FilteredView<E>, main: EventBuffer<E>): void {
    if (main.length === 0) return;
    let item: BufferItem<E> | null = main.headItem();
    while (item !== null && item.events !== null) {
      this.stamp = item.createdAt;
      view.route(item);
      item = item.link.next;
    }
    if (item !== null && item.error !== null) view.items.appendError(item.error);
  }

  /** Lets every view go of what the main buffer no longer holds (views that saw no append lately included). */
  private sweep(): void {
    this.sinceSweep = 0;
    const oldest = this.main!.oldestIndex;
    for (const view of this.byFilter.values()) view.items.evictBefore(oldest);
  }
}

function push<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function pull<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list === undefined) return;
  const at = list.indexOf(value);
  if (at >= 0) list.splice(at, 1);
  if (list.length === 0) map.delete(key);
}
