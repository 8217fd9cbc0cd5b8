/**
 * The WebSocket path a subscriber of topic number `topic` asks for, per
 * server kind. Raw peers (`/v1/subscribe/cN`) and Socket.IO (`c=N` in its
 * handshake query) route by topic number, and are given none when the run
 * has one topic, so their one-topic path is the plain broadcast
 * (`app.publish` to one topic, the ws loop over every client, `io.emit`).
 */
import { topicName } from './payload.mjs';

/**
 * @param {'fanwire' | 'raw' | 'socketio'} mode
 * @param {number} topic
 * @param {number} topics
 * @param {{index: number, epoch: string} | null} [resume] fanwire only
 * @param {string} [lag] fanwire only: the laggard policy part of the query, e.g. `lag=skip&skip_to=tail`
 */
export function subscribePath(mode, topic, topics, resume = null, lag = '') {
  switch (mode) {
    case 'fanwire': {
      const q = `/v1/subscribe?topic=${topicName(topic, topics)}&format=msgpack${lag ? `&${lag}` : ''}`;
      return resume ? `${q}&index=${resume.index}&epoch=${encodeURIComponent(resume.epoch)}` : q;
    }
    case 'raw':
      return topics > 1 ? `/v1/subscribe/c${topic}` : '/v1/subscribe';
    case 'socketio':
      return `/socket.io/?EIO=4&transport=websocket${topics > 1 ? `&c=${topic}` : ''}`;
    default:
      throw new Error(`unknown subscriber mode ${mode}`);
  }
}
