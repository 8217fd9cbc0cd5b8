/**
 * How each error code is answered on the wire: the HTTP status for HTTP
 * answers and refused upgrades, the close code where the answer is a close.
 * One table, mirrored by the "Error codes" table of docs/protocol.md.
 */
import type { ErrorCode, FanwireError } from '../errors.js';
import { CloseCode } from './close-codes.js';
import { fitCloseReason } from './close-reason.js';

export interface WireAnswer {
  /** HTTP status, or null when the code never reaches HTTP. */
  http: number | null;
  /** Close code, or null when the code is answered without closing. */
  close: CloseCode | null;
  /**
   * A refused upgrade's close code for a client that offered the fanwire.v1
   * subprotocol (instead of the HTTP status, which browsers cannot see);
   * absent where a refusal stays an HTTP answer.
   */
  refusal?: CloseCode;
}

export const ERROR_TABLE: Readonly<Record<ErrorCode, WireAnswer>> = {
  bad_query: { http: 400, close: null, refusal: CloseCode.BAD_QUERY },
  index_gone: { http: 410, close: null, refusal: CloseCode.INDEX_GONE },
  decode_failed: { http: 400, close: null },
  invalid_frame: { http: 400, close: null },
  too_big: { http: 413, close: CloseCode.MESSAGE_TOO_BIG },
  unsupported_media_type: { http: 415, close: null },
  shutting_down: { http: 503, close: CloseCode.GOING_AWAY },
  not_found: { http: 404, close: null },
  method_not_allowed: { http: 405, close: null },
  upgrade_required: { http: 426, close: null },
  bad_handshake: { http: 400, close: null },
  dropped: { http: null, close: CloseCode.DROPPED },
  unauthorized: { http: 401, close: null, refusal: CloseCode.UNAUTHORIZED },
  forbidden: { http: 403, close: null, refusal: CloseCode.FORBIDDEN },
  token_expired: { http: null, close: CloseCode.TOKEN_EXPIRED },
  limit_exceeded: { http: 429, close: null },
  rate_limited: { http: null, close: null },
  unavailable: { http: 503, close: null },
  internal: { http: 500, close: CloseCode.INTERNAL_ERROR },
  protocol_error: { http: null, close: CloseCode.PROTOCOL_ERROR },
  invalid_payload: { http: null, close: CloseCode.INVALID_PAYLOAD },
  policy_violation: { http: null, close: CloseCode.POLICY_VIOLATION },
};

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_TABLE[code].http ?? 500;
}

/** A close frame: what `conn.close(code, reason)` takes. */
export interface CloseFrame {
  code: CloseCode;
  reason: string;
}

/**
 * The close frame that answers `err` on an open connection: the code from the
 * table, the reason `reason` (the error's message by default) cut to fit.
 * Every close the gateway decides goes through here, so a code can only be
 * sent if docs/protocol.md documents it. An error whose code never closes is
 * a gateway fault and is answered as `internal` (1011).
 */
export function closeOf(err: FanwireError, reason: string = err.message): CloseFrame {
  const code = ERROR_TABLE[err.code].close;
  if (code === null) return { code: CloseCode.INTERNAL_ERROR, reason: 'internal error' };
  return { code, reason: fitCloseReason(reason) };
}

/** The close frame for refusing an upgrade offering fanwire.v1: "<code>: <message>", or null for an HTTP answer. */
export function refusalOf(err: FanwireError): CloseFrame | null {
  const code = ERROR_TABLE[err.code].refusal;
  return code === undefined ? null : { code, reason: fitCloseReason(`${err.code}: ${err.message}`) };
}
