/**
 * The clock every benchmark process shares: milliseconds (float) since the
 * Unix epoch, from the monotonic high-resolution timer. All processes run on
 * one machine, so `timeOrigin + now()` agrees across them to well under a
 * millisecond; publishers stamp the *scheduled* send time with it.
 */
import { performance } from 'node:perf_hooks';

export const nowMs = () => performance.timeOrigin + performance.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
