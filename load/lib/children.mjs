/**
 * Every process the benchmark starts is registered here and killed when the
 * benchmark ends for any reason: normal exit, an error, SIGINT or SIGTERM
 * (with nginx's workers, and the temp dirs native servers run in).
 */
import { rmSync } from 'node:fs';

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();

/** Registers a child; it leaves the set when it exits. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Processes that are not our children (nginx's workers): killed with everything, since killing their parent leaves them running. */
const pids = new Set();
export const trackPid = (pid) => pids.add(pid);
export const untrackPid = (pid) => pids.delete(pid);
/** Temp dirs of native servers (configs, logs): removed with everything, since an exit on a signal does not wait for the server's exit. */
const dirs = new Set();
export const trackDir = (dir) => dirs.add(dir);
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Asks a forked worker to finish (`{type: 'stop'}` over IPC), then stops it after `graceMs` if it has not. */
export async function finish(child, graceMs = 2000) {
  if (child.connected) child.send({ type: 'stop' });
  const timer = setTimeout(() => stop(child, graceMs), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function killAll() {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) removeDir(dir);
}

let installed = false;
/** Installs the exit, signal and crash handlers (once). */
export function cleanupOnExit() {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${children.size} child process(es)\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
}
