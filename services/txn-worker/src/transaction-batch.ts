import type { Logger } from 'pino'
import { batchingHandler, type ConsumedMessage, type MessageHandler } from '@jit/amqp'
import type { ArchiveDocument, DocumentArchive } from '@jit/archive'
import { applyTransactionEventBatch, hasSqlState, type BatchEventOutcome, type TransactionEventInput } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import type { LedgerLifecycle } from './ledger-lifecycle.js'
import type { WorkerMetrics } from './metrics.js'
import { recordTransactionOutcome, refusedOrSame, storableTransactionEvent } from './transactions.js'
import { isTransientFailure } from './transient.js'
import { storeDocuments, webhookDocument } from './webhooks.js'

/** Options of {@link createTransactionBatchHandler}. */
export interface TransactionBatchHandlerDeps {
  db: Database
  ledger: LedgerLifecycle
  metrics: WorkerMetrics
  logger: Logger
  /**
   * Where each event's document goes: the webhooks queue does not get the transaction events
   * (the topology leaves them out), so they are archived from this delivery, in batches of
   * their own that run while the next batch applies.
   */
  archive: DocumentArchive
  /** Most events in one transaction. */
  maxBatch: number
  /** Times a batch that lost a deadlock is run again at once before its messages are requeued. @default 3 */
  deadlockRetries?: number
}

/** A statement or lock timeout (or a cancel): the statement ran too long, not the connection or the server. */
function boundsTheStatement (err: unknown): boolean {
  return hasSqlState(err, '57014') || hasSqlState(err, '55P03')
}

/** Thrown inside the optimistic transaction to roll it back when one of its events failed. */
class EventFailed extends Error {
  constructor (readonly failure: unknown) {
    super('an event of the batch failed')
  }
}

/**
 * The `transactions` queue, batched: the messages delivered together (up to `maxBatch`) are
 * applied in ONE PostgreSQL transaction, so the events of a hot account take its row lock once
 * per batch and share one commit. The events go in one statement (the ledger's
 * {@link applyTransactionEvents}: each the same `ledger_apply_transaction` call as one event,
 * grouped by card, arrival order kept within a card): one round trip and one socket write for
 * the whole batch. Should any event fail, that transaction is rolled back whole (nothing of it
 * commits) and the batch runs again through the ledger's
 * {@link applyTransactionEventBatch}, one savepoint per event, where each message keeps the
 * single-event handling: a malformed or refused event fails alone (PermanentError,
 * dead-lettered); any other error of its own rolls back only its savepoint and takes the retry
 * path alone. Every message is acknowledged only after the commit that contains it. A batch that
 * loses a deadlock to another worker (40P01, rolled back whole) is run again at once a few times;
 * it, or a lost connection, then fails every message of the batch transiently (requeued,
 * uncounted). Several workers may consume the queue: the account row lock serializes their
 * batches, and the ledger's order rules (parking, convergence) hold whatever the batch boundaries.
 */
export function createTransactionBatchHandler (deps: TransactionBatchHandlerDeps): MessageHandler {
  const { db, ledger, metrics } = deps
  const logger = deps.logger.child({ component: 'transactions' })
  const deadlockRetries = deps.deadlockRetries ?? 3

  /** All events in one transaction and one statement; null when one failed on its own (rolled back). */
  async function applyTogether (events: TransactionEventInput[]): Promise<BatchEventOutcome[] | null> {
    try {
      return await db.transaction('transactions.apply_batch', async tx => {
        try {
          const results = await ledger.applyTransactionEvents(tx, events)
          return results.map(result => ({ ok: true, result }))
        } catch (err) {
          // the statement failed whole: nothing of the batch may commit
          throw new EventFailed(err)
        }
      })
    } catch (err) {
      if (!(err instanceof EventFailed)) throw err
      // statement_timeout and lock_timeout bound one statement: here the lock waits of the whole
      // batch, where each event has its own statement on the savepoint path, which then waits
      // as the events would alone instead of requeuing the batch (contention on several busy
      // accounts could otherwise time the batch out on every delivery)
      if (isTransientFailure(err.failure) && !boundsTheStatement(err.failure)) throw err.failure
      return null
    }
  }

  /** One savepoint per event: an event that fails rolls back alone. */
  async function applyIsolated (events: TransactionEventInput[]): Promise<BatchEventOutcome[]> {
    return await db.transaction('transactions.apply_batch_isolated', async tx =>
      await applyTransactionEventBatch(tx, events, { apply: ledger.applyTransactionEvent, abortsBatch: isTransientFailure }))
  }

  async function applyAll (events: TransactionEventInput[]): Promise<BatchEventOutcome[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await applyTogether(events)
        if (outcomes !== null) return outcomes
        logger.debug({ events: events.length }, 'an event of the batch failed; applying the batch one savepoint per event')
        return await applyIsolated(events)
      } catch (err) {
        if (attempt >= deadlockRetries || !hasSqlState(err, '40P01')) throw err
        logger.debug({ events: events.length, attempt }, 'batch lost a deadlock; running it again')
      }
    }
  }

  // the copy each message's event was applied as, archived as the same copy
  const storable = new WeakMap<ConsumedMessage, TransactionEventInput>()

  const applyStage = batchingHandler(async (msgs: ConsumedMessage[]) => {
    metrics.batchSize.observe({ queue: 'transactions' }, msgs.length)
    const failures: unknown[] = new Array(msgs.length).fill(undefined)
    const events: TransactionEventInput[] = []
    const slots: number[] = []
    msgs.forEach((msg, i) => {
      try {
        const event = storableTransactionEvent(msg)
        storable.set(msg, event)
        events.push(event)
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

  const archiveStage = batchingHandler(async (msgs: ConsumedMessage[]) => {
    const failures: unknown[] = new Array(msgs.length).fill(undefined)
    const docs: Array<{ slot: number, doc: ArchiveDocument }> = []
    msgs.forEach((msg, i) => {
      try {
        const event = storable.get(msg)
        docs.push({ slot: i, doc: webhookDocument(msg, event as unknown as Record<string, unknown> | undefined) })
      } catch (err) {
        failures[i] = err
      }
    })
    await storeDocuments({ archive: deps.archive, metrics, logger }, 'transactions', docs, failures)
    return failures
  }, { maxBatch: deps.maxBatch })

  // Two stages, each batched on its own: a batch's documents are archived while the next batch
  // applies, so the ledger never waits for the archive. The message is acknowledged once both
  // are done. An event the ledger refused is archived all the same (every webhook is), then
  // takes its own failure path; one that failed on a dependency is not (it is requeued whole).
  return async function handleTransaction (msg: ConsumedMessage): Promise<void> {
    let failure: unknown
    try {
      await applyStage(msg)
    } catch (err) {
      if (isTransientFailure(err)) throw err
      failure = err
    }
    try {
      await archiveStage(msg)
    } catch (err) {
      // the ledger's failure first: it decides between the retry path and the dead-letter queue
      if (failure === undefined) throw err
    } finally {
      storable.delete(msg)
    }
    if (failure !== undefined) throw failure
  }
}
