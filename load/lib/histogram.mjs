/**
 * A fixed log-bucket latency histogram (HDR-like): values in microseconds,
 * exact below 256 µs, then 128 buckets per power of two (under 0.8% error),
 * up to 100 s (a server that falls behind reaches 10 s in a 10 s run); larger
 * values land in the last bucket, but the exact max is kept. Histograms merge by adding counts, so every process records locally
 * and ships a sparse delta once a second.
 */

const SUB = 128; // buckets per power of two above the linear range
const LINEAR = 2 * SUB; // 0..255 µs are exact
export const MAX_US = 100_000_000;
const BUCKETS = indexOf(MAX_US) + 1;

/** Bucket of a value in µs (integer >= 0). */
function indexOf(us) {
  if (us < LINEAR) return us;
  const shift = 31 - Math.clz32(us) - 7; // keep the top 8 bits
  return (shift + 1) * SUB + ((us >>> shift) - SUB);
}

/** Highest value (µs) that falls in bucket `i`. */
function upperOf(i) {
  if (i < LINEAR) return i;
  const shift = Math.floor(i / SUB) - 1;
  const mantissa = (i % SUB) + SUB;
  return ((mantissa + 1) << shift) - 1;
}

export class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.total = 0;
    this.maxUs = 0;
  }

  /** Records one latency in milliseconds (float). */
  recordMs(ms) {
    let us = Math.round(ms * 1000);
    if (us < 0) us = 0;
    if (us > this.maxUs) this.maxUs = us;
    this.counts[us >= MAX_US ? BUCKETS - 1 : indexOf(us)]++;
    this.total++;
  }

  /** Sparse form for IPC: [[bucket, count], ...] plus max. */
  toSparse() {
    const pairs = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) pairs.push([i, this.counts[i]]);
    return { pairs, maxUs: this.maxUs };
  }

  /** Adds a sparse histogram (from toSparse) into this one. */
  addSparse({ pairs, maxUs }) {
    for (const [i, n] of pairs) {
      this.counts[i] += n;
      this.total += n;
    }
    if (maxUs > this.maxUs) this.maxUs = maxUs;
  }

  reset() {
    this.counts.fill(0);
    this.total = 0;
    this.maxUs = 0;
  }

  /** The value (ms) at or below which `q` (0..1) of the samples fall; NaN when empty. */
  quantileMs(q) {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(upperOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  get maxMs() {
    return this.total === 0 ? NaN : this.maxUs / 1000;
  }

  /** p50/p99/p999/max in ms, for reports. */
  summary() {
    return {
      count: this.total,
      p50Ms: this.quantileMs(0.5),
      p90Ms: this.quantileMs(0.9),
      p99Ms: this.quantileMs(0.99),
      p999Ms: this.quantileMs(0.999),
      maxMs: this.maxMs,
    };
  }
}
