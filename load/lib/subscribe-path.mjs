/**
 * The WebSocket path a subscriber of stream number `stream` asks for, per
 * server kind. fanwire gets a `topic` selector (`T`, or `T:key` when the run
 * has keys, see payload.mjs; names are [a-z0-9] so the query needs no escaping). Raw peers (`/v1/subscribe/cN`) and Socket.IO
 * (`c=N` in its handshake query) route by topic number, and are given none
 * when the run has one topic, so their one-topic path is the plain broadcast
 * (`app.publish` to one topic, the ws loop over every client, `io.emit`).
 * nats-server's WebSocket listener takes any path (the subject goes in SUB,
 * see subscriber-conn.mjs); Nchan's config (native-peers.mjs) has one channel.
 */
import { streamSelector } from './payload.mjs';

/**
 * @param {'fanwire' | 'raw' | 'socketio' | 'nats' | 'nchan'} mode
 * @param {number} stream
 * @param {number} topics
 * @param {number} keys fanwire only (1: no key)
 * @param {{index: number, epoch: string} | null} [resume] fanwire only
 * @param {string} [lag] fanwire only: the laggard policy part of the query, e.g. `lag=skip&skip_to=tail`
 */
export function subscribePath(mode, stream, topics, keys = 1, resume = null, lag = '') {
  if (mode !== 'fanwire' && keys > 1) throw new Error('keys are fanwire only (the peers route by topic)');
  switch (mode) {
    case 'fanwire': {
      const q = `/v1/subscribe?topic=${streamSelector(stream, topics, keys)}&format=msgpack${lag ? `&${lag}` : ''}`;
      return resume ? `${q}&index=${resume.index}&epoch=${encodeURIComponent(resume.epoch)}` : q;
    }
    case 'raw':
      return topics > 1 ? `/v1/subscribe/c${stream}` : '/v1/subscribe';
    case 'socketio':
      return `/socket.io/?EIO=4&transport=websocket${topics > 1 ? `&c=${stream}` : ''}`;
    case 'nats':
      return '/';
    case 'nchan':
      if (topics > 1) throw new Error('nchan: the benchmark config has one channel (--topics 1)');
      return '/v1/subscribe';
    default:
      throw new Error(`unknown subscriber mode ${mode}`);
  }
}
