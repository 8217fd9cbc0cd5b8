/**
 * LatestLog: a second JetStream stream beside the shared log that keeps one
 * message per subject, so what it holds outlives the main stream's own
 * limits. Cluster mode keeps the newest record of every (topic, key) there
 * (gateway/latest-sync.ts), so a node started after the main stream evicted
 * a key's messages still knows it.
 *
 * Like the rest of cluster/, it moves opaque bytes: a record is a subject
 * token chosen by the caller, a payload, the main-log sequence it stands
 * for and the time JetStream stored that sequence. Writes carry a message
 * id, so the same record written by every node is stored once
 * (JetStream's duplicate window); reads are last-per-subject.
 */
import { DeliverPolicy, type JsMsg, type StreamInfo } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { isStreamNotFound, type JetStreamLog } from './jetstream-log.js';

export interface LatestLogOptions {
  /** Stream name, created when missing (`max_msgs_per_subject` 1). */
  stream: string;
  /** Records are published to `<prefix>.<token>`; the stream captures `<prefix>.>`. */
  subjectPrefix: string;
  /** `max_msgs` of a stream this node creates: the number of records kept at most. */
  maxMsgs: number;
}

/** One record as read back. */
export interface LatestRecord {
  data: Uint8Array;
  /** The main-log sequence it stands for. */
  seq: number;
  /** When JetStream stored that sequence in the main log (ms since the epoch). */
  storedAt: number;
}

const SEQ_HEADER = 'Fanwire-Seq';
const STORED_HEADER = 'Fanwire-Stored-At';
/** JetStream's default duplicate window, used when the stream does not say. */
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

export class LatestLog {
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Within this, a record id written again is not stored again. */
  readonly duplicateWindowMs: number;
  private readonly log: JetStreamLog;

  private constructor(log: JetStreamLog, options: LatestLogOptions, info: StreamInfo) {
    this.log = log;
    this.stream = options.stream;
    this.subjectPrefix = options.subjectPrefix;
    const windowNs = info.config.duplicate_window;
    this.duplicateWindowMs = windowNs > 0 ? windowNs / 1e6 : DEFAULT_DUPLICATE_WINDOW_MS;
  }

  /** Finds the stream on `log`'s connection, or creates it. */
  static async open(log: JetStreamLog, options: LatestLogOptions): Promise<LatestLog> {
    let info: StreamInfo;
    try {
      info = await log.jsm.streams.info(options.stream);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        info = await log.jsm.streams.add({
          name: options.stream,
          subjects: [`${options.subjectPrefix}.>`],
          storage: 'file',
          retention: 'limits',
          discard: 'old',
          max_msgs_per_subject: 1,
          max_msgs: options.maxMsgs,
          num_replicas: 1,
        });
      } catch (addErr) {
        // Another node created it meanwhile; anything else (overlapping subjects) is the operator's to fix.
        try {
          info = await log.jsm.streams.info(options.stream);
        } catch {
          throw new Error(`cannot create stream ${options.stream} for the latest table: ${(addErr as Error).message}`, { cause: addErr });
        }
      }
    }
    if (info.config.max_msgs_per_subject !== 1) {
      throw new Error(`stream ${options.stream} must keep one message per subject (max_msgs_per_subject 1), it keeps ${info.config.max_msgs_per_subject}`);
    }
    return new LatestLog(log, options, info);
  }

  /**
   * Stores `data` as the record of `token` for main-log sequence `seq`.
   * `id` names the record: the same id within the duplicate window is
   * stored once. Resolves true when stored, false for a duplicate.
   */
  async put(token: string, data: Uint8Array, seq: number, storedAt: number, id: string): Promise<boolean> {
    const h = headers();
    h.set(SEQ_HEADER, String(seq));
    h.set(STORED_HEADER, String(storedAt));
    const ack = await this.log.js.publish(`${this.subjectPrefix}.${token}`, data, { msgID: id, headers: h, expect: { streamName: this.stream } });
    return !ack.duplicate;
  }

  /** Every subject's record, in the stream's order. */
  async readAll(timeoutMs: number): Promise<LatestRecord[]> {
    const info = await this.log.jsm.streams.info(this.stream);
    const out: LatestRecord[] = [];
    if (info.state.messages === 0) return out;
    const consumer = await this.log.js.consumers.get(this.stream, {
      filter_subjects: `${this.subjectPrefix}.>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
      inactive_threshold: 30_000,
    });
    const messages = await consumer.consume({ max_messages: 512, expires: 5_000 });
    const deadline = setTimeout(() => void messages.close(), timeoutMs);
    let done = false;
    try {
      for await (const msg of messages) {
        const record = recordOf(msg);
        if (record !== null) out.push(record);
        if (msg.info.pending === 0) {
          done = true;
          break;
        }
      }
    } finally {
      clearTimeout(deadline);
      await messages.close().catch(() => {});
    }
    if (!done) throw new Error(`reading the latest-table stream ${this.stream} did not finish within ${timeoutMs} ms (${out.length} records read)`);
    return out;
  }
}

function recordOf(msg: JsMsg): LatestRecord | null {
  const seq = Number(msg.headers?.get(SEQ_HEADER));
  const storedAt = Number(msg.headers?.get(STORED_HEADER));
  if (!Number.isSafeInteger(seq) || seq < 1 || !Number.isFinite(storedAt)) return null;
  return { data: msg.data, seq, storedAt };
}
