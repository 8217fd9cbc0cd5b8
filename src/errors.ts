/**
 * @module errors
 *
 * The error vocabulary of fanwire, shared by every layer. It sits at the root,
 * not in a folder, because the innermost layer (`buffer/`) throws these too and
 * must not import anything outer. How each code is answered on the wire (HTTP
 * status, close code) is the protocol's business: see `protocol/error-table.ts`.
 *
 * Every class carries a stable string `code`, both as a static and on the
 * instance, so callers can `switch (err.code)`. Instances are branded with a
 * registered symbol so `isFanwireError` works even when two copies of the
 * package are loaded in one process or page.
 */

export type ErrorCode =
  | 'dropped'
  | 'index_gone'
  | 'bad_query'
  | 'decode_failed'
  | 'invalid_frame'
  | 'too_big'
  | 'unsupported_media_type'
  | 'shutting_down'
  | 'not_found'
  | 'method_not_allowed'
  | 'upgrade_required'
  | 'bad_handshake'
  | 'unauthorized'
  | 'forbidden'
  | 'token_expired'
  | 'limit_exceeded'
  | 'rate_limited'
  | 'unavailable'
  | 'internal'
  | 'protocol_error'
  | 'invalid_payload'
  | 'policy_violation';

const BRAND = Symbol.for('fanwire.error');

export abstract class FanwireError extends Error {
  abstract readonly code: ErrorCode;
  readonly [BRAND] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export function isFanwireError(err: unknown): err is FanwireError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** Why a reader lost its place: the buffer evicted what it had not read yet, or its socket backed up. */
export type DropCause = 'lagged' | 'backpressure';

/**
 * A reader fell too far behind. Thrown by the buffer when the item a reader
 * holds was evicted before it moved on; the fan-out layer adds the resume
 * position before it becomes a close frame.
 */
export class DroppedError extends FanwireError {
  static readonly code = 'dropped';
  readonly code = 'dropped';
  /** Index of the last item the reader had passed when it was dropped. */
  readonly lastIndex: number;
  readonly dropCause: DropCause;

  constructor(dropCause: DropCause, lastIndex: number, message = 'event dropped from buffer') {
    super(message);
    this.dropCause = dropCause;
    this.lastIndex = lastIndex;
  }
}

/** `strict=1` asked for an index or epoch the buffer no longer holds. */
export class IndexGoneError extends FanwireError {
  static readonly code = 'index_gone';
  readonly code = 'index_gone';
  readonly oldest: number;
  readonly epoch: string;

  constructor(message: string, oldest: number, epoch: string) {
    super(message);
    this.oldest = oldest;
    this.epoch = epoch;
  }
}

export class BadQueryError extends FanwireError {
  static readonly code = 'bad_query';
  readonly code = 'bad_query';
}

export class DecodeFailedError extends FanwireError {
  static readonly code = 'decode_failed';
  readonly code = 'decode_failed';
}

export class InvalidFrameError extends FanwireError {
  static readonly code = 'invalid_frame';
  readonly code = 'invalid_frame';
}

export class TooBigError extends FanwireError {
  static readonly code = 'too_big';
  readonly code = 'too_big';
}

export class UnsupportedMediaTypeError extends FanwireError {
  static readonly code = 'unsupported_media_type';
  readonly code = 'unsupported_media_type';
}

/** The gateway is stopping; also the error that terminates the buffer on shutdown. */
export class ShuttingDownError extends FanwireError {
  static readonly code = 'shutting_down';
  readonly code = 'shutting_down';

  constructor(message = 'shutting down') {
    super(message);
  }
}

export class NotFoundError extends FanwireError {
  static readonly code = 'not_found';
  readonly code = 'not_found';
}

export class MethodNotAllowedError extends FanwireError {
  static readonly code = 'method_not_allowed';
  readonly code = 'method_not_allowed';
}

export class UpgradeRequiredError extends FanwireError {
  static readonly code = 'upgrade_required';
  readonly code = 'upgrade_required';
}

/** A WebSocket handshake that breaks RFC 6455 (missing or malformed key, unsupported version). */
export class BadHandshakeError extends FanwireError {
  static readonly code = 'bad_handshake';
  readonly code = 'bad_handshake';
}

/** No valid token where auth is on: missing, malformed, badly signed or expired. */
export class UnauthorizedError extends FanwireError {
  static readonly code = 'unauthorized';
  readonly code = 'unauthorized';
}

/** A valid token whose claims do not cover what was asked (topics to read or write). */
export class ForbiddenError extends FanwireError {
  static readonly code = 'forbidden';
  readonly code = 'forbidden';
}

/** The token of an open connection expired; the connection is closed with 4003. */
export class TokenExpiredError extends FanwireError {
  static readonly code = 'token_expired';
  readonly code = 'token_expired';

  constructor(message = 'token expired') {
    super(message);
  }
}

/** A connection limit was reached (subscribers in total or per address). */
export class LimitExceededError extends FanwireError {
  static readonly code = 'limit_exceeded';
  readonly code = 'limit_exceeded';
  /** Which limit: its flag name without dashes' prefix, e.g. "max-subscribers". */
  readonly limit: string;

  constructor(limit: string, message: string) {
    super(message);
    this.limit = limit;
  }
}

/** A producer sent frames faster than --max-publish-rate; the frame was not appended. */
export class RateLimitedError extends FanwireError {
  static readonly code = 'rate_limited';
  readonly code = 'rate_limited';
}

/**
 * Cluster mode: the shared log (NATS JetStream) could not take the frame
 * (not connected, or no ack in time), so nothing was acked. Safe to retry;
 * see docs/cluster.md for the one case where a timed-out frame may still
 * have been stored.
 */
export class UnavailableError extends FanwireError {
  static readonly code = 'unavailable';
  readonly code = 'unavailable';
}

/** A fault in the gateway itself (HTTP 500; a subscriber's stream ends with 1011). Reconnecting may help. */
export class InternalError extends FanwireError {
  static readonly code = 'internal';
  readonly code = 'internal';
}

/** A client frame that breaks RFC 6455 framing (an unmasked frame): close 1002, sent by the ws library. */
export class ProtocolError extends FanwireError {
  static readonly code = 'protocol_error';
  readonly code = 'protocol_error';
}

/** A text message that is not valid UTF-8: close 1007, sent by the ws library. */
export class InvalidPayloadError extends FanwireError {
  static readonly code = 'invalid_payload';
  readonly code = 'invalid_payload';
}

/** A connection that broke a rule of its role (a subscriber that sent data, a producer not reading its replies): close 1008. */
export class PolicyViolationError extends FanwireError {
  static readonly code = 'policy_violation';
  readonly code = 'policy_violation';
}

/**
 * `err` as a FanwireError: itself when it is one, else an InternalError
 * (message "internal error", the original as its `cause`), so every end of
 * a stream has a documented code and nothing of a fault's text reaches a peer.
 */
export function asFanwireError(err: unknown): FanwireError {
  return isFanwireError(err) ? err : new InternalError('internal error', { cause: err });
}

/** Every error class, keyed by code, for callers that want one import. */
export const errors = {
  DroppedError,
  IndexGoneError,
  BadQueryError,
  DecodeFailedError,
  InvalidFrameError,
  TooBigError,
  UnsupportedMediaTypeError,
  ShuttingDownError,
  NotFoundError,
  MethodNotAllowedError,
  UpgradeRequiredError,
  BadHandshakeError,
  UnauthorizedError,
  ForbiddenError,
  TokenExpiredError,
  LimitExceededError,
  RateLimitedError,
  UnavailableError,
  InternalError,
  ProtocolError,
  InvalidPayloadError,
  PolicyViolationError,
} as const;
