/**
 * Scenarios 6, 2 and 1 and the sustained scenario on one server process per
 * server, in that order, so they share its start-up and connections: idle
 * memory at 10k subscribers (a fresh server, nothing published yet), a
 * burst at 10k under both arrival patterns (one send per frame: `burst`;
 * every frame of the burst in one TCP write: `burstOneWrite`), the
 * sustained rate at 10k (issue 11's targets 2 and 3: 480,000
 * deliveries/s, p99), then the fan-out scale at a fixed
 * deliveries/s for 10k, 19k, 5k and 1k subscribers (connections are added
 * or closed between steps).
 *
 * Given several servers, all stay up with their subscribers connected and
 * every measurement runs interleaved, A B C C B A (two: A B B A; see
 * interleave.mjs); the best run of each is reported, all are kept. bench.mjs
 * decides the groups: fanwire-uws with uws-publish when the scale scenario
 * runs (its 19k step), fanwire-uws, uws-publish and fanwire-ws together
 * otherwise, so issue 11's targets 1 and 3 compare runs of one sequence.
 *
 * A server that still owes deliveries after a run is restarted before its
 * next one, so its backlog does not pollute the next measurement.
 */
import { bestRows, burstSides, interleaveOrder, runInterleaved } from './interleave.mjs';
import { bestRuns } from './report.mjs';
import { Session } from './session.mjs';
import { bestSustained } from './sustained.mjs';

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>[]} specs one, or several to interleave
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {{idle: boolean, burst: boolean, sustained: boolean, scale: boolean}} want
 * @param {{enough: (seconds: number) => boolean}} budget
 * @param {(name: string) => (line: string) => void} logFor
 */
export async function fanoutScenarios(specs, p, want, budget, logFor) {
  const out = { idle: [], burst: [], burstOneWrite: [], sustained: [], scale: [], all: [], skipped: [], errors: [] };
  const sessions = specs.map((spec) => ({ spec, log: logFor(spec.name), session: new Session({ spec, name: spec.name, mode: spec.mode, payload: p.payload, topics: 1, procs: p.procs, log: logFor(spec.name) }) }));
  const live = () => sessions.filter((s) => !s.dead);
  const sustainers = () => live().filter((s) => p.sustained.servers.includes(s.spec.name));
  const wantSustained = want.sustained && sustainers().length > 0;
  // Subscribers each step needs, in order; a step's `afterwards` is the next one's.
  const steps = [
    ...(want.burst ? [{ name: 'burst', subscribers: p.burst.subscribers }] : []),
    ...(wantSustained ? [{ name: 'sustained', subscribers: p.sustained.subscribers }] : []),
    ...(want.scale ? p.scale.subscribers.map((n) => ({ name: `scale ${n}`, subscribers: n })) : []),
  ];
  const afterwards = (name) => steps[steps.findIndex((s) => s.name === name) + 1]?.subscribers ?? null;
  const runsOf = (sides) => interleaveOrder(sides, p.passes).length;
  const resize = async (n) => {
    for (const s of live()) if (s.session.subscribers !== n) await s.session.connect(n);
  };
  try {
    for (const s of sessions) {
      try {
        await s.session.start();
        const connected = await s.session.connect(want.idle ? p.burst.subscribers : (steps[0]?.subscribers ?? p.burst.subscribers));
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
      const b = p.burst;
      // Both arrival patterns unless the plan names fewer (records before issue 23 measured 'frames' only).
      const writes = b.writes ?? ['frames'];
      if (budget.enough(20 * runsOf(live()) * writes.length)) {
        await resize(b.subscribers);
        const runs = await runInterleaved(burstSides(live(), writes), (side) => ({ burst: b.events, warmupBurst: b.warmupEvents, burstWrite: side.write, batch: 1, tick: p.tick, drain: b.cap, duration: 0, warmup: 0 }), afterwards('burst'), p.passes);
        out.all.push(...runs);
        out.burst.push(...bestRows(runs.filter((r) => r.burstWrite === 'frames'), bestRuns));
        out.burstOneWrite.push(...bestRows(runs.filter((r) => r.burstWrite === 'one'), bestRuns));
      } else out.skipped.push('burst: out of time budget');
    }
    if (wantSustained) {
      const x = p.sustained;
      if (budget.enough((x.warmup + x.duration + x.drain + 6) * runsOf(sustainers()))) {
        await resize(x.subscribers);
        const runs = await runInterleaved(sustainers(), () => ({ rate: x.rate, duration: x.duration, warmup: x.warmup, batch: 1, tick: p.tick, drain: x.drain }), afterwards('sustained'), p.passes);
        for (const r of runs) r.kind = 'sustained';
        out.all.push(...runs);
        out.sustained.push(...bestRows(runs, bestSustained));
      } else out.skipped.push('sustained: out of time budget');
    }
    if (want.scale) {
      for (const n of p.scale.subscribers) {
        if (!budget.enough((p.scale.warmup + p.scale.duration + p.scale.drain + 6) * runsOf(live()))) {
          out.skipped.push(`scale ${n}: out of time budget`);
          continue;
        }
        await resize(n);
        const runs = await runInterleaved(live(), () => ({ rate: p.scale.deliveriesPerSec / n, duration: p.scale.duration, warmup: p.scale.warmup, batch: 1, tick: p.tick, drain: p.scale.drain }), afterwards(`scale ${n}`));
        out.all.push(...runs);
        out.scale.push(...bestRows(runs, bestRuns));
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
