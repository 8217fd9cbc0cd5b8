/**
 * One server under load across several runs: the server process (or an
 * already running server at a URL), its subscriber processes, and their
 * connections, kept between runs so a series of runs (e.g. 10k, then 19k
 * subscribers) pays for process start and connections once.
 */
import { exited } from './children.mjs';
import { sleep } from './clock.mjs';
import { rssKb } from './procstat.mjs';
import { freePort, ServerProcess } from './servers.mjs';
import { SubscriberGroup } from './subscriber-group.mjs';

/**
 * @typedef {object} SessionOptions
 * @property {ReturnType<import('./servers.mjs').serverSpec> | null} spec  server to start (null with `url`)
 * @property {string} [url]        ws://host:port of a running server (no process of ours)
 * @property {'fanwire' | 'raw' | 'socketio' | 'nats' | 'nchan'} mode
 * @property {string} name
 * @property {number} payload
 * @property {number} topics
 * @property {number} [keys]     fanwire: keys per topic; subscriber n subscribes to `T:k` of stream n (see payload.mjs)
 * @property {number} procs        healthy subscriber processes
 * @property {number} [laggards]
 * @property {{rcvbuf: number, mss: number} | null} [smallSockets]
 * @property {number} [serverPid]  with `url`: read this process's RSS and CPU
 * @property {number[]} [extraPorts] more servers (cluster nodes) to spread the subscriber processes over
 * @property {string} [lag]        fanwire: every subscriber's laggard policy query part, e.g. `lag=conflate`
 * @property {boolean} [redial]    fanwire: subscribers resume by index at once after a 4001 (as the SDK does)
 * @property {boolean} [staleness] laggards sample the age of their newest event
 * @property {string} [userAgent]  subscribers send this User-Agent (none by default)
 * @property {(line: string) => void} log
 */

export class Session {
  /** @param {SessionOptions} o */
  constructor(o) {
    if ((o.keys ?? 1) > 1 && o.mode !== 'fanwire') throw new Error('keys (topic:key filters) are fanwire only: the peers route by topic');
    this.o = o;
    this.name = o.name;
    this.mode = o.mode;
    /** @type {ServerProcess | null} */
    this.server = null;
    /** @type {SubscriberGroup | null} */
    this.group = null;
    this.subscribers = 0;
    this.rssBeforeKb = NaN;
    this.connectFailures = 0;
    this.restarts = 0;
  }

  get pid() {
    return this.server?.pid ?? this.o.serverPid ?? null;
  }

  get alive() {
    return this.server ? this.server.alive : true;
  }

  get port() {
    return this.target.port;
  }

  /** Server output's last lines, for error messages. */
  tail(n = 3) {
    return this.server ? this.server.lines.slice(-n).join(' | ') : '';
  }

  /** The server's memory: its process, plus its workers (nginx). */
  rss() {
    if (this.server) return this.server.pids.reduce((sum, pid) => sum + rssKb(pid), 0);
    return this.pid ? rssKb(this.pid) : NaN;
  }


  /** Starts the server (unless `url`) and the subscriber processes; connects the laggards if any. */
  async start() {
    let host = '127.0.0.1';
    let port;
    if (this.o.url) {
      const u = new URL(this.o.url);
      host = u.hostname;
      port = Number(u.port || (u.protocol === 'wss:' ? 443 : 80));
    } else {
      port = await freePort();
      this.server = new ServerProcess(this.o.spec, port);
      this.o.log(`starting on port ${port}: ${this.server.command.replace(/\S*\/(dist|load)\//g, '$1/')}`);
      await this.server.waitListening();
      await sleep(300);
    }
    this.rssBeforeKb = this.rss();
    this.target = { host, port, mode: this.mode, size: this.o.payload, topics: this.o.topics, keys: this.o.keys ?? 1, timeoutMs: 20_000, lag: [this.o.lag, this.o.spec?.query].filter(Boolean).join('&'), redial: Boolean(this.o.redial), userAgent: this.o.userAgent ?? '' };
    if (this.o.extraPorts?.length) this.target.ports = [port, ...this.o.extraPorts];
    this.group = new SubscriberGroup(this.target, { procs: this.o.procs, laggards: this.o.laggards ?? 0, smallSockets: this.o.smallSockets ?? null, staleness: Boolean(this.o.staleness) });
  }

  /**
   * Grows or shrinks the healthy subscribers to `count`; throws if none can connect.
   * @returns {Promise<{ready: number, laggards: number, failed: number, seconds: number}>}
   */
  async connect(count) {
    const r = await this.group.connect(count, 30_000 + count * 3, (t) => this.o.log(`connecting ${t.live}/${count + (this.o.laggards ?? 0)}${t.failed ? ` (failed ${t.failed})` : ''}`));
    if (!this.alive) throw new Error(`server exited while subscribers connected: ${this.tail()}`);
    this.subscribers = count;
    this.connectFailures += r.failed;
    const short = r.ready < count || r.laggards < (this.o.laggards ?? 0);
    if (r.failed || short) {
      const why = (await this.group.final('healthy')).notes['connect failure']?.examples[0] ?? (await this.group.final('laggard')).notes['connect failure']?.examples[0];
      if (r.ready === 0) throw new Error(`no subscriber could connect${why ? `: ${why}` : ''}`);
      this.o.log(`!! ${r.ready}/${count} subscribers${this.o.laggards ? ` and ${r.laggards}/${this.o.laggards} laggards` : ''} connected${r.timedOut ? ' before the deadline' : ''} (${r.failed} failed${why ? `, e.g. ${why}` : ''}); measuring with those`);
    } else {
      this.o.log(`${r.ready} subscribers${this.o.laggards ? ` + ${r.laggards} laggards` : ''} connected in ${r.seconds.toFixed(1)} s`);
    }
    return r;
  }

  /** Server RSS per connected subscriber (KB) once they have sat idle for a second, over the RSS before any connected. */
  async idleRssPerSubscriber() {
    await sleep(1000);
    const idle = this.rss();
    const n = this.subscribers + (this.o.laggards ?? 0);
    return { beforeKb: this.rssBeforeKb, idleKb: idle, perSubscriberKb: (idle - this.rssBeforeKb) / n };
  }

  /** fanwire's GET /v1/stats, or null. */
  async serverStats() {
    if (this.mode !== 'fanwire') return null;
    try {
      const res = await fetch(`http://${this.target.host}:${this.target.port}/v1/stats`, { signal: AbortSignal.timeout(3000) });
      return await res.json();
    } catch {
      return null;
    }
  }

  /** Kills everything and starts again with `count` subscribers (a server that fell hopelessly behind). */
  async restart(count = this.subscribers) {
    this.restarts++;
    await this.stop(true);
    await this.start();
    await this.connect(count);
  }

  async stop(kill = false) {
    await this.group?.stop();
    this.group = null;
    if (this.server) {
      if (kill) {
        this.server.child.kill('SIGKILL');
        await exited(this.server.child);
        this.server.killWorkers();
      } else {
        await this.server.stop();
      }
      this.server = null;
    }
  }
}
