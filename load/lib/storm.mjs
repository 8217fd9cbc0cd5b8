/**
 * Resume storm (fanwire only): while a publisher runs at a fixed rate, every
 * connected subscriber drops its socket at the same moment and reconnects
 * with `index=<last + 1>&epoch=<epoch>`. Measures the time until every one
 * has its `hello` again, and what they missed: deliveries still owed after a
 * drain (each subscriber must end with every event of its topic), gaps or
 * reorders across the reconnect, and hellos that said `gap: true`. A
 * reconnect that fails before its hello (reset, timeout) is retried after
 * 0.25-1 s, as a resuming client would, until the cap; retries are counted.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { finish, track } from './children.mjs';
import { nowMs, sleep } from './clock.mjs';
import { publishedPerStream, streamCount } from './payload.mjs';
import { cpuMeter } from './procstat.mjs';
import { fmtRate } from './run.mjs';
import { nextMessage } from './subscriber-group.mjs';

const PUBLISHER = fileURLToPath(new URL('./publisher.mjs', import.meta.url));

/**
 * @param {import('./session.mjs').Session} session
 * @param {{rate: number, warmup: number, after: number, cap: number, drain: number, tick: number, concurrency: number}} o
 *   warmup: s before the storm; after: s of publishing once all are back; cap: s to wait for them at most
 * @param {(line: string) => void} log
 */
export async function runStorm(session, o, log) {
  const group = session.group;
  const { topics, keys = 1 } = session.target;
  const result = { server: session.name, kind: 'storm', startedAt: new Date().toISOString(), rate: o.rate, concurrency: Number.isFinite(o.concurrency) ? o.concurrency : 'all at once', error: null };
  let publisher = null;
  try {
    if (session.mode !== 'fanwire') throw new Error('resume by index exists only on fanwire');
    group.send({ type: 'reset' });
    await sleep(200);
    publisher = track(fork(PUBLISHER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const opened = nextMessage(publisher, 'open', 10_000, 'the publisher connection');
    publisher.send({ type: 'connect', url: `ws://${session.target.host}:${session.target.port}/v1/publish`, mode: 'fanwire', size: session.target.size, topics, keys, batch: 1 });
    await opened;
    const startAt = nowMs() + 200;
    const done = nextMessage(publisher, 'done', (o.warmup + o.cap + o.after) * 1000 + 60_000, 'the publisher to finish');
    publisher.send({ type: 'start', startAt, durationMs: (o.warmup + o.cap + o.after + 5) * 1000, rate: o.rate, tickMs: o.tick });
    await sleep(startAt - nowMs() + o.warmup * 1000);

    const before = group.totals();
    result.subscribers = before.live;
    const meter = cpuMeter([session.pid, ...group.pids]);
    const stormAt = nowMs();
    log(`storm: ${before.live} subscribers drop their sockets and resume by index, ${result.concurrency === 'all at once' ? 'all at once' : `at most ${o.concurrency} handshakes in flight per process`}`);
    group.send({ type: 'storm', concurrency: o.concurrency, retryMs: o.cap * 1000 }, 'healthy');
    let lastLine = performance.now();
    for (;;) {
      await sleep(100);
      if (group.fatal) throw new Error(group.fatal);
      if (!session.alive) throw new Error(`server exited during the storm: ${session.tail()}`);
      const t = group.totals();
      const settled = t.resumed + t.closed >= before.live && t.stormInFlight === 0;
      if (performance.now() - lastLine >= 1000 || settled) {
        lastLine = performance.now();
        log(`storm ${((nowMs() - stormAt) / 1000).toFixed(1)}s  resumed ${t.resumed}/${before.live}${t.resumeRetries ? `  retried ${t.resumeRetries}` : ''}${t.closed ? `  closed ${t.closed}` : ''}  ${fmtRate(group.rate)} deliveries/s`);
      }
      if (settled || nowMs() - stormAt > o.cap * 1000) break;
    }
    const back = group.totals();
    result.cpuPercent = { server: meter().perPid[0] };
    result.resumed = back.resumed;
    result.resumeFailures = back.closed;
    result.resumeRetries = back.resumeRetries;
    result.allLiveSeconds = back.resumed >= before.live ? (back.lastResumedAt - stormAt) / 1000 : null;
    await sleep(o.after * 1000);
    publisher.send({ type: 'halt' });
    const stats = (await done).stats;
    const published = publishedPerStream(stats.sent, streamCount(topics, keys));
    const want = group.liveByStream().reduce((a, n, s) => a + n * published[s], 0);
    const until = performance.now() + o.drain * 1000;
    while (group.totals().received < want && performance.now() < until && session.alive) await sleep(200);
    const final = await group.final('healthy', published);
    const t = group.totals();
    Object.assign(result, {
      published: stats.sent,
      missedDeliveries: final.owed,
      gaps: t.gap + t.indexGap,
      reorders: t.reorder + t.indexReorder,
      helloGaps: t.resumedGap,
      perSubscriber: final.perSubscriber,
      notes: final.notes,
      serverStats: await session.serverStats(),
    });
    result.failures = [
      result.resumed < result.subscribers && `${result.subscribers - result.resumed} subscribers were not back within ${o.cap} s`,
      result.missedDeliveries && `${result.missedDeliveries} deliveries still owed to resumed subscribers after the drain`,
      result.gaps && `${result.gaps} GAPS`,
      result.reorders && `${result.reorders} REORDERS`,
      result.helloGaps && `${result.helloGaps} hellos with gap: true`,
    ].filter(Boolean);
    for (const f of result.failures) log(`!! FAILURE: ${f}`);
    log(`done: ${result.resumed}/${result.subscribers} back ${result.allLiveSeconds === null ? 'NOT within the cap' : `after ${result.allLiveSeconds.toFixed(2)} s`}, ${result.missedDeliveries} deliveries owed after the drain, ${result.gaps} gaps`);
  } catch (err) {
    result.error = err.message;
    result.failures = [err.message];
    log(`!! FAILED: ${err.message}`);
  } finally {
    if (publisher) await finish(publisher);
  }
  return result;
}
