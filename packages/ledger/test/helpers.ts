import { createDatabase, runMigrations, type Database } from '@jit/postgres'
import { createTestDatabase, type Teardownable } from '@jit/test-support'
import { formatAmount } from '@jit/contracts'
import { ledgerMigrationSets, checkLedgerInvariants, decideJitFunding, type JitDecisionResult, upsertUser, upsertCard, creditAccount, jitRequestFingerprint, type JitDecisionRequest, type TransactionEventInput } from '../src/index.js'

/** A migrated database of this test file's own. */
export async function ledgerDatabase (t: Teardownable, opts: { poolMax?: number, statementTimeoutMs?: number } = {}): Promise<Database> {
  const url = await createTestDatabase(t, 'ledger')
  const db = createDatabase({ url, poolMin: 1, poolMax: opts.poolMax ?? 4, statementTimeoutMs: opts.statementTimeoutMs ?? 10000 })
  await runMigrations(db.sql, ledgerMigrationSets)
  t.teardown(() => db.close(1))
  return db
}

/** An ACTIVE user with one ACTIVE card funded by the user's own account holding `balance`. */
export async function fundedCard (db: Database, name: string, balance: number, currency = 'USD'): Promise<{ user: string, card: string, account: string }> {
  const user = `u-${name}`
  const card = `c-${name}`
  await upsertUser(db.sql, { user_token: user, status: 'ACTIVE' })
  await upsertCard(db.sql, { card_token: card, user_token: user, status: 'ACTIVE', expiration: '2099-12' })
  if (balance > 0) {
    await creditAccount(db.sql, { accountToken: user, currency, amount: balance, effectKind: 'test.load', effectKey: `load-${name}` })
  }
  return { user, card, account: user }
}

let seq = 0
/** A JIT decision request for a card, as the authorizer would build it. */
export function jitRequest (c: { user: string, card: string, account: string }, amount: number, over: Partial<JitDecisionRequest> = {}): JitDecisionRequest {
  const jitToken = over.jitToken ?? `jit-${process.pid}-${++seq}`
  const method = over.method ?? 'pgfs.authorization'
  return {
    jitToken,
    fingerprint: jitRequestFingerprint({ method, userToken: c.user, actingUserToken: null, cardToken: c.card, amount: String(amount), currency: 'USD', originalJitToken: over.originalJitToken ?? null }),
    method,
    kind: 'authorization',
    userToken: c.user,
    cardToken: c.card,
    accountToken: c.account,
    amount,
    currency: 'USD',
    mcc: '5411',
    originalJitToken: null,
    transactionToken: null,
    declineReason: null,
    expect: null,
    echo: { token: jitToken, method, user_token: c.user, amount: amount / 100 },
    timezone: 'UTC',
    ...over
  }
}

/** Fails the test with the violations when any ledger invariant is broken. */
export async function assertInvariants (t: { same: (found: unknown, wanted: unknown, message: string) => unknown }, db: Database): Promise<void> {
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
}

let webhookSeq = 0
/** A token unique to this process (tokens are <= 36 characters in the processor's API). */
export function token (prefix: string): string {
  return `${prefix}-${process.pid}-${++webhookSeq}`
}

/** What a transaction webhook body is built from (amounts in minor units, USD). */
export interface WebhookSpec {
  type: string
  state: string
  /** The event's own transaction token (default: a fresh one). */
  token?: string
  amount?: number | null
  /** A jit_funding on gpa_order (or gpa_order_unload with `unload`); omitted when null. */
  jit?: { token: string, method: string, amount?: number | null, original?: string } | null
  unload?: boolean
  preceding?: string
  isFinal?: boolean
  timedOut?: boolean
  standinApprovedBy?: string
  mcc?: string
  currency?: string
}

/**
 * A realistic transaction webhook event (swagger transaction_model) for a card: the fields the
 * processor sends, amounts as JSON numbers in major units, gpa.impacted_amount signed.
 */
export function webhookEvent (c: { user: string, card: string }, spec: WebhookSpec): TransactionEventInput {
  const currency = spec.currency ?? 'USD'
  const major = (minor: number | null | undefined): number | undefined => minor === null || minor === undefined ? undefined : formatAmount(minor, currency)
  const credit = /refund|chargeback(\.provisional\.credit)?$|reversal/.test(spec.type)
  const body: TransactionEventInput = {
    type: spec.type,
    state: spec.state,
    token: spec.token ?? token('txn'),
    user_token: c.user,
    acting_user_token: c.user,
    card_token: c.card,
    created_time: new Date().toISOString(),
    user_transaction_time: new Date().toISOString(),
    settlement_date: new Date().toISOString(),
    network: 'VISA',
    subnetwork: 'VISANET',
    currency_code: currency,
    response: spec.state === 'DECLINED' ? { code: '1016', memo: 'Insufficient funds' } : { code: '0000', memo: 'Approved or completed successfully' },
    card_acceptor: { mid: '000000000011111', mcc: spec.mcc ?? '5411', name: 'Grocery Store', city: 'Oakland', state: 'CA', postal_code: '94612', country_code: 'USA' },
    pos: { pan_entry_mode: 'CHIP', card_presence: true, cardholder_presence: true }
  }
  if (spec.amount !== undefined && spec.amount !== null) {
    body.amount = major(spec.amount)
    body.request_amount = major(spec.amount)
    body.gpa = { currency_code: currency, ledger_balance: 0, available_balance: 0, pending_credits: 0, impacted_amount: (credit ? 1 : -1) * (major(spec.amount) ?? 0) }
  }
  if (spec.preceding !== undefined) body.preceding_related_transaction_token = spec.preceding
  if (spec.isFinal !== undefined) body.is_final_clearing = spec.isFinal
  if (spec.standinApprovedBy !== undefined) {
    body.standin_approved_by = spec.standinApprovedBy
    body.standin_reason = 'ISSUER_TIMEOUT'
  }
  if (spec.jit !== undefined && spec.jit !== null) {
    const jitFunding: Record<string, unknown> = { token: spec.jit.token, method: spec.jit.method, user_token: c.user, acting_user_token: c.user }
    const amount = major(spec.jit.amount === undefined ? spec.amount : spec.jit.amount)
    if (amount !== undefined) jitFunding.amount = amount
    if (spec.jit.original !== undefined) jitFunding.original_jit_funding_token = spec.jit.original
    const order = {
      token: token('gpa'),
      amount: amount ?? 0,
      currency_code: currency,
      state: spec.state,
      transaction_token: body.token,
      jit_funding: jitFunding,
      funding: {
        amount: amount ?? 0,
        source: { type: 'programgateway', token: 'pgfs-source', active: true, is_default_account: false },
        gateway_log: { order_number: body.token, transaction_id: token('gw'), message: 'Approved or completed successfully', duration: spec.timedOut === true ? 3000 : 412, timed_out: spec.timedOut === true, response: { code: '200' } }
      },
      funding_source_token: 'pgfs-source',
      user_token: c.user
    }
    if (spec.unload === true) body.gpa_order_unload = order
    else body.gpa_order = order
  }
  return body
}

/** One purchase: its original JIT token and the authorization's transaction token. */
export interface Purchase { jitToken: string, txToken: string, amount: number }

/**
 * Builds the messages of purchases on one card: JIT decisions placed through decideJitFunding
 * (the synchronous path) and the webhook bodies that follow them (applied by the test).
 */
export function shop (db: Database, c: { user: string, card: string, account: string }) {
  const purchase = (amount: number): Purchase => ({ jitToken: token('jit'), txToken: token('auth'), amount })
  return {
    purchase,
    /** Our JIT decision for a purchase (approved unless funds or limits say otherwise). */
    async decide (p: Purchase, method = 'pgfs.authorization'): Promise<JitDecisionResult> {
      const kind = method === 'pgfs.pindebit' || method === 'pgfs.auth_plus_capture' ? 'immediate_debit' : 'authorization'
      const [r] = await decideJitFunding(db.sql, [jitRequest(c, p.amount, { jitToken: p.jitToken, method, kind, transactionToken: p.txToken })])
      if (r === undefined) throw new Error('no decision')
      return r
    },
    /** Our JIT decision for an incremental of `p`; returns the incremental as a purchase-like record. */
    async decideIncremental (p: Purchase, amount: number): Promise<Purchase & { result: JitDecisionResult }> {
      const inc = purchase(amount)
      const [r] = await decideJitFunding(db.sql, [jitRequest(c, amount, {
        jitToken: inc.jitToken, method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: p.jitToken, transactionToken: inc.txToken
      })])
      if (r === undefined) throw new Error('no decision')
      return { ...inc, result: r }
    },
    pending (p: Purchase, over: Partial<WebhookSpec> = {}): TransactionEventInput {
      return webhookEvent(c, { type: 'authorization', state: 'PENDING', token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.authorization' }, ...over })
    },
    declined (p: Purchase, timedOut = true): TransactionEventInput {
      return webhookEvent(c, { type: 'authorization', state: 'DECLINED', token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.authorization' }, timedOut })
    },
    incrementalPending (p: Purchase, inc: Purchase, over: Partial<WebhookSpec> = {}): TransactionEventInput {
      return webhookEvent(c, {
        type: 'authorization.incremental',
        state: 'PENDING',
        token: inc.txToken,
        amount: inc.amount,
        preceding: p.txToken,
        jit: { token: inc.jitToken, method: 'pgfs.authorization.incremental', original: p.jitToken },
        ...over
      })
    },
    clearing (p: Purchase, amount: number, isFinal: boolean | undefined, over: Partial<WebhookSpec> = {}): TransactionEventInput {
      const spec: WebhookSpec = {
        type: 'authorization.clearing',
        state: 'COMPLETION',
        amount,
        preceding: p.txToken,
        jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: p.jitToken },
        ...over
      }
      if (isFinal !== undefined) spec.isFinal = isFinal
      return webhookEvent(c, spec)
    },
    reversal (p: Purchase, amount: number | null): TransactionEventInput {
      return webhookEvent(c, {
        type: 'authorization.reversal',
        state: 'CLEARED',
        amount,
        preceding: p.txToken,
        unload: true,
        jit: { token: token('jitr'), method: 'pgfs.authorization.reversal', original: p.jitToken, amount }
      })
    },
    advice (p: Purchase, amount: number): TransactionEventInput {
      return webhookEvent(c, {
        type: 'authorization.advice',
        state: 'CLEARED',
        amount,
        preceding: p.txToken,
        unload: true,
        jit: { token: token('jita'), method: 'pgfs.authorization.reversal', original: p.jitToken }
      })
    },
    refund (p: Purchase | null, amount: number): TransactionEventInput {
      const spec: WebhookSpec = { type: 'refund', state: 'COMPLETION', amount, unload: true, jit: { token: token('jitf'), method: 'pgfs.refund' } }
      if (p !== null) spec.preceding = p.txToken
      return webhookEvent(c, spec)
    },
    forceCapture (amount: number): TransactionEventInput {
      return webhookEvent(c, { type: 'authorization.clearing', state: 'COMPLETION', amount, isFinal: true, jit: { token: token('jitx'), method: 'pgfs.force_capture' } })
    }
  }
}
