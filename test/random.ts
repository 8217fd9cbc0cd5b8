/** A tiny seeded PRNG (mulberry32) so a failing randomized test can be replayed from its logged seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for this run: FANWIRE_FUZZ_SEED when set (to replay), else a fresh one. Logged either way. */
export function fuzzSeed(what: string): number {
  const seed = Number(process.env.FANWIRE_FUZZ_SEED ?? Date.now() % 1_000_000);
  console.log(`${what} seed=${seed} (replay with FANWIRE_FUZZ_SEED=${seed})`);
  return seed;
}
