import { applyTransactionEvent, applyTransactionEvents, expireHoldsBatch, expireStaleHolds, releaseHold, retryParkedEvents } from '@jit/ledger'

/**
 * The ledger's transaction-lifecycle functions the worker drives. A seam, not a second
 * implementation: production uses {@link ledgerLifecycle}; a test may wrap one function to inject
 * a failure the real ledger cannot be made to produce on demand.
 */
export interface LedgerLifecycle {
  applyTransactionEvent: typeof applyTransactionEvent
  applyTransactionEvents: typeof applyTransactionEvents
  retryParkedEvents: typeof retryParkedEvents
  expireStaleHolds: typeof expireStaleHolds
  expireHoldsBatch: typeof expireHoldsBatch
  releaseHold: typeof releaseHold
}

/** The lifecycle functions of @jit/ledger. */
export function ledgerLifecycle (): LedgerLifecycle {
  return { applyTransactionEvent, applyTransactionEvents, retryParkedEvents, expireStaleHolds, expireHoldsBatch, releaseHold }
}
