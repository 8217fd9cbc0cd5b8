/**
 * The cluster scenario (issue 8): fanwire in cluster mode on a real
 * nats-server, against one embedded node, in the same run and with the same
 * load client.
 *
 * Three setups, each a session that stays up between its runs:
 *   single     one embedded fanwire (no NATS): the baseline
 *   cluster-1  one cluster node: what going through JetStream costs
 *   cluster-2  two cluster nodes, the subscribers split between them (one
 *              subscriber process per node), the publisher on the first
 * Two measurements, each interleaved (A B C C B A, the better run of each
 * reported): fan-out at a fixed offered rate (deliveries/s and p99), then a
 * light load where latency is the path itself, publish to deliver (through
 * JetStream for the cluster setups), not queueing. Latency is measured from
 * each event's scheduled send time, as in every scenario.
 *
 * Every process here shares the machine: nodes, nats-server, the load
 * client. On a small machine two nodes cannot beat one; the scenario shows
 * what the cluster path costs, not the capacity of separate machines.
 */
import { exited } from './children.mjs';
import { natsServerBinary, startNats } from './nats.mjs';
import { bestRuns } from './report.mjs';
import { fmtMs, fmtRate, runLoad } from './run.mjs';
import { freePort, serverSpec, ServerProcess } from './servers.mjs';
import { Session } from './session.mjs';

/** A session whose server is `nodes` fanwire processes; subscriber processes are spread over them. */
class ClusterSession extends Session {
  constructor(o, nodes) {
    super(o);
    this.nodes = nodes;
    /** @type {ServerProcess[]} */
    this.others = [];
  }

  async start() {
    this.others = [];
    const extra = [];
    for (let i = 1; i < this.nodes; i++) {
      const port = await freePort();
      const node = new ServerProcess(this.o.spec, port);
      this.others.push(node);
      await node.waitListening();
      extra.push(port);
    }
    this.o.extraPorts = extra;
    await super.start();
  }

  async stop(kill = false) {
    await super.stop(kill);
    for (const node of this.others) {
      if (kill) {
        node.child.kill('SIGKILL');
        await exited(node.child);
      } else await node.stop();
    }
    this.others = [];
  }
}

/**
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {ReturnType<import('./servers.mjs').inspectFanwire>} fanwire
 * @param {string} server fanwire-uws or fanwire-ws
 * @param {{enough: (seconds: number) => boolean}} budget
 * @param {(name: string) => (line: string) => void} logFor
 */
export async function clusterScenario(p, fanwire, server, budget, logFor) {
  const c = p.cluster;
  const out = { server, throughput: [], latency: [], all: [], nats: null, cpu: {}, skipped: [], errors: [] };
  const bin = natsServerBinary();
  if (bin === null) {
    out.skipped.push('cluster: nats-server not found (apt-get install nats-server, or set NATS_SERVER)');
    return out;
  }
  if (!fanwire.flags?.includes('--cluster')) {
    out.skipped.push('cluster: dist/cli.js has no --cluster flag (rebuild)');
    return out;
  }
  const log = logFor('nats');
  const nats = await startNats(bin);
  out.nats = { version: nats.version };
  log(`started ${nats.version} at ${nats.url} (JetStream, file storage)`);
  const clusterArgs = (stream) => ['--cluster', nats.url, '--cluster-stream', stream, '--cluster-subject', `${stream}.events`];
  const setups = [
    { name: 'single', nodes: 1, args: [] },
    { name: 'cluster-1', nodes: 1, args: clusterArgs('BENCH1') },
    { name: 'cluster-2', nodes: 2, args: clusterArgs('BENCH2') },
  ].map((s) => {
    const spec = { ...serverSpec(server, fanwire, s.args), name: s.name };
    const o = { spec, name: s.name, mode: 'fanwire', payload: p.payload, topics: 1, procs: 2, log: logFor(s.name) };
    const session = s.nodes > 1 ? new ClusterSession(o, s.nodes) : new Session(o);
    // The other node and nats-server belong to the setup: their CPU is reported, not counted as "other processes".
    session.extraPids = () => [...(session.others ?? []).map((n) => n.pid), ...(s.args.length ? [nats.pid] : [])];
    return { ...s, log: o.log, session };
  });
  const order = [...setups, ...[...setups].reverse()];
  const interleaved = async (opts) => {
    const runs = [];
    for (const s of order) {
      if (s.dead) continue;
      const r = await runLoad(s.session, opts, s.log);
      if (r.cpuPercent) {
        const extra = r.cpuPercent.extra;
        r.clusterCpu = { nodes: [r.cpuPercent.server, ...extra.slice(0, s.nodes - 1)], nats: s.args.length ? extra.at(-1) : null };
      }
      r.run = runs.filter((x) => x.server === s.name).length + 1;
      runs.push(r);
      if (r.behindAtEnd || r.error) {
        s.log(`restarting (${r.error ? 'the run failed' : `${r.behindAtEnd.toLocaleString('en-US')} deliveries still owed`}), so its backlog does not spill into the next measurement`);
        await s.session.restart(s.session.subscribers);
      }
    }
    out.all.push(...runs);
    const best = bestRuns(runs);
    return setups.filter((s) => !s.dead).map((s) => ({ ...(best[s.name] ?? runs.find((r) => r.server === s.name)), runs: runs.filter((r) => r.server === s.name).length }));
  };
  try {
    for (const s of setups) {
      try {
        await s.session.start();
        await s.session.connect(c.subscribers);
      } catch (err) {
        s.dead = true;
        out.errors.push(`${s.name}: ${err.message}`);
        s.log(`!! FAILED: ${err.message}`);
      }
    }
    if (budget.enough((c.warmup + c.duration + c.drain + 6) * order.length)) {
      out.throughput = await interleaved({ rate: c.deliveriesPerSec / c.subscribers, duration: c.duration, warmup: c.warmup, batch: 1, tick: p.tick, drain: c.drain });
    } else out.skipped.push('cluster throughput: out of time budget');
    if (budget.enough((c.warmup + c.duration + c.drain + 6) * order.length)) {
      for (const s of setups) if (!s.dead) await s.session.connect(c.latency.subscribers);
      out.latency = await interleaved({ rate: c.latency.rate, duration: c.duration, warmup: c.warmup, batch: 1, tick: p.tick, drain: c.drain });
    } else out.skipped.push('cluster latency: out of time budget');
  } catch (err) {
    out.errors.push(err.message);
  } finally {
    for (const s of setups) await s.session.stop(true);
    await nats.stop();
  }
  for (const r of [...out.throughput, ...out.latency]) {
    if (!r.error) logFor(r.server)(`best: ${fmtRate(r.deliveriesPerSec)} deliveries/s, p50 ${fmtMs(r.latency.p50Ms)} p99 ${fmtMs(r.latency.p99Ms)} ms`);
  }
  return out;
}
