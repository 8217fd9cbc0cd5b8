/**
 * Producer frame validation: decoded value -> PublishFrame, or an
 * InvalidFrameError whose message names the offending field
 * (`events[3].topic: ...`). All checks happen before anything is appended,
 * so a batch is accepted whole or not at all.
 *
 * Payloads must be plain data (see "Events" in docs/protocol.md). Checking it
 * here, once per publish, is what lets the fan-out encode every item for
 * every format without a failure path.
 */
import { InvalidFrameError } from '../errors.js';
import type { Event, FrameId, PublishFrame } from './messages.js';
import { TOPIC_MAX_BYTES, topicProblem, utf8Bytes } from './topic.js';

/** String limits are in bytes of UTF-8, which every client language can count the same way. */
export const LIMITS = {
  topicBytes: TOPIC_MAX_BYTES,
  typeBytes: 128,
  keyBytes: 256,
  filterKeys: 64,
  idBytes: 128,
  idempotencyKeyBytes: 128,
  payloadDepth: 64,
} as const;

const EVENT_FIELDS = new Set(['topic', 'type', 'key', 'filterKeys', 'payload']);
const SINGLE_FIELDS = new Set([...EVENT_FIELDS, 'id', 'idempotencyKey']);
const BATCH_FIELDS = new Set(['id', 'events', 'idempotencyKey']);
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function fail(path: string, problem: string): never {
  throw new InvalidFrameError(path === '' ? problem : `${path}: ${problem}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The frame's `id`, when it has a well-formed one; used to label error replies even for invalid frames. */
export function frameIdOf(value: unknown): FrameId | undefined {
  if (!isPlainObject(value)) return undefined;
  const id = value.id;
  if (typeof id === 'string' && utf8Bytes(id, LIMITS.idBytes) <= LIMITS.idBytes) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return undefined;
}

/** Validates a decoded producer frame (single event or batch). Throws InvalidFrameError. */
export function parsePublishFrame(value: unknown, maxEvents = Number.MAX_SAFE_INTEGER): PublishFrame {
  if (!isPlainObject(value)) fail('', 'frame must be a map');
  const batch = Object.hasOwn(value, 'events');
  const allowed = batch ? BATCH_FIELDS : SINGLE_FIELDS;
  for (const field of Object.keys(value)) {
    if (!allowed.has(field)) {
      fail(field, batch && EVENT_FIELDS.has(field) ? 'not allowed beside "events" (put it in each event)' : 'unknown field');
    }
  }
  let id: FrameId | undefined;
  if (Object.hasOwn(value, 'id')) {
    id = frameIdOf(value);
    if (id === undefined) fail('id', `must be a string of at most ${LIMITS.idBytes} bytes or an integer`);
  }
  let idempotencyKey: string | undefined;
  if (Object.hasOwn(value, 'idempotencyKey')) {
    const k = value.idempotencyKey;
    if (typeof k !== 'string' || k.length === 0 || utf8Bytes(k, LIMITS.idempotencyKeyBytes) > LIMITS.idempotencyKeyBytes) {
      fail('idempotencyKey', `must be a string of 1-${LIMITS.idempotencyKeyBytes} bytes`);
    }
    idempotencyKey = k;
  }
  if (!batch) return idempotencyKey === undefined ? { id, events: [parseEvent(value, -1)] } : { id, events: [parseEvent(value, -1)], idempotencyKey };

  const list = value.events;
  if (!Array.isArray(list)) fail('events', 'must be an array');
  if (list.length === 0) fail('events', 'must hold at least one event');
  if (list.length > maxEvents) fail('events', `at most ${maxEvents} events per frame, got ${list.length}`);
  const events = new Array<Event>(list.length);
  for (let i = 0; i < list.length; i++) {
    const raw: unknown = list[i];
    if (!isPlainObject(raw)) fail(eventPath(i), 'must be a map');
    // for-in, not Object.keys: no array per event (decoded maps have no inherited keys).
    for (const name in raw) if (!EVENT_FIELDS.has(name)) fail(field(i, name), 'unknown field');
    events[i] = parseEvent(raw, i);
  }
  return idempotencyKey === undefined ? { id, events } : { id, events, idempotencyKey };
}

/** The path of event `at` of a batch ('' for a single-event frame, at = -1); built only for an error. */
function eventPath(at: number): string {
  return at < 0 ? '' : `events[${at}]`;
}

function field(at: number, name: string): string {
  return at < 0 ? name : `events[${at}].${name}`;
}

function optionalString(obj: Record<string, unknown>, name: string, at: number, max: number): string {
  const value = obj[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') fail(field(at, name), 'must be a string');
  if (utf8Bytes(value, max) > max) fail(field(at, name), `must be at most ${max} bytes`);
  return value;
}

function parseEvent(obj: Record<string, unknown>, path: number): Event {
  const topic = obj.topic;
  if (topic === undefined) fail(field(path, 'topic'), 'required');
  if (typeof topic !== 'string') fail(field(path, 'topic'), 'must be a string');
  const problem = topicProblem(topic);
  if (problem !== null) fail(field(path, 'topic'), problem);
  const type = optionalString(obj, 'type', path, LIMITS.typeBytes);
  const key = optionalString(obj, 'key', path, LIMITS.keyBytes);
  if (!Object.hasOwn(obj, 'payload')) fail(field(path, 'payload'), 'required');
  checkPayload(obj.payload, path);
  const event: Event = { topic, type, key, payload: obj.payload };
  const filterKeys = obj.filterKeys;
  if (filterKeys !== undefined) {
    const name = field(path, 'filterKeys');
    if (!Array.isArray(filterKeys)) fail(name, 'must be an array of strings');
    if (filterKeys.length > LIMITS.filterKeys) fail(name, `must hold at most ${LIMITS.filterKeys} keys`);
    for (const k of filterKeys) {
      if (typeof k !== 'string') fail(name, 'must be an array of strings');
      if (utf8Bytes(k, LIMITS.keyBytes) > LIMITS.keyBytes) fail(name, `keys must be at most ${LIMITS.keyBytes} bytes`);
    }
    if (filterKeys.length > 0) event.filterKeys = filterKeys as string[];
  }
  return event;
}

/**
 * Plain data only: what both formats can carry to any client. Returns null when
 * the value is fine, else the problem with the path below `value`; the path is
 * built only on failure, so a valid payload allocates nothing here.
 */
function payloadProblem(value: unknown, depth: number): [string, string] | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : ['', 'numbers must be finite'];
    case 'bigint':
      return value < INT64_MIN || value > UINT64_MAX ? ['', 'integers must fit in 64 bits'] : null;
    case 'object':
      break;
    default:
      return ['', `unsupported value of type ${typeof value}`];
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) {
    return value.constructor === Buffer || value.constructor === Uint8Array ? null : ['', 'unsupported typed array'];
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? ['', 'invalid timestamp'] : null;
  if (depth >= LIMITS.payloadDepth) return ['', `nested deeper than ${LIMITS.payloadDepth} levels`];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = payloadProblem(value[i], depth + 1);
      if (problem !== null) return [`[${i}]${problem[0]}`, problem[1]];
    }
    return null;
  }
  if (!isPlainObject(value)) {
    return ['', 'unsupported value (only maps, arrays, strings, numbers, booleans, null, binary and timestamps)'];
  }
  for (const k in value) {
    if (k === '__proto__') return ['', 'the map key "__proto__" is not allowed'];
    const problem = payloadProblem(value[k], depth + 1);
    if (problem !== null) return [`.${k}${problem[0]}`, problem[1]];
  }
  return null;
}

function checkPayload(value: unknown, at: number): void {
  const problem = payloadProblem(value, 0);
  if (problem !== null) fail(field(at, 'payload') + problem[0], problem[1]);
}
