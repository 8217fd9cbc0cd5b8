/**
 * How a gateway answered a token, as a test reads it: a subscription's hello
 * or its HTTP refusal, and a WebSocket's close frame or first message.
 */
import type WebSocket from 'ws';
import { Sub, until, type Message } from '../helpers.js';

export type Outcome = { hello: Message } | { status: number; body: Message };

/** Opens a subscription to `orders` with `token`: its hello, or the HTTP refusal. */
export async function subscribeWith(base: string, token: string): Promise<Outcome> {
  const sub = new Sub(`${base}/v1/subscribe?format=json&topic=orders&token=${token}`, 'json');
  const first = await until(() => sub.messages[0] ?? sub.refused ?? undefined, 'hello or refusal');
  sub.ws.terminate();
  return 'type' in first ? { hello: first } : (first as { status: number; body: Message });
}

/** How a WebSocket ended up: its close code and reason, or the first message it got (an accepted connection). */
export const closeOrMessage = (ws: WebSocket): Promise<[number, string] | string> =>
  new Promise((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()]));
    ws.once('message', (data: Buffer) => (resolve(data.toString()), ws.terminate()));
  });
