/**
 * The producers connected over WebSocket: opening one (its token's expiry,
 * its ProducerConnection over the shared publish path), counting those cut
 * for an oversized frame (--max-frame-bytes, 1009), and what a graceful stop
 * needs: whether replies are still owed, and closing them all with 1001.
 */
import type { Logger } from 'pino';
import type { Grant } from '../auth/index.js';
import { ShuttingDownError } from '../errors.js';
import { CloseCode, closeOf } from '../protocol/index.js';
import type { Connection, ConnectionHandlers } from '../transport/index.js';
import type { GatewayConfig } from './config.js';
import type { GatewayCounters } from './counters.js';
import { ProducerConnection } from './producer.js';
import type { PublishPath } from './publish-path.js';
import { expireWith } from './token-expiry.js';

export class ProducerRegistry {
  private readonly producers = new Map<Connection, ProducerConnection>();

  constructor(
    private readonly config: Readonly<GatewayConfig>,
    private readonly counters: GatewayCounters,
    private readonly path: PublishPath,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.producers.size;
  }

  /** Some producer is still owed a reply (cluster mode: waiting for JetStream). */
  get owed(): boolean {
    for (const producer of this.producers.values()) if (producer.owed > 0) return true;
    return false;
  }

  /** Opens an admitted producer on its connection. */
  open(conn: Connection, grant: Grant | null): ConnectionHandlers {
    const cancelExpiry = expireWith(conn, grant);
    this.logger.debug({ remote: conn.remoteAddress }, 'publisher connected');
    const producer = new ProducerConnection(conn, this.config, this.counters, this.path, grant);
    this.producers.set(conn, producer);
    return {
      message: (data: Uint8Array, binary: boolean): void => producer.message(data, binary),
      close: (code: number): void => {
        cancelExpiry();
        this.producers.delete(conn);
        if (code === CloseCode.MESSAGE_TOO_BIG) this.counters.limitReached('max-frame-bytes');
        this.logger.debug({ remote: conn.remoteAddress }, 'publisher disconnected');
      },
    };
  }

  /** Stopping: every producer is closed with 1001 (after the replies already written). */
  closeAll(): void {
    const { code, reason } = closeOf(new ShuttingDownError());
    for (const conn of this.producers.keys()) conn.close(code, reason);
  }
}
