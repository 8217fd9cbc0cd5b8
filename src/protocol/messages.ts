/**
 * The messages of docs/protocol.md as TypeScript types. Field names are the
 * wire names; the client SDK will export these types.
 */
import type { ErrorCode } from '../errors.js';

export type Format = 'msgpack' | 'json';

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
}

export interface AckMessage {
  type: 'ack';
  index: number;
  id?: FrameId;
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
}

export interface HeartbeatMessage {
  type: 'heartbeat';
}

export type ServerMessage = HelloMessage | EventsMessage | HeartbeatMessage;
export type PublisherReply = AckMessage | ErrorMessage;
