import type { Logger } from 'pino'
import { batchingHandler, type ConsumedMessage, type MessageHandler } from '@jit/amqp'
import { applyTransactionEventBatch, hasSqlState, type BatchEventOutcome, type TransactionEventInput } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import type { LedgerLifecycle } from './ledger-lifecycle.js'
import type { WorkerMetrics } from './metrics.js'
import { recordTransactionOutcome, refusedOrSame, storableTransactionEvent } from './transactions.js'
import { isTransientFailure } from './transient.js'

/** Options of {@link createTransactionBatchHandler}. */
export interface TransactionBatchHandlerDeps {
  db: Database
  ledger: LedgerLifecycle
  metrics: WorkerMetrics
  logger: Logger
  /** Most events in one transaction. */
  maxBatch: number
  /** Times a batch that lost a deadlock is run again at once before its messages are requeued. @default 3 */
  deadlockRetries?: number
}

/**
 * The `transactions` queue, batched: the messages delivered together (up to `maxBatch`) are
 * applied in ONE PostgreSQL transaction through the ledger's {@link applyTransactionEventBatch}
 * (one savepoint per event, the same SQL as one event), so the events of a hot account take its
 * row lock once per batch and share one commit. Each message keeps the single-event handling: a
 * malformed or refused event fails alone (PermanentError, dead-lettered); any other error of its
 * own rolls back only its savepoint and takes the retry path alone; every message is acknowledged
 * only after the commit that contains it. A batch that loses a deadlock to another worker (40P01,
 * rolled back whole) is run again at once a few times; it, or a lost connection, then fails
 * every message of the batch transiently (requeued, uncounted). Several workers may consume the
 * queue: the account row lock serializes their batches, and the ledger's order rules (parking,
 * convergence) hold whatever the batch boundaries.
 */
export function createTransactionBatchHandler (deps: TransactionBatchHandlerDeps): MessageHandler {
  const { db, ledger, metrics } = deps
  const logger = deps.logger.child({ component: 'transactions' })
  const deadlockRetries = deps.deadlockRetries ?? 3

  async function applyAll (events: TransactionEventInput[]): Promise<BatchEventOutcome[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await db.transaction('transactions.apply_batch', async tx =>
          await applyTransactionEventBatch(tx, events, { apply: ledger.applyTransactionEvent, abortsBatch: isTransientFailure }))
      } catch (err) {
        if (attempt >= deadlockRetries || !hasSqlState(err, '40P01')) throw err
        logger.debug({ events: events.length, attempt }, 'batch lost a deadlock; running it again')
      }
    }
  }

  return batchingHandler(async (msgs: ConsumedMessage[]) => {
    const failures: unknown[] = new Array(msgs.length).fill(undefined)
    const events: TransactionEventInput[] = []
    const slots: number[] = []
    msgs.forEach((msg, i) => {
      try {
        events.push(storableTransactionEvent(msg))
        slots.push(i)
      } catch (err) {
        failures[i] = err
      }
    })
    if (events.length > 0) {
      const outcomes = await applyAll(events)
      outcomes.forEach((outcome, k) => {
        const i = slots[k] as number
        const event = events[k] as TransactionEventInput
        if (outcome.ok) recordTransactionOutcome(msgs[i] as ConsumedMessage, event, outcome.result, metrics, logger)
        else failures[i] = refusedOrSame(outcome.error, event, metrics, logger)
      })
    }
    return failures
  }, { maxBatch: deps.maxBatch })
}
