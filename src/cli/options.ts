/**
 * Command-line flags, their FANWIRE_* environment variables and a JSON
 * config file (`--config`, keys named as the flags), parsed into a
 * GatewayConfig. Precedence: flag, then variable, then file, then default.
 * A secret's variable may instead name a file holding it (`<VARIABLE>_FILE`,
 * as Docker and Kubernetes mount secrets). Every bad value or unknown key
 * becomes a CliError naming it, which the CLI prints on one line before
 * exiting 1.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configProblem, DEFAULT_CONFIG, type GatewayConfig } from '../gateway/config.js';
import { isTopic } from '../protocol/index.js';
import { TRANSPORT_CHOICES, TrustedProxies } from '../transport/index.js';

export class CliError extends Error {
  override name = 'CliError';
}

type Kind = 'string' | 'url' | 'list' | 'port' | 'count' | 'duration' | 'bytes' | 'level' | 'transport' | 'switch' | 'topics' | 'flag' | 'origins' | 'proxies' | 'servers' | 'fallback';

interface FlagSpec {
  flag: string;
  env: string;
  kind: Kind;
  key?: keyof GatewayConfig;
  help: string;
  /** Smallest accepted value for numeric kinds. */
  min?: number;
  /** A secret: its variable may name a file instead (`<env>_FILE`); keep it out of flags. */
  secret?: true;
}

export const FLAGS: readonly FlagSpec[] = [
  { flag: 'transport', env: 'FANWIRE_TRANSPORT', kind: 'transport', key: 'transport', help: 'ws, uws or auto (= ws); uws (uWebSockets.js, native) is opt-in: an optional dependency, its binary sha256-checked' },
  { flag: 'host', env: 'FANWIRE_HOST', kind: 'string', key: 'host', help: 'address to listen on' },
  { flag: 'port', env: 'FANWIRE_PORT', kind: 'port', key: 'port', help: 'TCP port (0 picks a free one)' },
  { flag: 'buffer-size', env: 'FANWIRE_BUFFER_SIZE', kind: 'count', key: 'bufferSize', min: 1, help: 'items kept for resume' },
  { flag: 'buffer-ttl', env: 'FANWIRE_BUFFER_TTL', kind: 'duration', key: 'bufferTtlMs', min: 0, help: 'evict items older than this (0 = never)' },
  { flag: 'heartbeat', env: 'FANWIRE_HEARTBEAT', kind: 'duration', key: 'heartbeatMs', min: 100, help: 'interval between heartbeats to subscribers' },
  { flag: 'max-frame-bytes', env: 'FANWIRE_MAX_FRAME_BYTES', kind: 'bytes', key: 'maxFrameBytes', min: 64, help: 'largest producer frame or POST body' },
  { flag: 'high-water-bytes', env: 'FANWIRE_HIGH_WATER_BYTES', kind: 'bytes', key: 'highWaterBytes', min: 1, help: 'per subscriber: pause delivery above this many unsent bytes' },
  { flag: 'drop-after-bytes', env: 'FANWIRE_DROP_AFTER_BYTES', kind: 'bytes', key: 'dropAfterBytes', min: 1, help: 'per subscriber: drop it (4001) above this many unsent bytes' },
  { flag: 'wake-settle', env: 'FANWIRE_WAKE_SETTLE', kind: 'count', key: 'wakeSettle', min: 0, help: 'event-loop turns a wake-up may wait while producers deliver a backlog, so subscribers get it in one write (0 = never wait)' },
  { flag: 'conflate-grace', env: 'FANWIRE_CONFLATE_GRACE', kind: 'duration', key: 'conflateGraceMs', min: 0, help: 'lag=conflate: conflate a subscriber behind with its socket over the high-water mark this long' },
  { flag: 'conflate-lag', env: 'FANWIRE_CONFLATE_LAG', kind: 'count', key: 'conflateLag', min: 1, help: 'lag=conflate: conflate a subscriber this many items behind (at most half of --buffer-size)' },
  { flag: 'conflate-fallback', env: 'FANWIRE_CONFLATE_FALLBACK', kind: 'fallback', key: 'conflateFallback', help: 'lag=conflate: skip (gap message) or drop (4001) when even conflated delivery cannot keep up' },
  { flag: 'dedupe-window', env: 'FANWIRE_DEDUPE_WINDOW', kind: 'duration', key: 'dedupeWindowMs', min: 1000, help: 'a frame whose idempotencyKey was appended within this long is acked as a duplicate, not appended again' },
  { flag: 'dedupe-keys', env: 'FANWIRE_DEDUPE_KEYS', kind: 'count', key: 'dedupeKeys', min: 1, help: 'idempotency keys remembered at most (embedded mode); past it the oldest is forgotten early' },
  { flag: 'snapshot-keys', env: 'FANWIRE_SNAPSHOT_KEYS', kind: 'count', key: 'snapshotKeys', min: 1, help: 'snapshot=1: (topic, key) pairs kept with their newest event; the one updated longest ago is forgotten first' },
  { flag: 'snapshot-ttl', env: 'FANWIRE_SNAPSHOT_TTL', kind: 'duration', key: 'snapshotTtlMs', min: 0, help: 'snapshot=1: forget a (topic, key) not updated for this long (0 = never)' },
  { flag: 'shutdown-timeout', env: 'FANWIRE_SHUTDOWN_TIMEOUT', kind: 'duration', key: 'shutdownTimeoutMs', min: 0, help: 'on SIGTERM, time given to connections to close (after the drain window)' },
  { flag: 'drain-window', env: 'FANWIRE_DRAIN_WINDOW', kind: 'duration', key: 'drainWindowMs', min: 0, help: 'on SIGTERM, close subscribers spread evenly over this long, so they reconnect elsewhere gradually (0 = all at once)' },
  { flag: 'compression', env: 'FANWIRE_COMPRESSION', kind: 'switch', key: 'compression', help: 'permessage-deflate: on or off (costs CPU per subscriber)' },
  { flag: 'metrics', env: 'FANWIRE_METRICS', kind: 'switch', key: 'metrics', help: 'Prometheus metrics at GET /metrics: on or off' },
  { flag: 'metrics-port', env: 'FANWIRE_METRICS_PORT', kind: 'port', key: 'metricsPort', help: 'serve /metrics on this port instead of the main one' },
  { flag: 'metrics-topics', env: 'FANWIRE_METRICS_TOPICS', kind: 'topics', key: 'metricsTopics', help: 'comma-separated topics labelled on the delivery latency histogram (at most 20)' },
  { flag: 'auth-secret', env: 'FANWIRE_AUTH_SECRET', kind: 'string', key: 'authSecret', secret: true, help: 'HS256 secret (32+ bytes) that signs client tokens; turns auth on' },
  { flag: 'auth-public-key', env: 'FANWIRE_AUTH_PUBLIC_KEY', kind: 'string', key: 'authPublicKeyFile', help: 'PEM public key file for RS/PS/ES/EdDSA tokens; turns auth on' },
  { flag: 'auth-jwks', env: 'FANWIRE_AUTH_JWKS', kind: 'string', key: 'authJwksFile', help: 'JWKS file for asymmetric tokens with kid; turns auth on' },
  { flag: 'auth-jwks-url', env: 'FANWIRE_AUTH_JWKS_URL', kind: 'url', key: 'authJwksUrl', help: 'JWKS URL of an identity provider (https, or http), fetched before listening and on new kids; turns auth on' },
  { flag: 'auth-issuer', env: 'FANWIRE_AUTH_ISSUER', kind: 'string', key: 'authIssuer', help: 'refuse tokens whose "iss" claim is not this (any key source)' },
  { flag: 'auth-audience', env: 'FANWIRE_AUTH_AUDIENCE', kind: 'list', key: 'authAudience', help: 'comma-separated audiences: refuse tokens whose "aud" claim holds none of them (any key source)' },
  { flag: 'insecure', env: 'FANWIRE_INSECURE', kind: 'flag', key: 'insecure', help: 'allow listening beyond loopback with auth off' },
  { flag: 'allowed-origins', env: 'FANWIRE_ALLOWED_ORIGINS', kind: 'origins', key: 'allowedOrigins', help: 'comma-separated browser Origins allowed to connect (default: any)' },
  { flag: 'trust-proxy', env: 'FANWIRE_TRUST_PROXY', kind: 'proxies', key: 'trustProxy', help: 'comma-separated reverse proxy addresses/CIDRs (127.0.0.1/32,10.0.0.0/8,::1) whose X-Forwarded-For names the client (default: none, the header is ignored)' },
  { flag: 'max-subscribers', env: 'FANWIRE_MAX_SUBSCRIBERS', kind: 'count', key: 'maxSubscribers', min: 1, help: 'subscribers connected at once (more: HTTP 429)' },
  { flag: 'max-subscribers-per-address', env: 'FANWIRE_MAX_SUBSCRIBERS_PER_ADDRESS', kind: 'count', key: 'maxSubscribersPerAddress', min: 1, help: 'subscribers per remote address (more: HTTP 429)' },
  { flag: 'max-topics', env: 'FANWIRE_MAX_TOPICS', kind: 'count', key: 'maxTopics', min: 1, help: 'topic selectors per subscription (more: HTTP 400)' },
  { flag: 'max-batch-events', env: 'FANWIRE_MAX_BATCH_EVENTS', kind: 'count', key: 'maxBatchEvents', min: 1, help: 'events per producer frame (more: invalid_frame)' },
  { flag: 'max-publish-rate', env: 'FANWIRE_MAX_PUBLISH_RATE', kind: 'count', key: 'maxPublishRate', help: 'frames per second per producer connection, 0 = unlimited (more: rate_limited replies)' },
  { flag: 'idle-timeout', env: 'FANWIRE_IDLE_TIMEOUT', kind: 'duration', key: 'idleTimeoutMs', min: 0, help: 'close WebSockets silent this long (pinged half-way); 0 = never' },
  { flag: 'handshake-timeout', env: 'FANWIRE_HANDSHAKE_TIMEOUT', kind: 'duration', key: 'handshakeTimeoutMs', min: 0, help: 'close connections whose request headers take longer (ws transport; uws has its own timer)' },
  { flag: 'tls-cert', env: 'FANWIRE_TLS_CERT', kind: 'string', key: 'tlsCertFile', help: 'PEM certificate chain file: serve https and wss (with --tls-key)' },
  { flag: 'tls-key', env: 'FANWIRE_TLS_KEY', kind: 'string', key: 'tlsKeyFile', help: 'PEM private key file for --tls-cert' },
  { flag: 'cluster', env: 'FANWIRE_CLUSTER', kind: 'servers', key: 'cluster', help: 'cluster mode: comma-separated NATS URLs (nats://host:port) of the shared JetStream log' },
  { flag: 'cluster-stream', env: 'FANWIRE_CLUSTER_STREAM', kind: 'string', key: 'clusterStream', help: 'JetStream stream name (created when missing; default FANWIRE)' },
  { flag: 'cluster-subject', env: 'FANWIRE_CLUSTER_SUBJECT', kind: 'string', key: 'clusterSubject', help: 'subject frames are published to (default fanwire.events)' },
  { flag: 'cluster-creds', env: 'FANWIRE_CLUSTER_CREDS', kind: 'string', key: 'clusterCredsFile', help: 'NATS credentials file (JWT and NKey seed)' },
  { flag: 'cluster-user', env: 'FANWIRE_CLUSTER_USER', kind: 'string', key: 'clusterUser', help: 'NATS user (with --cluster-password)' },
  { flag: 'cluster-password', env: 'FANWIRE_CLUSTER_PASSWORD', kind: 'string', key: 'clusterPassword', secret: true, help: 'NATS password (with --cluster-user)' },
  { flag: 'cluster-token', env: 'FANWIRE_CLUSTER_TOKEN', kind: 'string', key: 'clusterToken', secret: true, help: 'NATS authentication token' },
  { flag: 'log-level', env: 'FANWIRE_LOG_LEVEL', kind: 'level', help: 'fatal, error, warn, info, debug, trace or silent' },
];

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };

export interface CliOptions {
  config: GatewayConfig;
  logLevel: string;
  help: boolean;
  version: boolean;
}

function parseValue(spec: FlagSpec, raw: string, source: string): string | number | string[] {
  const bad = (want: string): never => {
    throw new CliError(`invalid ${source} "${raw}": ${want}`);
  };
  const min = spec.min ?? 0;
  switch (spec.kind) {
    case 'string':
      if (raw.length === 0) bad('must not be empty');
      return raw;
    case 'url': {
      let url: URL | null = null;
      try {
        url = new URL(raw);
      } catch {
        // answered below
      }
      if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) bad('must be an http:// or https:// URL');
      return raw;
    }
    case 'list': {
      const items = raw.split(',').map((i) => i.trim()).filter((i) => i !== '');
      if (items.length === 0) bad('must be one or more comma-separated values');
      return items as never;
    }
    case 'level':
      if (!LEVELS.has(raw)) bad(`must be one of ${[...LEVELS].join(', ')}`);
      return raw;
    case 'transport':
      if (!(TRANSPORT_CHOICES as readonly string[]).includes(raw)) bad(`must be one of ${TRANSPORT_CHOICES.join(', ')}`);
      return raw;
    case 'topics': {
      const topics = raw.split(',').map((t) => t.trim()).filter((t) => t !== '');
      if (topics.length === 0 || topics.length > 20 || topics.some((t) => !isTopic(t))) {
        bad('must be 1-20 comma-separated topics (no ":", "*" or whitespace)');
      }
      return topics as never;
    }
    case 'flag':
      return raw;
    case 'fallback':
      if (raw !== 'skip' && raw !== 'drop') bad('must be skip or drop');
      return raw;
    case 'origins': {
      const origins = raw.split(',').map((o) => o.trim()).filter((o) => o !== '');
      if (origins.length === 0 || origins.some((o) => !/^https?:\/\/[^/\s]+$/.test(o))) bad('must be comma-separated origins like https://app.example.com');
      return origins as never;
    }
    case 'proxies':
      try {
        return [...TrustedProxies.parse(raw).ranges] as never;
      } catch (err) {
        return bad(`must be comma-separated IPv4/IPv6 addresses or CIDRs like 127.0.0.1/32,10.0.0.0/8,::1 (${(err as Error).message})`);
      }
    case 'servers': {
      const servers = raw.split(',').map((u) => u.trim()).filter((u) => u !== '');
      const valid = (u: string): boolean => {
        const m = /^(?:(nats|tls):\/\/)?(?:[^@/\s]+@)?(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(u);
        return m !== null && (m[3] === undefined || Number(m[3]) <= 65_535);
      };
      if (servers.length === 0 || !servers.every(valid)) bad('must be comma-separated NATS URLs like nats://10.0.0.1:4222,nats://10.0.0.2:4222');
      return servers as never;
    }
    case 'switch':
      if (raw === 'on' || raw === 'true' || raw === '1') return 1;
      if (raw === 'off' || raw === 'false' || raw === '0') return 0;
      return bad('must be on or off');
    case 'port': {
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n > 65_535) bad('must be an integer between 0 and 65535');
      return n;
    }
    case 'count': {
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < min) bad(`must be an integer >= ${min}`);
      return n;
    }
    case 'duration': {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw);
      const ms = m === null ? NaN : Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
      if (!Number.isFinite(ms) || Math.round(ms) < min) bad(`must be a duration like 500ms, 10s, 5m or 1h (bare numbers are seconds), at least ${min}ms`);
      return Math.round(ms);
    }
    case 'bytes': {
      const m = /^(\d+)\s*([a-z]*)$/i.exec(raw);
      const unit = m === null ? undefined : BYTE_UNITS[m[2]!.toLowerCase()];
      const n = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
      if (!Number.isSafeInteger(n) || n < min) bad(`must be a size like 65536, 512KiB or 1MiB, at least ${min} bytes`);
      return n;
    }
  }
}

/** Kinds whose value is a comma-separated list: a config file may give a JSON array of strings. */
const LIST_KINDS: ReadonlySet<Kind> = new Set(['topics', 'origins', 'servers', 'list', 'proxies']);

/**
 * The raw (string) value of every key of the JSON config file at `file`, by
 * flag name, as a flag would give it. Numbers and booleans are accepted where
 * the flag takes them, arrays of strings for the list flags.
 */
function readConfigFile(file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`config file ${file} must hold a JSON object of flag names to values`);
  const out = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    const spec = FLAGS.find((f) => f.flag === key);
    if (spec === undefined) {
      const hint = FLAGS.find((f) => f.flag === key.replace(/^--/, '') || f.env === key);
      throw new CliError(`config file ${file}: unknown key "${key}"${hint ? ` (did you mean "${hint.flag}"?)` : ''}`);
    }
    const bad = (want: string): never => {
      throw new CliError(`invalid "${key}" in config file ${file}: ${want}`);
    };
    if (typeof v === 'string') out.set(key, v);
    else if (typeof v === 'number' && Number.isFinite(v) && spec.kind !== 'flag') out.set(key, String(v));
    else if (typeof v === 'boolean' && spec.kind === 'flag') out.set(key, v ? 'true' : 'false');
    else if (typeof v === 'boolean' && spec.kind === 'switch') out.set(key, v ? 'on' : 'off');
    else if (Array.isArray(v) && LIST_KINDS.has(spec.kind) && v.every((x) => typeof x === 'string')) out.set(key, v.join(','));
    else bad(spec.kind === 'flag' ? 'must be true or false' : LIST_KINDS.has(spec.kind) ? 'must be a string or an array of strings' : 'must be a string or a number');
  }
  return out;
}

/** The secret in `<env>_FILE`'s file (one trailing newline dropped), or undefined when it is not set. */
function secretFromFile(spec: FlagSpec, env: NodeJS.ProcessEnv): string | undefined {
  const name = `${spec.env}_FILE`;
  const file = env[name];
  if (file === undefined || file === '') return undefined;
  if (env[spec.env] !== undefined) throw new CliError(`set ${spec.env} or ${name}, not both`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new CliError(`${name}: ${file} is empty`);
  return value;
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    config: { type: 'string' },
  };
  for (const spec of FLAGS) options[spec.flag] = { type: spec.kind === 'flag' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0]!);
  }

  const configFile = typeof values.config === 'string' ? values.config : env.FANWIRE_CONFIG || null;
  const fromFile = configFile === null ? new Map<string, string>() : readConfigFile(configFile);

  const config: GatewayConfig = { ...DEFAULT_CONFIG };
  let logLevel = 'info';
  for (const spec of FLAGS) {
    const fromFlag = values[spec.flag];
    const fromEnv = spec.secret ? (secretFromFile(spec, env) ?? env[spec.env]) : env[spec.env];
    if (spec.kind === 'flag') {
      const truthy = (v: string | undefined): boolean => ['1', 'true', 'on'].includes(v ?? '');
      const on = fromFlag === true || (fromEnv !== undefined && fromEnv !== '' ? truthy(fromEnv) : truthy(fromFile.get(spec.flag)));
      if (spec.key !== undefined) (config as unknown as Record<string, unknown>)[spec.key] = on;
      continue;
    }
    let raw: string | undefined;
    let source: string;
    if (typeof fromFlag === 'string') [raw, source] = [fromFlag, `--${spec.flag}`];
    else if (fromEnv !== undefined) [raw, source] = [fromEnv, env[spec.env] === undefined ? `${spec.env}_FILE` : spec.env];
    else [raw, source] = [fromFile.get(spec.flag), `"${spec.flag}" in config file ${configFile}`];
    if (raw === undefined) continue;
    const value = parseValue(spec, raw, source);
    if (spec.key !== undefined) (config as unknown as Record<string, unknown>)[spec.key] = spec.kind === 'switch' ? value === 1 : value;
    else logLevel = value as string;
  }
  const problem = configProblem(config);
  if (problem !== null) throw new CliError(problem);
  return { config, logLevel, help: values.help === true, version: values.version === true };
}

export function usage(): string {
  const rows = FLAGS.map((s) => `  --${s.flag.padEnd(18)} ${s.help} [${s.env}]`);
  return [
    'Usage: fanwire [options]',
    '',
    'WebSocket fan-out gateway. Producers publish at /v1/publish, subscribers read /v1/subscribe.',
    '',
    'Options (each also read from the environment variable in brackets, then from the config file):',
    ...rows,
    '  --config             JSON file of settings keyed by flag name, e.g. {"port": 8080, "buffer-ttl": "5m"}; flags and variables win over it [FANWIRE_CONFIG]',
    `  secrets (${FLAGS.filter((f) => f.secret).map((f) => f.env).join(', ')}) may be read from a file named by <VARIABLE>_FILE`,
    '  -h, --help             show this help',
    '  -v, --version          print the version',
  ].join('\n');
}
