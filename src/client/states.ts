/**
 * Subscription states, each entered with a reason, so an application can
 * show people exactly what is going on.
 */
export const SubscriptionState = {
  Connecting: 'connecting',
  Live: 'live',
  Reconnecting: 'reconnecting',
  Closed: 'closed',
} as const;
export type SubscriptionState = (typeof SubscriptionState)[keyof typeof SubscriptionState];

/** Why the state changed. */
export type StateReason =
  | 'start'
  | 'hello'
  | 'dropped'
  | 'going_away'
  | 'heartbeat_timeout'
  | 'connection_lost'
  /** 4003: the token expired; reconnecting at once with a fresh one from the token function. */
  | 'token_expired'
  /** 4401: the token was refused; retrying with backoff and a fresh one from the token function. */
  | 'unauthorized'
  /** The token function failed; retrying with backoff. */
  | 'token_unavailable'
  /** Closed for good by an error retrying cannot fix; `onError` has it. */
  | 'error'
  | 'closed_by_client';

/**
 * What `onGap` reports: events the client will not get, items
 * `requestedIndex` to `resumedAt - 1`.
 */
export interface Gap {
  /** The first index missed: the one the client asked to resume at, or the first one skipped. */
  requestedIndex: number;
  /** Where the stream actually resumed. */
  resumedAt: number;
  /**
   * `epoch`: the gateway restarted (indexes start over); `evicted`: the items
   * aged out of its buffer before a reconnect could fetch them; `skipped`: a
   * `lag: 'skip'` (or conflate) subscription fell behind and the gateway
   * skipped them in-band, without closing (see `reason`).
   */
  cause: 'epoch' | 'evicted' | 'skipped';
  /** With `skipped`: `evicted` (left the buffer before they could be sent) or `slow` (too many bytes unsent). */
  reason?: 'evicted' | 'slow';
  epoch: string;
}
