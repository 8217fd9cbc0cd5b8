/**
 * Writes a subscription's snapshot messages before its stream: one at a
 * time, waiting for the socket to drain while more than the high-water mark
 * is unsent, so a snapshot larger than the mark goes out as the subscriber
 * reads it, never piled up in the socket. Then it starts the cursor, which
 * was made at the snapshot point and delivers everything from there (items
 * appended meanwhile included).
 *
 * A subscriber that has not taken its snapshot when the buffer evicts the
 * first item after the snapshot point cannot be served: its snapshot would
 * need a gap in the middle, which no lag policy can express. It is dropped
 * (4001, resume at the snapshot point, where a resume finds the gap and gets
 * a new snapshot). Checked at each drain and every CHECK_MS while waiting,
 * so a subscriber that stops reading holds items for at most that long
 * after they leave the buffer.
 *
 * Per subscriber and only while its snapshot is being written: a promise
 * chain of one await per message that waits.
 */
import type { Prepared } from '../fanout/index.js';
import type { Connection } from '../transport/index.js';

/** How often a waiting snapshot checks whether its stream's start was evicted. */
const CHECK_MS = 500;

export interface SnapshotDelivery {
  conn: Connection;
  messages: readonly Prepared[];
  highWaterBytes: number;
  /** True once the buffer evicted the first item the stream after the snapshot must deliver. */
  behind(): boolean;
  /** The snapshot is written: start the stream. */
  done(): void;
  /** The stream's start was evicted before the snapshot was taken: end the subscription. */
  dropped(): void;
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Writes the snapshot paced by the high-water mark, then calls `done`, unless the connection closed or the subscriber fell behind first. */
export async function deliverSnapshot(d: SnapshotDelivery): Promise<void> {
  const { conn, messages } = d;
  for (let i = 0; i < messages.length; i++) {
    while (!conn.closed && conn.bufferedAmount() > d.highWaterBytes) {
      if (d.behind()) return d.dropped();
      await Promise.race([conn.waitDrain(), tick(CHECK_MS)]);
    }
    if (conn.closed) return;
    conn.sendPrepared(messages[i]!);
  }
  if (conn.closed) return;
  if (d.behind()) return d.dropped();
  d.done();
}
