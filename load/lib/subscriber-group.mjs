/**
 * The parent's side of the subscriber processes: forks them, splits the
 * subscribers between them, and merges their once-a-second reports into
 * totals and histograms.
 *
 * Two roles: 'healthy' subscribers (the `procs` processes, resizable) and
 * optional 'laggard' subscribers (one process of their own, so a stalled
 * socket never shares an event loop with a healthy one). Laggards connect
 * through small-sockets.py when python3 is available (small kernel buffers,
 * see there); latency and counts are kept per role.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, stop, track } from './children.mjs';
import { sleep } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { streamCount } from './payload.mjs';

const WORKER = fileURLToPath(new URL('./subscriber-worker.mjs', import.meta.url));
const SMALL_SOCKETS = fileURLToPath(new URL('./small-sockets.py', import.meta.url));
const COUNTS = ['connecting', 'ready', 'failed', 'live', 'closed', 'received', 'windowReceived', 'gap', 'reorder', 'indexGap', 'indexReorder', 'unexpected', 'resumed', 'resumedGap', 'resumeRetries', 'stormInFlight', 'gapMessages', 'skippedItems', 'conflatedMessages', 'redials'];
const MAX_OF = ['lastAt', 'lastResumedAt'];

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

let python = null;
/** Whether python3 can run small-sockets.py here (checked once). */
export function hasPython() {
  if (python === null) {
    try {
      execFileSync('python3', ['-c', 'import socket; socket.TCP_MAXSEG'], { stdio: 'ignore', timeout: 5000 });
      python = true;
    } catch {
      python = false;
    }
  }
  return python;
}

/**
 * @typedef {object} GroupOptions
 * @property {number} procs       healthy subscriber processes
 * @property {number} [laggards]  laggard subscribers (one more process), connected at once
 * @property {{rcvbuf: number, mss: number} | null} [smallSockets] kernel buffers of laggards (null: ordinary sockets)
 * @property {number} [concurrency] upgrades in flight per process (64)
 * @property {boolean} [staleness] laggards sample the age of their newest event every 100 ms (laggardStale)
 */

export class SubscriberGroup {
  /**
   * @param {import('./subscriber-conn.mjs').Target} target
   * @param {GroupOptions} opts
   */
  constructor(target, opts) {
    this.target = target;
    this.window = new Histogram(); // healthy, the whole measure window
    this.second = new Histogram(); // healthy, since the last progress line
    this.laggardWindow = new Histogram();
    this.laggardStale = new Histogram(); // laggards: age of the newest event each holds, sampled
    this.fatal = null;
    this.stopping = false;
    this.healthyCount = 0;
    /** @type {{child: import('node:child_process').ChildProcess, role: 'healthy' | 'laggard', latest: any, liveByStream: number[], rate: number, lastTick: any, want: number}[]} */
    this.workers = [];
    for (let i = 0; i < opts.procs; i++) this.addWorker('healthy', fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }), 0);
    this.laggardCount = opts.laggards ?? 0;
    this.smallSockets = false;
    if (this.laggardCount > 0) {
      const first = 1_000_000; // numbers (topics, source addresses) after every healthy one
      let child;
      if (opts.smallSockets && hasPython()) {
        const { rcvbuf, mss } = opts.smallSockets;
        child = spawn('python3', [SMALL_SOCKETS, target.host, String(target.port), String(this.laggardCount), String(first), String(rcvbuf), String(mss), '--', process.execPath, WORKER], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          serialization: 'advanced',
        });
        this.smallSockets = true;
      } else {
        child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
      }
      const w = this.addWorker('laggard', child, this.laggardCount);
      w.child.send({ type: 'start', target, count: this.laggardCount, first, concurrency: opts.concurrency ?? 64 });
      if (opts.staleness) w.child.send({ type: 'staleness', everyMs: 100 });
    }
    // With `target.ports` (cluster nodes), healthy process i connects to ports[i mod n].
    const targetOf = (i) => (target.ports ? { ...target, port: target.ports[i % target.ports.length] } : target);
    for (const [i, w] of this.workers.entries()) {
      if (w.role === 'healthy') w.child.send({ type: 'start', target: targetOf(i), count: 0, first: i * 100_000, concurrency: opts.concurrency ?? 64 });
    }
  }

  addWorker(role, child, want) {
    track(child);
    const w = { child, role, latest: null, liveByStream: [], rate: 0, lastTick: null, want };
    const i = this.workers.length;
    child.on('message', (msg) => this.onMessage(w, msg));
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.fatal ??= `subscriber process ${i} (${role}) exited (${code ?? signal})`;
    });
    this.workers.push(w);
    return w;
  }

  get pids() {
    return this.workers.map((w) => w.child.pid);
  }

  get healthyPids() {
    return this.workers.filter((w) => w.role === 'healthy').map((w) => w.child.pid);
  }

  onMessage(w, msg) {
    if (msg.type === 'tick') {
      const prev = w.lastTick;
      if (prev && msg.at > prev.at) w.rate = ((msg.counts.received - prev.received) / (msg.at - prev.at)) * 1000;
      w.lastTick = { at: msg.at, received: msg.counts.received };
      w.latest = msg.counts;
      w.liveByStream = msg.liveByStream;
      if (w.role === 'healthy') {
        this.window.addSparse(msg.hist);
        this.second.addSparse(msg.hist);
      } else {
        this.laggardWindow.addSparse(msg.hist);
        if (msg.stale) this.laggardStale.addSparse(msg.stale);
      }
    } else if (msg.type === 'fatal') {
      this.fatal ??= `subscriber process (${w.role}): ${msg.message}`;
    }
  }

  /**
   * Sum of the workers' latest counts.
   * @param {'healthy' | 'laggard' | 'all'} role
   */
  totals(role = 'healthy') {
    const sum = Object.fromEntries(COUNTS.map((k) => [k, 0]));
    for (const k of MAX_OF) sum[k] = 0;
    sum.firstAt = Infinity;
    for (const w of this.workers) {
      if (!w.latest || (role !== 'all' && w.role !== role)) continue;
      for (const k of COUNTS) sum[k] += w.latest[k] ?? 0;
      for (const k of MAX_OF) sum[k] = Math.max(sum[k], w.latest[k] ?? 0);
      if (w.latest.firstAt) sum.firstAt = Math.min(sum.firstAt, w.latest.firstAt);
    }
    return sum;
  }

  /** Live subscribers per stream number (topic, or topic:key; see payload.mjs), for a role. */
  liveByStream(role = 'healthy') {
    const by = new Array(streamCount(this.target.topics, this.target.keys)).fill(0);
    for (const w of this.workers) if (w.role === role || role === 'all') w.liveByStream.forEach((n, s) => (by[s] += n));
    return by;
  }

  /** Current healthy deliveries/s, summed over the workers' own last intervals. */
  get rate() {
    return this.workers.filter((w) => w.role === 'healthy').reduce((a, w) => a + w.rate, 0);
  }

  send(msg, role = 'all') {
    for (const w of this.workers) if (role === 'all' || w.role === role) w.child.send(msg);
  }

  /**
   * Grows or shrinks the healthy subscribers to `count` and waits until every
   * connection attempt settled (or `timeoutMs` passed; the laggards too).
   * @returns {Promise<{ready: number, failed: number, seconds: number, timedOut: boolean}>}
   */
  async connect(count, timeoutMs, progress = () => {}) {
    const healthy = this.workers.filter((w) => w.role === 'healthy');
    const per = Math.ceil(count / healthy.length);
    healthy.forEach((w, i) => {
      w.want = Math.max(0, Math.min(per, count - i * per));
      w.child.send({ type: 'resize', count: w.want });
    });
    this.healthyCount = count;
    const t0 = performance.now();
    const before = this.totals('all');
    let lastPrint = t0;
    for (;;) {
      await sleep(100);
      if (this.fatal) throw new Error(this.fatal);
      const settled = this.workers.every((w) => w.latest && w.latest.wanted === w.want && w.latest.pending === 0);
      const t = this.totals('all');
      if (performance.now() - lastPrint >= 1000) {
        lastPrint = performance.now();
        progress(t);
      }
      const timedOut = performance.now() - t0 > timeoutMs;
      if (settled || timedOut) {
        return { ready: this.totals('healthy').live, laggards: this.totals('laggard').live, failed: t.failed - before.failed, seconds: (performance.now() - t0) / 1000, timedOut: !settled };
      }
    }
  }

  /**
   * Last counts of a role, per-subscriber min/max and deliveries still owed
   * (given events published per topic), notes (failures, closes, anomalies)
   * and the fast-path self-checks.
   */
  async final(role = 'healthy', published = null, timeoutMs = 10_000) {
    const ws = this.workers.filter((w) => w.role === role);
    const finals = await Promise.all(
      ws.map((w, i) => {
        const p = nextMessage(w.child, 'final', timeoutMs, `the final report of ${role} subscriber process ${i}`);
        w.child.send({ type: 'final', published });
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
    const live = finals.filter((f) => f.perSubscriber.live > 0);
    return {
      perSubscriber: {
        min: live.length ? Math.min(...live.map((f) => f.perSubscriber.min)) : 0,
        max: live.length ? Math.max(...live.map((f) => f.perSubscriber.max)) : 0,
      },
      owed: finals.reduce((a, f) => a + f.perSubscriber.owed, 0),
      notes,
      selfChecks: finals.map((f) => f.selfCheck).filter(Boolean),
    };
  }

  async stop() {
    this.stopping = true;
    await Promise.all(
      this.workers.map(async ({ child }) => {
        if (child.connected) child.send({ type: 'stop' });
        const timer = setTimeout(() => stop(child, 2000), 3000);
        await exited(child);
        clearTimeout(timer);
      }),
    );
  }
}
