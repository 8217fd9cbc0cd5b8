/**
 * One measurement of one server for bench-transports.mjs: start it, connect
 * the subscribers, read the idle RSS, publish at the fixed rate (warm-up,
 * then the measure window), drain, collect, and stop everything (also on
 * failure). Returns a plain JSON record.
 *
 * A server that cannot keep up is a result: the record says what it
 * delivered and with which latency; only a server that cannot start or
 * accept anybody is an error.
 */
import { runLoad } from './run.mjs';
import { Session } from './session.mjs';

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>} spec
 * @param {object} o parsed options (subscribers, rate, payload, duration, warmup, procs, tick, drain)
 * @param {number} run 1-based run number
 * @param {(line: string) => void} say progress output
 */
export async function measureServer(spec, o, run, say) {
  const log = (line) => say(`[${spec.name} #${run}] ${line}`);
  const session = new Session({ spec, name: spec.name, mode: spec.mode, payload: o.payload, topics: 1, procs: o.procs, log });
  const base = { server: spec.name, run, startedAt: new Date().toISOString(), subscribers: o.subscribers, rate: o.rate, payloadBytes: o.payload, durationS: o.duration, warmupS: o.warmup, error: null };
  try {
    await session.start();
    const connected = await session.connect(o.subscribers);
    const idle = await session.idleRssPerSubscriber();
    const r = await runLoad(session, { rate: o.rate, duration: o.duration, warmup: o.warmup, batch: 1, tick: o.tick, drain: o.drain }, log);
    return {
      ...r,
      ...base,
      ready: connected.ready,
      connectFailures: connected.failed,
      connectSeconds: connected.seconds,
      rssKb: { before: idle.beforeKb, idle: idle.idleKb, end: r.rssKb?.end ?? NaN },
      rssPerSubscriberKb: idle.perSubscriberKb,
      error: r.error,
    };
  } catch (err) {
    log(`!! FAILED: ${err.message}`);
    if (session.tail()) log(`server output (last lines): ${session.tail(5)}`);
    return { ...base, error: err.message };
  } finally {
    await session.stop();
  }
}
