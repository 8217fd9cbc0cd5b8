/**
 * Runs interleaved over servers that stay up side by side, each with its
 * subscribers connected (a Session each): A B C C B A, so a slow drift of the
 * machine (another workload, thermal, page cache) weighs on every server
 * alike, and each server's better run is kept. Two servers give A B B A, one
 * runs once.
 *
 * Used by the fan-out scenarios (idle, burst, sustained, scale) and by the
 * features scenario, where the "servers" are one fanwire transport started
 * three ways.
 */
import { runLoad } from './run.mjs';

/**
 * @typedef {object} Side  one server of the interleaved group
 * @property {{name: string}} spec
 * @property {import('./session.mjs').Session} session
 * @property {(line: string) => void} log
 * @property {boolean} [dead] its server could not start or connect: left out
 */

/** A B C, then C B A (one item: once); `passes` times over (the targets preset runs 2). */
export function interleaveOrder(items, passes = 1) {
  const block = items.length > 1 ? [...items, ...[...items].reverse()] : [...items];
  return Array.from({ length: Math.max(1, passes) }, () => block).flat();
}

/**
 * The sides of an interleaved burst that measures each server under every
 * arrival pattern in `writes` (see run.mjs `burstWrite`): one side per
 * server and pattern, sharing that server's session, ordered pattern by
 * pattern so `interleaveOrder` gives A B C (frames), A B C (one write), then
 * C B A (one write), C B A (frames): each pattern is interleaved across the
 * servers, and the patterns with each other.
 * @param {Side[]} sides
 * @param {('frames' | 'one')[]} writes
 * @returns {(Side & {write: 'frames' | 'one'})[]}
 */
export function burstSides(sides, writes) {
  return writes.flatMap((write) =>
    sides.map((s) => ({
      spec: s.spec,
      session: s.session,
      log: s.log,
      write,
      get dead() {
        return s.dead;
      },
    })),
  );
}

/**
 * Runs `optsOf(side)` on every live side in interleaved order. A side whose
 * run failed or still owed deliveries at its end is restarted before its
 * next run (with the subscribers it had) or, after its last run, when a
 * step follows (`afterwards`: the subscribers that step needs; null: none
 * follows), so a backlog never spills into the next measurement.
 * @param {Side[]} sides
 * @param {(side: Side) => import('./run.mjs').RunOptions} optsOf
 * @param {number | null} afterwards
 * @param {number} [passes] how many times the interleaved block runs
 * @returns {Promise<object[]>} every run, in run order, each with `run` (1, 2) per server
 */
export async function runInterleaved(sides, optsOf, afterwards, passes = 1) {
  const order = interleaveOrder(sides.filter((s) => !s.dead), passes);
  const runs = [];
  for (const [i, s] of order.entries()) {
    if (s.dead) continue;
    const r = await runLoad(s.session, optsOf(s), s.log);
    // Numbered per server and, for bursts, per arrival pattern (sides may share a session: see burstSides).
    r.run = runs.filter((x) => x.server === r.server && x.burstWrite === r.burstWrite).length + 1;
    runs.push(r);
    // Another run on this server process later in the order (by session: two sides can share one).
    const again = order.some((x, j) => j > i && x.session === s.session);
    if ((r.behindAtEnd || r.error) && (again || afterwards !== null)) {
      s.log(`restarting the server (${r.error ? 'the run failed' : `${r.behindAtEnd.toLocaleString('en-US')} deliveries still owed`}), so its backlog does not spill into the next measurement`);
      await s.session.restart(again ? s.session.subscribers : afterwards);
    }
  }
  return runs;
}

/**
 * One row per server that ran: its best run by `pick` (a function of the
 * runs returning {server: run}), else its first, with `runs` = how many ran.
 */
export function bestRows(runs, pick) {
  const best = pick(runs);
  const servers = [...new Set(runs.map((r) => r.server))];
  return servers.map((name) => ({ ...(best[name] ?? runs.find((r) => r.server === name)), runs: runs.filter((r) => r.server === name).length }));
}
