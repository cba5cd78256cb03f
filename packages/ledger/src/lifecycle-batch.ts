import type { Sql } from './types.js'
import { errorCodeOf } from './errors.js'
import { applyTransactionEvent, batchApplyOrder, type LifecycleResult, type TransactionEventInput } from './lifecycle.js'

/** What became of one event of a batch: its result, or the error that rolled back it alone. */
export type BatchEventOutcome =
  | { ok: true, result: LifecycleResult }
  | { ok: false, error: unknown }

/** Options of {@link applyTransactionEventBatch}. */
export interface ApplyBatchOptions {
  /** The time the events are applied at; default: the database clock. */
  now?: Date
  /**
   * Applies one event (inside its savepoint). @default applyTransactionEvent: the same function,
   * hence the same SQL (`ledger_apply_transaction`), as the single-event path.
   */
  apply?: typeof applyTransactionEvent
  /**
   * True for a failure that is not the event's own but the transaction's: contention (a
   * deadlock, a lock or statement timeout) or a lost connection. Rolling back to the event's
   * savepoint would not help (the locks of the events before it are still held, so a deadlock
   * would recur), so the whole batch fails with it and the caller retries all of it.
   * @default SQLSTATE class 08 (connection) and 40 (rollback), 55P03, 57014, and errors without a SQLSTATE that carry a node/porsager connection code
   */
  abortsBatch?: (err: unknown) => boolean
}

function defaultAbortsBatch (err: unknown): boolean {
  const code = errorCodeOf(err)
  if (code === undefined) return false
  return /^(08|40)/.test(code) || code === '55P03' || code === '57014' || /^(E[A-Z]+|CONNECTION_[A-Z]+|CONNECT_TIMEOUT)$/.test(code)
}

/**
 * Applies several transaction events in the caller's transaction `tx` (which must be one: it
 * needs savepoints), each in a savepoint of its own, in {@link batchApplyOrder}. An event that
 * fails (malformed, refused, or any error of its own) rolls back to its savepoint only and is
 * reported in its slot; the others still commit with the caller's transaction. Every effect is
 * still keyed and applied once: a second copy of an event in the same batch finds the first's
 * effect key and is a `duplicate`. The events of one account share the account's row lock,
 * taken by the first of them and held to the commit, instead of one lock per event.
 *
 * @returns one outcome per event, in the order of `events`
 * @throws the first failure {@link ApplyBatchOptions.abortsBatch} recognises: nothing of the batch
 *   may be committed then (the caller rolls back and retries the batch)
 */
export async function applyTransactionEventBatch (tx: Sql, events: readonly TransactionEventInput[], opts: ApplyBatchOptions = {}): Promise<BatchEventOutcome[]> {
  const savepoint = (tx as unknown as { savepoint?: unknown }).savepoint
  if (typeof savepoint !== 'function') throw new TypeError('applyTransactionEventBatch needs a transaction (sql.begin), not a pool')
  const apply = opts.apply ?? applyTransactionEvent
  const abortsBatch = opts.abortsBatch ?? defaultAbortsBatch
  const applyOpts = opts.now === undefined ? {} : { now: opts.now }
  const outcomes: BatchEventOutcome[] = new Array(events.length)
  // every event's card lock first, in one order, before any event takes a row (ledger_lock_cards)
  const cards = events.map(e => typeof e?.card_token === 'string' ? e.card_token : null)
  await tx`select ledger_lock_cards(${cards}::text[])`
  for (const i of batchApplyOrder(events)) {
    const event = events[i] as TransactionEventInput
    try {
      const result = await (savepoint as (fn: (sp: Sql) => Promise<LifecycleResult>) => Promise<LifecycleResult>)
        .call(tx, async sp => await apply(sp, event, applyOpts))
      outcomes[i] = { ok: true, result }
    } catch (error) {
      if (abortsBatch(error)) throw error
      outcomes[i] = { ok: false, error }
    }
  }
  return outcomes
}
