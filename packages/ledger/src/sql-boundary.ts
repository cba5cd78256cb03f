import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * The JSON the TypeScript side passes to the ledger's SQL functions. The SQL reads these keys
 * with `->>`; `test/sql-boundary.test.ts` checks that every key a function reads is declared
 * here, so a renamed field cannot silently read as null.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Token = Type.String({ minLength: 1 })
const MinorUnits = Type.Integer({ minimum: 0 })

/** What ledger_apply_transaction does with an event (docs/ledger.md "Rules"). */
export const LifecycleActionSchema = Type.Union([
  Type.Literal('authorization'), Type.Literal('authorization_declined'),
  Type.Literal('incremental'), Type.Literal('incremental_declined'),
  Type.Literal('reversal'), Type.Literal('clearing'), Type.Literal('force_capture'),
  Type.Literal('immediate_debit'), Type.Literal('immediate_debit_declined'),
  Type.Literal('refund'), Type.Literal('chargeback_credit'), Type.Literal('chargeback_debit')
])

/** The normalized transaction event `e` of ledger_apply_transaction (sql/functions/ledger_apply_transaction.sql). */
export const LifecycleEventSchema = Type.Object({
  action: LifecycleActionSchema,
  /** The message's transaction `token`: the processor's id of this network message. */
  event_token: Token,
  /** `gpa_order(_unload).jit_funding.token`. */
  jit_token: Nullable(Token),
  /** `gpa_order(_unload).funding.gateway_log.transaction_id`. */
  gateway_token: Nullable(Token),
  /** `jit_funding.original_jit_funding_token`. */
  original_jit_token: Nullable(Token),
  /** `preceding_related_transaction_token`. */
  preceding_token: Nullable(Token),
  /**
   * A parked event's retry: every identifier its copies carried (parked_events.waiting_for),
   * tried by ledger_lc_match when the stored copy's own identifiers link nothing.
   */
  copy_links: Type.Array(Token),
  /** The webhook may take the decision row of its JIT token (see ledger_lc_claim_decision). */
  claim: Type.Boolean(),
  /** The JIT method class the claimed decision row records. */
  jit_kind: Type.String(),
  method: Nullable(Type.String()),
  type: Nullable(Type.String()),
  state: Nullable(Type.String()),
  /** `A` in minor units; null when the message carries none (or is a repair whose amount is odd). */
  amount: Type.Union([MinorUnits, Type.Null()]),
  /** `currency_code`, else `gpa.currency_code`, as sent (a mismatch is refused by the SQL). */
  currency: Nullable(Type.String()),
  is_final: Type.Boolean(),
  timed_out: Type.Boolean(),
  standin_approved_by: Nullable(Type.String()),
  user_token: Nullable(Token),
  card_token: Nullable(Token),
  mcc: Nullable(Type.String()),
  /** Retried after the park horizon: a clearing then applies as a forced debit (the money moved). */
  past_horizon: Type.Boolean(),
  /** ISO time the event is applied at; null: the database clock. */
  now: Nullable(Type.String()),
  /** The raw webhook event, stored when the event is parked. */
  payload: Type.Object({}, { additionalProperties: true })
}, { additionalProperties: false })
export type LifecycleEvent = Static<typeof LifecycleEventSchema>

/** Cached revisions compared inside jit_decide (0: the row did not exist). */
const ExpectSchema = Type.Object({
  user: Type.Optional(Type.Integer()),
  card: Type.Optional(Type.Integer()),
  card_limits: Type.Optional(Type.Integer()),
  user_limits: Type.Optional(Type.Integer())
}, { additionalProperties: false })

/** One JIT decision request `r` of jit_decide (sql/functions/jit_decide.sql). */
export const DecisionRequestSchema = Type.Object({
  jit_token: Token,
  fingerprint: Type.String(),
  method: Type.String(),
  kind: Type.String(),
  user_token: Type.String(),
  card_token: Nullable(Token),
  account_token: Nullable(Token),
  amount: MinorUnits,
  currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  mcc: Nullable(Type.String()),
  original_jit_token: Nullable(Token),
  /** The request's top-level `token`, recorded on the decision (docs/ledger.md "Keys"). */
  transaction_token: Nullable(Token),
  decline_reason: Nullable(Type.String()),
  expect: Type.Union([ExpectSchema, Type.Null()]),
  /** The `jit_funding` fields the response echoes. */
  echo: Type.Object({}, { additionalProperties: true }),
  timezone: Type.String(),
  source: Type.Union([Type.Literal('gpa_order'), Type.Literal('gpa_order_unload')]),
  /**
   * Milliseconds left of the decision's budget when the statement was sent: lock waits end by
   * then and a decision that starts later is a TIMEOUT decline (measured on the database's clock
   * from the statement's start, so no absolute time is compared across machines).
   */
  budget_ms: Type.Optional(Type.Number()),
  /** A stale cached revision returns `{stale: true}` (nothing written) instead of raising JT001. */
  report_stale: Type.Optional(Type.Boolean()),
  acting_user_token: Nullable(Token)
}, { additionalProperties: false })
export type DecisionRequest = Static<typeof DecisionRequestSchema>

const lifecycleEventCheck = TypeCompiler.Compile(LifecycleEventSchema)

/** Throws (a bug of the caller, not of the message) when `e` is not a {@link LifecycleEvent}. */
export function assertLifecycleEvent (e: LifecycleEvent): LifecycleEvent {
  if (!lifecycleEventCheck.Check(e)) {
    const first = lifecycleEventCheck.Errors(e).First()
    throw new TypeError(`normalized transaction event does not match its schema: ${first?.path ?? ''} ${first?.message ?? ''}`.trim())
  }
  return e
}
