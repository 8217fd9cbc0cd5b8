/**
 * Issue #11's targets 2 and 3 (sustained part): at a fixed rate every server
 * should keep up with (10k subscribers, 48 events/s of 100 B: 480,000
 * deliveries/s), fanwire's p99 against native uWS publish's. A p99 only
 * means something for a run that delivered what was offered: a server that
 * fell behind has a p99 that grows with the run's length. So each run is
 * checked for keeping up, the best run of a server is its lowest p99 among
 * those that kept up (any run only when none did), and the targets table
 * flags a run that fell behind instead of judging its p99 (targets.mjs).
 */

/** A run delivering less than this share of the offered deliveries/s did not keep up. */
export const KEPT_UP_SHARE = 0.95;

/**
 * Why a fixed-rate run did not keep up, or null if it did: deliveries still
 * owed after the drain wait, or well under the offered rate in the window.
 * @param {{error?: string | null, behindAtEnd?: number, deliveriesPerSec?: number, offeredPerSec?: number | null}} r
 */
export function behindWhy(r) {
  if (r.error) return `failed (${String(r.error).slice(0, 60)})`;
  if (r.behindAtEnd > 0) return `${r.behindAtEnd.toLocaleString('en-US')} deliveries still owed at the end`;
  if (r.offeredPerSec > 0 && r.deliveriesPerSec < KEPT_UP_SHARE * r.offeredPerSec) return `delivered ${((100 * r.deliveriesPerSec) / r.offeredPerSec).toFixed(0)}% of the offered rate`;
  return null;
}

/**
 * The best run of each server: the lowest p99 among runs that kept up, or
 * among all that did not fail when none kept up.
 * @template {{server: string, error?: string | null, latency?: {p99Ms: number}}} T
 * @param {T[]} runs
 * @returns {Record<string, T>}
 */
export function bestSustained(runs) {
  const best = {};
  const rank = (r) => [behindWhy(r) === null ? 0 : 1, r.latency.p99Ms];
  for (const r of runs) {
    if (r.error || !Number.isFinite(r.latency?.p99Ms)) continue;
    const b = best[r.server];
    if (!b) best[r.server] = r;
    else {
      const [x, y] = [rank(r), rank(b)];
      if (x[0] < y[0] || (x[0] === y[0] && x[1] < y[1])) best[r.server] = r;
    }
  }
  return best;
}
