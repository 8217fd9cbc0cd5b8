/**
 * protocol/: the wire contract of docs/protocol.md. Message types, codecs,
 * producer frame validation, the subscribe query, close codes and the table
 * from error codes to wire answers.
 */
export * from './messages.js';
export { decodeFrame, encode, encodeJson, encodeMsgpack, isBinaryFormat } from './codec.js';
export { batchMessage } from './batch.js';
export { parsePublishFrame, frameIdOf, LIMITS } from './validate.js';
export { parseSubscribeQuery, MAX_TOPICS_PER_SUBSCRIPTION } from './subscribe-query.js';
export { isTopic, TOPIC_MAX_BYTES } from './topic.js';
export type { SubscribeRequest, TopicSelector } from './subscribe-query.js';
export { CloseCode } from './close-codes.js';
export { fitCloseReason, MAX_CLOSE_REASON_BYTES } from './close-reason.js';
export { ERROR_TABLE, closeOf, httpStatusOf, refusalOf } from './error-table.js';
export type { CloseFrame, WireAnswer } from './error-table.js';
