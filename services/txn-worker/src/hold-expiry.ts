import type { Logger } from 'pino'
import type { MccDays } from '@jit/config'
import type { Database } from '@jit/postgres'
import type { LedgerLifecycle } from './ledger-lifecycle.js'
import type { WorkerMetrics } from './metrics.js'

/** Options of {@link createHoldExpirySweep}. */
export interface HoldExpiryDeps {
  db: Database
  ledger: LedgerLifecycle
  metrics: WorkerMetrics
  logger: Logger
  /** Days without activity before a hold expires. */
  defaultDays: number
  /** Per-MCC overrides (parseMccDays of HOLD_EXPIRY_MCC_DAYS). */
  mccDays: MccDays[]
  /**
   * Holds looked at per transaction: small, because the accounts a batch touches stay locked
   * until it commits. @default 25
   */
  batchSize?: number
  /** Batches per sweep at most; the next sweep goes on where this one stopped. @default 400 */
  maxBatches?: number
}

/**
 * Key of the transaction-level advisory lock one sweeping worker holds: with several workers,
 * the others skip the round instead of competing for the same rows ("hold-e" in ASCII hex, a
 * safe integer).
 */
export const HOLD_SWEEP_LOCK_KEY = 0x686f6c642d65

/**
 * One sweep: expires stale holds in small batches, each its own short transaction, until a
 * batch expires nothing more or comes back short (or `maxBatches`). A batch never waits on a lock
 * (holds and accounts in use are skipped, for a later sweep) and a hold whose release fails is
 * put off with a backoff by the ledger, so neither a hot account nor a failing hold blocks expiry.
 * Resolves with the number expired, or `null` when another worker holds the sweep lock.
 */
export function createHoldExpirySweep (deps: HoldExpiryDeps): (now?: Date) => Promise<number | null> {
  const { db, ledger, metrics, defaultDays, mccDays } = deps
  const batchSize = deps.batchSize ?? 25
  const maxBatches = deps.maxBatches ?? 400
  const logger = deps.logger.child({ component: 'hold-expiry' })

  return async function sweepOnce (now = new Date()): Promise<number | null> {
    let total = 0
    let failed = 0
    for (let batch = 0; batch < maxBatches; batch++) {
      const result = await db.transaction('holds.expire', async tx => {
        const [lock] = await tx<Array<{ locked: boolean }>>`select pg_try_advisory_xact_lock(${HOLD_SWEEP_LOCK_KEY}::bigint) as locked`
        if (lock?.locked !== true) return null
        return await ledger.expireHoldsBatch(tx, { now, defaultDays, mccDays, limit: batchSize })
      })
      if (result === null) return total === 0 ? null : total
      total += result.expired
      failed += result.failed
      if (result.expired > 0) metrics.holdsExpired.inc(result.expired)
      if (result.failed > 0) metrics.holdExpiryFailures.inc(result.failed)
      // nothing more to do now, or only holds in use or put off: the next sweep takes them
      if (result.expired === 0 || result.expired + result.failed + result.skipped < batchSize) break
    }
    if (total > 0) logger.info({ expired: total }, 'stale holds expired')
    if (failed > 0) logger.warn({ failed }, 'some holds did not expire; they are retried later with a backoff')
    return total
  }
}
