/**
 * The producer side: one frame in, one append, one reply out. Shared by the
 * WebSocket publisher and `POST /v1/publish`, so both answer identically.
 *
 * Validation (`validateFrame`: decode, parse, permissions, limits) is
 * complete before anything is appended: one event the token may not publish
 * (its key or any of its filterKeys outside the `publish` claims, see
 * auth/permissions.ts) refuses the whole frame with `forbidden`. It is
 * separate from appending, because in cluster mode the append is a publish
 * to the shared log that is answered later; `publishFrame` is both at once,
 * for embedded mode.
 */
import type { EventBuffer } from '../buffer/index.js';
import type { Permission } from '../auth/index.js';
import { ForbiddenError, isFanwireError, type FanwireError } from '../errors.js';
import { decodeFrame, frameIdOf, parsePublishFrame, type Event, type FrameId, type PublisherReply } from '../protocol/index.js';
import type { GatewayCounters } from './stats.js';

/** A frame that passed every check: what to append, and the id to echo. */
export interface AcceptedFrame {
  events: Event[];
  id: FrameId | undefined;
}

/**
 * Decodes and checks one producer frame. Returns the accepted frame, or the
 * error reply for it (counted by code). Appends nothing.
 */
export function validateFrame(
  counters: GatewayCounters,
  data: Uint8Array,
  binary: boolean,
  /** What the producer's token may write; null when auth is off. */
  permission: Permission | null = null,
  maxEvents = Number.MAX_SAFE_INTEGER,
): AcceptedFrame | PublisherReply {
  let id: FrameId | undefined;
  try {
    const value = decodeFrame(data, binary);
    id = frameIdOf(value);
    const frame = parsePublishFrame(value, maxEvents);
    if (permission !== null) {
      for (const event of frame.events) {
        if (!permission.allowsPublish(event)) {
          throw new ForbiddenError(`the token does not allow publishing to "${permission.refusedSelector(event)}"`);
        }
      }
    }
    return { events: frame.events, id };
  } catch (err) {
    if (!isFanwireError(err)) throw err;
    return rejectFrame(counters, err, id);
  }
}

/** True for a validation result that is a reply (the frame was rejected). */
export function isReply(result: AcceptedFrame | PublisherReply): result is PublisherReply {
  return 'type' in result;
}

/** The ack for an accepted frame, counted. */
export function acceptFrame(counters: GatewayCounters, frame: AcceptedFrame, index: number): PublisherReply {
  counters.framesPublished++;
  counters.eventsPublished += frame.events.length;
  return frame.id === undefined ? { type: 'ack', index } : { type: 'ack', index, id: frame.id };
}

/** The error reply for a rejected frame, counted by code. */
export function rejectFrame(counters: GatewayCounters, err: FanwireError, id: FrameId | undefined): PublisherReply {
  counters.publishErrors[err.code] = (counters.publishErrors[err.code] ?? 0) + 1;
  return id === undefined ? { type: 'error', code: err.code, message: err.message } : { type: 'error', code: err.code, message: err.message, id };
}

/** Embedded mode: validate, append to the local buffer, reply. */
export function publishFrame(
  buffer: EventBuffer<Event>,
  counters: GatewayCounters,
  data: Uint8Array,
  binary: boolean,
  permission: Permission | null = null,
  maxEvents = Number.MAX_SAFE_INTEGER,
): PublisherReply {
  const frame = validateFrame(counters, data, binary, permission, maxEvents);
  if (isReply(frame)) return frame;
  let index: number;
  try {
    index = buffer.append(frame.events, data.byteLength).index;
  } catch (err) {
    if (!isFanwireError(err)) throw err;
    return rejectFrame(counters, err, frame.id);
  }
  return acceptFrame(counters, frame, index);
}
