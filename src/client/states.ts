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
  | 'closed_by_client';

/** What `onGap` reports: events the client asked for that no longer exist. */
export interface Gap {
  /** The index the client asked to resume at. */
  requestedIndex: number;
  /** Where the stream actually resumed. */
  resumedAt: number;
  /** `epoch`: the gateway restarted (indexes start over); `evicted`: the items aged out of its buffer. */
  cause: 'epoch' | 'evicted';
  epoch: string;
}
