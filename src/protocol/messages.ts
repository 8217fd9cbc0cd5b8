/**
 * The messages of docs/protocol.md as TypeScript types. Field names are the
 * wire names; the client SDK will export these types.
 */
import type { ErrorCode } from '../errors.js';

export type Format = 'msgpack' | 'json';

/**
 * `lag` and `skip_to` of `GET /v1/subscribe` (docs/protocol.md, Slow
 * subscribers). They live here, not beside the query parser, so that the
 * client SDK names them without importing the parser (node-only: Buffer).
 */
export type LagPolicy = 'drop' | 'skip' | 'conflate';
export type SkipTo = 'oldest' | 'tail';

/** An event as stored and delivered: `type` and `key` are always present. */
export interface Event {
  topic: string;
  type: string;
  key: string;
  filterKeys?: readonly string[];
  payload: unknown;
}

/** An event as a producer may send it. */
export interface PublishEvent {
  topic: string;
  type?: string;
  key?: string;
  filterKeys?: readonly string[];
  payload: unknown;
}

export type FrameId = string | number;

/** A producer frame after validation: one append. */
export interface PublishFrame {
  id: FrameId | undefined;
  events: Event[];
  /** Names the frame for deduplication: a frame whose key was already appended (within the window) is not appended again. */
  idempotencyKey?: string;
}

export interface AckMessage {
  type: 'ack';
  index: number;
  id?: FrameId;
  /** The frame's idempotencyKey was already appended: nothing was appended now, `index` is the original one. */
  duplicate?: true;
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  id?: FrameId;
}

export interface HelloMessage {
  type: 'hello';
  epoch: string;
  index: number;
  gap: boolean;
  /** Seconds between heartbeats. */
  heartbeat: number;
}

export interface EventsMessage {
  type: 'events';
  index: number;
  events: Event[];
  /**
   * Present (true) only on a message of a `lag=conflate` subscription that
   * stands for a whole range of items: `events` holds the newest matching
   * event of each (topic, key) among the items after the previous message up
   * to `index`, in the order they were published.
   */
  conflated?: true;
}

/** Why a `lag=skip` (or conflate's fallback) subscription skipped items. */
export type GapReason = 'evicted' | 'slow';

/**
 * In-band: items `from` to `to` (inclusive) were not delivered and never
 * will be on this connection; the stream continues after `to`.
 */
export interface GapMessage {
  type: 'gap';
  from: number;
  to: number;
  reason: GapReason;
}

export interface HeartbeatMessage {
  type: 'heartbeat';
}

/**
 * Several events messages in one WebSocket message, for a subscription that
 * asked for them with `batch=1`: `messages` holds at least two, in index
 * order, each exactly as it would have been sent on its own.
 */
export interface BatchMessage {
  type: 'batch';
  messages: EventsMessage[];
}

/** An event in a snapshot, with the index of the item it came in. */
export interface SnapshotEvent extends Event {
  index: number;
}

/**
 * `snapshot=1`: after hello and before any events message, the newest event
 * of every (topic, key) the subscription selects with an index below
 * hello's, in one or more messages; the last has `complete: true`.
 */
export interface SnapshotMessage {
  type: 'snapshot';
  events: SnapshotEvent[];
  complete?: true;
}

export type ServerMessage = HelloMessage | SnapshotMessage | EventsMessage | BatchMessage | GapMessage | HeartbeatMessage;
export type PublisherReply = AckMessage | ErrorMessage;
