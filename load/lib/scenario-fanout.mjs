/**
 * Scenarios 6, 2 and 1 on one server process per server, in that order, so
 * they share its start-up and connections: idle memory at 10k subscribers
 * (a fresh server, nothing published yet), a burst at 10k, then the fan-out
 * scale at a fixed deliveries/s for 10k, 19k, 5k and 1k subscribers
 * (connections are added or closed between steps).
 *
 * Given two servers (fanwire-uws and uws-publish, whose comparison is the
 * closest and so the most sensitive to noise from other processes), both
 * stay up with their subscribers connected and every measurement runs
 * interleaved, A B B A; the better run of each is reported, both are kept.
 *
 * A server that still owes deliveries after a run is restarted before the
 * next one, so its backlog does not pollute the next measurement.
 */
import { bestRuns } from './report.mjs';
import { runLoad } from './run.mjs';
import { Session } from './session.mjs';

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>[]} specs one, or two to interleave
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {{idle: boolean, burst: boolean, scale: boolean}} want
 * @param {{enough: (seconds: number) => boolean}} budget
 * @param {(name: string) => (line: string) => void} logFor
 */
export async function fanoutScenarios(specs, p, want, budget, logFor) {
  const out = { idle: [], burst: [], scale: [], all: [], skipped: [], errors: [] };
  const sessions = specs.map((spec) => ({ spec, log: logFor(spec.name), session: new Session({ spec, name: spec.name, mode: spec.mode, payload: p.payload, topics: 1, procs: p.procs, log: logFor(spec.name) }) }));
  const order = sessions.length === 2 ? [sessions[0], sessions[1], sessions[1], sessions[0]] : sessions;
  /** Runs `opts` on every session in `order`; restarts one that fell behind (with `next` subscribers, if any step follows). */
  const interleaved = async (opts, next) => {
    const runs = [];
    for (const s of order) {
      if (s.dead) continue;
      const r = await runLoad(s.session, opts, s.log);
      r.run = runs.filter((x) => x.server === s.spec.name).length + 1;
      runs.push(r);
      if ((r.behindAtEnd || r.error) && next !== null) {
        s.log(`restarting the server (${r.error ? 'the run failed' : `${r.behindAtEnd.toLocaleString('en-US')} deliveries still owed`}), so its backlog does not spill into the next measurement`);
        await s.session.restart(next);
      }
    }
    out.all.push(...runs);
    const best = bestRuns(runs);
    return sessions.filter((s) => !s.dead).map((s) => ({ ...(best[s.spec.name] ?? runs.find((r) => r.server === s.spec.name)), runs: runs.filter((r) => r.server === s.spec.name).length }));
  };
  try {
    for (const s of sessions) {
      try {
        await s.session.start();
        const connected = await s.session.connect(want.idle || want.burst ? p.burst.subscribers : p.scale.subscribers[0]);
        if (want.idle) {
          const idle = await s.session.idleRssPerSubscriber();
          out.idle.push({ server: s.spec.name, subscribers: connected.ready, connectSeconds: connected.seconds, connectFailures: connected.failed, ...idle });
          s.log(`idle: ${idle.perSubscriberKb.toFixed(2)} KB per subscriber (RSS ${(idle.beforeKb / 1024).toFixed(0)} -> ${(idle.idleKb / 1024).toFixed(0)} MiB)`);
        }
      } catch (err) {
        s.dead = true;
        out.errors.push(`${s.spec.name}: ${err.message}`);
        s.log(`!! FAILED: ${err.message}`);
      }
    }
    if (want.burst) {
      if (budget.enough(20 * order.length)) {
        const b = p.burst;
        const next = want.scale ? p.scale.subscribers[0] : null;
        out.burst.push(...(await interleaved({ burst: b.events, warmupBurst: b.warmupEvents, batch: 1, tick: p.tick, drain: b.cap, duration: 0, warmup: 0 }, next)));
      } else out.skipped.push('burst: out of time budget');
    }
    if (want.scale) {
      const steps = p.scale.subscribers;
      for (const [i, n] of steps.entries()) {
        if (!budget.enough((p.scale.warmup + p.scale.duration + p.scale.drain + 6) * order.length)) {
          out.skipped.push(`scale ${n}: out of time budget`);
          continue;
        }
        for (const s of sessions) if (!s.dead) await s.session.connect(n);
        const rows = await interleaved({ rate: p.scale.deliveriesPerSec / n, duration: p.scale.duration, warmup: p.scale.warmup, batch: 1, tick: p.tick, drain: p.scale.drain }, steps[i + 1] ?? null);
        out.scale.push(...rows);
      }
    }
  } catch (err) {
    out.errors.push(err.message);
    for (const s of sessions) s.log(`!! FAILED: ${err.message}`);
  } finally {
    for (const s of sessions) await s.session.stop(true);
  }
  return out;
}
