import type postgres from 'postgres'

/** Anything that runs porsager tagged-template queries: a pool or a transaction. */
export type Sql = postgres.Sql | postgres.TransactionSql

/** How the ledger treats a JIT method (see @jit/contracts classifyJitMethod). */
export type JitDecisionKind =
  | 'authorization'
  | 'incremental'
  | 'immediate_debit'
  | 'account_verification'
  | 'refund_authorization'
  | 'balance_inquiry'
  | 'informative'
  | 'unknown'

/** Revisions the caller read from the cache; compared inside the decision statement. */
export interface ExpectedRevisions {
  user?: number
  card?: number
  card_limits?: number
  user_limits?: number
}

/** What the processor's response echoes (`jit_funding` fields), built by the caller. */
export interface JitEcho {
  token: string
  method: string
  user_token: string
  acting_user_token?: string
  amount: number
  [field: string]: unknown
}

export interface JitDecisionRequest {
  jitToken: string
  /** A digest of the decision-relevant request fields: the same token with another digest is a duplicate. */
  fingerprint: string
  method: string
  kind: JitDecisionKind
  userToken: string
  cardToken: string | null
  /** The funding account, from the (cached) card; ignored for incrementals (the hold's account is used). */
  accountToken: string | null
  /** Integer minor units. */
  amount: number
  currency: string
  mcc: string | null
  originalJitToken: string | null
  /** The network transaction token of the request, linked to the hold for later webhooks. */
  transactionToken: string | null
  /** A decline decided before the ledger (card, user, limits checks); null lets the ledger decide. */
  declineReason: string | null
  expect: ExpectedRevisions | null
  echo: JitEcho
  /** Period limits are computed in this IANA zone. */
  timezone: string
  /**
   * Epoch milliseconds by which the decision must be made: lock waits inside the statement end
   * by then, and a statement that starts later records a TIMEOUT decline without moving money.
   */
  deadlineMs?: number
  /** Where the request carried its jit_funding (money in or out). @default 'gpa_order' */
  source?: 'gpa_order' | 'gpa_order_unload'
  actingUserToken?: string | null
}

export interface JitDecisionResult {
  status: 200 | 402
  response: { jit_funding: Record<string, unknown> }
  outcome: 'approved' | 'declined' | 'answered'
  decline_reason: string | null
  /** The token was decided before: this is the stored answer. */
  replay: boolean
  /** The token was decided before for a different request: refused, nothing changed. */
  duplicate: boolean
}
