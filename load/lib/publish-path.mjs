/**
 * Publish path (fanwire only): events/s accepted (acked) from one producer,
 * pipelined with a bounded window of frames in flight, for a given batch
 * size. Runs on a session's server; subscribers, if any are connected,
 * receive what is published.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, stop, track } from './children.mjs';
import { sleep } from './clock.mjs';
import { cpuMeter } from './procstat.mjs';
import { fmtMs, fmtRate } from './run.mjs';
import { nextMessage } from './subscriber-group.mjs';

const WORKER = fileURLToPath(new URL('./publish-path-worker.mjs', import.meta.url));

/**
 * @param {import('./session.mjs').Session} session
 * @param {{batch: number, window: number, warmup: number, duration: number}} o
 * @param {(line: string) => void} log
 */
export async function runPublishPath(session, o, log) {
  const result = { server: session.name, kind: 'publish', batch: o.batch, window: o.window, payloadBytes: session.target.size, durationS: o.duration, warmupS: o.warmup, subscribers: session.subscribers, error: null };
  const child = track(fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    if (session.mode !== 'fanwire') throw new Error('acked publishing exists only on fanwire');
    let last = 0;
    child.on('message', (m) => {
      if (m.type !== 'tick') return;
      log(`publish batch ${o.batch}: ${fmtRate(m.acked - last)} frames acked/s (${fmtRate((m.acked - last) * o.batch)} events/s)`);
      last = m.acked;
    });
    const done = nextMessage(child, 'done', (o.warmup + o.duration) * 1000 + 30_000, 'the publish-path producer');
    child.send({ type: 'run', host: session.target.host, port: session.target.port, size: session.target.size, batch: o.batch, window: o.window, warmupMs: o.warmup * 1000, durationMs: o.duration * 1000 });
    await sleep(o.warmup * 1000);
    const meter = cpuMeter([session.pid, child.pid]);
    const r = (await done).result;
    const cpu = meter();
    Object.assign(result, r, { cpuPercent: { server: cpu.perPid[0], producer: cpu.perPid[1], otherProcesses: cpu.other } });
    result.failures = r.errors ? [`${r.errors} frames refused: ${r.errorExamples.join(' | ')}`] : [];
    log(`done: ${fmtRate(r.eventsPerSec)} events/s accepted (${fmtRate(r.framesPerSec)} frames/s of ${o.batch}), ack latency p50 ${fmtMs(r.ackLatency.p50Ms)} p99 ${fmtMs(r.ackLatency.p99Ms)} ms`);
  } catch (err) {
    result.error = err.message;
    result.failures = [err.message];
    log(`!! FAILED: ${err.message}`);
  } finally {
    if (child.connected) child.kill('SIGTERM');
    const timer = setTimeout(() => stop(child, 1000), 1000);
    await exited(child);
    clearTimeout(timer);
  }
  return result;
}
