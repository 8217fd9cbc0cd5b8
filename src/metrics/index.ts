/**
 * metrics/: Prometheus exposition (prom-client) of what the gateway counts,
 * and the once-per-drain observer the cursors call. Knows the buffer and the
 * fan-out's observer seam, never sockets.
 */
export { GatewayMetrics } from './gateway-metrics.js';
export type { MetricsOptions, MetricsSnapshot } from './gateway-metrics.js';
export { BucketHistogram } from './bucket-histogram.js';
