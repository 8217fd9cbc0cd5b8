/**
 * One measured run on a session: a publisher at a fixed rate (warm-up, then
 * the measure window) or a burst (a warm-up burst, then the measured one),
 * optionally with the laggards stalled for the window; then a bounded drain
 * and the record. A server that cannot keep up is a result: the record says
 * what it delivered and with which latency.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { finish, track } from './children.mjs';
import { nowMs, sleep } from './clock.mjs';
import { eventsOfStream, publishedPerStream, streamCount } from './payload.mjs';
import { cpuMeter } from './procstat.mjs';
import { nextMessage } from './subscriber-group.mjs';

const PUBLISHER = fileURLToPath(new URL('./publisher.mjs', import.meta.url));

export const fmtRate = (n) => (!Number.isFinite(n) ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
export const fmtMs = (ms) => (ms === undefined || Number.isNaN(ms) ? '-' : ms.toFixed(ms < 10 ? 2 : 0));

/**
 * @typedef {object} RunOptions
 * @property {number} [rate]       events/s (fixed-rate run)
 * @property {number} [burst]      events in the measured burst (burst run)
 * @property {number} [warmupBurst] events in the warm-up burst (burst run; 0: none)
 * @property {'frames' | 'one'} [burstWrite] how the producer sends a burst: one ws.send per frame (default), or every
 *   frame in one TCP write (a producer flushing a backlog); both bursts of a run are sent the same way
 * @property {number} duration     s measured (fixed rate)
 * @property {number} warmup       s of publishing before the window (fixed rate)
 * @property {number} batch        events per publish frame (fanwire)
 * @property {number} tick         publisher timer, ms
 * @property {number} drain        s to wait at most for owed deliveries (fixed rate) or for a burst to arrive
 * @property {boolean} [stall]     pause the laggards for the window
 * @property {number} [settle]     s to wait after the window for laggards' closes (stall)
 * @property {number} [slow]       laggards read at most this many bytes/s for the whole run (slow readers, not stalled)
 */

/** Deliveries owed to the live subscribers of a role, given events sent since the run began (streams: see payload.mjs). */
function expectedFor(group, role, sent, streams) {
  const live = group.liveByStream(role);
  return live.reduce((a, n, s) => a + n * eventsOfStream(sent, s, streams), 0);
}

/**
 * @param {import('./session.mjs').Session} session
 * @param {RunOptions} o
 * @param {(line: string) => void} log
 */
export async function runLoad(session, o, log) {
  const group = session.group;
  const { topics, keys = 1 } = session.target;
  const streams = streamCount(topics, keys);
  const isBurst = o.burst !== undefined;
  const result = {
    server: session.name,
    kind: isBurst ? 'burst' : 'rate',
    startedAt: new Date().toISOString(),
    subscribers: group.totals('healthy').live,
    laggards: group.totals('laggard').live,
    payloadBytes: session.target.size,
    topics,
    keys,
    batch: o.batch,
    rate: o.rate ?? null,
    burst: o.burst ?? null,
    burstWrite: isBurst ? (o.burstWrite ?? 'frames') : null,
    durationS: isBurst ? null : o.duration,
    warmupS: isBurst ? null : o.warmup,
    stalled: Boolean(o.stall),
    error: null,
  };
  let publisher = null;
  const timers = [];
  try {
    group.send({ type: 'reset' });
    group.window.reset();
    group.laggardWindow.reset();
    group.laggardStale.reset();
    if (o.slow) group.send({ type: 'throttle', bytesPerSec: o.slow }, 'laggard');
    await sleep(200);

    publisher = track(fork(PUBLISHER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const opened = nextMessage(publisher, 'open', 10_000, 'the publisher connection');
    // Every server takes its producer on /v1/publish, but nats-server (any path; the subject is in each PUB).
    const publishPath = session.mode === 'nats' ? '/' : '/v1/publish';
    const publishMode = session.mode === 'fanwire' || session.mode === 'nats' ? session.mode : 'raw';
    publisher.send({ type: 'connect', url: `ws://${session.target.host}:${session.target.port}${publishPath}`, mode: publishMode, size: session.target.size, topics, keys, batch: o.batch });
    await opened;

    // Processes that are part of the server under test besides its main one (cluster: other nodes, nats-server): not "other".
    const extraPids = session.extraPids?.() ?? [];
    // A server with workers (nginx) is measured as its processes together: their CPU is the server's.
    const workers = session.server?.workers ?? [];
    const pids = [workers.length ? [session.pid, ...workers] : session.pid, publisher.pid, ...group.pids, ...extraPids];
    result.pids = { server: session.pid, publisher: publisher.pid, subscribers: group.pids, ...(workers.length ? { serverWorkers: workers } : {}) };
    const nHealthy = group.healthyPids.length;
    let from;
    let to;
    let publisherStats = null;
    let publisherError = null;
    let cpu = null;
    const rssTimeline = [];
    const timeline = [];
    let rssStart = NaN;

    if (isBurst) {
      if (o.warmupBurst) {
        const at = nowMs() + 100;
        const done = nextMessage(publisher, 'done', 30_000, 'the warm-up burst');
        publisher.send({ type: 'burst', startAt: at, events: o.warmupBurst, write: o.burstWrite ?? 'frames' });
        await done;
        const want = expectedFor(group, 'healthy', o.warmupBurst, streams);
        const until = performance.now() + o.drain * 1000;
        while (group.totals().received < want && performance.now() < until && session.alive) await sleep(100);
        if (group.totals().received < want) log(`!! the warm-up burst was not delivered within ${o.drain} s`);
        await sleep(300);
      }
      from = nowMs() + 300;
      to = from + o.drain * 1000;
      group.send({ type: 'window', from, to });
      await sleep(50);
      group.second.reset();
      rssStart = session.rss();
      const done = nextMessage(publisher, 'done', o.drain * 1000 + 30_000, 'the burst');
      publisher.send({ type: 'burst', startAt: from, events: o.burst, write: o.burstWrite ?? 'frames' });
      const meter = cpuMeter(pids);
      const sent = (o.warmupBurst ?? 0) + o.burst;
      const want = expectedFor(group, 'healthy', sent, streams);
      let lastLine = performance.now();
      done.then((m) => (publisherStats = m.stats), (err) => (publisherError = err));
      while (group.totals().received < want && nowMs() < to) {
        await sleep(100);
        if (group.fatal) throw new Error(group.fatal);
        if (publisherError) throw publisherError;
        if (!session.alive) throw new Error(`server exited during the burst: ${session.tail()}`);
        if (performance.now() - lastLine >= 1000) {
          lastLine = performance.now();
          const t = group.totals();
          log(`burst ${((nowMs() - from) / 1000).toFixed(0)}s  ${fmtRate(group.rate)} deliveries/s  ${t.received - expectedFor(group, 'healthy', o.warmupBurst ?? 0, streams)}/${want - expectedFor(group, 'healthy', o.warmupBurst ?? 0, streams)} delivered`);
          timeline.push({ t: Math.round((nowMs() - from) / 100) / 10, deliveriesPerSec: Math.round(group.rate) });
        }
      }
      cpu = meter();
      await done.catch(() => {});
      // The last ticks carry the last deliveries: ask for a fresh one.
      await group.final('healthy');
    } else {
      const warmupMs = o.warmup * 1000;
      const durationMs = o.duration * 1000;
      const startAt = nowMs() + 300;
      from = startAt + warmupMs;
      to = from + durationMs;
      group.send({ type: 'window', from, to });
      const done = nextMessage(publisher, 'done', warmupMs + durationMs + 60_000, 'the publisher to finish');
      done.then((m) => (publisherStats = m.stats), (err) => (publisherError = err));
      publisher.send({ type: 'start', startAt, durationMs: warmupMs + durationMs, rate: o.rate, tickMs: o.tick });
      const cpuDone = new Promise((resolve) => {
        timers.push(
          setTimeout(() => {
            if (o.stall) group.send({ type: 'pause' }, 'laggard');
            rssStart = session.rss();
            const meterStop = cpuMeter(pids);
            timers.push(setTimeout(() => resolve((cpu = meterStop())), to - nowMs()));
          }, from - nowMs()),
        );
      });
      group.second.reset();
      let cpuSecond = cpuMeter(pids);
      while (!publisherStats || nowMs() < to) {
        // A line a second; the last wait ends just after the window.
        await sleep(nowMs() < to ? Math.min(1000, to - nowMs() + 30) : 200);
        if (publisherStats && nowMs() >= to) break;
        if (group.fatal) throw new Error(group.fatal);
        if (publisherError) throw publisherError;
        if (!session.alive) throw new Error(`server exited during the run: ${session.tail()}`);
        const t = group.totals();
        const lag = group.totals('laggard');
        const c = cpuSecond();
        cpuSecond = cpuMeter(pids);
        const now = nowMs();
        const phase = now < from ? 'warmup' : now < to ? 'measure' : 'finishing';
        const sample = {
          t: Math.round((now - startAt) / 100) / 10,
          phase,
          deliveriesPerSec: Math.round(group.rate),
          p50Ms: group.second.quantileMs(0.5),
          p99Ms: group.second.quantileMs(0.99),
          serverCpu: Math.round(c.perPid[0]),
          clientCpu: Math.round(c.perPid.slice(2, 2 + nHealthy).reduce((a, b) => a + b, 0)),
          otherCpu: Math.round(c.other),
          rssKb: session.rss(),
          laggardsLive: lag.live,
        };
        timeline.push(sample);
        group.second.reset();
        const label = phase === 'measure' ? `${o.stall ? 'stalled ' : 'measure'} ${Math.min(o.duration, Math.ceil((now - from) / 1000))}/${o.duration}s` : phase;
        const latency = Number.isNaN(sample.p50Ms) ? '' : `  p50 ${fmtMs(sample.p50Ms)} p99 ${fmtMs(sample.p99Ms)} ms`;
        const trouble = [
          t.closed && `closed ${t.closed}`,
          t.gap + t.indexGap && `GAPS ${t.gap + t.indexGap}`,
          t.reorder + t.indexReorder && `REORDERS ${t.reorder + t.indexReorder}`,
          result.laggards && `laggards live ${lag.live}/${result.laggards}`,
        ]
          .filter(Boolean)
          .join(' ');
        const stats = session.mode === 'fanwire' ? await session.serverStats() : null;
        sample.serverDropped = stats ? stats.totals.dropped.lagged + stats.totals.dropped.backpressure : null;
        const rss = Number.isNaN(sample.rssKb) ? '' : `  rss ${(sample.rssKb / 1024).toFixed(0)} MiB`;
        const dropped = sample.serverDropped ? `  server dropped ${sample.serverDropped}` : '';
        log(`${label}  ${fmtRate(sample.deliveriesPerSec)} deliveries/s${latency}  cpu server ${sample.serverCpu}% client ${sample.clientCpu}%${sample.otherCpu >= 10 ? ` OTHER ${sample.otherCpu}%` : ''}${rss}${dropped}${trouble ? `  ${trouble}` : ''}`);
        if (phase !== 'warmup') rssTimeline.push(sample.rssKb);
        if (nowMs() > to + 60_000) throw new Error('the publisher did not finish in time');
      }
      await cpuDone;
      // Drain what the server still owes the healthy subscribers, for bounded time.
      const want = expectedFor(group, 'healthy', publisherStats.sent, streams);
      const drainUntil = performance.now() + o.drain * 1000;
      while (group.totals().received < want && performance.now() < drainUntil && session.alive) await sleep(250);
    }
    const rssEnd = session.rss();
    if (o.stall) {
      // Let the laggards read what reached them, including any close frame.
      group.send({ type: 'resume' }, 'laggard');
      const until = performance.now() + (o.settle ?? 2) * 1000;
      while (group.totals('laggard').live > 0 && performance.now() < until) await sleep(200);
    }

    publisher.send({ type: 'stats' });
    publisherStats = (await nextMessage(publisher, 'tick', 5000, 'publisher stats')).stats;
    const published = publishedPerStream(publisherStats.sent, streams);
    const final = await group.final('healthy', published);
    const lagFinal = result.laggards ? await group.final('laggard', published) : null;
    const t = group.totals();
    const lag = group.totals('laggard');
    const owedAll = expectedFor(group, 'healthy', publisherStats.sent, streams);
    const windowS = isBurst ? Math.max(0.001, ((t.received >= owedAll && t.lastAt ? t.lastAt : Math.min(nowMs(), to)) - from) / 1000) : o.duration;
    // Burst: the share of the measured burst's deliveries that arrived within its time (1: all of it).
    const owedWarmup = isBurst ? expectedFor(group, 'healthy', o.warmupBurst ?? 0, streams) : 0;
    Object.assign(result, {
      published: publisherStats.sent,
      frames: publisherStats.frames,
      windowS,
      offeredPerSec: isBurst ? null : (o.rate * result.subscribers) / streams,
      deliveriesPerSec: t.windowReceived / windowS,
      burstDelivered: isBurst ? Math.min(1, (t.received - owedWarmup) / Math.max(1, owedAll - owedWarmup)) : null,
      latency: group.window.summary(),
      laggardLatency: result.laggards ? group.laggardWindow.summary() : null,
      laggardStaleness: result.laggards ? group.laggardStale.summary() : null,
      laggardReceived: lag.received,
      laggardWindowReceived: lag.windowReceived,
      laggardLag: result.laggards ? { gapMessages: lag.gapMessages, skippedItems: lag.skippedItems, conflatedMessages: lag.conflatedMessages, redials: lag.redials } : null,
      received: t.received,
      behindAtEnd: final.owed,
      perSubscriber: final.perSubscriber,
      closes: closesOf(final.notes),
      laggardCloses: lagFinal ? closesOf(lagFinal.notes) : null,
      laggardsLiveAtEnd: lag.live,
      gaps: t.gap + t.indexGap + lag.gap + lag.indexGap,
      reorders: t.reorder + t.indexReorder + lag.reorder + lag.indexReorder,
      unexpected: t.unexpected + lag.unexpected,
      rssKb: { start: rssStart, end: rssEnd, max: Math.max(rssStart, rssEnd, ...rssTimeline.filter(Number.isFinite)) },
      cpuPercent: {
        server: cpu.perPid[0],
        publisher: cpu.perPid[1],
        subscribers: cpu.perPid.slice(2, 2 + nHealthy),
        laggards: group.pids.length > nHealthy ? cpu.perPid[2 + nHealthy] : null,
        extra: cpu.perPid.slice(2 + group.pids.length),
        otherProcesses: cpu.other,
        steal: cpu.steal,
      },
      serverStats: await session.serverStats(),
      publisher: publisherStats,
      notes: final.notes,
      laggardNotes: lagFinal?.notes ?? null,
      timeline,
      fastPathChecks: [...final.selfChecks, ...(lagFinal?.selfChecks ?? [])],
    });
    result.failures = failuresOf(result);
    if (cpu.other >= 10) log(`!! other processes used ${cpu.other.toFixed(0)}% of a core during the window: this run competed with another workload`);
    for (const f of result.failures) log(`!! FAILURE: ${f}`);
    log(
      `done: ${fmtRate(result.deliveriesPerSec)} deliveries/s, p99 ${fmtMs(result.latency.p99Ms)} ms, ${result.behindAtEnd ? `${result.behindAtEnd} deliveries still owed` : 'nothing owed at the end'}` +
        (result.laggards ? `, laggards closed: ${JSON.stringify(result.laggardCloses)}` : ''),
    );
  } catch (err) {
    result.error = session.alive || err.message.startsWith('server exited') ? err.message : `server exited during the run; then: ${err.message}`;
    result.failures = [result.error];
    log(`!! FAILED: ${result.error}`);
    if (session.tail()) log(`server output (last lines): ${session.tail(5)}`);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    if (o.stall && session.group) session.group.send({ type: 'resume' }, 'laggard');
    if (o.slow && session.group) session.group.send({ type: 'throttle', bytesPerSec: 0 }, 'laggard');
    session.group?.send({ type: 'window', from: Infinity, to: -Infinity });
    if (publisher) await finish(publisher);
  }
  return result;
}

/** {code: count} from a role's notes. */
function closesOf(notes) {
  return Object.fromEntries(
    Object.entries(notes)
      .filter(([k]) => k.startsWith('closed '))
      .map(([k, v]) => [k.slice(7), v.count]),
  );
}

/** What makes a run fail: lost or reordered events, a fast-path mismatch, refused frames. */
function failuresOf(r) {
  const f = [];
  if (r.gaps) f.push(`${r.gaps} GAPS (events missing in a subscriber's sequence)`);
  if (r.reorders) f.push(`${r.reorders} REORDERS`);
  if (r.fastPathChecks.some((c) => !c.same)) f.push(`fast-path decode mismatch: ${JSON.stringify(r.fastPathChecks)}`);
  if (r.publisher.errors) f.push(`the server refused ${r.publisher.errors} published frames: ${r.publisher.errorExamples.join(' | ')}`);
  if (r.unexpected) f.push(`${r.unexpected} unexpected messages: ${JSON.stringify(r.notes.unexpected ?? r.laggardNotes?.unexpected)}`);
  return f;
}
