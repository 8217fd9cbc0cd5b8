/**
 * Issue #11's target 7, "features on", fanwire only, one transport at a time:
 *
 * - metrics: the burst of scenario 2 (a warm-up burst, then 300 events to
 *   10k subscribers) on fanwire as it starts by default (metrics on) and on
 *   fanwire started with `--metrics off`; the peaks should differ by < 3%.
 * - filters: the same 10k subscribers spread over 100 distinct `topic:key`
 *   filters (subscriber n asks for `topic=t:k<n mod 100>`), the producer's
 *   keys cycling over the 100, so each event reaches 100 subscribers. The
 *   burst is 100x as many events (30,000, after a warm-up of 5,000), so it
 *   carries as many deliveries as the unfiltered one (3M), published in
 *   frames of 100 events (one per key): 300 items, as in the unfiltered
 *   burst, each reaching every subscriber with the one event its filter
 *   selects. Filtering is what differs, not the producer's frame rate (in
 *   single-event frames the producer's 100x frames would be what is
 *   measured: that is the publish scenario's job). Its peak should reach
 *   0.8x the unfiltered peak of the same transport. Every subscriber checks
 *   its key's sequence as the others check the topic's.
 *
 * The three servers of a transport stay up side by side with their
 * subscribers, runs interleaved A B C C B A (interleave.mjs): metrics on,
 * metrics off, filtered, filtered, off, on; the best (highest deliveries/s)
 * run of each is reported, all are kept. All three run with
 * `--max-publish-rate 0` (the default 20,000 frames/s per producer would
 * refuse most of a 30,000-event burst) and a buffer larger than the
 * filtered burst (with 10,000 items, subscribers still walking the burst
 * would be dropped before they reached its end): the same flags on every
 * side, so only metrics or filters differ.
 */
import { bestRows, interleaveOrder, runInterleaved } from './interleave.mjs';
import { bestRuns } from './report.mjs';
import { Session } from './session.mjs';

/** The row names of one transport's three servers. */
export const featureNames = (transport, keys = 100) => ({ on: transport, off: `${transport} metrics off`, filtered: `${transport} ${keys} filters` });

/**
 * @param {string} transport fanwire-uws or fanwire-ws
 * @param {{on: object, off: object | null, filtered: object}} specs server specs (off: null when dist/cli.js has no --metrics)
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {{enough: (seconds: number) => boolean}} budget
 * @param {(name: string) => (line: string) => void} logFor
 * @returns {Promise<{rows: object[], all: object[], skipped: string[], errors: string[]}>}
 */
export async function featuresScenario(transport, specs, p, budget, logFor) {
  const f = p.features;
  const b = p.burst;
  const names = featureNames(transport, f.keys);
  const out = { rows: [], all: [], skipped: [], errors: [] };
  const sides = [
    { variant: 'metrics-on', spec: { ...specs.on, name: names.on }, keys: 1 },
    ...(specs.off ? [{ variant: 'metrics-off', spec: { ...specs.off, name: names.off }, keys: 1 }] : []),
    { variant: 'filtered', spec: { ...specs.filtered, name: names.filtered }, keys: f.keys },
  ].map((s) => {
    const log = logFor(s.spec.name);
    return { ...s, log, session: new Session({ spec: s.spec, name: s.spec.name, mode: s.spec.mode, payload: p.payload, topics: 1, keys: s.keys, procs: p.procs, log }) };
  });
  const optsOf = (s) =>
    s.keys > 1
      ? { burst: b.events * s.keys, warmupBurst: b.warmupEvents * s.keys, batch: s.keys, tick: p.tick, drain: f.filteredCap, duration: 0, warmup: 0 }
      : { burst: b.events, warmupBurst: b.warmupEvents, batch: 1, tick: p.tick, drain: b.cap, duration: 0, warmup: 0 };
  // What it usually takes: a burst run (warm-up, burst, settling) about 6 s,
  // connecting 10k about 5 s per side. Each burst may take up to its drain
  // cap; budgeting every run at its cap skipped a transport that took 75 s.
  const seconds = interleaveOrder(sides, p.passes).reduce((a, s) => a + Math.min(optsOf(s).drain, 6), 0) + 5 * sides.length;
  if (!budget.enough(seconds)) {
    out.skipped.push(`features on ${transport}: out of time budget (needs about ${Math.round(seconds)} s)`);
    return out;
  }
  try {
    for (const s of sides) {
      try {
        await s.session.start();
        await s.session.connect(f.subscribers);
      } catch (err) {
        s.dead = true;
        out.errors.push(`${s.spec.name}: ${err.message}`);
        s.log(`!! FAILED: ${err.message}`);
      }
    }
    const live = sides.filter((s) => !s.dead);
    if (!live.length) out.skipped.push(`features on ${transport}: no server could start`);
    else {
      const runs = await runInterleaved(live, optsOf, null, p.passes);
      for (const r of runs) {
        const s = sides.find((x) => x.spec.name === r.server);
        Object.assign(r, { kind: 'features', transport, variant: s.variant });
      }
      out.all.push(...runs);
      out.rows.push(...bestRows(runs, bestRuns));
    }
  } catch (err) {
    out.errors.push(err.message);
    for (const s of sides) s.log(`!! FAILED: ${err.message}`);
  } finally {
    for (const s of sides) await s.session.stop(true);
  }
  return out;
}
