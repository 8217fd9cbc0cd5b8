/**
 * LatestSync: keeps cluster mode's latest table (snapshot=1) alive beyond
 * the main stream's limits. A key's newest event is always either in the
 * main stream or, once it may leave it, in the latest-table stream
 * (cluster/latest-log.ts, one message per key). Loads those records when a
 * node starts.
 *
 * What gets written: main-log sequences are grouped in fixed ranges
 * (`rangeSize`, 1/16 of the main stream's `max_msgs`, the same on every
 * node). When a node reads the first sequence of range R, it writes a
 * record for every key whose newest event is in range R - 1 - `delay` (half
 * the ranges the main stream holds): keys that went quiet and whose event
 * will be evicted some ranges later. A key updated all the time is never
 * written; a key costs one record each time it goes quiet.
 *
 * Why the stream's record of a key is its newest event although every node
 * writes concurrently: every node makes the same choice at the same range
 * (the table and the log are the same everywhere), writes ranges in order,
 * and names each record by (sequence, key). A key's later record comes from
 * a later range, and whoever wrote it wrote the earlier one first; JetStream
 * stores an id once within its duplicate window, so a late write of the
 * earlier one is dropped. A node writes a range only within half the
 * duplicate window after JetStream stored the sequence that closed it, and
 * since that age only grows, no node writes it later than that. Never skip
 * a range for any other reason (a full queue, say): a node that wrote a
 * later range without an earlier one could let another node's late first
 * write of the earlier one land over it.
 */
import type { LatestLog, LatestRecord } from '../cluster/latest-log.js';
import type { ClusterLogger } from '../cluster/index.js';
import type { LatestEntry, LatestTable } from '../fanout/index.js';
import { decodeFrame, encodeMsgpack, parsePublishFrame, type Event } from '../protocol/index.js';

/** The range of a main stream without a message limit. */
const UNLIMITED_RANGE = 65_536;
/** Ranges assumed held by a main stream without a message limit. */
const UNLIMITED_RANGES_HELD = 16;

/**
 * The range size every node derives from the main stream's `max_msgs`
 * (<= 0: unlimited): 1/16 of it, at least 1. Large ranges are cheap: a key
 * is written only after it has been quiet for `delayFor` ranges.
 */
export function rangeSizeFor(maxMsgs: number): number {
  if (!(maxMsgs > 0)) return UNLIMITED_RANGE;
  return Math.max(1, Math.floor(maxMsgs / 16));
}

/** Ranges a key stays quiet before it is written: half the ranges the main stream holds. */
export function delayFor(maxMsgs: number, rangeSize: number): number {
  const held = maxMsgs > 0 ? Math.floor(maxMsgs / rangeSize) : UNLIMITED_RANGES_HELD;
  return Math.floor(held / 2);
}

/** The subject token of (topic, key): hex of each, so any string is a valid token; "_" for the empty key. */
export function latestToken(topic: string, key: string): string {
  return `${Buffer.from(topic, 'utf8').toString('hex')}.${key === '' ? '_' : Buffer.from(key, 'utf8').toString('hex')}`;
}

/** A time on JetStream's clock (ms since the epoch) on the buffer's clock (performance.now). */
export function localTime(storedAt: number): number {
  return performance.now() - Math.max(0, Date.now() - storedAt);
}

/** The inverse of `localTime`. */
function epochTime(at: number): number {
  return Math.round(Date.now() - (performance.now() - at));
}

interface Range {
  records: LatestEntry<Event>[];
  /** When JetStream stored the sequence that closed it: the same on every node. */
  closedAt: number;
}

export interface LatestSyncStats {
  /** Records this node stored (duplicates of another node's write excluded). */
  written: number;
  /** Records another node had already stored. */
  duplicates: number;
  /** Ranges this node left to the others: too old to write within the duplicate window. */
  skippedRanges: number;
  /** Writes that failed and were retried. */
  failures: number;
}

export class LatestSync {
  readonly stats: LatestSyncStats = { written: 0, duplicates: 0, skippedRanges: 0, failures: 0 };
  private readonly log: LatestLog;
  private readonly table: LatestTable<Event>;
  private readonly rangeSize: number;
  private readonly delay: number;
  private readonly logger: ClusterLogger;
  private currentRange = -1;
  /** Keys with their newest event at or below this sequence were chosen already. */
  private chosenThrough = 0;
  private readonly queue: Range[] = [];
  private writing = false;
  private stopped = false;

  /**
   * `delay`: ranges a key stays quiet before it is written; keep it well
   * under the ranges the main stream holds (`delayFor`).
   */
  constructor(log: LatestLog, table: LatestTable<Event>, rangeSize: number, delay: number, logger: ClusterLogger) {
    this.log = log;
    this.table = table;
    this.rangeSize = rangeSize;
    this.delay = delay;
    this.logger = logger;
  }

  /** Takes main-log sequence `seq`, read in order, once the table has recorded it. */
  observe(seq: number, storedAt: number): void {
    const range = Math.floor((seq - 1) / this.rangeSize);
    if (range === this.currentRange) return;
    this.currentRange = range;
    // Keys whose newest event is in a range ending at or before this one went quiet.
    const upTo = (range - this.delay) * this.rangeSize;
    if (upTo <= this.chosenThrough) return;
    const records = this.table.quietBetween(this.chosenThrough, upTo);
    this.chosenThrough = upTo;
    if (records.length === 0) return;
    this.queue.push({ records, closedAt: storedAt });
    if (!this.writing) void this.drain();
  }

  /** Ranges chosen and not yet written (0: every record chosen so far is stored). */
  get backlog(): number {
    return this.queue.length;
  }

  /** Stops writing; what is queued is left to the other nodes. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    let attempt = 0;
    while (!this.stopped && this.queue.length > 0) {
      const range = this.queue[0]!;
      // Too old: a write now could land after the duplicate window and put an older record over a newer one.
      if (Date.now() - range.closedAt > this.log.duplicateWindowMs / 2) {
        this.queue.shift();
        this.stats.skippedRanges++;
        attempt = 0;
        continue;
      }
      try {
        // Published back to back on one connection: stored in this order.
        const stored = await Promise.all(
          range.records.map((r) => {
            const token = latestToken(r.event.topic, r.event.key);
            return this.log.put(token, encodeMsgpack({ events: [r.event] }), r.index, epochTime(r.at), `${r.index}.${token}`);
          }),
        );
        for (const s of stored) {
          if (s) this.stats.written++;
          else this.stats.duplicates++;
        }
        if (this.queue[0] === range) this.queue.shift();
        attempt = 0;
      } catch (err) {
        this.stats.failures++;
        attempt++;
        if (attempt === 1) this.logger.warn({ err: (err as Error).message }, 'cluster: writing latest-table records failed, retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** Math.min(attempt, 4), 4_000)));
      }
    }
    this.writing = false;
  }
}

/**
 * Puts the records below `firstSeq` (older than anything the main stream
 * still holds) into `table`, in sequence order, so the table ends as if it
 * had read them live; the main stream supplies the rest. Returns how many
 * it took.
 */
export function loadLatest(records: readonly LatestRecord[], firstSeq: number, table: LatestTable<Event>, logger: ClusterLogger): number {
  const older = records.filter((r) => r.seq < firstSeq).sort((a, b) => a.seq - b.seq);
  let taken = 0;
  for (const record of older) {
    let events: Event[];
    try {
      events = parsePublishFrame(decodeFrame(record.data, true)).events;
    } catch (err) {
      logger.warn({ seq: record.seq, err: (err as Error).message }, 'cluster: skipping a latest-table record that is not a valid fanwire frame');
      continue;
    }
    table.recordEvents(record.seq, events, record.data.byteLength, localTime(record.storedAt));
    taken++;
  }
  return taken;
}
