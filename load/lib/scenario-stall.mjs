/**
 * Scenario 3, slow-consumer isolation, on one server process: 10% of the
 * subscribers are laggards (a process of their own, small kernel buffers,
 * see small-sockets.py). First an unstalled run (everybody reads), then the
 * same load with the laggards paused for the window. Compared: the healthy
 * subscribers' deliveries/s and p99, and the server's RSS. fanwire runs with
 * a small buffer and low byte limits so it drops laggards within the run.
 *
 * A server that cannot carry the load even unstalled gets no stalled run:
 * there would be nothing to isolate.
 */
import { runLoad } from './run.mjs';
import { Session } from './session.mjs';

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>} spec
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {{enough: (seconds: number) => boolean}} budget
 * @param {(line: string) => void} log
 */
export async function stallScenario(spec, p, budget, log) {
  const s = p.stall;
  const laggards = Math.round(s.subscribers * s.laggardFraction);
  const out = { server: spec.name, subscribers: s.subscribers - laggards, laggards, baseline: null, stalled: null, skipped: null };
  const session = new Session({ spec, name: spec.name, mode: spec.mode, payload: s.payload, topics: 1, procs: p.procs, laggards, smallSockets: s.smallSockets, log });
  try {
    await session.start();
    out.smallSockets = session.group.smallSockets;
    if (!out.smallSockets) log('!! python3 is missing: laggards use ordinary sockets, which absorb several MiB each; fanwire will not drop them within the run');
    await session.connect(s.subscribers - laggards);
    out.idle = await session.idleRssPerSubscriber();
    const common = { rate: s.rate, warmup: s.warmup, batch: 1, tick: p.tick, drain: s.drain };
    out.baseline = await runLoad(session, { ...common, duration: s.baseline }, log);
    const b = out.baseline;
    if (b.error || b.behindAtEnd || b.deliveriesPerSec < 0.9 * b.offeredPerSec) {
      out.skipped = `no stalled run: unstalled, it delivered ${Math.round((100 * (b.deliveriesPerSec ?? 0)) / (b.offeredPerSec ?? 1))}% of the offered load${b.behindAtEnd ? ` and still owed ${b.behindAtEnd.toLocaleString('en-US')} deliveries` : ''}`;
      log(out.skipped);
    } else if (!budget.enough(s.warmup + s.stalled + s.drain + s.settle + 5)) {
      out.skipped = 'no stalled run: out of time budget';
    } else {
      out.stalled = await runLoad(session, { ...common, duration: s.stalled, stall: true, settle: s.settle }, log);
    }
  } catch (err) {
    out.error = err.message;
    log(`!! FAILED: ${err.message}`);
  } finally {
    await session.stop(true);
  }
  return out;
}
