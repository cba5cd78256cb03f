import type { Logger } from 'pino'
import {
  PermanentError, QUEUE_COMMANDS, QUEUE_JIT_FUNDING, QUEUE_TRANSACTIONS, QUEUE_WEBHOOKS,
  type Amqp, type ConsumerHandle, type ConsumerStats, type MessageHandler, type Publisher
} from '@jit/amqp'
import { createServiceOutboxRelay, type OutboxRelay, type OutboxRelayStats } from '@jit/outbox'
import type { DocumentArchive } from '@jit/archive'
import type { Connections } from '@jit/connections'
import { parseMccDays, type TxnWorkerConfigT } from '@jit/config'
import type { Database } from '@jit/postgres'
import type { Cache } from '@jit/redis'
import { createCommandHandler } from './commands.js'
import { createHoldExpirySweep } from './hold-expiry.js'
import { ledgerLifecycle, type LedgerLifecycle } from './ledger-lifecycle.js'
import type { WorkerMetrics } from './metrics.js'
import { startPeriodic, type PeriodicTask } from './periodic.js'
import { createParkedEventRetrier, type ParkRetryRound } from './transactions.js'
import { createTransactionBatchHandler } from './transaction-batch.js'
import { isTransientFailure } from './transient.js'
import { createDecisionArchiveBatchHandler, createWebhookBatchHandler } from './webhooks.js'

/** The queues the worker consumes (contract names). */
export type WorkerQueue = typeof QUEUE_TRANSACTIONS | typeof QUEUE_WEBHOOKS | typeof QUEUE_JIT_FUNDING | typeof QUEUE_COMMANDS

/** Every queue the worker consumes by default. */
export const WORKER_QUEUES: readonly WorkerQueue[] = Object.freeze([QUEUE_TRANSACTIONS, QUEUE_WEBHOOKS, QUEUE_JIT_FUNDING, QUEUE_COMMANDS])

/** The settings the worker reads (a subset of TxnWorkerConfig). */
export type WorkerConfig = Pick<TxnWorkerConfigT,
  'WORKER_PREFETCH' | 'WORKER_CONCURRENCY' | 'COMMAND_INVALIDATION_ATTEMPTS' | 'COMMAND_INVALIDATION_RETRY_MS' | 'WORKER_BATCH_MAX' | 'PARK_HORIZON_S' | 'PARK_RETRY_INTERVAL_MS' | 'PARK_BACKOFF_MS' | 'PARK_BACKOFF_MAX_MS' |
  'AMQP_TRANSIENT_RETRY_MS' | 'AMQP_TRANSIENT_RETRY_MAX_MS' | 'HOLD_EXPIRY_DAYS' |
  'HOLD_EXPIRY_MCC_DAYS' | 'HOLD_EXPIRY_SWEEP_INTERVAL_S' | 'OUTBOX_RELAY_INTERVAL_MS' | 'OUTBOX_RELAY_BATCH'>

/** What {@link createWorker} needs: connected clients (it owns none of them) and its settings. */
export interface TxnWorkerDeps {
  config: WorkerConfig
  logger: Logger
  db: Database
  cache: Cache
  /** With the topology declared. */
  amqp: Amqp
  /** Confirm-mode publisher for command answers and dead letters. */
  publisher: Publisher
  archive: DocumentArchive
  metrics: WorkerMetrics
  /** @default the functions of @jit/ledger */
  ledger?: LedgerLifecycle
  /** Queues to consume. @default all four */
  queues?: readonly WorkerQueue[]
  /** Run the parked-event retry and hold-expiry loops. @default true */
  loops?: boolean
  /** Run the outbox relay (ledger events). @default true */
  relay?: boolean
}

/** A running worker. */
export interface TxnWorker {
  /**
   * Stops intake (consumers stop taking messages and finish the ones in flight; unacked
   * prefetched messages go back to the broker), then the loops, then the relay's batch in
   * flight. Does not close the clients: their owner does, after this.
   */
  stop: () => Promise<void>
  /** One round of the parked-event retry loop, now. */
  retryParkedOnce: () => Promise<ParkRetryRound>
  /** One hold-expiry sweep, now (`null`: another worker holds the sweep lock). */
  sweepHoldsOnce: (now?: Date) => Promise<number | null>
  /** Consumer counters per queue. */
  consumerStats: () => Record<string, ConsumerStats>
  /** Outbox relay counters, when the relay runs. */
  relayStats: () => OutboxRelayStats | null
}

/**
 * Starts the txn-worker's consumers (transactions, webhooks, jit-funding, commands), the
 * parked-event retry loop, the hold-expiry sweep and the outbox relay.
 * @example
 * ```ts
 * const worker = createWorker({ config, logger, db, cache, amqp, publisher, archive, metrics })
 * // on shutdown
 * await worker.stop()
 * ```
 */
export function createWorker (deps: TxnWorkerDeps): TxnWorker {
  const { config, db, cache, amqp, publisher, archive, metrics } = deps
  const logger = deps.logger.child({ component: 'txn-worker' })
  const ledger = deps.ledger ?? ledgerLifecycle()
  const maxRetries = amqp.topology.retryDelaysMs.length
  const mccDays = parseMccDays(config.HOLD_EXPIRY_MCC_DAYS)

  const maxBatch = config.WORKER_BATCH_MAX
  const handlers: Record<WorkerQueue, MessageHandler> = {
    transactions: createTransactionBatchHandler({ db, ledger, metrics, logger, archive, maxBatch }),
    webhooks: createWebhookBatchHandler({ db, cache, archive, metrics, logger, maxBatch }),
    'jit-funding': createDecisionArchiveBatchHandler({ db, cache, archive, metrics, logger, maxBatch }),
    commands: createCommandHandler({
      db, cache, ledger, metrics, logger, invalidationAttempts: config.COMMAND_INVALIDATION_ATTEMPTS, invalidationRetryMs: config.COMMAND_INVALIDATION_RETRY_MS
    })
  }
  // The batched queues prefetch two batches: the next one is delivered while one commits (its
  // messages are acknowledged only after that commit), and every prefetched message must be able
  // to wait in a batch, hence as many handlers as prefetched messages. The transactions queue
  // prefetches three: a batch being archived, one applying and the next one arriving.
  const batched = (queue: WorkerQueue): boolean => queue !== 'commands'
  const batchesAhead = (queue: WorkerQueue): number => queue === 'transactions' ? 3 : 2
  const retryParkedOnce = createParkedEventRetrier({
    db,
    ledger,
    publisher,
    metrics,
    logger,
    horizonMs: config.PARK_HORIZON_S * 1000,
    backoffMs: config.PARK_BACKOFF_MS,
    maxBackoffMs: config.PARK_BACKOFF_MAX_MS
  })
  const sweepHoldsOnce = createHoldExpirySweep({
    db, ledger, metrics, logger, defaultDays: config.HOLD_EXPIRY_DAYS, mccDays
  })

  // Counts what the consumer is about to do with a failure (the same rule as @jit/amqp's).
  function instrumented (queue: WorkerQueue, handler: MessageHandler): MessageHandler {
    return async msg => {
      metrics.consumed.inc({ queue })
      try {
        await handler(msg)
      } catch (err) {
        if (!(err instanceof PermanentError) && isTransientFailure(err)) {
          metrics.requeuedTransient.inc({ queue })
          // the consumer logs it (with its pause) at warn
          logger.debug({ err, queue, messageId: msg.messageId, routingKey: msg.routingKey }, 'message failed on a dependency; requeued after a pause')
          throw err
        }
        if (err instanceof PermanentError || msg.retryCount >= maxRetries) {
          metrics.deadLettered.inc({ queue, reason: 'failed' })
        } else {
          metrics.retried.inc({ queue })
        }
        logger.warn({ err, queue, messageId: msg.messageId, routingKey: msg.routingKey, retryCount: msg.retryCount }, 'message failed')
        throw err
      }
    }
  }

  const consumers: ConsumerHandle[] = (deps.queues ?? WORKER_QUEUES).map(queue => amqp.consume(queue, instrumented(queue, handlers[queue]), {
    concurrency: batched(queue) ? batchesAhead(queue) * maxBatch : config.WORKER_CONCURRENCY,
    prefetch: batched(queue) ? batchesAhead(queue) * maxBatch : config.WORKER_PREFETCH,
    // PostgreSQL down, Redis unable to invalidate: requeued (paused, uncounted) until it is back,
    // instead of spending the 3 retries in half a minute and dead-lettering everything.
    isTransient: isTransientFailure,
    transientDelayMs: config.AMQP_TRANSIENT_RETRY_MS,
    transientMaxDelayMs: config.AMQP_TRANSIENT_RETRY_MAX_MS
  }))

  const tasks: PeriodicTask[] = []
  if (deps.loops ?? true) {
    tasks.push(startPeriodic({ name: 'park-retry', intervalMs: config.PARK_RETRY_INTERVAL_MS, run: retryParkedOnce, logger }))
    tasks.push(startPeriodic({ name: 'hold-expiry', intervalMs: config.HOLD_EXPIRY_SWEEP_INTERVAL_S * 1000, run: async () => await sweepHoldsOnce(), logger }))
  }

  let relay: OutboxRelay | undefined
  if (deps.relay ?? true) {
    // publishes what is written to the outbox; woken by the writers' NOTIFY in their transactions
    relay = createServiceOutboxRelay({ config, sql: db.sql, publisher, logger })
    relay.start()
  }
  logger.info({ queues: consumers.map(c => c.queue), loops: tasks.length > 0, relay: relay !== undefined }, 'txn-worker started')

  let stopping: Promise<void> | undefined
  return {
    stop: async () => {
      stopping ??= (async () => {
        await Promise.allSettled(consumers.map(async c => { await c.close() }))
        await Promise.allSettled(tasks.map(async t => { await t.stop() }))
        if (relay !== undefined) await relay.stop()
        logger.info('txn-worker stopped')
      })()
      await stopping
    },
    retryParkedOnce,
    sweepHoldsOnce,
    consumerStats: () => Object.fromEntries(consumers.map(c => [c.queue, c.stats()])),
    relayStats: () => relay?.stats() ?? null
  }
}

/** The clients a worker takes from its process's {@link Connections} (started, topology declared). */
export type WorkerClients = Pick<Connections, 'db' | 'cache' | 'amqp' | 'publisher' | 'archive'>

/**
 * {@link createWorker} on the clients of started connections: the server and the in-process test
 * stacks build their worker the same way.
 * @example
 * ```ts
 * await connections.start()
 * const worker = createWorkerOn(connections, { config, logger, metrics })
 * ```
 */
export function createWorkerOn (connections: WorkerClients, deps: Omit<TxnWorkerDeps, keyof WorkerClients>): TxnWorker {
  const { db, cache, amqp, publisher, archive } = connections
  return createWorker({ ...deps, db, cache, amqp, publisher, archive })
}
