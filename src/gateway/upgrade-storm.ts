/**
 * Reconnect storms: while upgrades keep arriving, the buffer's wake-up
 * sweeps run in short chunks. Node accepts one connection per event-loop
 * turn, so in a storm the length of a turn decides how fast clients get back
 * in: with 512-reader chunks of fan-out writes (a few ms each) 10k resuming
 * subscribers overflowed the listen queue and thousands timed out. Outside a
 * storm, chunks keep their full size (shorter ones cost about 10% of burst
 * throughput).
 */
import { performance } from 'node:perf_hooks';

/** Upgrades this recent (ms) mean clients are connecting: keep event-loop turns short. */
const STORM_WINDOW_MS = 100;
/** A wake-up chunk's time limit (ms) meanwhile: about 40 fan-out writes on the machines we measure on. */
const STORM_CHUNK_MS = 0.25;

export class UpgradeStorm {
  /** When the last upgrade request arrived (performance.now()). */
  private lastUpgradeAt = Number.NEGATIVE_INFINITY;

  /** An upgrade request arrived. */
  upgradeArrived(): void {
    this.lastUpgradeAt = performance.now();
  }

  /** The buffer's `sweepBudget`: a wake-up chunk's time limit in ms, short during a storm. */
  readonly sweepBudget = (): number =>
    performance.now() - this.lastUpgradeAt < STORM_WINDOW_MS ? STORM_CHUNK_MS : Number.POSITIVE_INFINITY;
}
