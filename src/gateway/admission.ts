/**
 * Admission: whether a WebSocket upgrade becomes a subscriber, a producer,
 * or a refusal, decided before the connection exists. In order: the path,
 * serving state, Origin (--allowed-origins), the token (401), then for a
 * subscriber the query, the connection limits (--max-subscribers, and per
 * remote address; 429), the token's read claims (403) and where its stream
 * starts (resume rules; `strict` refuses with 410). Every refusal is counted
 * by error code.
 *
 * A browser sees no HTTP status on a refused WebSocket, only 1006, as for a
 * network fault. So when the client offered the fanwire.v1 subprotocol, a
 * refusal of the request itself (400, 401, 403, 410: retrying the same
 * request cannot help) is an accepted connection closed at once with 4000 +
 * the status. Load refusals (429, 503), unknown paths and Origin refusals (a
 * page that should not be talking to us at all) stay HTTP answers: accepting
 * a flood to close it would cost more than refusing it.
 */
import { SUBPROTOCOL, TokenVerifier, tokenOf, type AuthLog, type Grant } from '../auth/index.js';
import { BufferItem, type EventBuffer } from '../buffer/index.js';
import {
  BadQueryError,
  ForbiddenError,
  IndexGoneError,
  isFanwireError,
  LimitExceededError,
  NotFoundError,
  ShuttingDownError,
  UnauthorizedError,
} from '../errors.js';
import { parseSubscribeQuery, refusalOf, type CloseFrame, type Event, type SubscribeRequest } from '../protocol/index.js';
import type { HttpRequest, UpgradeDecision } from '../transport/index.js';
import { SUBSCRIBER_MAX_PAYLOAD, type GatewayConfig } from './config.js';
import type { GatewayCounters } from './counters.js';
import { errorReply } from './http-routes.js';
import type { ServingState } from './serving-state.js';
import type { SubscriberRegistry } from './subscriber-registry.js';

/** Where a subscription starts. */
export interface StartPlan {
  /** The position the cursor reads after. */
  start: BufferItem<Event>;
  /** Items below this index are skipped (a resume index not yet reached). */
  startAt: number;
  /** First index the stream can deliver; goes in hello. */
  index: number;
  gap: boolean;
  /**
   * snapshot=1 and not an exact resume: the subscription starts with a
   * snapshot, at the tail as of its opening (subscriber-registry.ts takes
   * that position when it builds the snapshot, so the two are consistent).
   */
  snapshot: boolean;
}

/** What an accepted upgrade opens. */
export type UpgradeContext =
  | { kind: 'publisher'; grant: Grant | null }
  | { kind: 'subscriber'; plan: StartPlan; request: SubscribeRequest; grant: Grant | null }
  /** A refusal answered as a close, for a client that offered fanwire.v1. */
  | { kind: 'refused'; close: CloseFrame };

export class Admission {
  private readonly config: Readonly<GatewayConfig>;
  private readonly state: ServingState;
  private readonly counters: GatewayCounters;
  private readonly buffer: EventBuffer<Event>;
  private readonly subscribers: SubscriberRegistry;
  /** Token verification; null when auth is off. */
  private verifier: TokenVerifier | null = null;

  constructor(config: Readonly<GatewayConfig>, state: ServingState, counters: GatewayCounters, buffer: EventBuffer<Event>, subscribers: SubscriberRegistry) {
    this.config = config;
    this.state = state;
    this.counters = counters;
    this.buffer = buffer;
    this.subscribers = subscribers;
  }

  /**
   * Loads the configured keys (secret, public key, JWKS file, or a JWKS URL
   * fetched now); resolves with whether auth is on. `log` gets JWKS fetch
   * failures and recoveries.
   */
  async loadKeys(log: AuthLog): Promise<boolean> {
    const { config } = this;
    this.verifier = await TokenVerifier.create({
      secret: config.authSecret,
      publicKeyFile: config.authPublicKeyFile,
      jwksFile: config.authJwksFile,
      jwksUrl: config.authJwksUrl,
      jwksCooldownMs: config.authJwksCooldownMs,
      jwksCacheMaxAgeMs: config.authJwksCacheMaxAgeMs,
      jwksTimeoutMs: config.authJwksTimeoutMs,
      issuer: config.authIssuer,
      audience: config.authAudience,
      log,
    });
    return this.verifier !== null;
  }

  /**
   * The token of a request, verified; null when auth is off. Throws
   * UnauthorizedError (401) for a missing or invalid one.
   */
  async authorize(req: Pick<HttpRequest, 'header' | 'query'>): Promise<Grant | null> {
    if (this.verifier === null) return null;
    const token = tokenOf(req.header('authorization'), req.query.get('token'), req.header('sec-websocket-protocol'));
    if (token === null) {
      throw new UnauthorizedError(`a token is required: Authorization: Bearer <jwt>, ?token=<jwt>, or the subprotocols ["${SUBPROTOCOL}", <jwt>]`);
    }
    return this.verifier.verify(token);
  }

  /** Accepts or refuses a WebSocket upgrade (see the header for how a refusal is answered). */
  async decide(req: HttpRequest): Promise<UpgradeDecision<UpgradeContext>> {
    const { config } = this;
    const offered = (req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
    const protocol = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined;
    let asClose = false;
    try {
      if (req.path !== '/v1/subscribe' && req.path !== '/v1/publish') throw new NotFoundError(`no WebSocket endpoint at ${req.path}`);
      if (!this.state.accepting) throw new ShuttingDownError();
      const origin = req.header('origin');
      if (origin !== undefined && config.allowedOrigins.length > 0 && !config.allowedOrigins.includes(origin)) {
        throw new ForbiddenError(`origin ${origin} is not allowed (--allowed-origins)`);
      }
      asClose = protocol !== undefined;
      const grant = await this.authorize(req);
      if (req.path === '/v1/publish') {
        const extra = [...req.query.keys()].find((k) => k !== 'token');
        if (extra !== undefined) throw new BadQueryError(`/v1/publish takes no query parameters but token, got "${extra}"`);
        return { accept: true, context: { kind: 'publisher', grant }, maxPayload: config.maxFrameBytes, protocol };
      }
      const request = parseSubscribeQuery(req.query, config.maxTopics);
      this.checkSubscriberLimits(req.remoteAddress);
      if (grant !== null) checkRead(grant, request);
      if (!this.state.accepting) throw new ShuttingDownError();
      const plan = planStart(this.buffer, this.state.epoch, request);
      return {
        accept: true,
        context: { kind: 'subscriber', plan, request, grant },
        maxPayload: SUBSCRIBER_MAX_PAYLOAD,
        protocol,
      };
    } catch (err) {
      if (!isFanwireError(err)) throw err;
      this.counters.upgradeRefused(err.code);
      const close = asClose ? refusalOf(err) : null;
      if (close !== null) return { accept: true, context: { kind: 'refused', close }, maxPayload: SUBSCRIBER_MAX_PAYLOAD, protocol };
      const extra = err instanceof IndexGoneError ? { oldest: err.oldest, epoch: err.epoch } : undefined;
      return { accept: false, reply: errorReply(err, extra) };
    }
  }

  /** Refuses (429) a subscriber past --max-subscribers or --max-subscribers-per-address. */
  private checkSubscriberLimits(address: string): void {
    const { maxSubscribers, maxSubscribersPerAddress } = this.config;
    let limit: string | null = null;
    if (this.subscribers.size >= maxSubscribers) limit = 'max-subscribers';
    else if (this.subscribers.countAt(address) >= maxSubscribersPerAddress) limit = 'max-subscribers-per-address';
    if (limit === null) return;
    this.counters.limitReached(limit);
    const count = limit === 'max-subscribers' ? maxSubscribers : maxSubscribersPerAddress;
    throw new LimitExceededError(limit, `${limit} (${count}) reached; try again later`);
  }
}

/** Refuses (403) a subscription asking for more than its token may read. */
function checkRead(grant: Grant, request: SubscribeRequest): void {
  if (request.topics === null) {
    if (!grant.read.allowsEverything) throw new ForbiddenError('the token does not allow reading every topic: ask for topics it allows');
    return;
  }
  for (const { topic, key } of request.topics) {
    if (!grant.read.allowsRead(topic, key)) throw new ForbiddenError(`the token does not allow reading "${key === null ? topic : `${topic}:${key}`}"`);
  }
}

/**
 * Nomad's resume rule, plus epochs: `index=N` delivers items >= N. A request
 * older than the buffer, or from another epoch, starts at the oldest item with
 * `gap: true`, or with `strict` is refused (IndexGoneError).
 */
export function planStart(buffer: EventBuffer<Event>, epoch: string, req: SubscribeRequest): StartPlan {
  const newest = buffer.newestIndex;
  if (req.index === null) return { start: buffer.tailItem(), startAt: 0, index: newest + 1, gap: false, snapshot: req.snapshot };

  const oldest = buffer.oldestIndex;
  const sameEpoch = req.epoch === null || req.epoch === epoch;
  const gap = !sameEpoch || Math.max(req.index, 1) < oldest;
  if (gap && req.strict) {
    const why = sameEpoch ? `index ${req.index} is older than the oldest index held (${oldest})` : `epoch "${req.epoch}" is not the current epoch`;
    throw new IndexGoneError(why, oldest, epoch);
  }
  // A gap with a snapshot: the snapshot stands for everything up to the tail, the stream goes on from there.
  if (gap && req.snapshot) return { start: buffer.tailItem(), startAt: 0, index: newest + 1, gap, snapshot: true };
  const want = gap ? oldest : Math.max(req.index, 1);
  if (want > newest) return { start: buffer.tailItem(), startAt: want, index: want, gap, snapshot: false };
  const { item } = buffer.startAtClosest(want);
  return { start: BufferItem.before(item), startAt: 0, index: item.index, gap, snapshot: false };
}
