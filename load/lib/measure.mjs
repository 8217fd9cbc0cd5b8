/**
 * One measurement of one server: start it, connect the subscribers, warm up,
 * publish at the fixed rate for the measure window, drain, collect, and stop
 * everything (also on failure). Returns a plain JSON record.
 *
 * A server that cannot keep up is a result: the record says what it
 * delivered and with which latency; only a server that cannot start or
 * accept anybody is an error.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, stop, track } from './children.mjs';
import { nowMs, sleep } from './clock.mjs';
import { cpuMeter, rssKb } from './procstat.mjs';
import { freePort, ServerProcess } from './servers.mjs';
import { nextMessage, SubscriberGroup } from './subscriber-group.mjs';

const PUBLISHER = fileURLToPath(new URL('./publisher.mjs', import.meta.url));

const fmtRate = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
const fmtMs = (ms) => (Number.isNaN(ms) ? '-' : ms.toFixed(ms < 10 ? 2 : 0));

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>} spec
 * @param {object} o parsed options (subscribers, rate, payload, duration, warmup, procs, tick, drain)
 * @param {number} run 1-based run number
 * @param {(line: string) => void} say progress output
 */
export async function measureServer(spec, o, run, say) {
  const log = (line) => say(`[${spec.name} #${run}] ${line}`);
  const result = { server: spec.name, run, startedAt: new Date().toISOString(), subscribers: o.subscribers, rate: o.rate, payloadBytes: o.payload, durationS: o.duration, warmupS: o.warmup, error: null };
  const port = await freePort();
  log(`starting on port ${port}: node ${spec.args(port).map((a) => a.replace(/^.*\/(dist|load)\//, '$1/')).join(' ')}`);
  const server = new ServerProcess(spec, port);
  /** @type {SubscriberGroup | null} */
  let group = null;
  let publisher = null;
  const timers = [];
  try {
    await server.waitListening();
    await sleep(500);
    const rss = { before: rssKb(server.pid), idle: NaN, end: NaN };

    // Connect.
    const path = spec.mode === 'fanwire' ? '/v1/subscribe?topic=t&format=msgpack' : '/v1/subscribe';
    group = new SubscriberGroup(o.procs, o.subscribers, { host: '127.0.0.1', port, path, mode: spec.mode, size: o.payload, timeoutMs: 20_000 });
    const connectStart = performance.now();
    const connectDeadline = connectStart + 30_000 + o.subscribers * 5;
    let lastPrint = 0;
    for (;;) {
      await sleep(100);
      const t = group.totals();
      if (group.fatal) throw new Error(group.fatal);
      if (!server.alive) throw new Error(`server exited while subscribers connected: ${server.lines.slice(-3).join(' | ')}`);
      const settled = t.ready + t.failed >= o.subscribers;
      if (settled || performance.now() - lastPrint >= 1000) {
        lastPrint = performance.now();
        log(`connecting ${t.ready}/${o.subscribers}${t.failed ? ` (failed ${t.failed})` : ''}`);
      }
      if (settled) break;
      if (performance.now() > connectDeadline) {
        log(`!! gave up waiting: ${t.ready}/${o.subscribers} ready after ${((performance.now() - connectStart) / 1000).toFixed(0)} s`);
        break;
      }
    }
    const connected = group.totals();
    result.ready = connected.ready;
    result.connectFailures = connected.failed;
    result.connectSeconds = (performance.now() - connectStart) / 1000;
    if (connected.ready === 0) {
      const why = (await group.final()).notes['connect failure']?.examples[0];
      throw new Error(`no subscriber could connect${why ? `: ${why}` : ''}`);
    }
    if (connected.ready < o.subscribers) log(`!! only ${connected.ready} of ${o.subscribers} subscribers connected; measuring with those`);
    await sleep(1000);
    rss.idle = rssKb(server.pid);

    // Publish: warm-up, then the measure window.
    publisher = track(fork(PUBLISHER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const opened = nextMessage(publisher, 'open', 10_000, 'the publisher connection');
    publisher.send({ type: 'connect', url: `ws://127.0.0.1:${port}/v1/publish`, mode: spec.mode, size: o.payload });
    await opened;
    const warmupMs = o.warmup * 1000;
    const durationMs = o.duration * 1000;
    const startAt = nowMs() + 300;
    const from = startAt + warmupMs;
    const to = from + durationMs;
    group.send({ type: 'window', from, to });
    const done = nextMessage(publisher, 'done', warmupMs + durationMs + 30_000, 'the publisher to finish');
    done.catch(() => {}); // awaited below; keep an early failure from being unhandled
    publisher.send({ type: 'start', startAt, durationMs: warmupMs + durationMs, rate: o.rate, tickMs: o.tick });
    const pids = [server.pid, publisher.pid, ...group.pids];
    let cpu = null;
    const cpuDone = new Promise((resolve) => {
      timers.push(
        setTimeout(() => {
          const meterStop = cpuMeter(pids);
          timers.push(setTimeout(() => resolve((cpu = meterStop())), to - nowMs()));
        }, from - nowMs()),
      );
    });

    let publisherStats = null;
    let publisherError = null;
    done.then((m) => (publisherStats = m.stats), (err) => (publisherError = err));
    group.second.reset();
    const timeline = [];
    let cpuSecond = cpuMeter(pids);
    while (!publisherStats || nowMs() < to) {
      await sleep(1000);
      if (group.fatal) throw new Error(group.fatal);
      if (publisherError) throw publisherError;
      if (!server.alive) throw new Error(`server exited during the run: ${server.lines.slice(-3).join(' | ')}`);
      const t = group.totals();
      const { perPid: [serverCpu, , ...clientCpu], other } = cpuSecond();
      cpuSecond = cpuMeter(pids);
      const now = nowMs();
      const phase = now < from ? 'warmup' : now < to ? 'measure' : 'finishing';
      const sample = {
        t: Math.round((now - startAt) / 100) / 10,
        phase,
        deliveriesPerSec: Math.round(group.rate),
        p50Ms: group.second.quantileMs(0.5),
        p99Ms: group.second.quantileMs(0.99),
        serverCpu: Math.round(serverCpu),
        clientCpu: Math.round(clientCpu.reduce((a, b) => a + b, 0)),
        otherCpu: Math.round(other),
      };
      timeline.push(sample);
      group.second.reset();
      const label = phase === 'measure' ? `measure ${Math.min(o.duration, Math.ceil((now - from) / 1000))}/${o.duration}s` : phase;
      const lat = Number.isNaN(sample.p50Ms) ? '' : `  p50 ${fmtMs(sample.p50Ms)} p99 ${fmtMs(sample.p99Ms)} ms`;
      const trouble = [t.closed && `closed ${t.closed}`, t.gap + t.indexGap && `GAPS ${t.gap + t.indexGap}`, t.reorder + t.indexReorder && `REORDERS ${t.reorder + t.indexReorder}`].filter(Boolean).join(' ');
      log(`${label}  ${fmtRate(sample.deliveriesPerSec)} deliveries/s${lat}  cpu server ${sample.serverCpu}% client ${sample.clientCpu}%${sample.otherCpu >= 10 ? ` OTHER ${sample.otherCpu}%` : ''}${trouble ? `  ${trouble}` : ''}`);
      if (nowMs() > to + 30_000) throw new Error('the publisher did not finish in time');
    }
    await cpuDone;

    // Drain what the server still owes, for bounded time.
    const expected = publisherStats.sent * connected.ready;
    const drainUntil = performance.now() + o.drain * 1000;
    while (group.totals().received < expected && performance.now() < drainUntil && server.alive) await sleep(250);
    rss.end = rssKb(server.pid);
    publisher.send({ type: 'stats' });
    publisherStats = (await nextMessage(publisher, 'tick', 5000, 'publisher stats')).stats;

    const final = await group.final();
    const t = group.totals();
    const ready = connected.ready;
    Object.assign(result, {
      published: publisherStats.sent,
      deliveriesPerSec: t.windowReceived / o.duration,
      offeredPerSec: o.rate * ready,
      latency: group.window.summary(),
      received: t.received,
      expected,
      behindAtEnd: Math.max(0, expected - t.received),
      perSubscriber: final.perSubscriber,
      closed: t.closed,
      gaps: t.gap + t.indexGap,
      reorders: t.reorder + t.indexReorder,
      unexpected: t.unexpected,
      rssKb: rss,
      rssPerSubscriberKb: (rss.idle - rss.before) / ready,
      cpuPercent: { server: cpu.perPid[0], publisher: cpu.perPid[1], subscribers: cpu.perPid.slice(2), otherProcesses: cpu.other, steal: cpu.steal },
      publisher: publisherStats,
      notes: final.notes,
      timeline,
      fastPathChecks: final.selfChecks,
    });
    if (cpu.other >= 10) log(`!! other processes used ${cpu.other.toFixed(0)}% of a core during the window: this run competed with another workload`);
    if (final.selfChecks.some((c) => !c.same)) log(`!! FAST-PATH DECODE MISMATCH: ${JSON.stringify(final.selfChecks)}`);
    if (result.gaps || result.reorders) log(`!! ${result.gaps} GAPS and ${result.reorders} REORDERS in what subscribers received: ${JSON.stringify(final.notes)}`);
    if (publisherStats.errors) log(`!! the server refused ${publisherStats.errors} published frames: ${publisherStats.errorExamples.join(' | ')}`);
    const late = publisherStats.tickLateness;
    log(`done: ${fmtRate(result.deliveriesPerSec)} deliveries/s, p99 ${fmtMs(result.latency.p99Ms)} ms (publisher ticks late p50 ${fmtMs(late.p50Ms)} p99 ${fmtMs(late.p99Ms)} ms), ${result.behindAtEnd ? `${result.behindAtEnd} deliveries still owed after the drain` : 'nothing owed at the end'}`);
  } catch (err) {
    await Promise.race([server.exited(), sleep(300)]); // a dead server is the likelier story than its symptoms
    const code = server.child.exitCode ?? server.child.signalCode;
    result.error = server.alive || err.message.startsWith('server exited') ? err.message : `server exited (${code}) during the run; then: ${err.message}`;
    log(`!! FAILED: ${result.error}`);
    if (server.lines.length) log(`server output (last lines): ${server.lines.slice(-5).join(' | ')}`);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await group?.stop();
    if (publisher) {
      if (publisher.connected) publisher.send({ type: 'stop' });
      const timer = setTimeout(() => stop(publisher, 2000), 2000);
      await exited(publisher);
      clearTimeout(timer);
    }
    await server.stop();
  }
  return result;
}
