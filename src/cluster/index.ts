/**
 * cluster/: the shared log behind cluster mode (NATS JetStream). A
 * connection and stream (`JetStreamLog`), an ordered reader that survives
 * outages (`Follower`), and the epoch derived from the stream's identity.
 * It moves opaque bytes by stream sequence: what a message holds, and how
 * it reaches subscribers, is the gateway's business.
 */
export { JetStreamLog, streamDefaults, subjectMatches, isStreamNotFound } from './jetstream-log.js';
export type { ClusterLogger, ConnectionState, JetStreamLogOptions } from './jetstream-log.js';
export { Follower } from './follower.js';
export { LatestLog } from './latest-log.js';
export type { LatestLogOptions, LatestRecord } from './latest-log.js';
export type { FollowOptions } from './follower.js';
export { epochOf, sameStream } from './epoch.js';
export type { StreamIdentity } from './epoch.js';
