import * as ledger from '@jit/ledger'
import type { Sql } from '@jit/ledger'
import type { MccDays } from '@jit/config'

/** What `applyTransactionEvent` did with one event. */
export interface TransactionEventOutcome {
  outcome: 'applied' | 'duplicate' | 'parked' | 'ignored'
  [detail: string]: unknown
}

/** A parked event that outlived the park horizon. */
export interface ExpiredParkedEvent {
  token: string
  reason: string
  payload: unknown
}

/** The ledger's transaction-lifecycle functions the worker drives (see packages/ledger). */
export interface LedgerLifecycle {
  applyTransactionEvent: (sql: Sql, event: unknown) => Promise<TransactionEventOutcome>
  retryParkedEvents: (sql: Sql, opts: { now: Date, horizonMs: number, limit: number }) => Promise<{
    applied: number
    stillParked: number
    expired: ExpiredParkedEvent[]
  }>
  expireStaleHolds: (sql: Sql, opts: { now: Date, defaultDays: number, mccDays: MccDays[], limit: number }) => Promise<unknown>
  releaseHold: (sql: Sql, opts: { jitToken: string, reason: string, operator: string, messageId: string }) => Promise<unknown>
}

function missing (name: string): never {
  throw new Error(`@jit/ledger does not export ${name}`)
}

/**
 * The lifecycle functions of @jit/ledger. Looked up on the module namespace so the worker's other
 * consumers (commands, archive, operator API) keep working against a ledger build that predates
 * one of them; a missing function fails only the messages that need it (and they retry).
 */
export function ledgerLifecycle (): LedgerLifecycle {
  const mod = ledger as unknown as Partial<LedgerLifecycle>
  return {
    applyTransactionEvent: async (sql, event) => await (mod.applyTransactionEvent ?? missing('applyTransactionEvent'))(sql, event),
    retryParkedEvents: async (sql, opts) => await (mod.retryParkedEvents ?? missing('retryParkedEvents'))(sql, opts),
    expireStaleHolds: async (sql, opts) => await (mod.expireStaleHolds ?? missing('expireStaleHolds'))(sql, opts),
    releaseHold: async (sql, opts) => await (mod.releaseHold ?? missing('releaseHold'))(sql, opts)
  }
}
