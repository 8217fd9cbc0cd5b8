/**
 * The cluster epoch: what names one shared log's lifetime on the wire.
 *
 * In embedded mode the epoch is random per process, because a restart starts
 * a new buffer numbered from 1. In cluster mode every node serves the same
 * numbering (stream sequences), so every node must report the same epoch, and
 * it must change exactly when the numbering can restart: when the stream is
 * deleted and created again. A stream's name plus its `created` timestamp is
 * that identity: JetStream persists `created` with the stream, so it survives
 * nats-server restarts and is the same on every replica.
 */
import { createHash } from 'node:crypto';

export interface StreamIdentity {
  /** Stream name. */
  name: string;
  /** The stream's creation time as JetStream reports it (ISO 8601, nanoseconds). */
  created: string;
}

/** 16 hex digits, like an embedded epoch, derived from the stream's identity. */
export function epochOf(identity: StreamIdentity): string {
  return createHash('sha256').update(`${identity.name}\n${identity.created}`).digest('hex').slice(0, 16);
}

/** True when both name the same stream lifetime. */
export function sameStream(a: StreamIdentity, b: StreamIdentity): boolean {
  return a.name === b.name && a.created === b.created;
}
