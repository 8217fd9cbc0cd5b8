/**
 * Parses the query of `GET /v1/subscribe` into a SubscribeRequest, or throws
 * BadQueryError naming the problem. Runs before the upgrade is accepted, so a
 * bad query costs an HTTP 400 and never a WebSocket.
 */
import { BadQueryError } from '../errors.js';
import type { Format, LagPolicy, SkipTo } from './messages.js';
import { isTopic, utf8Bytes } from './topic.js';
import { LIMITS } from './validate.js';

export interface TopicSelector {
  topic: string;
  /** Match only events whose key, or one of whose filterKeys, equals this. */
  key: string | null;
}

export interface SubscribeRequest {
  /** null: every topic. */
  topics: TopicSelector[] | null;
  /** Deliver items with index >= this; null: live only. */
  index: number | null;
  epoch: string | null;
  format: Format;
  strict: boolean;
  /** What happens when the subscriber falls behind (docs/protocol.md, Slow subscribers). */
  lag: LagPolicy;
  /** Where `lag=skip` (and conflate's skip fallback) jumps when the cursor's item is evicted. */
  skipTo: SkipTo;
  /** `batch=1`: several events messages may travel as one `batch` message (docs/protocol.md). */
  batch: boolean;
  /** `snapshot=1`: the newest event per (topic, key) first, then the stream (docs/protocol.md). */
  snapshot: boolean;
}

export const MAX_TOPICS_PER_SUBSCRIPTION = 64;
/** `token` is read by the auth layer, not here. */
const KNOWN = new Set(['topic', 'index', 'epoch', 'format', 'strict', 'lag', 'skip_to', 'batch', 'snapshot', 'token']);

export function parseSubscribeQuery(params: URLSearchParams, maxTopics = MAX_TOPICS_PER_SUBSCRIPTION): SubscribeRequest {
  for (const name of new Set(params.keys())) {
    if (!KNOWN.has(name)) throw new BadQueryError(`unknown query parameter "${name}"`);
    if (name !== 'topic' && params.getAll(name).length > 1) throw new BadQueryError(`"${name}" given more than once`);
  }

  const rawTopics = params.getAll('topic');
  if (rawTopics.length > maxTopics) {
    throw new BadQueryError(`at most ${maxTopics} topics per subscription, got ${rawTopics.length}`);
  }
  const selectors: TopicSelector[] = [];
  let everything = rawTopics.length === 0;
  for (const raw of rawTopics) {
    if (raw === '*') {
      everything = true;
      continue;
    }
    const colon = raw.indexOf(':');
    const topic = colon === -1 ? raw : raw.slice(0, colon);
    const key = colon === -1 ? null : raw.slice(colon + 1);
    if (!isTopic(topic)) {
      throw new BadQueryError(`topic "${raw}" is malformed: want T or T:key, T being 1-${LIMITS.topicBytes} bytes without ":", "*" or whitespace`);
    }
    if (key !== null && (key.length === 0 || utf8Bytes(key, LIMITS.keyBytes) > LIMITS.keyBytes)) {
      throw new BadQueryError(`topic "${raw}": the key after ":" must be 1-${LIMITS.keyBytes} bytes`);
    }
    selectors.push({ topic, key });
  }

  const topics = everything ? null : selectors;

  let index: number | null = null;
  const rawIndex = params.get('index');
  if (rawIndex !== null) {
    index = /^\d{1,16}$/.test(rawIndex) ? Number(rawIndex) : NaN;
    if (!Number.isSafeInteger(index)) throw new BadQueryError(`index "${rawIndex}" is not a non-negative integer`);
  }

  const epoch = params.get('epoch');
  if (epoch !== null && (epoch.length === 0 || epoch.length > 64)) {
    throw new BadQueryError('epoch must be 1-64 characters');
  }

  const rawFormat = params.get('format') ?? 'msgpack';
  if (rawFormat !== 'msgpack' && rawFormat !== 'json') {
    throw new BadQueryError(`format "${rawFormat}" is not supported: use msgpack or json`);
  }

  const strict = flag(params, 'strict');
  if (strict && index === null) throw new BadQueryError('strict=1 needs an index');

  const lag = params.get('lag') ?? 'drop';
  if (lag !== 'drop' && lag !== 'skip' && lag !== 'conflate') {
    throw new BadQueryError(`lag "${lag}" is not a policy: use drop, skip or conflate`);
  }
  const rawSkipTo = params.get('skip_to');
  if (rawSkipTo !== null && rawSkipTo !== 'oldest' && rawSkipTo !== 'tail') {
    throw new BadQueryError(`skip_to "${rawSkipTo}" must be oldest or tail`);
  }
  if (rawSkipTo !== null && lag === 'drop') throw new BadQueryError('skip_to needs lag=skip or lag=conflate');

  const batch = flag(params, 'batch');
  const snapshot = flag(params, 'snapshot');
  // strict refuses a resume it cannot make exact; a snapshot makes any resume whole instead.
  if (snapshot && strict) throw new BadQueryError('snapshot=1 and strict=1 exclude each other: a snapshot heals what strict would refuse');

  return { topics, index, epoch, format: rawFormat, strict, lag, skipTo: rawSkipTo ?? 'oldest', batch, snapshot };
}

/** A boolean parameter: `1`/`true`, `0`/`false`, absent = false. */
function flag(params: URLSearchParams, name: string): boolean {
  const raw = params.get(name);
  if (raw === null || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new BadQueryError(`${name} "${raw}" must be 1, true, 0 or false`);
}
