/**
 * JIT funding vocabulary: the processor's methods, our decision classes and the decline reasons.
 */

import { literalGuard } from './literals.js'

/**
 * The only decline reasons the processor accepts in `jit_funding.decline_reason`.
 * `AMOUNT_LIMIT_EXCEEDED` covers per-transaction and period spend limits.
 */
export const DECLINE_REASONS = [
  'AMOUNT_LIMIT_EXCEEDED',
  'CARD_NOT_ACTIVE',
  'CARDHOLDER_NOT_ACTIVE',
  'CLOSED_ACCOUNT',
  'DUPLICATE_TRANSACTION',
  'EXPIRED_CARD',
  'INSUFFICIENT_FUNDS',
  'INVALID_AMOUNT',
  'INVALID_CARD',
  'INVALID_MERCHANT',
  'NO_CHECKING_ACCOUNT',
  'NO_CREDIT_ACCOUNT',
  'NO_SAVINGS_ACCOUNT',
  'REVOCATION_AUTHORIZATION_ORDER',
  'REVOCATION_ALL_AUTHORIZATION_ORDER',
  'SOFT_DECLINE_AUTHENTICATION_REQUIRED',
  'STOP_PAYMENT',
  'SUSPECTED_FRAUD',
  'TRANSACTION_COUNT_LIMIT_EXCEEDED',
  'TRANSACTION_NOT_PERMITTED'
] as const

/** One of {@link DECLINE_REASONS}. */
export type DeclineReason = typeof DECLINE_REASONS[number]

/** Whether `value` is an allowed decline reason. */
export const isDeclineReason = literalGuard(DECLINE_REASONS)

/** The `jit_funding_api.method` enum of the processor's swagger, in its order. */
export const JIT_METHODS = [
  'pgfs.authorization',
  'pgfs.authorization.clearing',
  'pgfs.authorization.advice',
  'pgfs.authorization.incremental',
  'pgfs.authorization.capture',
  'pgfs.authorization.reversal',
  'pgfs.authorization.cashback',
  'pgfs.balanceinquiry',
  'pgfs.auth_plus_capture',
  'pgfs.refund',
  'pgfs.refund.authorization',
  'pgfs.refund.authorization.reversal',
  'pgfs.refund.authorization.clearing',
  'pgfs.force_capture',
  'pgfs.authorization.capture.chargeback',
  'pgfs.authorization.capture.chargeback.reversal',
  'pgfs.pindebit',
  'pgfs.pindebit.chargeback',
  'pgfs.pindebit.chargeback.reversal',
  'pgfs.pindebit.cashback',
  'pgfs.pindebit.refund',
  'pgfs.pindebit.authorization',
  'pgfs.pindebit.authorization.clearing',
  'pgfs.pindebit.authorization.reversal',
  'pgfs.pindebit.atm.withdrawal',
  'pgfs.pindebit.balanceinquiry',
  'pgfs.pindebit.quasi.cash',
  'pgfs.dispute.credit',
  'pgfs.dispute.debit',
  'pgfs.directdeposit.credit',
  'pgfs.directdeposit.debit',
  'pgfs.directdeposit.credit.reversal',
  'pgfs.directdeposit.debit.reversal',
  'pgfs.adjustment.credit',
  'pgfs.adjustment.debit',
  'pgfs.auth_plus_capture.standin',
  'pgfs.authorization.standin',
  'pgfs.network.load',
  'pgfs.original.credit.authorization',
  'pgfs.original.credit.auth_plus_capture',
  'pgfs.original.credit.authorization.clearing',
  'pgfs.original.credit.authorization.reversal',
  'pgfs.billpayment',
  'pgfs.billpayment.capture',
  'pgfs.billpayment.reversal',
  'pgfs.atm.withdrawal',
  'pgfs.atm.clearing.withdrawal',
  'pgfs.authorization.quasi.cash',
  'pgfs.authorization.clearing.quasi.cash',
  'pgfs.authorization.account_verification'
] as const

/** One of {@link JIT_METHODS}. */
export type JitMethod = typeof JIT_METHODS[number]

/**
 * What the gateway does with a method:
 * - `authorization`: decide; approval opens a hold (dual message, a clearing follows).
 * - `incremental`: decide; approval grows the original purchase's hold by the amount.
 * - `immediate_debit`: decide; approval debits at once (single message, no clearing follows).
 * - `account_verification`: decide on card and cardholder status only; no money moves.
 * - `refund_authorization`: money towards the cardholder; approve unless the card or cardholder
 *   may not transact; no balance change until it clears.
 * - `balance_inquiry`: decide on status and answer with `balances`.
 * - `informative`: the processor tells, it does not ask: always 200, the ledger effect comes
 *   from the webhook (docs/ledger.md).
 * - `unknown`: not in the swagger enum: answer well-formed (informative-style 200 or a decline,
 *   the service's policy), never crash.
 */
export type JitMethodClass = typeof JIT_METHOD_CLASSES[number]

/** Every {@link JitMethodClass}. */
export const JIT_METHOD_CLASSES = [
  'authorization',
  'incremental',
  'immediate_debit',
  'account_verification',
  'refund_authorization',
  'balance_inquiry',
  'informative',
  'unknown'
] as const

/**
 * The classification, one line per enum value. The processor does not publish which methods
 * are actionable (docs/processor-protocol.md: unverified), so each choice is written down with its reason.
 * The rule of thumb: a method that asks for money the cardholder has not yet spent and has a
 * later completion in the enum (`.clearing` / `.capture`) is a hold; a method asking for money
 * with no completion counterpart is single message; everything that completes, reverses,
 * disputes or adjusts an earlier message is informative.
 */
const METHOD_CLASSES: Readonly<Record<JitMethod, Exclude<JitMethodClass, 'unknown'>>> = {
  'pgfs.authorization': 'authorization',
  'pgfs.authorization.clearing': 'informative',
  'pgfs.authorization.advice': 'informative',
  'pgfs.authorization.incremental': 'incremental',
  'pgfs.authorization.capture': 'informative',
  'pgfs.authorization.reversal': 'informative',
  // A purchase with cash back is still a dual-message authorization (cleared by
  // pgfs.authorization.clearing): the hold covers purchase plus cash.
  'pgfs.authorization.cashback': 'authorization',
  'pgfs.balanceinquiry': 'balance_inquiry',
  'pgfs.auth_plus_capture': 'immediate_debit',
  'pgfs.refund': 'informative',
  'pgfs.refund.authorization': 'refund_authorization',
  'pgfs.refund.authorization.reversal': 'informative',
  'pgfs.refund.authorization.clearing': 'informative',
  'pgfs.force_capture': 'informative',
  'pgfs.authorization.capture.chargeback': 'informative',
  'pgfs.authorization.capture.chargeback.reversal': 'informative',
  // Single-message PIN debit: the money leaves with this message, nothing clears it later.
  'pgfs.pindebit': 'immediate_debit',
  'pgfs.pindebit.chargeback': 'informative',
  'pgfs.pindebit.chargeback.reversal': 'informative',
  'pgfs.pindebit.cashback': 'immediate_debit',
  'pgfs.pindebit.refund': 'informative',
  // Dual-message PIN debit: pgfs.pindebit.authorization.clearing completes it, so it is a hold.
  'pgfs.pindebit.authorization': 'authorization',
  'pgfs.pindebit.authorization.clearing': 'informative',
  'pgfs.pindebit.authorization.reversal': 'informative',
  // PIN ATM withdrawal and PIN quasi-cash have no clearing method in the enum: single message.
  'pgfs.pindebit.atm.withdrawal': 'immediate_debit',
  'pgfs.pindebit.balanceinquiry': 'balance_inquiry',
  'pgfs.pindebit.quasi.cash': 'immediate_debit',
  'pgfs.dispute.credit': 'informative',
  'pgfs.dispute.debit': 'informative',
  'pgfs.directdeposit.credit': 'informative',
  'pgfs.directdeposit.debit': 'informative',
  'pgfs.directdeposit.credit.reversal': 'informative',
  'pgfs.directdeposit.debit.reversal': 'informative',
  'pgfs.adjustment.credit': 'informative',
  'pgfs.adjustment.debit': 'informative',
  // Stand-in: the processor already approved on its own rules; we can only record it.
  'pgfs.auth_plus_capture.standin': 'informative',
  'pgfs.authorization.standin': 'informative',
  'pgfs.network.load': 'informative',
  // Original credits (push-to-card) move money towards the cardholder like a refund: approve
  // when the card may transact, credit when it completes (webhook).
  'pgfs.original.credit.authorization': 'refund_authorization',
  'pgfs.original.credit.auth_plus_capture': 'refund_authorization',
  'pgfs.original.credit.authorization.clearing': 'informative',
  'pgfs.original.credit.authorization.reversal': 'informative',
  // Bill payment is captured later (pgfs.billpayment.capture): a hold.
  'pgfs.billpayment': 'authorization',
  'pgfs.billpayment.capture': 'informative',
  'pgfs.billpayment.reversal': 'informative',
  // Signature ATM withdrawal and quasi-cash clear later (pgfs.atm.clearing.withdrawal,
  // pgfs.authorization.clearing.quasi.cash): holds.
  'pgfs.atm.withdrawal': 'authorization',
  'pgfs.atm.clearing.withdrawal': 'informative',
  'pgfs.authorization.quasi.cash': 'authorization',
  'pgfs.authorization.clearing.quasi.cash': 'informative',
  'pgfs.authorization.account_verification': 'account_verification'
}

/** Whether `value` is one of the swagger's {@link JIT_METHODS}. */
export function isJitMethod (value: unknown): value is JitMethod {
  return typeof value === 'string' && Object.hasOwn(METHOD_CLASSES, value)
}

/**
 * Classifies a `jit_funding.method` into what the gateway must do with it.
 *
 * @returns `'unknown'` for anything outside the swagger enum (including a different case):
 *   unknown methods must still get a well-formed answer.
 * @example classifyJitMethod('pgfs.authorization.incremental') // 'incremental'
 */
export function classifyJitMethod (method: string): JitMethodClass {
  return isJitMethod(method) ? METHOD_CLASSES[method] : 'unknown'
}

/** Classes the gateway actually decides on (everything but `informative` and `unknown`). */
export function isActionableJitClass (cls: JitMethodClass): boolean {
  return cls !== 'informative' && cls !== 'unknown'
}
