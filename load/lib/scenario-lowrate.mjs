/**
 * The low-rate scenario (issue #11, target 4: "low rates cost nothing"):
 * 10k subscribers, 5 events/s of 100 B (50,000 deliveries/s), on fanwire-uws,
 * fanwire-ws and the plain ws loop. Batching has nothing to batch at this
 * rate, so fanwire's p99 must be no worse than the loop's.
 *
 * Every server stays up with its subscribers connected (a session each, as
 * in the fan-out scenarios) and the runs are interleaved A B C C B A; each
 * server's run with the lowest p99 is reported (at this rate every server
 * delivers everything, so p99 is the figure), both runs are kept.
 */
import { runLoad } from './run.mjs';
import { interleaveOrder } from './interleave.mjs';
import { Session } from './session.mjs';

export const LOWRATE_SERVERS = ['fanwire-uws', 'fanwire-ws', 'ws-loop'];

/** The run of each server with the lowest p99, among those that did not fail. */
export function lowestP99(runs) {
  const best = {};
  for (const r of runs) {
    if (r.error || !Number.isFinite(r.latency?.p99Ms)) continue;
    if (!best[r.server] || r.latency.p99Ms < best[r.server].latency.p99Ms) best[r.server] = r;
  }
  return best;
}

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>[]} specs the servers, in run order
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {{enough: (seconds: number) => boolean}} budget
 * @param {(name: string) => (line: string) => void} logFor
 * @returns {Promise<{rows: object[], all: object[], skipped: string[], errors: string[]}>}
 */
export async function lowrateScenario(specs, p, budget, logFor) {
  const l = p.lowrate;
  const out = { rows: [], all: [], skipped: [], errors: [] };
  const sessions = specs.map((spec) => ({ spec, log: logFor(spec.name), session: new Session({ spec, name: spec.name, mode: spec.mode, payload: p.payload, topics: 1, procs: p.procs, log: logFor(spec.name) }) }));
  const order = interleaveOrder(sessions, p.passes);
  try {
    for (const s of sessions) {
      try {
        await s.session.start();
        await s.session.connect(l.subscribers);
      } catch (err) {
        s.dead = true;
        out.errors.push(`${s.spec.name}: ${err.message}`);
        s.log(`!! FAILED: ${err.message}`);
      }
    }
    const runs = [];
    for (const s of order) {
      if (s.dead) continue;
      if (!budget.enough(l.warmup + l.duration + l.drain + 6)) {
        out.skipped.push(`lowrate run ${runs.filter((x) => x.server === s.spec.name).length + 1} on ${s.spec.name}: out of time budget`);
        continue;
      }
      const r = await runLoad(s.session, { rate: l.rate, duration: l.duration, warmup: l.warmup, batch: 1, tick: p.tick, drain: l.drain }, s.log);
      r.run = runs.filter((x) => x.server === s.spec.name).length + 1;
      runs.push(r);
      if (r.error) {
        s.log('restarting the server (the run failed)');
        await s.session.restart(l.subscribers);
      }
    }
    out.all.push(...runs);
    const best = lowestP99(runs);
    out.rows = sessions
      .filter((s) => runs.some((r) => r.server === s.spec.name))
      .map((s) => ({ ...(best[s.spec.name] ?? runs.find((r) => r.server === s.spec.name)), runs: runs.filter((r) => r.server === s.spec.name).length }));
  } catch (err) {
    out.errors.push(err.message);
    for (const s of sessions) s.log(`!! FAILED: ${err.message}`);
  } finally {
    for (const s of sessions) await s.session.stop(true);
  }
  return out;
}
