/**
 * buffer/: the bounded event log every subscriber reads from. No I/O, no
 * sockets, no encoding: a port of Nomad's event buffer semantics.
 */
export { EventBuffer } from './event-buffer.js';
export type { EventBufferOptions, EvictionCause, ClosestItem } from './event-buffer.js';
export { BufferItem, BufferLink } from './buffer-item.js';
export type { Wakeable, SweepBudget } from './waker.js';
export { DroppedError } from '../errors.js';
