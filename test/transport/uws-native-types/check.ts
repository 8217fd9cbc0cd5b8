/**
 * Compiled by uws-native.test.ts with the tsconfig beside it, and only where
 * uWebSockets.js is installed (the project's own typecheck excludes this
 * folder): the package's declarations must fit the subset that
 * src/transport/uws-native.ts declares, so a member declared there that uWS
 * lacks, or a signature uWS does not have, fails to compile here.
 */
import type * as upstream from 'uWebSockets.js';
import type * as ours from '../../../src/transport/uws-native.js';

/** Compiles only if `Actual` can be used where `Declared` is expected. */
type Fits<Actual extends Declared, Declared> = [Actual, Declared];

export type Checks = [
  Fits<typeof upstream, ours.UwsModule>,
  Fits<upstream.TemplatedApp, ours.TemplatedApp>,
  Fits<upstream.WebSocket<number>, ours.WebSocket<number>>,
  Fits<upstream.HttpResponse, ours.HttpResponse>,
  Fits<upstream.HttpRequest, ours.HttpRequest>,
  // The behaviour goes the other way: ours is handed to uWS's app.ws().
  Fits<ours.WebSocketBehavior<number>, upstream.WebSocketBehavior<number>>,
  Fits<ours.AppOptions, upstream.AppOptions>,
];
