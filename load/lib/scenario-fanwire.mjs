/**
 * Scenarios 4 and 5, which only fanwire has: the resume storm at 10k
 * subscribers, and the acked publish path (single events, then batches) on a
 * server of its own with no subscribers.
 */
import { runPublishPath } from './publish-path.mjs';
import { Session } from './session.mjs';
import { runStorm } from './storm.mjs';

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>} spec
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {(line: string) => void} log
 */
export async function stormScenario(spec, p, log) {
  const session = new Session({ spec, name: spec.name, mode: spec.mode, payload: p.payload, topics: 1, procs: p.procs, log });
  try {
    await session.start();
    await session.connect(p.storm.subscribers);
    return await runStorm(session, { ...p.storm, tick: p.tick }, log);
  } catch (err) {
    log(`!! FAILED: ${err.message}`);
    return { server: spec.name, kind: 'storm', error: err.message, failures: [err.message] };
  } finally {
    await session.stop(true);
  }
}

/**
 * @param {ReturnType<import('./servers.mjs').serverSpec>} spec
 * @param {ReturnType<import('./bench-plan.mjs').plan>} p
 * @param {(line: string) => void} log
 */
export async function publishScenario(spec, p, log) {
  if (spec.args(0).join(' ').includes('--max-publish-rate')) log('with --max-publish-rate 0 (no limit), so the path is measured, not the limiter');
  const session = new Session({ spec, name: spec.name, mode: spec.mode, payload: p.payload, topics: 1, procs: 1, log });
  const out = [];
  try {
    await session.start();
    for (const batch of p.publish.batches) out.push(await runPublishPath(session, { batch, window: p.publish.window, warmup: p.publish.warmup, duration: p.publish.duration }, log));
  } catch (err) {
    log(`!! FAILED: ${err.message}`);
    out.push({ server: spec.name, kind: 'publish', error: err.message, failures: [err.message] });
  } finally {
    await session.stop(true);
  }
  return out;
}
