/**
 * The gateway's plain HTTP endpoints: the dashboard page, health,
 * readiness, stats, laggards, metrics and POST /v1/publish. Every answer is JSON (metrics excepted) and
 * every refusal carries a documented error code (docs/protocol.md). With auth
 * on, the operator endpoints (stats, subscribers, metrics) need a token with
 * the `ops: true` claim; health, readiness and the page stay open for load
 * balancers and browsers.
 */
import { readFile } from 'node:fs/promises';
import type { Grant } from '../auth/index.js';
import type { EventBuffer } from '../buffer/index.js';
import {
  BadQueryError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  ShuttingDownError,
  isFanwireError,
  UnsupportedMediaTypeError,
  UpgradeRequiredError,
  type FanwireError,
} from '../errors.js';
import type { GatewayMetrics } from '../metrics/index.js';
import { httpStatusOf, type Event } from '../protocol/index.js';
import type { HttpReply, HttpRequest } from '../transport/index.js';
import type { GatewayConfig } from './config.js';
import type { GatewayCounters } from './counters.js';
import type { PublishPath } from './publish-path.js';
import type { SubscriberReport } from './subscription.js';

/** What the routes need from the gateway. */
export interface HttpApi {
  readonly ready: boolean;
  /** GET /readyz: 200 only for "ready". */
  readonly readyStatus: string;
  readonly config: Readonly<GatewayConfig>;
  readonly buffer: EventBuffer<Event>;
  readonly counters: GatewayCounters;
  readonly metrics: GatewayMetrics | null;
  readonly subscriberCount: number;
  stats(): Record<string, unknown>;
  laggards(limit: number): SubscriberReport[];
  renderMetrics(): Promise<HttpReply>;
  authorize(req: HttpRequest): Promise<Grant | null>;
  /** Validates and appends (or, in cluster mode, publishes) POSTed frames, as for WebSocket producers. */
  readonly publishPath: PublishPath;
}

const MSGPACK_TYPES = new Set(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack']);

export function jsonReply(status: number, body: unknown): HttpReply {
  return { status, body: JSON.stringify(body) };
}

export function errorReply(err: FanwireError, extra?: Record<string, unknown>): HttpReply {
  return jsonReply(httpStatusOf(err.code), { code: err.code, message: err.message, ...extra });
}

/** The dashboard page, built by scripts/build-dashboard.mjs; read once. */
const DASHBOARD = new URL('../../dist/dashboard/index.html', import.meta.url);
let dashboardHtml: Promise<string | null> | null = null;

async function dashboard(): Promise<HttpReply> {
  dashboardHtml ??= readFile(DASHBOARD, 'utf8').catch(() => null);
  const html = await dashboardHtml;
  if (html === null) return errorReply(new NotFoundError('the dashboard is not built: run npm run build'));
  return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }, body: html };
}

/**
 * Null when `grant` may use the operator endpoints (auth off, or an `ops`
 * token), else the 403 to answer with.
 */
export function operatorRefusal(grant: Grant | null): HttpReply | null {
  if (grant === null || grant.ops) return null;
  return errorReply(new ForbiddenError('the operator endpoints (/metrics, /v1/stats, /v1/subscribers) need a token with the claim "ops": true'));
}

/** Serves an operator endpoint to an `ops` token (or anyone with auth off); else 401/403. */
async function asOperator(api: HttpApi, req: HttpRequest, serve: () => HttpReply | Promise<HttpReply>): Promise<HttpReply> {
  let grant: Grant | null;
  try {
    grant = await api.authorize(req);
  } catch (err) {
    if (isFanwireError(err)) return errorReply(err);
    throw err;
  }
  return operatorRefusal(grant) ?? serve();
}

export async function routeHttp(api: HttpApi, req: HttpRequest): Promise<HttpReply> {
  switch (req.path) {
    case '/':
    case '/index.html':
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(new MethodNotAllowedError('use GET'));
      return dashboard();
    case '/healthz':
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(new MethodNotAllowedError('use GET'));
      return jsonReply(200, { status: 'ok' });
    case '/readyz':
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(new MethodNotAllowedError('use GET'));
      return jsonReply(api.readyStatus === 'ready' ? 200 : 503, { status: api.readyStatus });
    case '/v1/stats':
      if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET'));
      return asOperator(api, req, () => jsonReply(200, api.stats()));
    case '/v1/subscribers':
      if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET'));
      return asOperator(api, req, () => subscribers(api, req));
    case '/metrics':
      if (api.metrics === null || api.config.metricsPort !== null) return errorReply(new NotFoundError(api.metrics === null ? 'metrics are off (--metrics off)' : `metrics are served on --metrics-port ${api.config.metricsPort}`));
      if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET'));
      return asOperator(api, req, () => api.renderMetrics());
    case '/v1/publish':
      if (req.method === 'GET') return errorReply(new UpgradeRequiredError('GET /v1/publish is a WebSocket endpoint; POST a frame to publish over HTTP'));
      if (req.method !== 'POST') return errorReply(new MethodNotAllowedError('use POST, or GET with a WebSocket upgrade'));
      return httpPublish(api, req);
    case '/v1/subscribe':
      if (req.method !== 'GET') return errorReply(new MethodNotAllowedError('use GET with a WebSocket upgrade'));
      return errorReply(new UpgradeRequiredError('/v1/subscribe is a WebSocket endpoint'));
    default:
      return errorReply(new NotFoundError(`no route for ${req.path}`));
  }
}

function subscribers(api: HttpApi, req: HttpRequest): HttpReply {
  const sort = req.query.get('sort') ?? 'lag';
  const rawLimit = req.query.get('limit') ?? '50';
  const limit = /^\d{1,5}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (sort !== 'lag') return errorReply(new BadQueryError(`sort "${sort}" is not supported: use lag`));
  if (!(limit >= 1 && limit <= 1000)) return errorReply(new BadQueryError(`limit "${rawLimit}" must be an integer from 1 to 1000`));
  return jsonReply(200, { subscribers: api.laggards(limit), newestIndex: api.buffer.newestIndex, total: api.subscriberCount });
}

async function httpPublish(api: HttpApi, req: HttpRequest): Promise<HttpReply> {
  if (!api.ready) return errorReply(new ShuttingDownError());
  const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const binary = MSGPACK_TYPES.has(type);
  if (!binary && type !== 'application/json') {
    return errorReply(new UnsupportedMediaTypeError(`content-type "${type}" is not supported: use application/msgpack or application/json`));
  }
  let grant: Grant | null;
  let body: Buffer;
  try {
    // Start reading at once (uWS needs its data handler before any await); authorize meanwhile.
    const reading = req.readBody(api.config.maxFrameBytes);
    reading.catch(() => {});
    grant = await api.authorize(req);
    body = await reading;
  } catch (err) {
    if (isFanwireError(err)) return errorReply(err);
    throw err;
  }
  const reply = await api.publishPath.publish(body, binary, grant);
  if (reply.type === 'error') {
    const { type: _type, ...rest } = reply;
    return jsonReply(httpStatusOf(reply.code), rest);
  }
  const { type: _ack, ...ack } = reply;
  return jsonReply(200, ack);
}
