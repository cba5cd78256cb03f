import type { Sql } from './types.js'
import { isReservedAccountName } from './reserved.js'

export interface MovementResult {
  /** false: this effect key was applied before; nothing changed. */
  applied: boolean
  /** Set when a debit was refused. */
  /** RESERVED_ACCOUNT: the token is one of the journal's counter-account names (reserved.ts). */
  rejected?: 'INSUFFICIENT_FUNDS' | 'CURRENCY_MISMATCH' | 'NO_ACCOUNT' | 'RESERVED_ACCOUNT'
  balance?: number
  available?: number
}

type TransactionCapable = Sql & { begin?: unknown }

async function inTransaction<T> (sql: Sql, run: (tx: Sql) => Promise<T>): Promise<T> {
  const pool = sql as TransactionCapable
  if (typeof pool.begin === 'function') {
    return await (pool as unknown as { begin: (fn: (tx: Sql) => Promise<T>) => Promise<T> }).begin(run)
  }
  return await run(sql)
}

/** A credit or a debit of one account: `amount` minor units, once per effect kind and key. */
interface Movement {
  accountToken: string
  currency: string
  amount: number
  effectKind: string
  effectKey: string
  /** The counter-account of the journal entry. @default 'program_funding' */
  counter?: 'program_funding' | 'network_settlement'
  description?: string
  correlationId?: string | null
}

/** Refuses a movement before any transaction: an amount that is not minor units, a reserved account. */
function refusedUpFront (m: Movement): MovementResult | null {
  assertAmount(m.amount)
  return isReservedAccountName(m.accountToken) ? { applied: false, rejected: 'RESERVED_ACCOUNT' } : null
}

/**
 * Posts the movement's journal entry (`signed`: + credit, - debit) and its account event, in
 * the caller's transaction; returns the account's balance and available after it.
 */
async function post (tx: Sql, m: Movement, signed: number, event: 'ledger.account.credited' | 'ledger.account.debited', forced: boolean): Promise<MovementResult> {
  await tx`select ledger_post(${m.effectKind}, ${m.effectKey}, ${m.accountToken}, ${signed}::bigint, ${m.counter ?? 'program_funding'}, ${m.description ?? null})`
  const [after] = await tx<Array<{ balance: number, available: number }>>`
    select balance, balance - held as available from accounts where account_token = ${m.accountToken}`
  await tx`select ledger_emit_account_event(${event}, ${m.accountToken}, ${m.amount}::bigint, ${tx.json({
    kind: m.effectKind, effect_key: `${m.effectKind}:${m.effectKey}`, forced
  })}::jsonb, ${m.correlationId ?? null})`
  return { applied: true, balance: after?.balance, available: after?.available }
}

/**
 * Credits an account (program load, refund, chargeback credit): one journal entry against
 * `counter`, once per effect key. Creates the account (in `currency`) on first credit.
 */
export async function creditAccount (sql: Sql, credit: Movement): Promise<MovementResult> {
  const refused = refusedUpFront(credit)
  if (refused !== null) return refused
  return await inTransaction(sql, async tx => {
    await tx`insert into accounts (account_token, currency) values (${credit.accountToken}, ${credit.currency}) on conflict do nothing`
    const [account] = await tx<Array<{ currency: string }>>`select currency from accounts where account_token = ${credit.accountToken} for update`
    if (account?.currency !== credit.currency) return { applied: false, rejected: 'CURRENCY_MISMATCH' as const }
    const claimed = await tx`insert into effects (kind, key) values (${credit.effectKind}, ${credit.effectKey}) on conflict do nothing returning 1`
    if (claimed.length === 0 || await posted(tx, credit.effectKind, credit.effectKey)) return { applied: false }
    return await post(tx, credit, credit.amount, 'ledger.account.credited', false)
  })
}

/**
 * Debits an account, once per effect key. Without `force` a debit beyond available is refused;
 * a forced one may overdraw, and then emits ledger.account.overdrawn.
 */
export async function debitAccount (sql: Sql, debit: Movement & { force: boolean }): Promise<MovementResult> {
  const refused = refusedUpFront(debit)
  if (refused !== null) return refused
  return await inTransaction(sql, async tx => {
    // Two deliveries of one key (possibly naming different accounts) serialize here, first, so
    // the second finds the first one's effect instead of failing on its primary key.
    await tx`select pg_advisory_xact_lock(hashtextextended(${'effect:' + debit.effectKind + ':' + debit.effectKey}, 0))`
    const [account] = await tx<Array<{ currency: string, available: number, credit_line: number }>>`
      select currency, balance - held as available, credit_line from accounts where account_token = ${debit.accountToken} for update`
    if (account === undefined) return { applied: false, rejected: 'NO_ACCOUNT' as const }
    if (account.currency !== debit.currency) return { applied: false, rejected: 'CURRENCY_MISMATCH' as const }
    const [seen] = await tx`select 1 from effects where kind = ${debit.effectKind} and key = ${debit.effectKey}`
    if (seen !== undefined || await posted(tx, debit.effectKind, debit.effectKey)) return { applied: false }
    if (!debit.force && account.available - debit.amount < -account.credit_line) {
      return { applied: false, rejected: 'INSUFFICIENT_FUNDS' as const }
    }
    await tx`insert into effects (kind, key) values (${debit.effectKind}, ${debit.effectKey})`
    const result = await post(tx, debit, -debit.amount, 'ledger.account.debited', debit.force)
    await tx`select ledger_check_overdrawn(${debit.accountToken}, ${debit.effectKind})`
    return result
  })
}

/** The journal (never purged) already holds this effect's entry: a repeat after `effects` were purged. */
async function posted (tx: Sql, kind: string, key: string): Promise<boolean> {
  const [row] = await tx`select 1 from journal_entries where kind = ${kind} and effect_key = ${key} limit 1`
  return row !== undefined
}

function assertAmount (amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`amount must be a positive safe integer of minor units, got ${amount}`)
}
