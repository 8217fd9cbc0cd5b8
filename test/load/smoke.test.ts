/**
 * The load generator (load/load.mjs) runs for real, so the benchmark harness
 * cannot rot: 100 subscribers for 1 second against fanwire, which the CLI
 * starts itself, on each transport, and against the peers that are not
 * Node programs (nats-server's WebSocket listener, nginx + Nchan with one
 * and with `auto` workers), real binaries the CLI starts and stops. Those
 * are skipped loudly when not installed, and fail under CI=true (.ci/run
 * installs them). The assertions read the run's JSON
 * record: deliveries happened, every subscriber got every event in order,
 * nobody failed to connect, and every process the CLI started is gone.
 * No rate, latency or duration decides the result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { natsSkip, nchanSkip } from '../../load/lib/native-peers.mjs';
import { TRANSPORTS } from '../helpers.js';

const LOAD_CLI = fileURLToPath(new URL('../../load/load.mjs', import.meta.url));
const SUBSCRIBERS = 100;

/** The fields of load.mjs's JSON record this test reads. */
interface LoadRecord {
  ok: boolean;
  error: string | null;
  failures?: string[];
  subscribers: number;
  connectFailures: number;
  published: number;
  received: number;
  deliveriesPerSec: number;
  behindAtEnd: number;
  gaps: number;
  reorders: number;
  unexpected: number;
  perSubscriber: { min: number; max: number };
  closes: Record<string, number>;
  fastPathChecks: Array<{ same: boolean }>;
  pids: { server: number | null; publisher: number; subscribers: number[]; serverWorkers?: number[] };
  burstWrite: 'frames' | 'one' | null;
  publisher: { frames: number; writes: number };
}

/**
 * `it` for a peer whose binary may be missing (`why` says what is missing):
 * under CI a test that fails naming it; locally a skipped test and a warning.
 */
function itWithBinary(why: string | undefined, name: string, body: () => Promise<void>, timeout?: number): void {
  if (why !== undefined && process.env.CI === 'true') {
    it(name, () => {
      throw new Error(`${why}, and CI=true: the peer smoke runs must run in CI (.ci/run installs it)`);
    });
    return;
  }
  if (why !== undefined) console.warn(`\n*** SKIPPED "${name}": ${why}. This peer of the benchmark is NOT tested in this run. ***\n`);
  it.skipIf(why !== undefined)(name, body, timeout);
}

const running = new Set<ChildProcess>();

/**
 * Runs the CLI to completion. If it hangs, SIGTERM (on which it stops every
 * process it started) before vitest's 30 s test timeout, then SIGKILL.
 */
function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [LOAD_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const term = setTimeout(() => child.kill('SIGTERM'), 24_000);
  const kill = setTimeout(() => child.kill('SIGKILL'), 28_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, out });
    }),
  );
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('load generator smoke run', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fanwire-load-'));
  afterAll(() => {
    for (const child of running) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of TRANSPORTS) {
    it(`fanwire-${transport}: ${SUBSCRIBERS} subscribers for 1 s each get every event, in order`, async () => {
      const file = path.join(dir, `${transport}.json`);
      const { code, out } = await runCli([
        '--server', `fanwire-${transport}`,
        '--subscribers', String(SUBSCRIBERS),
        '--rate', '50',
        '--duration', '1',
        '--warmup', '0.5',
        '--drain', '15', // a bound on waiting for deliveries, never a pass/fail criterion
        '--json', file,
        '--quiet',
      ]);
      expect(code, out).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as LoadRecord;
      expect(r.error, out).toBeNull();
      expect(r.failures, out).toEqual([]);
      expect(r.ok).toBe(true);

      expect(r.subscribers).toBe(SUBSCRIBERS);
      expect(r.connectFailures).toBe(0);
      expect(r.published).toBeGreaterThan(0);
      expect(r.deliveriesPerSec).toBeGreaterThan(0);
      expect(r.received).toBe(r.published * SUBSCRIBERS);
      expect(r.behindAtEnd).toBe(0);
      expect(r.perSubscriber).toEqual({ min: r.published, max: r.published });
      expect(r.gaps).toBe(0);
      expect(r.reorders).toBe(0);
      expect(r.unexpected).toBe(0);
      expect(r.closes).toEqual({});
      expect(r.fastPathChecks.length).toBeGreaterThan(0);
      expect(r.fastPathChecks.every((c) => c.same)).toBe(true);

      const pids = [r.pids.server, r.pids.publisher, ...r.pids.subscribers].filter((p): p is number => typeof p === 'number');
      expect(pids.length).toBeGreaterThanOrEqual(3);
      expect(pids.filter(isRunning)).toEqual([]);
    });

    it(`fanwire-${transport}: with --keys 10 each subscriber gets every event of its topic:key, in order, and no other`, async () => {
      const file = path.join(dir, `${transport}-keys.json`);
      const { code, out } = await runCli([
        '--server', `fanwire-${transport}`,
        '--subscribers', String(SUBSCRIBERS),
        '--keys', '10',
        '--burst', '200',
        '--drain', '15',
        '--json', file,
        '--quiet',
      ]);
      expect(code, out).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as LoadRecord;
      expect(r.failures, out).toEqual([]);
      expect(r.published).toBe(240); // the burst and its warm-up burst of 200 / 5
      // 10 subscribers per key, each owed the 24 events of its key.
      expect(r.received).toBe((r.published / 10) * SUBSCRIBERS);
      expect(r.perSubscriber).toEqual({ min: 24, max: 24 });
      expect(r.behindAtEnd).toBe(0);
      expect([r.gaps, r.reorders, r.unexpected]).toEqual([0, 0, 0]);
      expect(r.fastPathChecks.every((c) => c.same)).toBe(true);
    });

    it(`fanwire-${transport}-batch: subscribers asking for batch=1 get every event of a burst, in order, through batch messages`, async () => {
      const file = path.join(dir, `${transport}-batch.json`);
      const { code, out } = await runCli([
        '--server', `fanwire-${transport}-batch`,
        '--subscribers', String(SUBSCRIBERS),
        '--burst', '2000',
        '--drain', '15',
        '--json', file,
        '--quiet',
      ]);
      expect(code, out).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as LoadRecord;
      expect(r.failures, out).toEqual([]);
      expect(r.published).toBe(2400); // the burst and its warm-up burst of 2000 / 5
      expect(r.received).toBe(r.published * SUBSCRIBERS);
      expect(r.perSubscriber).toEqual({ min: r.published, max: r.published });
      expect(r.behindAtEnd).toBe(0);
      expect([r.gaps, r.reorders, r.unexpected]).toEqual([0, 0, 0]);
      expect(r.fastPathChecks.every((c) => c.same)).toBe(true);
    });
  }
  /** A whole run's record, checked as for fanwire: every subscriber got every event in order, and every process is gone. */
  function expectEveryEvent(r: LoadRecord, out: string): void {
    expect(r.failures, out).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.subscribers).toBe(SUBSCRIBERS);
    expect(r.connectFailures).toBe(0);
    expect(r.published).toBeGreaterThan(0);
    expect(r.received).toBe(r.published * SUBSCRIBERS);
    expect(r.perSubscriber).toEqual({ min: r.published, max: r.published });
    expect(r.behindAtEnd).toBe(0);
    expect([r.gaps, r.reorders, r.unexpected]).toEqual([0, 0, 0]);
    expect(r.closes).toEqual({});
    expect(r.fastPathChecks.length).toBeGreaterThan(0);
    expect(r.fastPathChecks.every((c) => c.same)).toBe(true);
    const pids = [r.pids.server, r.pids.publisher, ...r.pids.subscribers, ...(r.pids.serverWorkers ?? [])].filter((p): p is number => typeof p === 'number');
    expect(pids.filter(isRunning)).toEqual([]);
  }

  const PEERS = [
    { server: 'nats-ws', why: natsSkip(), workers: false },
    { server: 'nchan', why: nchanSkip(), workers: true },
    { server: 'nchan-auto', why: nchanSkip(), workers: true },
  ];
  for (const { server, why, workers } of PEERS) {
    itWithBinary(why, `${server}: ${SUBSCRIBERS} subscribers for 1 s each get every event, in order, and the server and its workers are stopped`, async () => {
      const file = path.join(dir, `${server}.json`);
      const { code, out } = await runCli(['--server', server, '--subscribers', String(SUBSCRIBERS), '--rate', '50', '--duration', '1', '--warmup', '0.5', '--drain', '15', '--json', file, '--quiet']);
      expect(code, out).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as LoadRecord;
      expectEveryEvent(r, out);
      // nginx works in its workers: the record names them, so their CPU and memory are the server's.
      if (workers) expect(r.pids.serverWorkers?.length).toBeGreaterThan(0);
    });
  }

  // A producer flushing a backlog: every frame of each burst in one TCP write, so the server reads many frames per read.
  for (const server of ['fanwire-ws', 'nats-ws']) {
    itWithBinary(server === 'nats-ws' ? natsSkip() : undefined, `${server}: a burst written in one TCP write arrives whole and in order`, async () => {
      const file = path.join(dir, `${server}-one-write.json`);
      const { code, out } = await runCli(['--server', server, '--subscribers', String(SUBSCRIBERS), '--burst', '300', '--burst-write', 'one', '--drain', '15', '--json', file, '--quiet']);
      expect(code, out).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as LoadRecord;
      expect(r.burstWrite).toBe('one');
      expect(r.published).toBe(360);
      expect(r.publisher).toMatchObject({ frames: 360, writes: 2 }); // the warm-up burst's write and the burst's
      expectEveryEvent(r, out);
    });
  }

  // nats-server writes a browser's messages (User-Agent Mozilla/...) in frames of at most 4 KiB: 3000-byte events' MSG records span frames.
  itWithBinary(natsSkip(), 'nats-ws: a burst of 3000-byte events to browser-like subscribers, whose MSG records span WebSocket frames, arrives whole and in order', async () => {
    const file = path.join(dir, 'nats-ws-burst.json');
    const { code, out } = await runCli(['--server', 'nats-ws', '--subscribers', String(SUBSCRIBERS), '--burst', '500', '--payload', '3000', '--user-agent', 'Mozilla/5.0', '--drain', '15', '--json', file, '--quiet']);
    expect(code, out).toBe(0);
    const r = JSON.parse(readFileSync(file, 'utf8')) as LoadRecord;
    expect(r.published).toBe(600); // the burst and its warm-up burst of 500 / 5
    expectEveryEvent(r, out);
  });
});
