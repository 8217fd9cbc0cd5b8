/**
 * fanwire/client: subscribe and publish from browsers (global WebSocket) and
 * Node (the `ws` package), with msgpackr as the only runtime dependency.
 * The message types of docs/protocol.md are exported as TypeScript types.
 */
export { subscribe } from './subscribe.js';
export type { SubscribeOptions, Subscription } from './subscribe.js';
export { connectPublisher, PublishError } from './publisher.js';
export type { Publisher, PublisherOptions } from './publisher.js';
export { FanwireClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export { SubscriptionState } from './states.js';
export type { Gap, StateReason } from './states.js';
export type { BackoffOptions } from './backoff.js';
export type { ClientSocket, TokenSource, WebSocketConstructor } from './socket.js';
export type {
  AckMessage,
  BatchMessage,
  ErrorMessage,
  Event,
  EventsMessage,
  Format,
  FrameId,
  GapMessage,
  GapReason,
  HeartbeatMessage,
  HelloMessage,
  LagPolicy,
  PublishEvent,
  PublisherReply,
  ServerMessage,
  SkipTo,
  SnapshotEvent,
  SnapshotMessage,
} from '../protocol/messages.js';
export type { ErrorCode } from '../errors.js';
