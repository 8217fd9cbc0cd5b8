#!/usr/bin/env node
/**
 * `npm run bench`: by default the targets preset (every scenario issue 11's
 * targets table reads, one run); `--scenarios suite` is issue 4's six
 * scenarios. fanwire (uWS and ws transports) against the peers (plain uWS
 * publish, a plain ws loop, Socket.IO 4, and when installed nats-server's
 * WebSocket listener and nginx + Nchan), all with the same lean load
 * client. Prints a table per scenario with ratios to the peers and the
 * targets, writes load/results/bench-<time>.json (and bench-<time>.svg
 * with the scale scenario), and renders the run into docs/benchmarks.md (not
 * for --quick or --no-docs). See load/README.md.
 */
import path from 'node:path';
import { benchUsage, FANWIRE, fanoutGroups, ORDER, parseBenchOptions, serversFor } from './lib/bench-plan.mjs';
import { burstTable, clusterTable, featuresTable, idleTable, lowrateTable, publishTable, scaleTable, stallTable, stormTable, sustainedTable, targets, targetsTable } from './lib/bench-report.mjs';
import { writeBenchmarksDoc } from './lib/benchmarks-doc.mjs';
import { cleanupOnExit } from './lib/children.mjs';
import { sleep } from './lib/clock.mjs';
import { checkLimits } from './lib/limits.mjs';
import { cpuMeter } from './lib/procstat.mjs';
import { machine } from './lib/report.mjs';
import { RESULTS_DIR, stamp, writeAtomic, writeRecord } from './lib/results.mjs';
import { clusterScenario } from './lib/scenario-cluster.mjs';
import { fanoutScenarios } from './lib/scenario-fanout.mjs';
import { featuresScenario } from './lib/scenario-features.mjs';
import { publishScenario, stormScenario } from './lib/scenario-fanwire.mjs';
import { lowrateScenario } from './lib/scenario-lowrate.mjs';
import { stallScenario } from './lib/scenario-stall.mjs';
import { issue11Table, issue11Targets } from './lib/targets.mjs';
import { inspectFanwire, serverSpec } from './lib/servers.mjs';
import { hasPython } from './lib/subscriber-group.mjs';
import { scaleChart } from './lib/svg-chart.mjs';
import { versions } from './lib/versions.mjs';

async function main() {
  cleanupOnExit();
  const o = parseBenchOptions(process.argv.slice(2));
  if (o.help) return void console.log(benchUsage());
  const p = o.plan;
  checkLimits(Math.max(...p.scale.subscribers, p.burst.subscribers, p.stall.subscribers, p.storm.subscribers, p.sustained.subscribers, p.features.subscribers, ...(o.scenarios.includes('lowrate') ? [p.lowrate.subscribers] : [])), p.procs);
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const budget = { enough: (seconds) => elapsed() + seconds < p.budgetSeconds };
  const say = (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${String(Math.round(elapsed())).padStart(3)}s ${line}`);
  const fanwire = inspectFanwire();
  if (fanwire.ok && fanwire.stale) say('note: src/ has files newer than dist/cli.js; `npm run bench` builds first, `node load/bench.mjs` does not');
  const idleCpu = cpuMeter([]);
  await sleep(1000);
  const otherCpuAtStart = idleCpu().other;
  if (otherCpuAtStart >= 20) say(`!! other processes are using ${otherCpuAtStart.toFixed(0)}% of a core right now: every figure below competes with them`);
  if (o.scenarios.includes('stall') && !hasPython()) say('!! python3 is missing: the stall scenario\'s laggards use ordinary sockets and fanwire will not drop them within the run');
  say(`bench: ${o.preset ? `preset ${o.preset} = ` : ''}scenarios ${o.scenarios.join(', ')}; servers ${o.servers.join(', ')}${o.quick ? '; QUICK (a check, not a measurement)' : ''}; time budget ${p.budgetSeconds} s`);

  const createdAt = new Date().toISOString();
  /**
   * Reported rows per scenario; `burst` is the burst sent one frame per WebSocket send, `burstOneWrite` the same burst
   * in one TCP write; `fanoutRuns` keeps every burst, sustained and scale run (every run of an interleaved group).
   */
  const scenarios = { idle: [], burst: [], burstOneWrite: [], sustained: [], scale: [], stall: [], storm: [], publish: [], fanoutRuns: [], cluster: null, lowrate: [], lowrateRuns: [], features: [], featuresRuns: [] };
  const skipped = [];
  const want = (s) => o.scenarios.includes(s);
  const specFor = (name, extra = []) => {
    const spec = serverSpec(name, fanwire, extra);
    if (spec.skip) skipped.push(`${name}: ${spec.skip}`);
    return spec.skip ? null : spec;
  };
  const logFor = (scenario, name) => (line) => say(`[${scenario} ${name}] ${line}`);
  const skip = (what) => {
    skipped.push(what);
    say(`skipping ${what}`);
  };

  // Scenarios 6, 2, sustained, 1: one session per server; the servers of a group side by side, interleaved.
  if (want('scale') || want('burst') || want('idle') || want('sustained')) {
    if (want('sustained')) {
      const { servers, why } = serversFor('sustained');
      for (const name of o.servers.filter((n) => !servers.includes(n))) skipped.push(`sustained on ${name}: ${why}`);
    }
    for (const group of fanoutGroups(o.scenarios, o.servers, o.preset)) {
      const specs = group.map((name) => specFor(name)).filter(Boolean);
      if (!specs.length) continue;
      const what = ['idle', 'burst', 'sustained', 'scale'].filter(want);
      if (!want('idle') && !want('burst') && !want('scale') && !specs.some((s) => p.sustained.servers.includes(s.name))) continue;
      if (!budget.enough(30 * specs.length)) {
        skip(`${what.join('/')} on ${group.join(', ')}: out of time budget`);
        continue;
      }
      const r = await fanoutScenarios(specs, p, { idle: want('idle'), burst: want('burst'), sustained: want('sustained'), scale: want('scale') }, budget, (name) => logFor('fan-out', name));
      scenarios.idle.push(...r.idle);
      scenarios.burst.push(...r.burst);
      scenarios.burstOneWrite.push(...r.burstOneWrite);
      scenarios.sustained.push(...r.sustained);
      scenarios.scale.push(...r.scale);
      scenarios.fanoutRuns.push(...r.all);
      for (const s of r.skipped) skip(`${s} on ${group.join(', ')}`);
      for (const e of r.errors) skipped.push(`fan-out session failed: ${e}`);
    }
  }

  // Issue 11's target 4 (only when named): the three servers up side by side, A B C C B A.
  if (want('lowrate')) {
    const { servers, why } = serversFor('lowrate');
    for (const name of o.servers.filter((n) => !servers.includes(n))) skipped.push(`lowrate on ${name}: ${why}`);
    const specs = servers.filter((n) => o.servers.includes(n)).map((name) => specFor(name)).filter(Boolean);
    if (!specs.length) skip('lowrate: none of its servers among --servers');
    else if (!budget.enough(20 * specs.length)) skip('lowrate: out of time budget');
    else {
      const r = await lowrateScenario(specs, p, budget, (name) => logFor('lowrate', name));
      scenarios.lowrate.push(...r.rows);
      scenarios.lowrateRuns.push(...r.all);
      for (const s of r.skipped) skip(s);
      for (const e of r.errors) skipped.push(`lowrate session failed: ${e}`);
    }
  }

  // Scenario 3, servers in reverse order.
  if (want('stall')) {
    for (const name of [...ORDER].reverse().filter((n) => o.servers.includes(n))) {
      const spec = specFor(name, FANWIRE.includes(name) ? p.stall.fanwireArgs : []);
      if (!spec) continue;
      if (!budget.enough(p.stall.warmup * 2 + p.stall.baseline + p.stall.stalled + 15)) {
        skip(`stall on ${name}: out of time budget`);
        continue;
      }
      scenarios.stall.push(await stallScenario(spec, p, budget, logFor('stall', name)));
    }
  }

  // Scenarios 5 and 4: fanwire only (the short one first, in case time runs out).
  for (const [scenario, run] of [
    ['publish', async (spec, log) => scenarios.publish.push(...(await publishScenario(spec, p, log)))],
    ['storm', async (spec, log) => scenarios.storm.push(await stormScenario(spec, p, log))],
  ]) {
    if (!want(scenario)) continue;
    const { servers, why } = serversFor(scenario);
    for (const name of o.servers.filter((n) => !servers.includes(n))) skipped.push(`${scenario} on ${name}: ${why}`);
    for (const name of servers.filter((n) => o.servers.includes(n))) {
      const spec = specFor(name, scenario === 'publish' && fanwire.flags?.includes('--max-publish-rate') ? p.publish.fanwireArgs : []);
      if (!spec) continue;
      if (!budget.enough(scenario === 'storm' ? p.storm.cap + 15 : 15)) {
        skip(`${scenario} on ${name}: out of time budget`);
        continue;
      }
      await run(spec, logFor(scenario, name));
    }
  }

  // Issue 11's target 7 (only when named): per transport, metrics on / off / 100 topic:key filters side by side, A B C C B A.
  if (want('features')) {
    const { servers, why } = serversFor('features');
    for (const name of o.servers.filter((n) => !servers.includes(n))) skipped.push(`features on ${name}: ${why}`);
    // Only the flags this dist/cli.js knows (a flag and its value).
    const args = p.features.fanwireArgs.filter((a, i, all) => (a.startsWith('--') ? fanwire.flags?.includes(a) : fanwire.flags?.includes(all[i - 1])));
    const hasMetricsFlag = Boolean(fanwire.flags?.includes('--metrics'));
    if (!hasMetricsFlag) skipped.push('features metrics off: dist/cli.js has no --metrics flag');
    for (const name of servers.filter((n) => o.servers.includes(n))) {
      const on = specFor(name, args);
      if (!on) continue;
      const r = await featuresScenario(name, { on, off: hasMetricsFlag ? specFor(name, [...args, '--metrics', 'off']) : null, filtered: on }, p, budget, (n) => logFor('features', n));
      scenarios.features.push(...r.rows);
      scenarios.featuresRuns.push(...r.all);
      for (const s of r.skipped) skip(s);
      for (const e of r.errors) skipped.push(`features session failed: ${e}`);
    }
  }

  // Cluster mode (only when named): one transport, single node vs one and two cluster nodes.
  if (want('cluster')) {
    const server = o.servers.find((n) => FANWIRE.includes(n));
    if (!server) skip('cluster: no fanwire server among --servers');
    else if (!specFor(server)) {
      // specFor recorded why
    } else if (!budget.enough(60)) skip('cluster: out of time budget');
    else {
      scenarios.cluster = await clusterScenario(p, fanwire, server, budget, (name) => logFor('cluster', name));
      for (const s of scenarios.cluster.skipped) skip(s);
      for (const e of scenarios.cluster.errors) skipped.push(`cluster session failed: ${e}`);
    }
  }

  const wallSeconds = elapsed();
  const record = { benchmark: 'bench', createdAt, wallSeconds, argv: process.argv.slice(2), machine: { ...machine(), otherCpuPercentAtStart: otherCpuAtStart }, versions: versions(), quick: o.quick, preset: o.preset, scenariosRun: o.scenarios, servers: o.servers, plan: p, fanwire, scenarios, skipped };
  record.targets = targets(record, p);
  /** Issue #11's targets: one row each with its figure and met / missed / not measured in this run. */
  record.targetsIssue11 = issue11Targets({ scenarios, ran: o.scenarios }, p);
  const file = writeRecord('bench', createdAt, record);
  const svgFile = scenarios.scale.length
    ? writeAtomic(
        path.join(RESULTS_DIR, `bench-${stamp(createdAt)}.svg`),
        scaleChart(scenarios.scale, {
          title: `fan-out scale: ${p.payload} B events at ${p.scale.deliveriesPerSec.toLocaleString('en-US')} deliveries/s offered`,
          subtitle: `${createdAt.slice(0, 10)}, ${record.machine.cpus} x ${record.machine.cpuModel}, Node ${record.machine.node}; server and load client share the machine`,
          offered: p.scale.deliveriesPerSec,
        }),
      )
    : null;
  const docFile = o.docs ? writeBenchmarksDoc(record, { recordFile: file }) : null;

  const sections = [];
  if (scenarios.scale.length) sections.push(scaleTable(scenarios.scale, p));
  if (scenarios.burst.length || scenarios.burstOneWrite.length) sections.push(burstTable(scenarios.burst, p, scenarios.burstOneWrite));
  if (scenarios.sustained.length) sections.push(sustainedTable(scenarios.sustained, p));
  if (scenarios.stall.length) sections.push(stallTable(scenarios.stall, p));
  if (scenarios.storm.length) sections.push(stormTable(scenarios.storm, p));
  if (scenarios.lowrate.length) sections.push(lowrateTable(scenarios.lowrate, p));
  if (scenarios.features.length) sections.push(featuresTable(scenarios.features, p));
  if (scenarios.publish.length) sections.push(publishTable(scenarios.publish, Boolean(fanwire.flags?.includes('--max-publish-rate'))));
  if (scenarios.idle.length) sections.push(idleTable(scenarios.idle));
  if (scenarios.cluster?.throughput.length || scenarios.cluster?.latency.length) sections.push(clusterTable(scenarios.cluster, p));
  // The targets preset is issue 11's run: issue 4's table would be mostly rows it does not measure.
  if (o.scenarios.some((s) => s !== 'cluster')) sections.push(...(o.preset === 'targets' ? [] : [targetsTable(record.targets)]), issue11Table(record.targetsIssue11, { quick: o.quick }));
  if (skipped.length) sections.push(['Skipped', '', ...skipped.map((s) => `  ${s}`)].join('\n'));
  const other = [...scenarios.scale, ...scenarios.burst, ...scenarios.burstOneWrite, ...scenarios.sustained, ...scenarios.features].map((r) => r.cpuPercent?.otherProcesses).filter(Number.isFinite);
  const noisy = other.length ? Math.max(...other) : 0;
  console.log(`\n${sections.join('\n\n')}\n`);
  console.log(`Machine: ${record.machine.cpus} x ${record.machine.cpuModel}, ${record.machine.memGiB} GiB, Node ${record.machine.node}; other processes: ${otherCpuAtStart.toFixed(0)}% of a core at start, up to ${noisy.toFixed(0)}% during a measured window`);
  console.log(`Wall time ${(wallSeconds / 60).toFixed(1)} min. Record: ${path.relative(process.cwd(), file)}${svgFile ? `; chart: ${path.relative(process.cwd(), svgFile)}` : ''}`);
  console.log(docFile ? `Rendered into ${path.relative(process.cwd(), docFile)}` : `${o.quick ? '--quick' : '--no-docs'}: docs/benchmarks.md left as it was`);

  const failed = [...scenarios.fanoutRuns, ...scenarios.lowrateRuns, ...scenarios.featuresRuns, ...(scenarios.cluster?.all ?? []), ...scenarios.storm, ...scenarios.publish, ...scenarios.stall.flatMap((x) => [x.baseline, x.stalled]).filter(Boolean)].filter((r) => r.failures?.length);
  if (failed.length) {
    console.log(`\nFAILURE in ${failed.length} run(s): ${failed.map((r) => `${r.server} ${r.kind}: ${r.failures.join('; ')}`).join(' | ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exitCode = 1;
});

