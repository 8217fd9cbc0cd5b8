/**
 * fanout/: moves each subscriber along the buffer. Cursors, filters, the
 * per-item frame cache and its walker, and the laggard policies (skip,
 * conflate). Knows the buffer, not sockets or wire formats: a transport
 * plugs in as a `Sink` (sink.ts), the protocol as `ItemEncoder`s.
 */
export { Cursor } from './cursor.js';
export type { CursorEnd, CursorOptions, CursorOwner, DrainObserver, Framer, Prepared, Sink } from './sink.js';
export { Filter, FilterRegistry } from './filter.js';
export type { Routable, Selector } from './filter.js';
export { FrameCache } from './frame-cache.js';
export type { BatchEncoder, ItemEncoder, Joiner } from './frame-cache.js';
export { LagCounters } from './lag.js';
export type { GapReason, LagBuffer, LagFrames, LagOptions, LagOutcome, LagPolicy, SkipTo } from './lag.js';
export { conflateRange } from './conflate.js';
export { FilteredView, ViewRegistry } from './views.js';
export type { ConflatedRange } from './conflate.js';
export { LatestTable } from './latest-table.js';
export type { LatestEntry, LatestTableOptions } from './latest-table.js';
export { Snapshots } from './snapshot.js';
export type { SnapshotEncoder } from './snapshot.js';
