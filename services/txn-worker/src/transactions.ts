import type { Logger } from 'pino'
import {
  DLX_EXCHANGE, HEADER_FAILURE_REASON, HEADER_ORIGINAL_QUEUE, HEADER_ORIGINAL_ROUTING_KEY, PermanentError,
  QUEUE_TRANSACTIONS, deadQueueName,
  type ConsumedMessage, type MessageHandler, type Publisher
} from '@jit/amqp'
import { toStorableJson, webhookRoutingKey } from '@jit/contracts'
import { TransactionEventError, type ExpiredParkedEvent, type LifecycleResult, type TransactionEventInput } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import type { LedgerLifecycle } from './ledger-lifecycle.js'
import type { WorkerMetrics } from './metrics.js'

/** Options of {@link createTransactionHandler}. */
export interface TransactionHandlerDeps {
  db: Database
  ledger: LedgerLifecycle
  metrics: WorkerMetrics
  logger: Logger
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The `transactions` queue: each event is applied to the ledger in one PostgreSQL transaction,
 * with the characters PostgreSQL cannot store replaced by U+FFFD (`toStorableJson`).
 * Exactly-once effect is the ledger's (effect keys), so a redelivery is a `duplicate`. A `parked`
 * event is acknowledged: it is stored in PostgreSQL and the park loop re-tries it. An event the
 * ledger refuses as it is (not an object, no token or type, an inexact amount, the wrong
 * currency: TransactionEventError) cannot change by retrying and is dead-lettered at once with
 * its code; any other failure takes the retry path (then `transactions.dead`).
 */
export function createTransactionHandler (deps: TransactionHandlerDeps): MessageHandler {
  const { db, ledger, metrics } = deps
  const logger = deps.logger.child({ component: 'transactions' })

  return async function handleTransaction (msg: ConsumedMessage): Promise<void> {
    const event = storableTransactionEvent(msg)
    let result
    try {
      result = await db.transaction('transactions.apply', async tx => await ledger.applyTransactionEvent(tx, event))
    } catch (err) {
      throw refusedOrSame(err, event, metrics, logger)
    }
    recordTransactionOutcome(msg, event, result, metrics, logger)
  }
}

/**
 * The event a message carries, as it is applied: a JSON object (else PermanentError) with the
 * characters PostgreSQL cannot store replaced by U+FFFD. jsonb refuses NUL and lone surrogates
 * (22P05): one such character in a merchant name would otherwise fail a money event forever.
 * Replaced the same way on every delivery, so the effect key (its token) stays stable; what is
 * applied, parked and stored is this copy.
 */
export function storableTransactionEvent (msg: ConsumedMessage): TransactionEventInput {
  if (!isRecord(msg.body)) throw new PermanentError('transaction event is not a JSON object')
  return toStorableJson(msg.body) as unknown as TransactionEventInput
}

/**
 * What to throw for a failed apply: an event the ledger refuses as sent (TransactionEventError,
 * e.g. CURRENCY_MISMATCH: never resized or debited) becomes a PermanentError carrying its code
 * (dead-lettered at once, counted); any other error is returned as it is (retry path).
 */
export function refusedOrSame (err: unknown, event: TransactionEventInput, metrics: WorkerMetrics, logger: Logger): unknown {
  if (!(err instanceof TransactionEventError)) return err
  metrics.eventsRefused.inc({ code: err.code })
  logger.warn({ token: event.token, code: err.code, reason: err.message }, 'transaction event refused as sent; dead-lettered')
  return new PermanentError(`${err.code}: ${err.message}`, { cause: err })
}

/** Counts (and logs) what the ledger did with an event that applied, was a duplicate, parked or moved no money. */
export function recordTransactionOutcome (msg: ConsumedMessage, event: TransactionEventInput, result: LifecycleResult, metrics: WorkerMetrics, logger: Logger): void {
  const queue = QUEUE_TRANSACTIONS
  switch (result.outcome) {
    case 'applied':
      metrics.applied.inc({ queue })
      if (msg.publishedAt !== undefined) metrics.webhookToLedgerLag.observe(Math.max(0, Date.now() - msg.publishedAt) / 1000)
      break
    case 'duplicate':
      metrics.duplicates.inc({ queue })
      break
    case 'parked':
      metrics.parked.inc()
      logger.info({ token: event.token, messageId: msg.messageId }, 'transaction event parked until its purchase is seen')
      break
    case 'ignored':
      metrics.ignored.inc({ queue })
      break
  }
}

/** Options of {@link createParkedEventRetrier}. */
export interface ParkedEventRetrierDeps {
  db: Database
  ledger: LedgerLifecycle
  publisher: Publisher
  metrics: WorkerMetrics
  logger: Logger
  /** How long an event may stay parked before it is dead-lettered, ms. */
  horizonMs: number
  /** Wait after an attempt that could not apply the event, doubled per attempt (PARK_BACKOFF_MS). */
  backoffMs?: number
  /** Longest such wait (PARK_BACKOFF_MAX_MS). */
  maxBackoffMs?: number
  /** Parked events handled per round. @default 100 */
  limit?: number
}

/** What one round of the park loop did. */
export interface ParkRetryRound {
  applied: number
  /** Of `applied`: past the horizon, applied as forced effects. */
  forced: number
  stillParked: number
  deadLettered: number
}

function originalRoutingKey (payload: unknown): string {
  return isRecord(payload) ? webhookRoutingKey('transactions', payload) : 'webhook.transactions.unknown'
}

/**
 * One round of the parked-event retry: the ledger re-tries the due parked events, each in a
 * transaction of its own (so no account or hold row stays locked longer than one event takes).
 * An event past the horizon is published to `transactions.dead` with its reason, with a confirm,
 * outside any transaction, and only then deleted from `parked_events`; a failed publish leaves it
 * parked for a later round. A crash between the publish and the delete gives a duplicate dead
 * letter (same message id), never a lost event.
 */
export function createParkedEventRetrier (deps: ParkedEventRetrierDeps): () => Promise<ParkRetryRound> {
  const { db, ledger, publisher, metrics, horizonMs, backoffMs, maxBackoffMs } = deps
  const limit = deps.limit ?? 100
  const logger = deps.logger.child({ component: 'park-retry' })

  async function deadLetter (event: ExpiredParkedEvent): Promise<void> {
    try {
      await publisher.publish(deadQueueName(QUEUE_TRANSACTIONS), event.payload, {
        exchange: DLX_EXCHANGE,
        // the same id for a repeated dead letter of one event
        messageId: `parked-expired:${event.token}`,
        headers: {
          [HEADER_FAILURE_REASON]: event.reason,
          [HEADER_ORIGINAL_QUEUE]: QUEUE_TRANSACTIONS,
          [HEADER_ORIGINAL_ROUTING_KEY]: originalRoutingKey(event.payload)
        },
        // the dead-letter queue must exist: an unroutable publish rejects and the event stays parked
        mandatory: true
      })
    } catch (err) {
      logger.error({ err, token: event.token }, 'could not dead-letter an expired parked event; it stays parked')
      throw err
    }
  }

  return async function retryParkedOnce (): Promise<ParkRetryRound> {
    // The pool, not a transaction: the ledger opens one transaction per event.
    const round = await ledger.retryParkedEvents(db.sql, { now: new Date(), horizonMs, limit, deadLetter, backoffMs, maxBackoffMs })
    if (round.applied > 0) metrics.parkedApplied.inc(round.applied)
    if (round.forced.length > 0) {
      metrics.parkedForced.inc(round.forced.length)
      logger.warn({ events: round.forced }, 'parked events past the horizon applied as forced effects (their money moved)')
    }
    if (round.expired.length > 0) {
      metrics.deadLettered.inc({ queue: QUEUE_TRANSACTIONS, reason: 'park_expired' }, round.expired.length)
      logger.warn({ tokens: round.expired.map(e => e.token) }, 'parked events past the horizon dead-lettered')
    }
    return { applied: round.applied, forced: round.forced.length, stillParked: round.stillParked, deadLettered: round.expired.length }
  }
}
