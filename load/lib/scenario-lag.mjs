/**
 * The laggard policy scenario (issue 9), per policy: 10% of the subscribers
 * are slow readers (a process of their own, small kernel buffers, see
 * small-sockets.py) that read at a tenth of the stream's byte rate. Every
 * subscriber asks for the policy under test (`lag=...`); healthy ones never
 * fall behind, so it costs them nothing.
 *
 * Two fanwire servers per policy, with the same flags: the no-slow run has
 * only the healthy subscribers; the slow run has the same healthy ones plus
 * the slow readers, throttled from the start (a long warm-up lets their
 * sockets fill). Compared: the healthy subscribers' p99 (slow run over
 * no-slow run), the slow readers' staleness (age of the newest event each
 * holds, sampled every 100 ms inside the window), what the policy did (gap
 * messages, conflated messages, 4001s) and the server's RSS.
 *
 * (The no-slow run has no laggard process at all rather than laggards
 * reading at full speed: a thousand full-speed readers with 536-byte
 * segments cost the shared 2 cores more than the healthy subscribers
 * themselves, which would flatter the slow run.)
 *
 * Under `drop`, a laggard closed with 4001 comes back at once with its
 * resume index, as the SDK does; its new socket is an ordinary one (Node
 * cannot set SO_RCVBUF), so it absorbs more before the gateway sees it.
 */
import { Packr } from 'msgpackr';
import { runLoad } from './run.mjs';
import { Session } from './session.mjs';

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Wire bytes of one single-event events message (WebSocket header included) for `size`-byte payloads. */
export function wireBytesPerEvent(size) {
  const body = packr.pack({ type: 'events', index: 1_000_000, events: [{ topic: 't', type: '', key: '', payload: Buffer.alloc(size) }] }).length;
  return body + (body < 126 ? 2 : body < 65536 ? 4 : 10);
}

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>} spec
 * @param {{name: string, query: string}} policy
 * @param {object} s the scenario's settings (see bench-lag.mjs)
 * @param {(line: string) => void} log
 */
export async function lagScenario(spec, policy, s, log) {
  const laggards = Math.round(s.subscribers * s.slowFraction);
  const healthy = s.subscribers - laggards;
  const slowBytesPerSec = Math.round(s.slowSpeed * s.rate * wireBytesPerEvent(s.payload));
  const out = { server: spec.name, policy: policy.name, query: policy.query, subscribers: healthy, laggards, slowBytesPerSec, baseline: null, slow: null };
  const common = { rate: s.rate, duration: s.duration, batch: 1, tick: s.tick, drain: s.drain };
  const session = (n) =>
    new Session({
      spec,
      name: `${spec.name} ${policy.name}`,
      mode: 'fanwire',
      payload: s.payload,
      topics: 1,
      procs: s.procs,
      laggards: n,
      smallSockets: s.smallSockets,
      lag: policy.query,
      redial: true,
      staleness: true,
      log,
    });
  try {
    log('no-slow run: healthy subscribers only');
    const quiet = session(0);
    try {
      await quiet.start();
      await quiet.connect(healthy);
      out.idle = await quiet.idleRssPerSubscriber();
      out.baseline = await runLoad(quiet, { ...common, warmup: s.warmup }, log);
    } finally {
      await quiet.stop(true);
    }
    log(`slow run: ${laggards} slow readers at ${slowBytesPerSec.toLocaleString('en-US')} bytes/s each (${Math.round(s.slowSpeed * 100)}% of the stream)`);
    const slow = session(laggards);
    try {
      await slow.start();
      out.smallSockets = slow.group.smallSockets;
      if (!out.smallSockets) log('!! python3 is missing: slow readers use ordinary sockets, which absorb several MiB each before the gateway notices');
      await slow.connect(healthy);
      out.slow = await runLoad(slow, { ...common, warmup: s.slowWarmup, slow: slowBytesPerSec }, log);
    } finally {
      await slow.stop(true);
    }
  } catch (err) {
    out.error = err.message;
    log(`!! FAILED: ${err.message}`);
  }
  return out;
}
