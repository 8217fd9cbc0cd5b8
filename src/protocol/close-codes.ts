/**
 * WebSocket close codes fanwire sends, in one place. Every one is documented
 * in docs/protocol.md (a test keeps the two in step). Constants only, so
 * the browser SDK imports the same numbers the gateway sends.
 *
 * Reconnect and resume: GOING_AWAY, INTERNAL_ERROR, DROPPED (its reason
 * carries the resume index and epoch), TOKEN_EXPIRED (with a new token).
 * Terminal until the client is fixed: INVALID_PAYLOAD, POLICY_VIOLATION,
 * MESSAGE_TOO_BIG, BAD_QUERY, FORBIDDEN, INDEX_GONE. UNAUTHORIZED: only
 * with another token.
 */
export const CloseCode = {
  /** The gateway is shutting down. */
  GOING_AWAY: 1001,
  /** A client frame without a mask (sent by the ws library itself; see docs/protocol.md for uws). */
  PROTOCOL_ERROR: 1002,
  /** A text message that is not valid UTF-8 (sent by the ws library itself). */
  INVALID_PAYLOAD: 1007,
  /** A subscriber sent a data message. */
  POLICY_VIOLATION: 1008,
  /** A producer frame larger than --max-frame-bytes. */
  MESSAGE_TOO_BIG: 1009,
  /** The stream ended because of a gateway error. */
  INTERNAL_ERROR: 1011,
  /** The subscriber fell too far behind; the reason starts with "dropped". */
  DROPPED: 4001,
  /** The connection's token expired ("token expired"): reconnect with a fresh one. */
  TOKEN_EXPIRED: 4003,
  // Refused upgrades a browser can see: 4000 + the HTTP status, sent instead of
  // that status to a client that offered the fanwire.v1 subprotocol (a browser
  // sees no HTTP status, only 1006). The reason is "<error code>: <message>".
  /** 400 `bad_query`: the subscribe (or publish) query is invalid. */
  BAD_QUERY: 4400,
  /** 401 `unauthorized`: no valid token (missing, malformed, forged, expired). */
  UNAUTHORIZED: 4401,
  /** 403 `forbidden`: the token does not allow the topics asked for. */
  FORBIDDEN: 4403,
  /** 410 `index_gone`: `strict=1` and the index or epoch is no longer held. */
  INDEX_GONE: 4410,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
