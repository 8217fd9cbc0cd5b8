/**
 * The producer side: one frame in, one append, one reply out. Shared by the
 * WebSocket publisher and `POST /v1/publish`, so both answer identically.
 */
import type { EventBuffer } from '../buffer/index.js';
import type { Permission } from '../auth/index.js';
import { ForbiddenError, isFanwireError, type FanwireError } from '../errors.js';
import { decodeFrame, frameIdOf, parsePublishFrame, type Event, type PublisherReply } from '../protocol/index.js';
import type { GatewayCounters } from './stats.js';

export function publishFrame(
  buffer: EventBuffer<Event>,
  counters: GatewayCounters,
  data: Uint8Array,
  binary: boolean,
  /** What the producer's token may write; null when auth is off. */
  permission: Permission | null = null,
  maxEvents = Number.MAX_SAFE_INTEGER,
): PublisherReply {
  let value: unknown;
  let id;
  try {
    value = decodeFrame(data, binary);
    id = frameIdOf(value);
    const frame = parsePublishFrame(value, maxEvents);
    if (permission !== null) {
      for (const event of frame.events) {
        if (!permission.allows(event.topic, event.key === '' ? null : event.key)) {
          throw new ForbiddenError(`the token does not allow publishing to "${event.key === '' ? event.topic : `${event.topic}:${event.key}`}"`);
        }
      }
    }
    const item = buffer.append(frame.events, data.byteLength);
    counters.framesPublished++;
    counters.eventsPublished += frame.events.length;
    return id === undefined ? { type: 'ack', index: item.index } : { type: 'ack', index: item.index, id };
  } catch (err) {
    if (!isFanwireError(err)) throw err;
    counters.publishErrors[err.code] = (counters.publishErrors[err.code] ?? 0) + 1;
    return errorReply(err, id);
  }
}

function errorReply(err: FanwireError, id: string | number | undefined): PublisherReply {
  return id === undefined
    ? { type: 'error', code: err.code, message: err.message }
    : { type: 'error', code: err.code, message: err.message, id };
}
