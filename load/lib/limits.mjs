/**
 * File-descriptor budget: every subscriber is a socket in one of our
 * subscriber processes and one in the server process.
 */
import { openFilesLimit } from './procstat.mjs';

export const MAX_SOCKETS_PER_PROCESS = 19_000;

/** Subscriber processes needed for `subscribers` (at least `min`). */
export function procsFor(subscribers, min = 1) {
  const cap = Math.min(MAX_SOCKETS_PER_PROCESS, openFilesLimit() - 200);
  return Math.max(min, Math.ceil(subscribers / cap));
}

/**
 * Throws before anything starts if a process would run out of file descriptors.
 * @param {number} subscribers  the most subscribers connected at once (laggards included)
 * @param {number} procs        processes they are spread over
 * @param {boolean} serverIsOurs whether the server process is one we start here (same limit)
 * @returns {number} the limit
 */
export function checkLimits(subscribers, procs, serverIsOurs = true) {
  const limit = openFilesLimit();
  const perProcess = Math.ceil(subscribers / procs);
  const cap = Math.min(MAX_SOCKETS_PER_PROCESS, limit - 200);
  if (perProcess > cap) {
    throw new Error(`${perProcess} subscribers per process exceeds the ${cap} this machine allows (open files limit ${limit}): use --procs ${Math.ceil(subscribers / cap)} or more`);
  }
  if (serverIsOurs && subscribers + 200 > limit) {
    throw new Error(`the server process would hold ${subscribers} sockets, but the open files limit is ${limit}: use at most ${limit - 200} subscribers`);
  }
  return limit;
}
