/**
 * The subscriber side: where a subscription starts (resume rules, gap,
 * strict), the hello, and turning the cursor's end into a close frame.
 */
import { BufferItem, type EventBuffer } from '../buffer/index.js';
import { IndexGoneError, ShuttingDownError } from '../errors.js';
import type { CursorEnd } from '../fanout/index.js';
import { CloseCode, fitCloseReason, type Event, type HelloMessage, type SubscribeRequest } from '../protocol/index.js';

export interface StartPlan {
  /** The position the cursor reads after. */
  start: BufferItem<Event>;
  /** Items below this index are skipped (a resume index not yet reached). */
  startAt: number;
  /** First index the stream can deliver; goes in hello. */
  index: number;
  gap: boolean;
}

/**
 * Nomad's resume rule, plus epochs: `index=N` delivers items >= N. A request
 * older than the buffer, or from another epoch, starts at the oldest item with
 * `gap: true`, or with `strict` is refused (IndexGoneError).
 */
export function planStart(buffer: EventBuffer<Event>, epoch: string, req: SubscribeRequest): StartPlan {
  const newest = buffer.newestIndex;
  if (req.index === null) return { start: buffer.tailItem(), startAt: 0, index: newest + 1, gap: false };

  const oldest = buffer.oldestIndex;
  const sameEpoch = req.epoch === null || req.epoch === epoch;
  const gap = !sameEpoch || Math.max(req.index, 1) < oldest;
  if (gap && req.strict) {
    const why = sameEpoch ? `index ${req.index} is older than the oldest index held (${oldest})` : `epoch "${req.epoch}" is not the current epoch`;
    throw new IndexGoneError(why, oldest, epoch);
  }
  const want = gap ? oldest : Math.max(req.index, 1);
  if (want > newest) return { start: buffer.tailItem(), startAt: want, index: want, gap };
  const { item } = buffer.startAtClosest(want);
  return { start: BufferItem.before(item), startAt: 0, index: item.index, gap };
}

export function helloMessage(epoch: string, plan: StartPlan, heartbeatMs: number): HelloMessage {
  return { type: 'hello', epoch, index: plan.index, gap: plan.gap, heartbeat: heartbeatMs / 1000 };
}

export interface CloseFrame {
  code: number;
  reason: string;
}

/** The close frame for how a cursor ended, or null when the connection is already gone. */
export function closeFrameFor(end: CursorEnd, epoch: string, newestIndex: number): CloseFrame | null {
  switch (end.reason) {
    case 'closed':
      return null;
    case 'dropped': {
      const cause =
        end.cause === 'lagged' ? `fell ${newestIndex - end.lastIndex} events behind` : `${end.bufferedBytes} bytes unsent`;
      return { code: CloseCode.DROPPED, reason: fitCloseReason(`dropped: ${cause}; resume index=${end.lastIndex + 1} epoch=${epoch}`) };
    }
    case 'error':
      return end.error instanceof ShuttingDownError
        ? { code: CloseCode.GOING_AWAY, reason: 'shutting down' }
        : { code: CloseCode.INTERNAL_ERROR, reason: 'internal error' };
  }
}
