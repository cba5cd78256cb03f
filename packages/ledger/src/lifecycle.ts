import { classifyJitMethod, isKnownCurrency, MoneyError, parseAmount } from '@jit/contracts'
import type { Sql } from './types.js'
import { hasSqlState } from './errors.js'
import { assertLifecycleEvent, type LifecycleEvent } from './sql-boundary.js'
import { isReservedAccountName, RESERVED_ACCOUNT_RULE } from './reserved.js'

/**
 * A processor transaction webhook event (swagger `transaction_model`), read leniently: only the
 * fields a ledger effect needs are looked at, everything else passes through untouched.
 * Amounts are decimal major units, as a JSON number or a string.
 */
export interface TransactionEventInput {
  token: string
  type: string
  state?: string
  amount?: number | string
  currency_code?: string
  user_token?: string
  card_token?: string
  preceding_related_transaction_token?: string
  /** Top level in the swagger's transaction_model. */
  is_final_clearing?: boolean
  standin_approved_by?: string
  gpa?: { impacted_amount?: number | string, currency_code?: string, [field: string]: unknown }
  gpa_order?: WebhookGpaOrderInput
  gpa_order_unload?: WebhookGpaOrderInput
  card_acceptor?: { mcc?: string, [field: string]: unknown }
  [field: string]: unknown
}

/** The part of `gpa_order` / `gpa_order_unload` the ledger reads. */
export interface WebhookGpaOrderInput {
  jit_funding?: {
    token?: string
    method?: string
    user_token?: string
    amount?: number | string
    original_jit_funding_token?: string
    [field: string]: unknown
  }
  funding?: { gateway_log?: { timed_out?: boolean, transaction_id?: string, [field: string]: unknown }, [field: string]: unknown }
  [field: string]: unknown
}

/** What the ledger does with a transaction event (see docs/ledger.md "Rules"). */
export type TransactionAction =
  | 'authorization'
  | 'authorization_declined'
  | 'incremental'
  | 'incremental_declined'
  | 'reversal'
  | 'clearing'
  | 'force_capture'
  | 'immediate_debit'
  | 'immediate_debit_declined'
  | 'refund'
  | 'chargeback_credit'
  | 'chargeback_debit'
  | 'ignored'

/** The outcome of one transaction event. */
export interface LifecycleResult {
  /**
   * `applied`: its effect is committed now; `duplicate`: its effect key was applied before,
   * nothing changed; `parked`: its purchase (or account) is not known yet, it is stored in
   * `parked_events` for {@link retryParkedEvents}; `ignored`: it moves no money.
   */
  outcome: 'applied' | 'duplicate' | 'parked' | 'ignored'
  /** What changed, e.g. `captured`, `hold_released`, `standin_hold`, `tombstone`. */
  effect?: string
  reason?: string
  /** The hold the event belongs to, when it has one. */
  holdToken?: string
  action?: TransactionAction
}

/** Why an event cannot be applied as sent; the caller dead-letters it, nothing changed. */
export type TransactionEventErrorCode = 'INVALID_EVENT' | 'INVALID_AMOUNT' | 'MISSING_AMOUNT' | 'UNKNOWN_CURRENCY' | 'CURRENCY_MISMATCH' | 'RESERVED_NAME'

/** An event that can never apply (malformed, inexact amount, wrong currency): dead-letter it. */
export class TransactionEventError extends Error {
  readonly code: TransactionEventErrorCode
  constructor (code: TransactionEventErrorCode, message: string) {
    super(message)
    this.name = 'TransactionEventError'
    this.code = code
  }
}

// Methods first: a jit_funding.method says more than the transaction type (a force capture
// arrives typed as a clearing, an auth_plus_capture typed as an authorization).
const METHOD_ACTIONS: Readonly<Record<string, Exclude<TransactionAction, 'ignored'>>> = {
  'pgfs.authorization': 'authorization',
  'pgfs.authorization.cashback': 'authorization',
  'pgfs.authorization.standin': 'authorization',
  'pgfs.pindebit.authorization': 'authorization',
  'pgfs.billpayment': 'authorization',
  'pgfs.atm.withdrawal': 'authorization',
  'pgfs.authorization.quasi.cash': 'authorization',
  'pgfs.authorization.incremental': 'incremental',
  'pgfs.authorization.clearing': 'clearing',
  'pgfs.authorization.capture': 'clearing',
  'pgfs.pindebit.authorization.clearing': 'clearing',
  'pgfs.billpayment.capture': 'clearing',
  'pgfs.atm.clearing.withdrawal': 'clearing',
  'pgfs.authorization.clearing.quasi.cash': 'clearing',
  'pgfs.authorization.reversal': 'reversal',
  'pgfs.pindebit.authorization.reversal': 'reversal',
  'pgfs.billpayment.reversal': 'reversal',
  'pgfs.force_capture': 'force_capture',
  'pgfs.auth_plus_capture': 'immediate_debit',
  'pgfs.auth_plus_capture.standin': 'immediate_debit',
  'pgfs.pindebit': 'immediate_debit',
  'pgfs.pindebit.cashback': 'immediate_debit',
  'pgfs.pindebit.atm.withdrawal': 'immediate_debit',
  'pgfs.pindebit.quasi.cash': 'immediate_debit',
  'pgfs.refund': 'refund',
  'pgfs.pindebit.refund': 'refund',
  'pgfs.refund.authorization.clearing': 'refund',
  'pgfs.original.credit.authorization.clearing': 'refund',
  'pgfs.original.credit.auth_plus_capture': 'refund',
  'pgfs.authorization.capture.chargeback': 'chargeback_credit',
  'pgfs.pindebit.chargeback': 'chargeback_credit',
  'pgfs.authorization.capture.chargeback.reversal': 'chargeback_debit',
  'pgfs.pindebit.chargeback.reversal': 'chargeback_debit'
}

// Methods that say "no money moves" even when the type alone would suggest otherwise.
const METHODS_WITHOUT_EFFECT = new Set([
  'pgfs.authorization.advice', 'pgfs.refund.authorization', 'pgfs.refund.authorization.reversal',
  'pgfs.balanceinquiry', 'pgfs.pindebit.balanceinquiry', 'pgfs.authorization.account_verification',
  'pgfs.original.credit.authorization', 'pgfs.original.credit.authorization.reversal'
])

const TYPE_ACTIONS: Readonly<Record<string, Exclude<TransactionAction, 'ignored'>>> = {
  authorization: 'authorization',
  'authorization.atm.withdrawal': 'authorization',
  'authorization.quasi.cash': 'authorization',
  'authorization.cashback': 'authorization',
  'authorization.standin': 'authorization',
  'pindebit.authorization': 'authorization',
  billpayment: 'authorization',
  'authorization.incremental': 'incremental',
  'authorization.clearing': 'clearing',
  'authorization.clearing.atm.withdrawal': 'clearing',
  'authorization.clearing.cashback': 'clearing',
  'authorization.clearing.quasi.cash': 'clearing',
  'pindebit.authorization.clearing': 'clearing',
  'billpayment.clearing': 'clearing',
  'authorization.reversal': 'reversal',
  'authorization.reversal.issuerexpiration': 'reversal',
  'pindebit.authorization.reversal': 'reversal',
  'pindebit.authorization.reversal.issuerexpiration': 'reversal',
  'billpayment.reversal': 'reversal',
  pindebit: 'immediate_debit',
  'pindebit.atm.withdrawal': 'immediate_debit',
  'pindebit.cashback': 'immediate_debit',
  'pindebit.quasi.cash': 'immediate_debit',
  'pindebit.quasicash': 'immediate_debit',
  refund: 'refund',
  'pindebit.refund': 'refund',
  // a single-message PIN debit reversed: the money comes back like a refund
  'pindebit.reversal': 'refund',
  'refund.authorization.clearing': 'refund',
  'original.credit.authorization.clearing': 'refund',
  'original.credit.auth_plus_capture': 'refund',
  'authorization.clearing.chargeback': 'chargeback_credit',
  'authorization.clearing.chargeback.provisional.credit': 'chargeback_credit',
  'pindebit.chargeback': 'chargeback_credit',
  'pindebit.chargeback.provisional.credit': 'chargeback_credit',
  'authorization.clearing.chargeback.reversal': 'chargeback_debit',
  'authorization.clearing.chargeback.provisional.debit': 'chargeback_debit',
  'pindebit.chargeback.reversal': 'chargeback_debit',
  'pindebit.chargeback.provisional.debit': 'chargeback_debit'
}

const FAILED_STATES = new Set(['DECLINED', 'ERROR'])
const COMPLETED_STATES = new Set(['COMPLETION', 'CLEARED'])

function str (value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return null
}

function obj (value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null
}

function jitFundingOf (event: TransactionEventInput): Record<string, unknown> | null {
  return obj(obj(event.gpa_order)?.jit_funding) ?? obj(obj(event.gpa_order_unload)?.jit_funding)
}

/**
 * Which ledger effect a transaction event has (docs/ledger.md "Rules"), from its jit_funding method
 * when that names one, else its type, and its state. Pure; exported for routing and metrics.
 *
 * @example classifyTransactionEvent({ token: 't', type: 'authorization.clearing', state: 'COMPLETION' }) // 'clearing'
 */
export function classifyTransactionEvent (event: TransactionEventInput): TransactionAction {
  const method = str(jitFundingOf(event)?.method)
  const type = str(event.type) ?? ''
  const state = (str(event.state) ?? '').toUpperCase()
  let action: TransactionAction | undefined
  if (method !== null) {
    action = METHOD_ACTIONS[method]
    if (action === undefined && METHODS_WITHOUT_EFFECT.has(method)) return 'ignored'
  }
  action ??= TYPE_ACTIONS[type] ?? 'ignored'
  const failed = FAILED_STATES.has(state)
  switch (action) {
    case 'authorization': return failed ? 'authorization_declined' : 'authorization'
    case 'incremental': return failed ? 'incremental_declined' : 'incremental'
    case 'immediate_debit': return failed ? 'immediate_debit_declined' : 'immediate_debit'
    // a refund credits when it completes; a pending one is only its approval
    case 'refund': return COMPLETED_STATES.has(state) ? 'refund' : 'ignored'
    case 'ignored': return 'ignored'
    default: return failed ? 'ignored' : action
  }
}

/**
 * Actions that cannot be applied without an amount. A confirmation (authorization, incremental,
 * immediate debit) confirms our decision without one; only its stand-in needs it (the SQL says so).
 */
const NEEDS_AMOUNT = new Set<TransactionAction>(['clearing', 'force_capture', 'refund', 'chargeback_credit', 'chargeback_debit'])
/**
 * Repairs: what goes back is what the message holds, so their amount and currency fields are not
 * needed, and an odd or missing one never stops the release (docs/ledger.md "Keys").
 */
const REPAIRS = new Set<TransactionAction>(['authorization_declined', 'incremental_declined', 'immediate_debit_declined'])
/** Actions whose JIT token jit_decide could still decide: the webhook claims the decision row. */
const CLAIMING = new Set<TransactionAction>(['authorization', 'authorization_declined', 'incremental', 'incremental_declined', 'immediate_debit', 'immediate_debit_declined'])

/** The normalized event ledger_apply_transaction reads (its schema: {@link LifecycleEvent}). */
function normalize (event: TransactionEventInput, action: Exclude<TransactionAction, 'ignored'>, now: Date | undefined, pastHorizon: boolean, copyLinks: string[]): LifecycleEvent {
  const token = str(event.token)
  if (token === null) throw new TransactionEventError('INVALID_EVENT', 'transaction event without a token')
  const jit = jitFundingOf(event)
  const jitToken = str(jit?.token)
  const method = str(jit?.method)
  const gpa = obj(event.gpa)
  const repair = REPAIRS.has(action)
  let currency = str(event.currency_code) ?? str(gpa?.currency_code)

  // A: jit_funding.amount, else |gpa.impacted_amount|, else amount; the sign never decides.
  const raw = jit?.amount ?? gpa?.impacted_amount ?? event.amount
  let amount: number | null = null
  if (raw !== undefined && raw !== null) {
    try {
      if (currency === null || !isKnownCurrency(currency)) {
        throw new TransactionEventError('UNKNOWN_CURRENCY', `event ${token}: unknown or missing currency ${JSON.stringify(currency)}`)
      }
      try {
        amount = Math.abs(parseAmount(raw, currency, { allowNegative: true }))
      } catch (err) {
        if (err instanceof MoneyError) throw new TransactionEventError('INVALID_AMOUNT', `event ${token}: ${err.message}`)
        throw err
      }
    } catch (err) {
      if (!(repair && err instanceof TransactionEventError)) throw err
      // a repair releases what its message holds: its own amount and currency are not read
      amount = null
      currency = null
    }
  }
  if (amount === null && NEEDS_AMOUNT.has(action)) {
    throw new TransactionEventError('MISSING_AMOUNT', `event ${token} (${event.type}) carries no amount`)
  }

  const userToken = str(event.user_token) ?? str(jit?.user_token)
  for (const [field, value] of [['user_token', userToken], ['card_token', str(event.card_token)]] as const) {
    if (value !== null && isReservedAccountName(value)) {
      throw new TransactionEventError('RESERVED_NAME', `event ${token}: ${field} ${JSON.stringify(value)} is a reserved ledger account name (${RESERVED_ACCOUNT_RULE})`)
    }
  }

  const jitClass = method === null ? null : classifyJitMethod(method)
  const claim = jitToken !== null && CLAIMING.has(action) &&
    (jitClass === null || jitClass === 'authorization' || jitClass === 'incremental' || jitClass === 'immediate_debit')
  const jitKind = jitClass ?? (action.startsWith('incremental') ? 'incremental' : action.startsWith('immediate_debit') ? 'immediate_debit' : 'authorization')
  const funding = obj(obj(event.gpa_order)?.funding) ?? obj(obj(event.gpa_order_unload)?.funding)
  const gatewayLog = obj(funding?.gateway_log)
  const finalFlag = event.is_final_clearing as unknown

  return assertLifecycleEvent({
    action,
    event_token: token,
    jit_token: jitToken,
    gateway_token: str(gatewayLog?.transaction_id),
    original_jit_token: str(jit?.original_jit_funding_token),
    preceding_token: str(event.preceding_related_transaction_token),
    copy_links: copyLinks,
    claim,
    jit_kind: jitKind,
    method,
    type: str(event.type),
    state: str(event.state),
    amount,
    currency,
    is_final: finalFlag === true || finalFlag === 'true',
    timed_out: gatewayLog?.timed_out === true,
    standin_approved_by: str(event.standin_approved_by),
    user_token: userToken,
    card_token: str(event.card_token),
    mcc: str(obj(event.card_acceptor)?.mcc),
    past_horizon: pastHorizon,
    now: now?.toISOString() ?? null,
    payload: event
  })
}

function toResult (row: Record<string, unknown>, action: TransactionAction): LifecycleResult {
  const result: LifecycleResult = { outcome: row.outcome as LifecycleResult['outcome'], action }
  if (typeof row.effect === 'string') result.effect = row.effect
  if (typeof row.reason === 'string') result.reason = row.reason
  if (typeof row.hold_token === 'string') result.holdToken = row.hold_token
  return result
}

/**
 * The order the events of a batch are applied in: grouped by card (else user), stable within a
 * group. The events of one purchase name one card, so their arrival order is kept; two workers
 * whose batches touch the same accounts take the account locks in the same order, which keeps
 * deadlocks between them rare (they remain possible: a card's account is only known in SQL).
 */
export function batchApplyOrder (events: readonly TransactionEventInput[]): number[] {
  const keyOf = (e: TransactionEventInput): string => {
    const card = typeof e?.card_token === 'string' ? e.card_token : ''
    const user = typeof e?.user_token === 'string' ? e.user_token : ''
    return `${card}\u0000${user}`
  }
  const keys = events.map(keyOf)
  return events.map((_, i) => i).sort((a, b) => {
    const ka = keys[a] as string
    const kb = keys[b] as string
    return ka < kb ? -1 : ka > kb ? 1 : a - b
  })
}

/** An event ready for ledger_apply_transaction, or the answer of one that moves no money. */
type PreparedEvent =
  | { ignored: LifecycleResult }
  | { ignored?: undefined, action: TransactionAction, normalized: LifecycleEvent }

function prepare (event: TransactionEventInput, now: Date | undefined, pastHorizon = false, copyLinks: string[] = []): PreparedEvent {
  if (obj(event) === null) throw new TransactionEventError('INVALID_EVENT', 'a transaction event must be an object')
  if (str(event.token) === null || str(event.type) === null) {
    throw new TransactionEventError('INVALID_EVENT', 'a transaction event needs a token and a type')
  }
  const action = classifyTransactionEvent(event)
  if (action === 'ignored') return { ignored: { outcome: 'ignored', action, reason: `${event.type} ${event.state ?? ''} moves no money`.trim() } }
  return { action, normalized: normalize(event, action, now, pastHorizon, copyLinks) }
}

/** The ledger's own refusals (SQLSTATE JT004, JT005) as the TransactionEventError they stand for. */
function refusalOf (err: unknown): unknown {
  if (hasSqlState(err, 'JT004')) return new TransactionEventError('CURRENCY_MISMATCH', (err as Error).message)
  if (hasSqlState(err, 'JT005')) return new TransactionEventError('MISSING_AMOUNT', (err as Error).message)
  return err
}

async function applyNormalized (sql: Sql, event: TransactionEventInput, now: Date | undefined, park: boolean, pastHorizon = false, copyLinks: string[] = []): Promise<LifecycleResult> {
  const prepared = prepare(event, now, pastHorizon, copyLinks)
  if (prepared.ignored !== undefined) return prepared.ignored
  try {
    const [row] = await sql<Array<{ result: Record<string, unknown> }>>`
      select ledger_apply_transaction(${sql.json(prepared.normalized as never)}::jsonb, ${park}) as result
    `
    if (row === undefined) throw new Error('ledger_apply_transaction returned nothing')
    return toResult(row.result, prepared.action)
  } catch (err) {
    throw refusalOf(err)
  }
}

/**
 * Applies several events in the caller's transaction `tx` with ONE statement
 * (`ledger_apply_transactions`): every card of the batch locked first, all at once, as
 * {@link applyTransactionEventBatch} does; then each event is the same
 * `ledger_apply_transaction` call as {@link applyTransactionEvent} (the same rules, keys and
 * outbox events), in {@link batchApplyOrder} (grouped by card, arrival order kept within a
 * card), one after the other, each seeing what the ones before it wrote. One round trip, one
 * socket write and one statement for the batch, where one statement per event cost the worker a
 * write each (postgres.js writes a query of 1 KB or more at once) and PostgreSQL a
 * parse/bind/execute each. All or nothing: the first event that fails (or is not an event at
 * all) fails the statement, and the caller's transaction with it; the caller then finds which
 * one with {@link applyTransactionEventBatch} (one savepoint each). Events that move no money
 * are answered `ignored` without SQL.
 *
 * @returns one result per event, in the order of `events`
 */
export async function applyTransactionEvents (tx: Sql, events: readonly TransactionEventInput[], opts: { now?: Date } = {}): Promise<LifecycleResult[]> {
  const results: LifecycleResult[] = new Array(events.length)
  const calls: Array<{ slot: number, action: TransactionAction, normalized: LifecycleEvent }> = []
  for (const i of batchApplyOrder(events)) {
    const prepared = prepare(events[i] as TransactionEventInput, opts.now)
    if (prepared.ignored !== undefined) results[i] = prepared.ignored
    else calls.push({ slot: i, action: prepared.action, normalized: prepared.normalized })
  }
  if (calls.length === 0) return results
  let rows: Array<{ n: number, result: Record<string, unknown> }>
  try {
    rows = await tx<Array<{ n: number, result: Record<string, unknown> }>>`
      select r.n::int as n, r.result
      from ledger_apply_transactions(${tx.json(calls.map(c => c.normalized) as never)}::jsonb) with ordinality as r (result, n)
      order by r.n
    `
  } catch (err) {
    throw refusalOf(err)
  }
  if (rows.length !== calls.length) throw new Error(`ledger_apply_transactions returned ${rows.length} results for ${calls.length} events`)
  for (const row of rows) {
    const call = calls[row.n - 1] as (typeof calls)[number]
    results[call.slot] = toResult(row.result, call.action)
  }
  return results
}

/**
 * Applies one processor transaction webhook event to the ledger, exactly once (docs/ledger.md): one
 * statement, so the effect, its effect key and its outbox events commit together. A redelivery
 * returns `duplicate` and changes nothing; an event whose purchase is not known yet is parked
 * (see {@link retryParkedEvents}); a DECLINED authorization releases a late approval's hold and,
 * before our own decision commits, leaves a tombstone so that decision places no hold.
 *
 * @param opts.now - the time the event is applied at (hold activity, parking); default: the database clock
 * @throws TransactionEventError when the event can never apply as sent (dead-letter it)
 */
export async function applyTransactionEvent (sql: Sql, event: TransactionEventInput, opts: { now?: Date } = {}): Promise<LifecycleResult> {
  return await applyNormalized(sql, event, opts.now, true)
}

/** An event that stayed parked past the horizon: the caller dead-letters it with the reason. */
export interface ExpiredParkedEvent {
  token: string
  reason: string
  payload: TransactionEventInput
  firstParkedAt: Date
  attempts: number
}

/** A parked event applied past the horizon as a forced effect (counted in `applied` too). */
export interface ForcedParkedEvent {
  token: string
  effect: string
  reason: string
}

/** Options of {@link retryParkedEvents}. */
export interface RetryParkedOptions {
  /** @default new Date() */
  now?: Date
  /** How long an event may stay parked before it is handed back as expired. */
  horizonMs: number
  /** Most events tried in this call. @default 100 */
  limit?: number
  /** First retry delay after a failed attempt, doubled per attempt. @default 5000 */
  backoffMs?: number
  /** @default 300000 */
  maxBackoffMs?: number
  /**
   * Hands an expired event over (e.g. publishes it to a dead-letter queue with a confirm). When
   * given, an expired event is not deleted in its attempt's transaction: that transaction only
   * reschedules it like a still-waiting one, and commits; then this is called outside any
   * transaction (no row lock is held while it waits for a broker), and only once it resolves is
   * the parked row deleted. A crash in between gives a second hand-over later, never a loss. When
   * it rejects, the event stays parked (counted in `stillParked`) and no further events are handed
   * over in this call (the broker is probably down; they stay parked too).
   * Without it, an expired event is deleted in its attempt's transaction and returned in
   * `expired`, which is only safe when the caller hands it over inside its own transaction.
   */
  deadLetter?: (event: ExpiredParkedEvent) => Promise<void>
}

type Runner = <T>(run: (tx: Sql) => Promise<T>) => Promise<T>

function transactionRunner (sql: Sql): Runner {
  const s = sql as unknown as { begin?: (fn: (tx: Sql) => Promise<unknown>) => Promise<unknown>, savepoint?: (fn: (tx: Sql) => Promise<unknown>) => Promise<unknown> }
  if (typeof s.begin === 'function') return async run => await (s.begin as (fn: typeof run) => Promise<never>)(run)
  if (typeof s.savepoint === 'function') return async run => await (s.savepoint as (fn: typeof run) => Promise<never>)(run)
  return async run => await run(sql)
}

interface ParkedRow {
  token: string
  payload: TransactionEventInput
  reason: string
  first_parked_at: Date
  attempts: number
  /** The identifiers of every copy of the event that was parked (see ledger_lc_park). */
  waiting_for: string[]
}

/**
 * Re-applies parked events that are due, one transaction each when `sql` is a pool (savepoints
 * when it is a transaction); the row is claimed with `FOR UPDATE SKIP LOCKED`, so several
 * workers can run it at once without applying one twice. An event still parked after
 * `horizonMs` (or one that can never apply) is expired: handed to `opts.deadLetter` and then
 * deleted, or (without it) deleted at once; either way it is returned in `expired`. An event
 * still waiting is retried later with exponential backoff, or as soon as its hold appears.
 *
 * A clearing past the horizon is not expired: the network settled it, so it is applied as a
 * forced debit of its account (its `ledger.account.debited` carries cause
 * `clearing.past_park_horizon`) and returned in `forced`; it is expired only if even that cannot
 * apply (no account).
 *
 * @returns `applied`: events applied (or found duplicate or moving no money) and removed;
 *   `stillParked`: events tried in this call that are still waiting (including expired ones
 *   whose hand-over failed); `expired`: events handed over and removed; `forced`: those of
 *   `applied` that were applied past the horizon as forced effects.
 */
export async function retryParkedEvents (sql: Sql, opts: RetryParkedOptions): Promise<{ applied: number, stillParked: number, expired: ExpiredParkedEvent[], forced: ForcedParkedEvent[] }> {
  const now = opts.now ?? new Date()
  const limit = opts.limit ?? 100
  const base = opts.backoffMs ?? 5000
  const cap = opts.maxBackoffMs ?? 300000
  const handOver = opts.deadLetter
  const inTransaction = transactionRunner(sql)
  let applied = 0
  let stillParked = 0
  let handOverFailed = false
  const forced: ForcedParkedEvent[] = []
  const expired: ExpiredParkedEvent[] = []
  const nextAttempt = (attempts: number): Date => new Date(now.getTime() + Math.min(cap, base * 2 ** Math.min(attempts, 20)))
  const expiredEvent = (row: ParkedRow, reason: string): ExpiredParkedEvent =>
    ({ token: row.token, reason, payload: row.payload, firstParkedAt: row.first_parked_at, attempts: row.attempts + 1 })
  const reschedule = async (tx: Sql, row: ParkedRow, reason: string): Promise<void> => {
    await tx`
      update parked_events set attempts = attempts + 1, reason = ${reason},
        last_attempt_at = ${now}, next_attempt_at = ${nextAttempt(row.attempts)}
      where token = ${row.token}
    `
  }
  // Expiring with a hand-over: the row was rescheduled (and committed) by the attempt; hand it
  // over with no lock held, then delete it. The attempts guard (an integer, exact where a
  // timestamp would lose its microseconds in a JS Date) leaves the row alone if another worker
  // took it up in the meantime: that worker hands it over and deletes it itself.
  const expireAfterHandOver = async (event: ExpiredParkedEvent): Promise<void> => {
    if (handOver === undefined) throw new Error('unreachable: no hand-over')
    if (handOverFailed) {
      stillParked++
      return
    }
    try {
      await handOver(event)
    } catch {
      handOverFailed = true
      stillParked++
      return
    }
    await sql`delete from parked_events where token = ${event.token} and attempts = ${event.attempts}`
    expired.push(event)
  }

  for (let i = 0; i < limit; i++) {
    let claimed: ParkedRow | undefined
    let failure: unknown = null
    let toHandOver: ExpiredParkedEvent | undefined
    try {
      const done = await inTransaction(async tx => {
        const [row] = await tx<ParkedRow[]>`
          select token, payload, reason, first_parked_at, attempts, waiting_for from parked_events
          where next_attempt_at <= ${now}
          order by next_attempt_at, first_parked_at
          limit 1 for update skip locked
        `
        if (row === undefined) return false
        claimed = row
        // Past the horizon its purchase is not coming: one that moved settled money (a clearing)
        // applies as a forced effect, since the money did move; any other is handed over below.
        const late = now.getTime() - row.first_parked_at.getTime() >= opts.horizonMs
        const result = await applyNormalized(tx, row.payload, now, false, late, row.waiting_for)
        if (result.outcome !== 'parked') {
          await tx`delete from parked_events where token = ${row.token}`
          applied++
          if (late && result.outcome === 'applied') forced.push({ token: row.token, effect: result.effect ?? 'applied', reason: result.reason ?? 'past the park horizon' })
        } else if (late) {
          const event = expiredEvent(row, result.reason ?? row.reason)
          if (handOver === undefined) {
            await tx`delete from parked_events where token = ${row.token}`
            expired.push(event)
          } else {
            await reschedule(tx, row, event.reason)
            toHandOver = event
          }
        } else {
          await reschedule(tx, row, result.reason ?? row.reason)
          stillParked++
        }
        return true
      })
      if (!done) break
    } catch (err) {
      failure = err
    }
    if (toHandOver !== undefined) await expireAfterHandOver(toHandOver)
    if (failure === null) continue
    const row = claimed
    if (row === undefined) throw failure
    // The attempt rolled back; record the outcome in a transaction of its own.
    if (failure instanceof TransactionEventError) {
      const event = expiredEvent(row, `${failure.code}: ${failure.message}`)
      if (handOver === undefined) {
        await sql`delete from parked_events where token = ${row.token}`
        expired.push(event)
      } else {
        await reschedule(sql, row, event.reason)
        await expireAfterHandOver(event)
      }
    } else {
      await reschedule(sql, row, `retry failed: ${(failure as Error).message ?? String(failure)}`)
      stillParked++
    }
  }
  return { applied, stillParked, expired, forced }
}

/** Options of {@link expireStaleHolds}. */
export interface ExpireHoldsOptions {
  /** @default new Date() */
  now?: Date
  /** Days without activity after which an open hold expires. @default 7 */
  defaultDays?: number
  /** Per-MCC overrides (inclusive numeric ranges), e.g. lodging and car rental 30 days; the largest match wins. */
  mccDays?: Array<{ from: string | number, to: string | number, days: number }>
  /** Most holds looked at in this batch. @default 100 */
  limit?: number
}

/** What one batch of the hold-expiry sweep did. */
export interface ExpiryBatchResult {
  /** Holds released and EXPIRED. */
  expired: number
  /** Holds whose release failed: put off with a backoff (holds.expiry_retry_at), the others went on. */
  failed: number
  /** Holds (or their accounts) another transaction had locked: left for a later batch. */
  skipped: number
}

/**
 * One small batch of the expiry sweep: expires OPEN holds idle for their period (releases what
 * remains, state EXPIRED, event `ledger.hold.expired`), oldest first. It never waits on a lock
 * (holds and accounts someone else holds are skipped), so several workers may sweep at once, each
 * hold is released once, and a hot account is never held behind the sweep; a hold whose release
 * fails is put off with a backoff instead of failing the batch. Run batches in short
 * transactions of their own (the account rows a batch touched stay locked until it commits).
 */
export async function expireHoldsBatch (sql: Sql, opts: ExpireHoldsOptions = {}): Promise<ExpiryBatchResult> {
  const overrides = (opts.mccDays ?? []).map(o => {
    const from = Number(o.from)
    const to = Number(o.to)
    if (!Number.isInteger(from) || !Number.isInteger(to) || !Number.isInteger(o.days) || o.days < 0) {
      throw new RangeError(`invalid MCC expiry override ${JSON.stringify(o)}`)
    }
    return { from, to, days: o.days }
  })
  const days = opts.defaultDays ?? 7
  if (!Number.isInteger(days) || days < 0) throw new RangeError(`defaultDays must be a non-negative integer, got ${days}`)
  const [row] = await sql<Array<{ r: ExpiryBatchResult }>>`
    select ledger_expire_holds_batch(${opts.now ?? new Date()}, ${days}, ${sql.json(overrides)}::jsonb, ${opts.limit ?? 100}) as r
  `
  return { expired: Number(row?.r.expired ?? 0), failed: Number(row?.r.failed ?? 0), skipped: Number(row?.r.skipped ?? 0) }
}

/** {@link expireHoldsBatch}, returning the number of holds expired. */
export async function expireStaleHolds (sql: Sql, opts: ExpireHoldsOptions = {}): Promise<number> {
  return (await expireHoldsBatch(sql, opts)).expired
}

/** The outcome of a manual `hold.release`. */
export interface ReleaseHoldResult {
  /** `duplicate`: this message_id was applied before (its first outcome is repeated in the other fields). */
  outcome: 'applied' | 'duplicate' | 'not_found' | 'not_open'
  holdToken: string
  released: number
  state?: string
}

/**
 * The `hold.release` command: releases what remains of an OPEN hold (state CLOSED), audited in
 * hold_history with the operator and reason; idempotent on the command's `messageId`, which is
 * also the released event's correlation id.
 */
export async function releaseHold (sql: Sql, command: { jitToken: string, reason: string, operator: string, messageId: string }): Promise<ReleaseHoldResult> {
  for (const field of ['jitToken', 'reason', 'operator', 'messageId'] as const) {
    if (typeof command[field] !== 'string' || command[field] === '') throw new TypeError(`releaseHold: ${field} is required`)
  }
  const [row] = await sql<Array<{ result: { outcome: ReleaseHoldResult['outcome'], hold_token: string, released: number, state?: string } }>>`
    select ledger_release_hold(${command.jitToken}, ${command.reason}, ${command.operator}, ${command.messageId}) as result
  `
  const r = row?.result
  if (r === undefined) throw new Error('ledger_release_hold returned nothing')
  const out: ReleaseHoldResult = { outcome: r.outcome, holdToken: r.hold_token, released: Number(r.released) }
  if (r.state !== undefined) out.state = r.state
  return out
}
