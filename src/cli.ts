#!/usr/bin/env node
/**
 * `fanwire`: the command's entry. The shebang is plain `node` (the
 * `env -S` form, for passing Node flags, fails on BusyBox and Alpine), so
 * the one Node flag fanwire wants is applied here instead: the process
 * re-executes itself in place with it (same PID, so signals and
 * supervisors are unaffected) before loading anything else.
 *
 * The flag caps V8's young generation at 4 MB per semi-space (Node's default
 * lets it grow to 16 MB, and a connection storm grows it: every new
 * subscriber's objects survive their first scavenges). For a gateway holding
 * many idle connections that growth was most of its memory per subscriber
 * and is not given back; capped, burst throughput measured the same (README,
 * Operations). Any `--max-semi-space-size` already given on Node's command
 * line or in NODE_OPTIONS wins, and a Node without `process.execve` (before
 * 22.15) runs with its defaults.
 */
import { youngGenerationExec } from './cli/young-generation.js';

const exec = youngGenerationExec(process);
if (exec !== null) exec();
const { main } = await import('./cli/run.js');
await main();
