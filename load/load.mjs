#!/usr/bin/env node
/**
 * The load generator: one run of N lean subscribers and one publisher
 * against one server, a progress line a second, a table, and one JSON
 * record in load/results/. See load/README.md and `--help`.
 *
 *   npm run load -- --server fanwire-uws --subscribers 1000 --rate 100
 */
import path from 'node:path';
import { cleanupOnExit } from './lib/children.mjs';
import { checkLimits, procsFor } from './lib/limits.mjs';
import { parseLoadOptions, usage } from './lib/load-options.mjs';
import { loadReport } from './lib/load-report.mjs';
import { machine } from './lib/report.mjs';
import { writeRecord } from './lib/results.mjs';
import { runLoad } from './lib/run.mjs';
import { inspectFanwire, serverSpec } from './lib/servers.mjs';
import { Session } from './lib/session.mjs';

const SMALL_SOCKETS = { rcvbuf: 4096, mss: 536 };

async function main() {
  cleanupOnExit();
  const o = parseLoadOptions(process.argv.slice(2));
  if (o.help) return void console.log(usage());
  if (Number.isNaN(o.procs)) o.procs = o.healthy > 2000 ? procsFor(o.healthy, 2) : 1;
  checkLimits(Math.max(o.healthy / o.procs, o.laggards), 1, false);
  checkLimits(o.subscribers, o.procs + (o.laggards ? 1 : 0), !o.url);
  const say = o.quiet ? () => {} : (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

  let spec = null;
  let fanwire = null;
  const name = o.server ?? `${o.mode}@${o.url}`;
  const mode = o.server ? null : o.mode;
  if (o.server) {
    fanwire = inspectFanwire();
    spec = serverSpec(o.server, fanwire, o.serverArgs);
    if (spec.skip) throw new Error(`cannot run ${o.server}: ${spec.skip}`);
    if (fanwire.ok && fanwire.stale && spec.mode === 'fanwire') say('note: src/ has files newer than dist/cli.js; run `npm run build` to measure the current code');
  }
  const log = (line) => say(`[${name}] ${line}`);
  const session = new Session({
    spec,
    url: o.url ?? undefined,
    name,
    mode: spec?.mode ?? mode,
    payload: o.payload,
    topics: o.topics,
    keys: o.keys,
    procs: o.procs,
    laggards: o.laggards,
    smallSockets: SMALL_SOCKETS,
    userAgent: o.userAgent,
    serverPid: Number.isNaN(o.serverPid) ? undefined : o.serverPid,
    log,
  });
  if (session.mode !== 'fanwire' && o.batch > 1) throw new Error('--batch > 1 needs fanwire (the peers forward one event per frame)');
  const createdAt = new Date().toISOString();
  let record;
  try {
    await session.start();
    if (o.laggards && !session.group.smallSockets) log('!! python3 is missing: laggards use ordinary sockets, which absorb several MiB each before a server notices');
    const connected = await session.connect(o.healthy);
    const idle = await session.idleRssPerSubscriber();
    const isBurst = !Number.isNaN(o.burst);
    const run = await runLoad(
      session,
      isBurst
        ? { burst: o.burst, warmupBurst: o.warmupBurst, burstWrite: o.burstWrite, batch: o.batch, tick: o.tick, drain: o.drain, duration: 0, warmup: 0 }
        : { rate: o.rate, duration: o.duration, warmup: o.warmup, batch: o.batch, tick: o.tick, drain: o.drain, stall: o.laggards > 0 },
      log,
    );
    record = {
      ...run,
      connectFailures: connected.failed,
      connectSeconds: connected.seconds,
      idleRssKb: { before: idle.beforeKb, idle: idle.idleKb },
      idleRssPerSubscriberKb: idle.perSubscriberKb,
    };
    if (connected.failed) record.failures = [...(record.failures ?? []), `${connected.failed} subscribers could not connect`];
  } catch (err) {
    record = { server: name, subscribers: o.healthy, error: err.message, failures: [err.message] };
    log(`!! FAILED: ${err.message}`);
  } finally {
    await session.stop();
  }

  console.log(`\n${loadReport([record])}`);
  const file = writeRecord('load', createdAt, { benchmark: 'load', createdAt, machine: machine(), options: o, fanwire, ...record, ok: !record.failures?.length }, o.json);
  console.log(`\nJSON record: ${path.relative(process.cwd(), file)}`);
  if (record.failures?.length) {
    console.log(`\nFAILURE: ${record.failures.join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`load: ${err.message}`);
  process.exitCode = 1;
});
