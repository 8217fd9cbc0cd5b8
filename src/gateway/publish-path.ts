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
import { createHash } from 'node:crypto';
import type { ClusterNode } from './cluster-node.js';
import type { GatewayCounters } from './counters.js';
import type { DedupeTable } from './dedupe-table.js';
import type { ServingState } from './serving-state.js';

/** A frame that passed every check: what to append, the id to echo, and its deduplication key (scoped to the token's subject). */
interface AcceptedFrame {
  events: Event[];
  id: FrameId | undefined;
  dedupeKey: string | undefined;
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

  private readonly dedupe: DedupeTable;

  constructor(buffer: EventBuffer<Event>, counters: GatewayCounters, state: ServingState, maxBatchEvents: number, dedupe: DedupeTable) {
    this.buffer = buffer;
    this.counters = counters;
    this.state = state;
    this.maxBatchEvents = maxBatchEvents;
    this.dedupe = dedupe;
  }

  /** Idempotency keys remembered now (embedded mode). */
  get dedupeKeys(): number {
    return this.dedupe.size;
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
    if (cluster === null) return publishFrame(this.buffer, counters, data, binary, grant, this.maxBatchEvents, this.dedupe);
    const frame = validateFrame(counters, data, binary, grant, this.maxBatchEvents);
    if (isReply(frame)) return frame;
    if (!this.state.accepting) return rejectFrame(counters, new ShuttingDownError(), frame.id);
    this.publishesInFlight++;
    // JetStream's own deduplication (Nats-Msg-Id): the same on every node, answered with the original sequence.
    const msgId = frame.dedupeKey === undefined ? undefined : createHash('sha256').update(frame.dedupeKey).digest('base64url');
    return cluster.publish(frame.events, msgId).then(
      ({ seq, duplicate }) => {
        this.publishesInFlight--;
        return duplicate ? duplicateFrame(counters, frame, seq) : acceptFrame(counters, frame, seq);
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
  /** The producer's token: what it may write, and whose idempotency keys these are; null when auth is off. */
  grant: Grant | null = null,
  maxEvents = Number.MAX_SAFE_INTEGER,
): AcceptedFrame | PublisherReply {
  const permission: Permission | null = grant?.publish ?? null;
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
    // Keys are per token subject: one producer cannot claim (or learn the index of) another's key.
    const dedupeKey = frame.idempotencyKey === undefined ? undefined : grant === null ? frame.idempotencyKey : `${grant.sub}\u0000${frame.idempotencyKey}`;
    return { events: frame.events, id, dedupeKey };
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

/** The ack for a frame whose idempotencyKey was already appended at `index`: nothing appended now. */
function duplicateFrame(counters: GatewayCounters, frame: AcceptedFrame, index: number): PublisherReply {
  counters.duplicate();
  return frame.id === undefined ? { type: 'ack', index, duplicate: true } : { type: 'ack', index, id: frame.id, duplicate: true };
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
  grant: Grant | null = null,
  maxEvents = Number.MAX_SAFE_INTEGER,
  dedupe: DedupeTable | null = null,
): PublisherReply {
  const frame = validateFrame(counters, data, binary, grant, maxEvents);
  if (isReply(frame)) return frame;
  if (frame.dedupeKey !== undefined && dedupe !== null) {
    const original = dedupe.get(frame.dedupeKey);
    if (original !== undefined) return duplicateFrame(counters, frame, original);
  }
  let index: number;
  try {
    index = buffer.append(frame.events, data.byteLength).index;
  } catch (err) {
    if (!isFanwireError(err)) throw err;
    return rejectFrame(counters, err, frame.id);
  }
  if (frame.dedupeKey !== undefined) dedupe?.set(frame.dedupeKey, index);
  return acceptFrame(counters, frame, index);
}
