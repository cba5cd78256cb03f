import type postgres from 'postgres'
import type { Logger } from 'pino'
import type { Publisher } from '@jit/amqp'
import { createOutboxRelay, type OutboxRelay } from './relay.js'
import { OUTBOX_CHANNEL } from './writer.js'

/** The relay settings of a service's configuration (@jit/config, documented in `.env.example`). */
export interface OutboxRelayConfig {
  OUTBOX_RELAY_BATCH: number
  OUTBOX_RELAY_INTERVAL_MS: number
}

/** What {@link createServiceOutboxRelay} needs. */
export interface ServiceOutboxRelayDeps {
  config: OutboxRelayConfig
  sql: postgres.Sql
  publisher: Publisher
  logger: Logger
  /** Called once per published row with its insert-to-confirm delay, ms. */
  onPublished?: (delayMs: number) => void
  /**
   * Wake on the writers' `NOTIFY outbox` (publish at the commit) rather than only poll every
   * `OUTBOX_RELAY_INTERVAL_MS` (one relay round carries many events).
   * @default true
   */
  listen?: boolean
}

/**
 * The outbox relay as every service runs it: batch and polling interval from the configuration,
 * woken (unless `listen` is false) by the writers' `NOTIFY outbox`, sent in the writing
 * transaction, so an event leaves at its commit rather than at the next poll. Not started: the caller starts it once its
 * connections are up and stops it on shutdown.
 * @example
 * ```ts
 * const relay = createServiceOutboxRelay({ config, sql: connections.db.sql, publisher: connections.publisher, logger })
 * relay.start()
 * connections.onShutdown('drain', async () => { await relay.stop() })
 * ```
 */
export function createServiceOutboxRelay (deps: ServiceOutboxRelayDeps): OutboxRelay {
  return createOutboxRelay({
    sql: deps.sql,
    publisher: deps.publisher,
    logger: deps.logger,
    batchSize: deps.config.OUTBOX_RELAY_BATCH,
    intervalMs: deps.config.OUTBOX_RELAY_INTERVAL_MS,
    ...(deps.listen === false ? {} : { listenChannel: OUTBOX_CHANNEL }),
    ...(deps.onPublished === undefined ? {} : { onPublished: deps.onPublished })
  })
}
