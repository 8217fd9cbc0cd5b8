/**
 * The parent's side of the subscriber processes: forks them, splits the
 * subscribers between them, and merges their once-a-second reports into
 * totals and histograms.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, stop, track } from './children.mjs';
import { Histogram } from './histogram.mjs';

const WORKER = fileURLToPath(new URL('./subscriber-worker.mjs', import.meta.url));

/** Waits for the next IPC message of `type` from `child`, failing on timeout or exit. */
export function nextMessage(child, type, timeoutMs, what = type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg?.type === type) done(null, msg);
      else if (msg?.type === 'fatal') done(new Error(msg.message));
    };
    const onExit = (code, signal) => done(new Error(`process exited (${code ?? signal}) while waiting for ${what}`));
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    function done(err, msg) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(msg);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export class SubscriberGroup {
  /**
   * @param {number} procs
   * @param {number} subscribers
   * @param {import('./subscriber-conn.mjs').Target} target
   */
  constructor(procs, subscribers, target) {
    this.window = new Histogram(); // the whole measure window
    this.second = new Histogram(); // since the last progress line
    this.latest = []; // cumulative counts per worker
    this.rates = []; // deliveries/s per worker over its own last report interval
    this.lastTick = [];
    this.fatal = null;
    const per = Math.ceil(subscribers / procs);
    this.workers = [];
    for (let i = 0; i < procs; i++) {
      const count = Math.min(per, subscribers - i * per);
      if (count <= 0) break;
      const child = track(fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }));
      this.latest.push(null);
      this.rates.push(0);
      this.lastTick.push(null);
      child.on('message', (msg) => this.onMessage(i, msg));
      child.on('exit', (code, signal) => {
        if (!this.stopping) this.fatal ??= `subscriber process ${i} exited (${code ?? signal})`;
      });
      child.send({ type: 'start', target, count, first: i * per, concurrency: 64 });
      this.workers.push(child);
    }
  }

  get pids() {
    return this.workers.map((w) => w.pid);
  }

  onMessage(i, msg) {
    if (msg.type === 'tick') {
      const prev = this.lastTick[i];
      if (prev && msg.at > prev.at) this.rates[i] = ((msg.counts.received - prev.received) / (msg.at - prev.at)) * 1000;
      this.lastTick[i] = { at: msg.at, received: msg.counts.received };
      this.latest[i] = msg.counts;
      this.window.addSparse(msg.hist);
      this.second.addSparse(msg.hist);
    } else if (msg.type === 'fatal') {
      this.fatal ??= `subscriber process ${i}: ${msg.message}`;
    }
  }

  /** Sum of every worker's latest cumulative counts. */
  totals() {
    const sum = {};
    for (const counts of this.latest) {
      if (!counts) continue;
      for (const [k, v] of Object.entries(counts)) sum[k] = (sum[k] ?? 0) + v;
    }
    for (const k of ['ready', 'failed', 'closed', 'received', 'windowReceived', 'gap', 'reorder', 'indexGap', 'indexReorder', 'unexpected']) sum[k] ??= 0;
    return sum;
  }

  /** Current deliveries/s, summed over the workers' own last intervals. */
  get rate() {
    return this.rates.reduce((a, b) => a + b, 0);
  }

  send(msg) {
    for (const w of this.workers) w.send(msg);
  }

  /** Last counts, per-subscriber min/max, notes (failures, closes, anomalies) and the fast-path self-check. */
  async final(timeoutMs = 10_000) {
    const finals = await Promise.all(
      this.workers.map((w, i) => {
        const p = nextMessage(w, 'final', timeoutMs, `the final report of subscriber process ${i}`);
        w.send({ type: 'final' });
        return p;
      }),
    );
    const notes = {};
    for (const f of finals) {
      for (const [kind, n] of Object.entries(f.notes)) {
        const into = (notes[kind] ??= { count: 0, examples: [] });
        into.count += n.count;
        into.examples.push(...n.examples.slice(0, 5 - into.examples.length));
      }
    }
    const ready = finals.filter((f) => f.perSubscriber.readyConns > 0);
    return {
      perSubscriber: {
        min: ready.length ? Math.min(...ready.map((f) => f.perSubscriber.min)) : 0,
        max: ready.length ? Math.max(...ready.map((f) => f.perSubscriber.max)) : 0,
      },
      notes,
      selfChecks: finals.map((f) => f.selfCheck).filter(Boolean),
    };
  }

  async stop() {
    this.stopping = true;
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.connected) w.send({ type: 'stop' });
        const timer = setTimeout(() => stop(w, 2000), 3000);
        await exited(w);
        clearTimeout(timer);
      }),
    );
  }
}
