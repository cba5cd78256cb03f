import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { QUEUE_COMMANDS, QUEUE_JIT_FUNDING, QUEUE_TRANSACTIONS, QUEUE_WEBHOOKS } from '@jit/amqp'
import { countOverdrawnAccounts, type Sql } from '@jit/ledger'

/** The worker's Prometheus instruments, registered on the app's own registry. */
export interface WorkerMetrics {
  /** Messages handed to a handler, per queue. */
  consumed: Counter<'queue'>
  /** Messages whose effect was applied (ledger change, status change, archived, command applied). */
  applied: Counter<'queue'>
  /** Redeliveries and duplicates whose effect had been applied before: skipped. */
  duplicates: Counter<'queue'>
  /** Transaction events parked in PostgreSQL (their purchase not seen yet). */
  parked: Counter
  /** Parked events applied by the retry loop. */
  parkedApplied: Counter
  /** Transaction events the ledger has nothing to do for. */
  ignored: Counter<'queue'>
  /** Messages sent to a retry queue after a failure. */
  retried: Counter<'queue'>
  /** Messages requeued after a dependency failure (PostgreSQL, Redis): not a retry, never dead-lettered. */
  requeuedTransient: Counter<'queue'>
  /** Messages sent to a dead-letter queue; reason `failed` (handler) or `park_expired`. */
  deadLettered: Counter<'queue' | 'reason'>
  /** Commands answered by command.rejected, per reason. */
  commandsRejected: Counter<'reason'>
  /** Holds expired by the sweep. */
  holdsExpired: Counter
  /** Hold expiries that failed and were put off (the sweep goes on with the others). */
  holdExpiryFailures: Counter
  /** Transaction events the ledger refused as sent (dead-lettered at once), per code, e.g. CURRENCY_MISMATCH. */
  eventsRefused: Counter<'code'>
  /** Parked events applied past the park horizon as forced effects (a clearing: the money moved). */
  parkedForced: Counter
  /** From the broker's publish timestamp of a webhook event to its ledger effect, seconds. */
  webhookToLedgerLag: Histogram
  /** Messages handled in one database transaction, per batched queue (tunes WORKER_BATCH_MAX). */
  batchSize: Histogram<'queue'>
  /**
   * Documents of transaction events archived by the transactions handler (from its own
   * delivery; the webhooks queue no longer gets them): `stored`, or `duplicate` (archived before).
   */
  transactionsArchived: Counter<'outcome'>
}

/** Options of {@link createWorkerMetrics}. */
export interface WorkerMetricsOptions {
  /**
   * The ledger's database: exports `txn_worker_overdrawn_accounts` (accounts below their credit
   * line, read at scrape time, at most once per `gaugeCacheMs`).
   */
  sql?: Sql
  /** @default 5000 */
  gaugeCacheMs?: number
}

/** Creates the worker's instruments on `registry` (one registry per app, never the global one). */
export function createWorkerMetrics (registry: Registry, opts: WorkerMetricsOptions = {}): WorkerMetrics {
  const registers = [registry]
  const { sql } = opts
  if (sql !== undefined) {
    const cacheMs = opts.gaugeCacheMs ?? 5000
    let last: { at: number, value: number } | undefined
    // eslint-disable-next-line no-new -- registers itself
    new Gauge({
      name: 'txn_worker_overdrawn_accounts',
      help: 'Accounts whose available amount is below minus their credit line (only forced effects get there)',
      registers,
      async collect () {
        this.reset()
        const now = Date.now()
        if (last === undefined || now - last.at > cacheMs) {
          // PostgreSQL down: no sample (not a reassuring 0); jit_dependency_up says why.
          try { last = { at: now, value: await countOverdrawnAccounts(sql) } } catch { last = undefined }
        }
        if (last !== undefined) this.set(last.value)
      }
    })
  }
  const metrics: WorkerMetrics = {
    consumed: new Counter({ name: 'txn_worker_messages_consumed_total', help: 'Messages handed to a handler', labelNames: ['queue'], registers }),
    applied: new Counter({ name: 'txn_worker_messages_applied_total', help: 'Messages whose effect was applied', labelNames: ['queue'], registers }),
    duplicates: new Counter({ name: 'txn_worker_duplicates_skipped_total', help: 'Redeliveries and duplicates whose effect was applied before', labelNames: ['queue'], registers }),
    parked: new Counter({ name: 'txn_worker_events_parked_total', help: 'Transaction events parked until their purchase is seen', registers }),
    parkedApplied: new Counter({ name: 'txn_worker_parked_events_applied_total', help: 'Parked transaction events applied by the retry loop', registers }),
    ignored: new Counter({ name: 'txn_worker_events_ignored_total', help: 'Events with no ledger effect', labelNames: ['queue'], registers }),
    retried: new Counter({ name: 'txn_worker_messages_retried_total', help: 'Messages sent to a retry queue after a failure', labelNames: ['queue'], registers }),
    requeuedTransient: new Counter({ name: 'txn_worker_messages_requeued_transient_total', help: 'Messages requeued after a dependency failure, without counting a retry', labelNames: ['queue'], registers }),
    deadLettered: new Counter({ name: 'txn_worker_messages_dead_lettered_total', help: 'Messages sent to a dead-letter queue', labelNames: ['queue', 'reason'], registers }),
    commandsRejected: new Counter({ name: 'txn_worker_commands_rejected_total', help: 'Commands answered by command.rejected', labelNames: ['reason'], registers }),
    holdsExpired: new Counter({ name: 'txn_worker_holds_expired_total', help: 'Holds expired by the sweep', registers }),
    holdExpiryFailures: new Counter({ name: 'txn_worker_hold_expiry_failures_total', help: 'Hold expiries that failed and were put off', registers }),
    eventsRefused: new Counter({ name: 'txn_worker_transaction_events_refused_total', help: 'Transaction events the ledger refused as sent (dead-lettered), per code', labelNames: ['code'], registers }),
    parkedForced: new Counter({ name: 'txn_worker_parked_events_forced_total', help: 'Parked events applied past the park horizon as forced effects', registers }),
    webhookToLedgerLag: new Histogram({
      name: 'txn_worker_webhook_to_ledger_lag_seconds',
      help: 'From the publish of a transaction webhook event to its ledger effect',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers
    }),
    batchSize: new Histogram({
      name: 'txn_worker_batch_size',
      help: 'Messages handled in one database transaction, per batched queue',
      labelNames: ['queue'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers
    }),
    transactionsArchived: new Counter({ name: 'txn_worker_transaction_events_archived_total', help: 'Transaction event documents archived by the transactions handler (stored or duplicate)', labelNames: ['outcome'], registers })
  }
  // The known label values start at 0, so a dashboard or an alert reads 0 rather than "no data"
  // before the first event of each kind.
  for (const queue of [QUEUE_TRANSACTIONS, QUEUE_WEBHOOKS, QUEUE_JIT_FUNDING, QUEUE_COMMANDS]) {
    for (const counter of [metrics.consumed, metrics.applied, metrics.duplicates, metrics.retried, metrics.requeuedTransient]) counter.inc({ queue }, 0)
    metrics.deadLettered.inc({ queue, reason: 'failed' }, 0)
  }
  metrics.ignored.inc({ queue: QUEUE_TRANSACTIONS }, 0)
  for (const outcome of ['stored', 'duplicate']) metrics.transactionsArchived.inc({ outcome }, 0)
  metrics.deadLettered.inc({ queue: QUEUE_TRANSACTIONS, reason: 'park_expired' }, 0)
  return metrics
}
