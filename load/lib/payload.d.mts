/** Types of payload.mjs's pure part, for the unit test (test/load/keys.test.ts). */
export declare const SEQ_OFFSET: number;
export declare const TOPIC_OFFSET: number;
export declare function topicName(i: number, topics: number): string;
export declare function keyName(i: number, keys: number): string;
export declare function streamCount(topics?: number, keys?: number): number;
export declare function streamOf(s: number, topics?: number, keys?: number): { topic: string; key: string };
export declare function streamSelector(s: number, topics?: number, keys?: number): string;
export declare function frameEncoder(mode: 'raw' | 'fanwire', size: number, topics?: number, batch?: boolean, keys?: number): (first: number, count: number, scheduledMs: number) => Buffer;
export declare function eventsOfStream(sent: number, s: number, streams: number): number;
export declare function publishedPerStream(sent: number, streams: number): number[];
