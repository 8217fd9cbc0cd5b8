/**
 * What a topic name is, in one place (docs/protocol.md, "Events"): 1-128
 * bytes of UTF-8 without ":" (it separates the key in a `T:key` selector),
 * "*" (the wildcard selector) or whitespace. Producer frames, subscribe
 * queries and the CLI's topic lists all check names here.
 */

/** Longest topic name, in UTF-8 bytes. */
export const TOPIC_MAX_BYTES = 128;

const TOPIC_CHARS = /^[^:*\s]+$/;

/** UTF-8 length, without measuring strings that are short enough whatever they hold (3 bytes per UTF-16 unit at most). */
export function utf8Bytes(value: string, limit: number): number {
  return value.length * 3 <= limit ? value.length : Buffer.byteLength(value);
}

/** What is wrong with `topic` as a topic name ("must ..."), or null when it is one. */
export function topicProblem(topic: string): string | null {
  if (topic.length === 0 || utf8Bytes(topic, TOPIC_MAX_BYTES) > TOPIC_MAX_BYTES) return `must be 1-${TOPIC_MAX_BYTES} bytes`;
  if (!TOPIC_CHARS.test(topic)) return 'must not contain ":", "*" or whitespace';
  return null;
}

export function isTopic(topic: string): boolean {
  return topicProblem(topic) === null;
}
