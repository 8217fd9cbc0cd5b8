/**
 * Resident memory and CPU time of a process, from /proc (Linux only).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep the Linux default
}

/** VmRSS of `pid` in KiB, or NaN if the process is gone. */
export function rssKb(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** The pids whose parent is `pid` (an nginx master's workers), from /proc. */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    const out = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }
}

/** utime + stime of `pid` in seconds, or NaN if the process is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

/** Machine-wide CPU seconds from /proc/stat: process time (user+nice+system) and steal. */
function machineSeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].split(/\s+/).slice(1).map(Number);
    return { process: (f[0] + f[1] + f[2]) / ticksPerSecond, steal: (f[7] ?? 0) / ticksPerSecond };
  } catch {
    return { process: NaN, steal: NaN };
  }
}

/** CPU seconds of a pid, or of a group of pids together (a server and its workers). */
const cpuOf = (pid) => (Array.isArray(pid) ? pid.reduce((sum, p) => sum + cpuSeconds(p), 0) : cpuSeconds(pid));

/**
 * Starts a CPU measurement over several pids (an entry may be an array of
 * pids: one process group, e.g. nginx's master and workers). `stop()` returns percent of one
 * core per pid, plus what every other process on the machine used meanwhile
 * (`other`: another workload skews the comparison) and hypervisor `steal`.
 */
export function cpuMeter(pids) {
  const t0 = performance.now();
  const c0 = pids.map(cpuOf);
  const m0 = machineSeconds();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const perPid = pids.map((pid, i) => ((cpuOf(pid) - c0[i]) / seconds) * 100);
    const m1 = machineSeconds();
    const ours = perPid.reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
    const other = Math.max(0, ((m1.process - m0.process) / seconds) * 100 - ours);
    return { perPid, other, steal: ((m1.steal - m0.steal) / seconds) * 100 };
  };
}

/** The soft limit on open files of this process (children inherit it). */
export function openFilesLimit() {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
  } catch {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  }
}
