/**
 * What the uws transport's framer prepares: a message's bytes and whether
 * they are binary, made once per item and filter. uWS frames each message
 * natively on send (a copy per send is unavoidable through its API), so
 * there is nothing to build ahead, and nothing to join: `join` is null, and
 * a cursor's run of messages goes out inside one cork instead (uws.ts).
 */
import type { Framer, Prepared } from '../fanout/index.js';

/** A message prepared for uWS: made once per item and filter, sent to every connection as it is. */
export class UwsMessage implements Prepared {
  readonly bytes: Uint8Array;
  readonly binary: boolean;
  readonly byteLength: number;

  constructor(bytes: Uint8Array, binary: boolean) {
    this.bytes = bytes;
    this.binary = binary;
    this.byteLength = bytes.byteLength;
  }
}

export const uwsFramer: Framer = {
  prepare: (data, binary) => new UwsMessage(data, binary),
  payload: (message) => (message as UwsMessage).bytes,
  join: null,
};
