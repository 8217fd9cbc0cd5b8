/**
 * Gateway settings with their defaults. The CLI (src/cli/) fills these from
 * flags and FANWIRE_* variables; embedders pass them to `startGateway`.
 */
import { TrustedProxies, type TransportChoice } from '../transport/index.js';

export interface GatewayConfig {
  /** `auto` (the default) is ws; `uws` (uWebSockets.js) is an explicit opt-in, see transport/select.ts. */
  transport: TransportChoice;
  /** permessage-deflate for subscribers and producers; costs CPU per subscriber per message. */
  compression: boolean;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Items retained for resume. */
  bufferSize: number;
  /** Items older than this are evicted; 0 disables. */
  bufferTtlMs: number;
  heartbeatMs: number;
  /** Largest producer frame or POST body. */
  maxFrameBytes: number;
  /** Per subscriber: stop pulling events while more than this waits on the socket. */
  highWaterBytes: number;
  /** Per subscriber: drop it (4001) when more than this waits on the socket. */
  dropAfterBytes: number;
  /** Per subscriber: bytes written per drain before yielding to the others. */
  batchBytes: number;
  /** Event-loop turns a wake-up may wait while each turn appends several items (a backlog arriving); 0: never wait. */
  wakeSettle: number;
  /** lag=conflate: behind with more than highWaterBytes unsent for this long starts conflating. */
  conflateGraceMs: number;
  /** lag=conflate: more than this many items behind the newest starts conflating at once (capped at half of bufferSize). */
  conflateLag: number;
  /** lag=conflate: when even conflated delivery cannot keep up, skip (gap message) or drop (4001). */
  conflateFallback: 'skip' | 'drop';
  /** (topic, key) pairs the latest table keeps for snapshot=1; the one updated longest ago is forgotten first. */
  snapshotKeys: number;
  /** Forget a (topic, key) of the latest table not updated for this long; 0: never. */
  snapshotTtlMs: number;
  /** On shutdown, how long connections get to finish the close handshake (counted after the drain window). */
  shutdownTimeoutMs: number;
  /** On shutdown, subscribers are closed spread evenly over this long instead of all at once; 0: all at once. */
  drainWindowMs: number;
  /** A frame whose idempotencyKey was appended within this long is not appended again (cluster mode: JetStream's duplicate window of a stream fanwire creates). */
  dedupeWindowMs: number;
  /** Embedded mode: idempotency keys remembered at most; past it the oldest is forgotten early. */
  dedupeKeys: number;
  /** Prometheus metrics at GET /metrics. */
  metrics: boolean;
  /** Serve /metrics on this port (same host) instead of the main one; null: the main port. */
  metricsPort: number | null;
  /** Topics with their own label on the delivery latency histogram. */
  metricsTopics: string[];
  /** HS256 secret for tokens; auth is on when this or a key file is set. */
  authSecret: string | null;
  /** PEM public key for asymmetric tokens. */
  authPublicKeyFile: string | null;
  /** JWKS file for asymmetric tokens with `kid`. */
  authJwksFile: string | null;
  /**
   * JWKS URL (http: or https:) of an identity provider: fetched once before
   * listening (start fails when it cannot be), then refreshed by jose when a
   * token's kid is unknown or the keys are older than authJwksCacheMaxAgeMs.
   */
  authJwksUrl: string | null;
  /** JWKS URL: at most one fetch per this for an unknown kid, or after a failed fetch. */
  authJwksCooldownMs: number;
  /** JWKS URL: keys older than this are fetched again before they verify a token. */
  authJwksCacheMaxAgeMs: number;
  /** JWKS URL: a fetch taking longer fails. */
  authJwksTimeoutMs: number;
  /** Required `iss` claim, with any key source; null: not checked. */
  authIssuer: string | null;
  /** Accepted `aud` values (a token's `aud` must hold one of them), with any key source; null: not checked. */
  authAudience: string[] | null;
  /** Allow listening beyond loopback with auth off. */
  insecure: boolean;
  /** Browser Origins allowed to open WebSockets; empty: any (non-browser clients send none). */
  allowedOrigins: string[];
  /**
   * Reverse proxies (IPv4/IPv6 addresses and CIDRs) whose X-Forwarded-For
   * names the client, for the per-address limit, GET /v1/subscribers and the
   * logs; empty: the header is never read (transport/client-address.ts).
   */
  trustProxy: string[];
  /** Subscribers connected at once, in total and per remote address. */
  maxSubscribers: number;
  maxSubscribersPerAddress: number;
  /** Topic selectors per subscription. */
  maxTopics: number;
  /** Events per producer frame. */
  maxBatchEvents: number;
  /** Frames per second per producer connection (token bucket); 0: unlimited. */
  maxPublishRate: number;
  /** Close WebSockets silent this long (pinged half-way); 0: never. */
  idleTimeoutMs: number;
  /** Close HTTP connections that have not sent their request headers within this. */
  handshakeTimeoutMs: number;
  /** PEM certificate chain and private key files: serve https and wss. Both or neither. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** Cluster mode: NATS server URLs of the shared JetStream log; null: embedded in-memory mode. */
  cluster: string[] | null;
  /** JetStream stream name (created when missing). */
  clusterStream: string;
  /** Subject producer frames are published to; the stream must capture it. */
  clusterSubject: string;
  /** NATS credentials file (JWT + NKey seed). */
  clusterCredsFile: string | null;
  /** NATS user and password (both or neither). */
  clusterUser: string | null;
  clusterPassword: string | null;
  /** NATS authentication token. */
  clusterToken: string | null;
  /** How long start() keeps trying to reach NATS, and then to backfill, before it fails. */
  clusterStartTimeoutMs: number;
}

export const DEFAULT_CONFIG: Readonly<GatewayConfig> = {
  transport: 'auto',
  compression: false,
  host: '127.0.0.1',
  port: 8080,
  bufferSize: 10_000,
  bufferTtlMs: 0,
  heartbeatMs: 10_000,
  maxFrameBytes: 1024 * 1024,
  highWaterBytes: 1024 * 1024,
  dropAfterBytes: 8 * 1024 * 1024,
  batchBytes: 256 * 1024,
  wakeSettle: 8,
  conflateGraceMs: 250,
  conflateLag: 1000,
  conflateFallback: 'skip',
  snapshotKeys: 100_000,
  snapshotTtlMs: 0,
  shutdownTimeoutMs: 5_000,
  drainWindowMs: 0,
  dedupeWindowMs: 120_000,
  dedupeKeys: 100_000,
  metrics: true,
  metricsPort: null,
  metricsTopics: [],
  authSecret: null,
  authPublicKeyFile: null,
  authJwksFile: null,
  authJwksUrl: null,
  // jose's own defaults for createRemoteJWKSet.
  authJwksCooldownMs: 30_000,
  authJwksCacheMaxAgeMs: 600_000,
  authJwksTimeoutMs: 5_000,
  authIssuer: null,
  authAudience: null,
  insecure: false,
  allowedOrigins: [],
  trustProxy: [],
  maxSubscribers: 100_000,
  maxSubscribersPerAddress: 10_000,
  maxTopics: 64,
  maxBatchEvents: 10_000,
  maxPublishRate: 20_000,
  idleTimeoutMs: 120_000,
  handshakeTimeoutMs: 10_000,
  tlsCertFile: null,
  tlsKeyFile: null,
  cluster: null,
  clusterStream: 'FANWIRE',
  clusterSubject: 'fanwire.events',
  clusterCredsFile: null,
  clusterUser: null,
  clusterPassword: null,
  clusterToken: null,
  clusterStartTimeoutMs: 30_000,
};

/** Largest message a subscriber may send before being closed with 1009 (any message gets 1008). */
export const SUBSCRIBER_MAX_PAYLOAD = 64 * 1024;

/** Checks relations between settings that single-flag parsing cannot see. Returns a problem or null. */
export function configProblem(config: GatewayConfig): string | null {
  if ((config.tlsCertFile === null) !== (config.tlsKeyFile === null)) {
    return '--tls-cert and --tls-key go together';
  }
  const keySources = [config.authSecret, config.authPublicKeyFile, config.authJwksFile, config.authJwksUrl].filter((k) => k !== null).length;
  if (keySources > 1) return 'use one of --auth-secret, --auth-public-key, --auth-jwks and --auth-jwks-url';
  if (keySources === 0 && (config.authIssuer !== null || config.authAudience !== null)) {
    return '--auth-issuer and --auth-audience need a key source: --auth-secret, --auth-public-key, --auth-jwks or --auth-jwks-url';
  }
  if ((config.clusterUser === null) !== (config.clusterPassword === null)) {
    return '--cluster-user and --cluster-password go together';
  }
  const credentials = [config.clusterCredsFile, config.clusterUser, config.clusterToken].filter((c) => c !== null).length;
  if (credentials > 1) return 'use one of --cluster-creds, --cluster-user/--cluster-password and --cluster-token';
  if (config.cluster === null && credentials > 0) return '--cluster-creds, --cluster-user and --cluster-token need --cluster';
  if (!/^[^\s.*>/\\]{1,255}$/.test(config.clusterStream)) {
    return `--cluster-stream "${config.clusterStream}" must be 1-255 characters without whitespace, ".", "*", ">", "/" or "\\"`;
  }
  if (!/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(config.clusterSubject)) {
    return `--cluster-subject "${config.clusterSubject}" must be a literal NATS subject (dot-separated tokens, no wildcards or whitespace)`;
  }
  if (!Number.isSafeInteger(config.wakeSettle) || config.wakeSettle < 0 || config.wakeSettle > 64) {
    return `--wake-settle (${config.wakeSettle}) must be an integer from 0 to 64`;
  }
  try {
    new TrustedProxies(config.trustProxy);
  } catch (err) {
    return `--trust-proxy: ${(err as Error).message}`;
  }
  if (config.dropAfterBytes <= config.highWaterBytes) {
    return `--drop-after-bytes (${config.dropAfterBytes}) must be larger than --high-water-bytes (${config.highWaterBytes})`;
  }
  return null;
}
