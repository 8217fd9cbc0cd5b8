/** Types of nats-parser.mjs, for its unit test (test/load/nats-parser.test.ts). */
export interface NatsHandlers {
  onMsg(buf: Buffer, start: number, end: number): void;
  onInfo?(json: string): void;
  onPing?(): void;
  onPong?(): void;
  onOk?(): void;
  onErr?(text: string): void;
  onError(why: string): void;
}
export declare class NatsParser {
  constructor(handlers: NatsHandlers);
  sid: number;
  failed: boolean;
  feed(buf: Buffer, start: number, end: number): void;
  msgFields(): { subject: string; sid: string; reply: string; size: number };
}
export declare const NATS_CONNECT: string;
export declare function natsSubject(i: number, topics: number): string;
