/**
 * Close reasons as RFC 6455 allows them: at most 123 bytes of UTF-8 (the
 * close frame's payload is 125 bytes, two of them the code).
 */

/** RFC 6455 caps a close reason at 123 bytes of UTF-8. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Cuts `reason` to what fits in a close frame, on a character boundary. */
export function fitCloseReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = reason;
  while (Buffer.byteLength(out) > MAX_CLOSE_REASON_BYTES) out = out.slice(0, -1);
  return out;
}
