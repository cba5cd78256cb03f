/**
 * The vocabulary of a model-based history: a few purchases on three cards and the operations
 * the processor, our JIT endpoint and internal services perform on them, in any order. Shared
 * by the generator, the in-memory model and the runner that plays a history against the real
 * ledger, so the three always agree on which message carries which identifiers.
 */

/**
 * Card A: user A's own USD account. Card B: user B, funded by A's account (a shared account).
 * Card C: user C's JPY account. Card D: user D's own USD account, provisioned only by a
 * `provisionD` operation (commands and webhooks travel on different queues), so its messages
 * may come first.
 */
export type CardId = 'A' | 'B' | 'C' | 'D'
/** The funding accounts: A (USD, cards A and B), C (JPY) and D (USD, card D). */
export type AccountId = 'A' | 'C' | 'D'
export const ACCOUNTS: readonly AccountId[] = ['A', 'C', 'D']
export const ACCOUNT_OF: Readonly<Record<CardId, AccountId>> = { A: 'A', B: 'A', C: 'C', D: 'D' }
export const CURRENCY_OF: Readonly<Record<AccountId, string>> = { A: 'USD', C: 'JPY', D: 'USD' }
/** A currency no account of the history is in (a mismatch when a message names it). */
export const FOREIGN_CURRENCY: Readonly<Record<AccountId, string>> = { A: 'JPY', C: 'USD', D: 'JPY' }

/** auth: pgfs.authorization (a hold); pindebit / apc: single-message debits (pgfs.pindebit, pgfs.auth_plus_capture). */
export type PurchaseMethod = 'auth' | 'pindebit' | 'apc'
/** What the network did with it in the end: the processor's webhook is a PENDING/COMPLETION or a DECLINED. */
export type Fate = 'approved' | 'declined'

export interface IncrementalSpec { amount: number, fate: Fate }

export interface PurchaseSpec {
  card: CardId
  method: PurchaseMethod
  /** Minor units of the card's currency. */
  amount: number
  /** grocery 5411 (7-day expiry) or lodging 7011 (30 days). */
  mcc: 'grocery' | 'lodging'
  fate: Fate
  incrementals: IncrementalSpec[]
}

/**
 * Identifiers the confirming/repairing webhook of a JIT message carries besides its own token
 * (always the JIT request's top-level token): full = gpa_order with jit_funding (and the
 * gateway log), gwOnly = gpa_order with only funding.gateway_log.transaction_id, noJit =
 * gpa_order without jit_funding or gateway id, noGpaOrder = no gpa_order at all.
 */
export type AnswerIds = 'full' | 'gwOnly' | 'noJit' | 'noGpaOrder'
/** Identifiers of a follow-up (clearing, reversal, advice, incremental webhook) pointing at its purchase. */
export interface FollowIds {
  /** gpa_order(_unload).jit_funding present (its own token, plus original_jit_funding_token when `orig`). */
  jit: boolean
  orig: boolean
  /** gpa_order.funding.gateway_log.transaction_id = the purchase's JIT token. */
  gw: boolean
  /** preceding_related_transaction_token = the authorization's transaction token. */
  prec: boolean
}
/** How the amount travels: a JSON number, a decimal string, every sign flipped (the direction comes from the type), or something no parser should accept. */
export type AmountForm = 'number' | 'string' | 'negated' | 'odd'
/** same: currency_code and gpa.currency_code of the account; gpaOnly: only gpa.currency_code; other: another currency; absent: none. */
export type CurrencyForm = 'same' | 'gpaOnly' | 'other' | 'absent'

export interface MessageForm { amountForm: AmountForm, currency: CurrencyForm }

export type Op =
  /** late: the decision starts after its deadline (a TIMEOUT decline, no money). */
  | { t: 'decide', p: number, currency: 'same' | 'other', late: boolean }
  | ({ t: 'answer', p: number, ids: AnswerIds, delta: number, standin: boolean } & MessageForm)
  | { t: 'incDecide', p: number, k: number }
  | ({ t: 'incAnswer', p: number, k: number, ids: FollowIds, delta: number } & MessageForm)
  | ({ t: 'clearing', p: number, seq: number, amount: number, final: boolean | null, ids: FollowIds } & MessageForm)
  | ({ t: 'reversal', p: number, seq: number, amount: number | null, ids: FollowIds } & MessageForm)
  | ({ t: 'advice', p: number, seq: number, amount: number, ids: FollowIds } & MessageForm)
  | ({ t: 'refund', card: CardId, p: number | null, seq: number, amount: number, ids: FollowIds } & MessageForm)
  /** A refund or a final clearing whose token is the purchase's authorization token: one token reused for another kind. */
  | ({ t: 'crossKind', p: number, as: 'refund' | 'clearing', amount: number } & MessageForm)
  | ({ t: 'force', card: CardId, seq: number, amount: number } & MessageForm)
  | { t: 'credit', account: 'A' | 'C', amount: number, seq: number }
  | { t: 'debit', account: 'A' | 'C', amount: number, force: boolean, seq: number }
  /** user.upsert and card.upsert of user and card D, and the load of D's account. */
  | { t: 'provisionD' }
  /** account.credit/debit naming a reserved counter-account: must change nothing. */
  | { t: 'reserved', name: 'network_settlement' | 'program_funding', credit: boolean, amount: number, seq: number }
  | { t: 'release', p: number, seq: number }
  | { t: 'expire', days: 8 | 31 }
  | { t: 'retry' }
  /**
   * The retention purge of effect keys (`jit-ops purge`): every key goes. Money state that later
   * messages read must survive it; redeliveries of messages from before it are not generated
   * (their keys are gone by design, past the processor's redelivery window).
   */
  | { t: 'purge' }
  /**
   * Operations sent at once (concurrently); the database serializes them in some order. With
   * `batched`, its processor messages are applied as the txn-worker applies a delivery of
   * several: one transaction, a savepoint each (applyTransactionEventBatch), beside the others.
   */
  | { t: 'together', ops: Op[], batched?: boolean }

export interface Limits { daily: number | null, dailyCount: number | null }

export interface History {
  /** Initial balances (minor units, > 0 so the accounts exist). */
  balanceA: number
  balanceC: number
  /** Loaded into D's account when it is provisioned. */
  balanceD: number
  /** Card A's limits, set before anything else (null: none). */
  limits: Limits | null
  purchases: PurchaseSpec[]
  ops: Op[]
}

/** The tokens of one history, unique per history (prefix). */
export function tokensOf (prefix: string) {
  return {
    prefix,
    user: (c: CardId) => `${prefix}-u${c}`,
    card: (c: CardId) => `${prefix}-c${c}`,
    account: (a: AccountId) => `${prefix}-u${a}`,
    jit: (p: number) => `${prefix}-p${p}-j`,
    tx: (p: number) => `${prefix}-p${p}-t`,
    incJit: (p: number, k: number) => `${prefix}-p${p}-i${k}-j`,
    incTx: (p: number, k: number) => `${prefix}-p${p}-i${k}-t`,
    /** A follow-up's own transaction token, and the token of its own jit_funding. */
    follow: (kind: string, p: number | string, seq: number) => `${prefix}-p${p}-${kind}${seq}`,
    followJit: (kind: string, p: number | string, seq: number) => `${prefix}-p${p}-${kind}${seq}-j`,
    message: (kind: string, seq: number) => `${prefix}-${kind}${seq}`
  }
}
export type Tokens = ReturnType<typeof tokensOf>

/** Operations of a history counted as the ledger sees them (a group counts each of its members). */
export function countOps (ops: Op[]): number {
  let n = 0
  for (const op of ops) n += op.t === 'together' ? op.ops.length : 1
  return n
}
