/**
 * LatestSync: keeps cluster mode's latest table (snapshot=1) alive beyond
 * the main stream's limits by writing, for every (topic, key), its newest
 * event to the latest-table stream (cluster/latest-log.ts, one message per
 * subject), and loads those records when a node starts.
 *
 * Every node writes what it reads from the shared log, so the records do not
 * depend on any one node staying up; the duplicate window stores each once.
 * What makes the stream's last record of a key its newest event, although
 * nodes write concurrently: records are grouped by fixed ranges of main-log
 * sequences (`rangeSize`, the same on every node: it comes from the
 * stream's settings), each node writes a range's records (only the newest
 * event per key of the range) in range order, and a record's id is its
 * (sequence, key). So the first write of a key's record for range j comes
 * before the first write of its record for any later range (whoever wrote
 * that one wrote range j first); later writes of the same id are dropped
 * as duplicates. A range is written only within half the duplicate window
 * after JetStream stored its newest message: a node lagging more skips it
 * (the nodes ahead of it wrote it), and since that age only grows, no node
 * writes it later. Never skip a range for any other reason (a full queue,
 * say): a node that wrote range j+1 without range j could let another
 * node's late first write of j land over it. The queue is bounded by that
 * age instead: ranges older than it are dropped unwritten.
 *
 * A range is written once a sequence of the next range is read, so the
 * newest, unfinished range is only in the main stream, which never evicts
 * its newest messages by count (the range is at most 1/16 of `max_msgs`).
 */
import type { LatestLog, LatestRecord } from '../cluster/latest-log.js';
import type { ClusterLogger } from '../cluster/index.js';
import type { LatestTable } from '../fanout/index.js';
import { decodeFrame, encodeMsgpack, parsePublishFrame, type Event } from '../protocol/index.js';

const RANGE_MAX = 256;

/** The range size every node derives from the main stream's `max_msgs` (<= 0: unlimited). */
export function rangeSizeFor(maxMsgs: number): number {
  if (!(maxMsgs > 0)) return RANGE_MAX;
  return Math.max(1, Math.min(RANGE_MAX, Math.floor(maxMsgs / 16)));
}

/** The subject token of (topic, key): hex of each, so any string is a valid token; "_" for the empty key. */
export function latestToken(topic: string, key: string): string {
  return `${Buffer.from(topic, 'utf8').toString('hex')}.${key === '' ? '_' : Buffer.from(key, 'utf8').toString('hex')}`;
}

/** A time on JetStream's clock (ms since the epoch) on the buffer's clock (performance.now). */
export function localTime(storedAt: number): number {
  return performance.now() - Math.max(0, Date.now() - storedAt);
}

interface Pending {
  event: Event;
  seq: number;
  storedAt: number;
}

interface Range {
  records: Pending[];
  newestStoredAt: number;
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
  private readonly rangeSize: number;
  private readonly logger: ClusterLogger;
  /** The range being filled: topic -> key -> newest event of it. */
  private current = new Map<string, Map<string, Pending>>();
  private currentRange = -1;
  private currentNewest = 0;
  private readonly queue: Range[] = [];
  private writing = false;
  private stopped = false;

  constructor(log: LatestLog, rangeSize: number, logger: ClusterLogger) {
    this.log = log;
    this.rangeSize = rangeSize;
    this.logger = logger;
  }

  /** Takes main-log sequence `seq`, read in order. */
  observe(seq: number, events: readonly Event[], storedAt: number): void {
    const range = Math.floor((seq - 1) / this.rangeSize);
    if (range !== this.currentRange) {
      this.closeRange();
      this.currentRange = range;
    }
    if (storedAt > this.currentNewest) this.currentNewest = storedAt;
    for (const event of events) {
      let keys = this.current.get(event.topic);
      if (keys === undefined) {
        keys = new Map();
        this.current.set(event.topic, keys);
      }
      const pending = keys.get(event.key);
      if (pending === undefined) keys.set(event.key, { event, seq, storedAt });
      else {
        pending.event = event;
        pending.seq = seq;
        pending.storedAt = storedAt;
      }
    }
  }

  /** Closed ranges not yet written (0: everything observed up to the current range is stored). */
  get backlog(): number {
    return this.queue.length;
  }

  /** Stops writing; what is queued is left to the other nodes. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private closeRange(): void {
    if (this.current.size === 0) return;
    const records: Pending[] = [];
    for (const keys of this.current.values()) for (const pending of keys.values()) records.push(pending);
    this.queue.push({ records, newestStoredAt: this.currentNewest });
    this.current = new Map();
    this.currentNewest = 0;
    if (!this.writing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.writing = true;
    let attempt = 0;
    while (!this.stopped && this.queue.length > 0) {
      const range = this.queue[0]!;
      // Too old: a write now could land after the duplicate window and put an older record over a newer one.
      if (Date.now() - range.newestStoredAt > this.log.duplicateWindowMs / 2) {
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
            return this.log.put(token, encodeMsgpack({ events: [r.event] }), r.seq, r.storedAt, `${r.seq}.${token}`);
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
