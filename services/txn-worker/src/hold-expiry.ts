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
  /** Holds expired per transaction. @default 500 */
  batchSize?: number
}

/**
 * Key of the transaction-level advisory lock one sweeping worker holds: with several workers,
 * the others skip the round instead of competing for the same rows ("hold-e" in ASCII hex, a
 * safe integer).
 */
export const HOLD_SWEEP_LOCK_KEY = 0x686f6c642d65

function expiredCount (result: unknown): number {
  if (typeof result === 'number') return result
  if (Array.isArray(result)) return result.length
  if (typeof result === 'object' && result !== null) {
    const expired = (result as { expired?: unknown }).expired
    if (typeof expired === 'number') return expired
    if (Array.isArray(expired)) return expired.length
  }
  return 0
}

/**
 * One sweep: expires stale holds in batches (each its own transaction) until a batch comes back
 * short. Resolves with the number expired, or `null` when another worker holds the sweep lock.
 */
export function createHoldExpirySweep (deps: HoldExpiryDeps): (now?: Date) => Promise<number | null> {
  const { db, ledger, metrics, defaultDays, mccDays } = deps
  const batchSize = deps.batchSize ?? 500
  const logger = deps.logger.child({ component: 'hold-expiry' })

  return async function sweepOnce (now = new Date()): Promise<number | null> {
    let total = 0
    for (;;) {
      const expired = await db.transaction('holds.expire', async tx => {
        const [lock] = await tx<Array<{ locked: boolean }>>`select pg_try_advisory_xact_lock(${HOLD_SWEEP_LOCK_KEY}::bigint) as locked`
        if (lock?.locked !== true) return null
        return expiredCount(await ledger.expireStaleHolds(tx, { now, defaultDays, mccDays, limit: batchSize }))
      })
      if (expired === null) return total === 0 ? null : total
      total += expired
      if (expired > 0) metrics.holdsExpired.inc(expired)
      if (expired < batchSize) break
    }
    if (total > 0) logger.info({ expired: total }, 'stale holds expired')
    return total
  }
}
