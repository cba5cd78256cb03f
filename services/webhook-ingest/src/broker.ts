import type { Logger } from 'pino'
import { createAmqp, type Publisher, type TopologyOptions } from '@jit/amqp'

/** Options of {@link createBroker}. */
export interface BrokerOptions {
  /** `AMQP_URL`; its path selects the vhost. */
  url: string
  logger: Logger
  /** Shown in `rabbitmqctl list_connections`. @default 'webhook-ingest' */
  connectionName?: string
  /**
   * Longest wait for a connection when publishing while disconnected, before the publish rejects
   * (and the batch is answered 503).
   * @default 5000
   */
  acquireTimeoutMs?: number
  /** @default the contract topology */
  topology?: TopologyOptions
}

/** The service's one broker connection and confirm-mode publisher. */
export interface Broker {
  /** Resolves once the broker confirmed the message (publisher confirms, persistent). */
  publisher: Publisher
  /** Declares the contract's exchanges and queues; idempotent, safe from N instances at once. */
  declareTopology: () => Promise<void>
  /** True when connected and the broker answers. */
  ready: () => Promise<boolean>
  /** Waits for pending confirms, closes the publisher, then the connection. */
  close: () => Promise<void>
}

/**
 * Opens the broker connection (it reconnects by itself) with one confirm-mode publisher.
 * A stand-in for @jit/connections' `createConnections({ use: { postgres: false, cache: false,
 * archive: false } })`, which was not available when this service was written: it has the same
 * owner semantics (one creator, one `close` in the right order).
 */
export function createBroker (options: BrokerOptions): Broker {
  const amqp = createAmqp({
    url: options.url,
    logger: options.logger,
    connectionName: options.connectionName ?? 'webhook-ingest',
    acquireTimeoutMs: options.acquireTimeoutMs ?? 5000,
    topology: options.topology
  })
  const publisher = amqp.createPublisher()
  return {
    publisher,
    declareTopology: async () => { await amqp.declareTopology() },
    ready: async () => await amqp.ping(),
    // amqp.close closes its publishers (after their pending confirms), then the connection.
    close: async () => { await amqp.close() }
  }
}
