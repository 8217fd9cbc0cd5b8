/**
 * The publish path: one producer frame in, one append, one reply out. The
 * WebSocket producer (producer.ts) and `POST /v1/publish` (http-routes.ts)
 * both hold the gateway's one PublishPath and call its `publish`, so both
 * answer identically.
 *
 * Validation (`validateFrame`: decode, parse, permissions, limits) is
 * complete before anything is appended: one event the token may not publish
 * (its key or any of its filterKeys outside the `publish` claims, see
 * auth/permissions.ts) refuses the whole frame with `forbidden`. It is
 * separate from appending, because in cluster mode the append is a publish
 * to the shared log that is answered later (the reply is then a promise that
 * never rejects); `publishFrame` is both at once, for embedded mode.
 */
import type { EventBuffer } from '../buffer/index.js';
import type { Grant, Permission } from '../auth/index.js';
import { ForbiddenError, isFanwireError, ShuttingDownError, UnavailableError, type FanwireError } from '../errors.js';
import { decodeFrame, frameIdOf, parsePublishFrame, type Event, type FrameId, type PublisherReply } from '../protocol/index.js';
import type { ClusterNode } from './cluster-node.js';
import type { GatewayCounters } from './counters.js';
import type { ServingState } from './serving-state.js';

/** A frame that passed every check: what to append, and the id to echo. */
interface AcceptedFrame {
  events: Event[];
  id: FrameId | undefined;
}

export class PublishPath {
  private readonly buffer: EventBuffer<Event>;
  private readonly counters: GatewayCounters;
  private readonly state: ServingState;
  private readonly maxBatchEvents: number;
  /** Cluster mode's link to the shared log (set by the gateway's start); null in embedded mode. */
  private cluster: ClusterNode | null = null;
  /** Cluster publishes not answered yet (WebSocket and HTTP). */
  private publishesInFlight = 0;

  constructor(buffer: EventBuffer<Event>, counters: GatewayCounters, state: ServingState, maxBatchEvents: number) {
    this.buffer = buffer;
    this.counters = counters;
    this.state = state;
    this.maxBatchEvents = maxBatchEvents;
  }

  /** Cluster mode: accepted frames go to the shared log from now on, not straight into the buffer. */
  useCluster(cluster: ClusterNode): void {
    this.cluster = cluster;
  }

  /** Cluster publishes waiting for JetStream's answer (a graceful stop waits for them). */
  get inFlight(): number {
    return this.publishesInFlight;
  }

  /**
   * One producer frame, from WebSocket or HTTP: validated, then appended
   * (embedded mode: the reply is ready at once) or published to the shared
   * log (cluster mode: the reply, a promise that never rejects, waits for
   * JetStream's ack; validation errors are still answered at once).
   */
  publish(data: Uint8Array, binary: boolean, grant: Grant | null): PublisherReply | Promise<PublisherReply> {
    const { counters, cluster } = this;
    if (cluster === null) return publishFrame(this.buffer, counters, data, binary, grant?.publish ?? null, this.maxBatchEvents);
    const frame = validateFrame(counters, data, binary, grant?.publish ?? null, this.maxBatchEvents);
    if (isReply(frame)) return frame;
    if (!this.state.accepting) return rejectFrame(counters, new ShuttingDownError(), frame.id);
    this.publishesInFlight++;
    return cluster.publish(frame.events).then(
      (seq) => {
        this.publishesInFlight--;
        return acceptFrame(counters, frame, seq);
      },
      (err: unknown) => {
        this.publishesInFlight--;
        const error = isFanwireError(err) ? err : new UnavailableError((err as Error).message);
        return rejectFrame(counters, error, frame.id);
      },
    );
  }
}

/**
 * Decodes and checks one producer frame. Returns the accepted frame, or the
 * error reply for it (counted by code). Appends nothing.
 */
function validateFrame(
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
function isReply(result: AcceptedFrame | PublisherReply): result is PublisherReply {
  return 'type' in result;
}

/** The ack for an accepted frame, counted. */
function acceptFrame(counters: GatewayCounters, frame: AcceptedFrame, index: number): PublisherReply {
  counters.published(frame.events.length);
  return frame.id === undefined ? { type: 'ack', index } : { type: 'ack', index, id: frame.id };
}

/** The error reply for a rejected frame, counted by code. */
function rejectFrame(counters: GatewayCounters, err: FanwireError, id: FrameId | undefined): PublisherReply {
  counters.publishRefused(err.code);
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
