/**
 * Writes a subscription's snapshot messages before its stream: one at a
 * time, waiting for the socket to drain while more than the high-water mark
 * is unsent, so a snapshot larger than the mark goes out as the subscriber
 * reads it, never piled up in the socket. Then it starts the cursor, which
 * was made at the snapshot point and delivers everything from there (items
 * appended meanwhile included; any evicted meanwhile are its lag policy's
 * business, as for any subscriber that falls behind).
 *
 * Per subscriber and only while its snapshot is being written: a promise
 * chain of one await per message that waits.
 */
import type { Prepared } from '../fanout/index.js';
import type { Connection } from '../transport/index.js';

/** Writes `messages` to `conn` paced by `highWaterBytes`, then calls `then` unless the connection closed first. */
export async function deliverSnapshot(conn: Connection, messages: readonly Prepared[], highWaterBytes: number, then: () => void): Promise<void> {
  for (let i = 0; i < messages.length; i++) {
    while (!conn.closed && conn.bufferedAmount() > highWaterBytes) await conn.waitDrain();
    if (conn.closed) return;
    conn.sendPrepared(messages[i]!);
  }
  if (!conn.closed) then();
}
