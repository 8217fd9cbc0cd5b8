/**
 * The laggard policy benchmark (load/bench-lag.mjs) runs for real at a tiny
 * size, so its harness cannot rot: 100 subscribers, 10 of them slow readers,
 * lag=conflate. The assertions read its JSON record: both runs happened
 * without failures, the healthy subscribers got everything, the slow
 * readers got events and a staleness figure. No rate, latency or staleness
 * value decides the result.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TRANSPORTS } from '../helpers.js';

const BENCH = fileURLToPath(new URL('../../load/bench-lag.mjs', import.meta.url));

interface Run {
  error: string | null;
  failures: string[];
  subscribers: number;
  laggards: number;
  behindAtEnd: number;
  laggardReceived: number;
  laggardStaleness: { count: number } | null;
}

describe('laggard policy benchmark smoke run', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-bench-lag-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the no-slow and the slow run for lag=conflate and records both', async () => {
    const file = path.join(dir, 'lag.json');
    const child = spawn(
      process.execPath,
      // The benchmark's default transport is uws; ws where uWebSockets.js does not load (helpers.ts warns).
      [BENCH, '--transport', TRANSPORTS.includes('uws') ? 'uws' : 'ws', '--policies', 'conflate', '--subscribers', '100', '--rate', '20', '--duration', '1', '--warmup', '0.5', '--slow-warmup', '1', '--drain', '5', '--procs', '1', '--json', file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const term = setTimeout(() => child.kill('SIGTERM'), 50_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(term);
    expect(code, out).toBe(0);
    const record = JSON.parse(readFileSync(file, 'utf8')) as { results: Array<{ error?: string; baseline: Run; slow: Run }> };
    expect(record.results).toHaveLength(1);
    const [r] = record.results;
    expect(r!.error, out).toBeUndefined();
    for (const run of [r!.baseline, r!.slow]) {
      expect(run.error, out).toBeNull();
      expect(run.failures, out).toEqual([]);
      expect(run.subscribers).toBe(90);
      expect(run.behindAtEnd).toBe(0);
    }
    expect(r!.baseline.laggards).toBe(0);
    expect(r!.slow.laggards).toBe(10);
    expect(r!.slow.laggardReceived).toBeGreaterThan(0);
    expect(r!.slow.laggardStaleness!.count).toBeGreaterThan(0);
  }, 60_000);
});
