import closeWithGrace from 'close-with-grace'
import type { Logger } from 'pino'
import type { CommonConfigT } from '@jit/config'
import type { Connections } from './connections.js'

/** Options of {@link closeOnSignal}. */
export interface CloseOnSignalOptions {
  connections: Connections
  /** The service's Fastify app (its listener). */
  app: { close: () => Promise<unknown> }
  config: Pick<CommonConfigT, 'SHUTDOWN_DRAIN_MS' | 'SHUTDOWN_TIMEOUT_MS'>
  logger: Logger
  /** Runs when the drain is over, before the listener closes (e.g. the worker's `/ready` turns 503 for good). */
  onStopping?: () => void
}

/**
 * The shutdown every service runs on SIGTERM, SIGINT or an uncaught error, in order: `/ready`
 * turns 503 and requests keep being served for `SHUTDOWN_DRAIN_MS` while the orchestrator takes
 * the instance out (after an error: no drain), then the listener closes and finishes in-flight
 * requests, then `connections.close()` runs its shutdown hooks (consumers, relays) and closes the
 * clients in order. The whole is bounded by the drain plus `SHUTDOWN_TIMEOUT_MS`.
 * @example
 * ```ts
 * closeOnSignal({ connections, app, config, logger })
 * await app.listen({ host: config.HOST, port: config.PORT })
 * ```
 */
export function closeOnSignal (opts: CloseOnSignalOptions): void {
  const { connections, app, config, logger } = opts
  closeWithGrace({ delay: config.SHUTDOWN_DRAIN_MS + config.SHUTDOWN_TIMEOUT_MS, logger }, async ({ err, signal }) => {
    if (err !== undefined) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await connections.drain(err === undefined ? config.SHUTDOWN_DRAIN_MS : 0)
    opts.onStopping?.()
    await app.close()
    await connections.close()
    logger.info('closed')
  })
}
