import type { Test } from 'tap'
import { createDatabase, runMigrations, type Database } from '@jit/postgres'
import { createTestDatabase, fundedCards, jitRequests, type Teardownable } from '@jit/test-support'
import { simToken, transactionEvent, purchasesOf, type WebhookSpec, type SimPurchase } from '@jit/processor-sim'
import { ledgerMigrationSets, checkLedgerInvariants, decideJitFunding, getAccount, type JitDecisionResult, upsertUser, upsertCard, creditAccount, jitRequestFingerprint, type JitDecisionRequest, type TransactionEventInput } from '../src/index.js'

/** A migrated database of this test file's own. */
export async function ledgerDatabase (t: Teardownable, opts: { poolMax?: number, statementTimeoutMs?: number } = {}): Promise<Database> {
  const url = await createTestDatabase(t, 'ledger')
  const db = createDatabase({ url, poolMin: 1, poolMax: opts.poolMax ?? 4, statementTimeoutMs: opts.statementTimeoutMs ?? 10000 })
  await runMigrations(db.sql, ledgerMigrationSets)
  t.teardown(() => db.close(1))
  return db
}

/** An ACTIVE user with one ACTIVE card funded by the user's own account holding `balance`. */
export const fundedCard = fundedCards({ upsertUser, upsertCard, creditAccount })

/** A JIT decision request for a card, as the authorizer would build it. */
export const jitRequest = jitRequests<JitDecisionRequest>(jitRequestFingerprint)

/** Fails the test with the violations when any ledger invariant is broken. */
export async function assertInvariants (t: { same: (found: unknown, wanted: unknown, message: string) => unknown }, db: Database): Promise<void> {
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
}

/** A token unique to this process. */
export const token = simToken

/** A realistic transaction webhook event (swagger transaction_model) for a card. */
export function webhookEvent (c: { user: string, card: string }, spec: WebhookSpec): TransactionEventInput {
  return transactionEvent(c, spec) as TransactionEventInput
}

/** One purchase: its original JIT token and the authorization's transaction token. */
export type Purchase = SimPurchase
export type { WebhookSpec }

/**
 * Builds the messages of purchases on one card: JIT decisions placed through decideJitFunding
 * (the synchronous path) and the webhook bodies that follow them (applied by the test).
 */
export function shop (db: Database, c: { user: string, card: string, account: string }) {
  const sim = purchasesOf(c)
  const purchase = sim.purchase
  /** Our JIT decision for a purchase (approved unless funds or limits say otherwise). */
  async function decide (p: Purchase, method = 'pgfs.authorization'): Promise<JitDecisionResult> {
    const kind = method === 'pgfs.pindebit' || method === 'pgfs.auth_plus_capture' ? 'immediate_debit' : 'authorization'
    const [r] = await decideJitFunding(db.sql, [jitRequest(c, p.amount, { jitToken: p.jitToken, method, kind, transactionToken: p.txToken })])
    if (r === undefined) throw new Error('no decision')
    return r
  }
  return {
    purchase,
    decide,
    /**
     * A purchase of `amount` that our JIT decision approved: the start of most lifecycles. Throws
     * when it was declined, so a test never goes on from a purchase it did not mean.
     */
    async approved (amount: number, method = 'pgfs.authorization'): Promise<Purchase> {
      const p = purchase(amount)
      const r = await decide(p, method)
      if (r.outcome !== 'approved') throw new Error(`the purchase of ${amount} was declined (${r.decline_reason ?? 'no reason'})`)
      return p
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
    // the webhooks that follow, as the processor sends them
    pending: (p: Purchase, over: Partial<WebhookSpec> = {}) => sim.pending(p, over) as TransactionEventInput,
    declined: (p: Purchase, timedOut = true) => sim.declined(p, timedOut) as TransactionEventInput,
    incrementalPending: (p: Purchase, inc: Purchase, over: Partial<WebhookSpec> = {}) => sim.incrementalPending(p, inc, over) as TransactionEventInput,
    clearing: (p: Purchase, amount: number, isFinal: boolean | undefined, over: Partial<WebhookSpec> = {}) => sim.clearing(p, amount, isFinal, over) as TransactionEventInput,
    reversal: (p: Purchase, amount: number | null) => sim.reversal(p, amount) as TransactionEventInput,
    advice: (p: Purchase, amount: number) => sim.advice(p, amount) as TransactionEventInput,
    refund: (p: Purchase | null, amount: number) => sim.refund(p, amount) as TransactionEventInput,
    forceCapture: (amount: number) => sim.forceCapture(amount) as TransactionEventInput
  }
}

/**
 * The preamble the lifecycle test files share, for one database: `account(name, balance?)`, a
 * funded card (1000.00 unless told; tokens unique under `prefix`) with the messages of purchases
 * on it; `money(account)`, its balance and available; `moneyTest(name, fn)`, a subtest that ends
 * by checking every ledger invariant (then `after`, when given).
 */
export function lifecycleKit (t: Test, db: Database, prefix: string, opts: { after?: (t: Test) => Promise<void> } = {}) {
  let n = 0
  return {
    async account (name: string, balance = 100000) {
      const c = await fundedCard(db, `${prefix}-${name}-${++n}`, balance)
      return { c, s: shop(db, c) }
    },
    async money (accountToken: string): Promise<{ balance: number, available: number }> {
      const a = await getAccount(db.sql, accountToken)
      return { balance: a?.balance ?? NaN, available: a?.available ?? NaN }
    },
    moneyTest (name: string, fn: (t: Test) => Promise<void>): void {
      t.test(name, async t => {
        await fn(t)
        await assertInvariants(t, db)
        if (opts.after !== undefined) await opts.after(t)
      })
    }
  }
}

/** A copy of the event without `gpa_order.jit_funding` (the order itself stays). */
export function withoutJitFunding (event: TransactionEventInput): TransactionEventInput {
  const copy = structuredClone(event) as TransactionEventInput & { gpa_order?: Record<string, unknown> }
  if (copy.gpa_order !== undefined) delete copy.gpa_order.jit_funding
  return copy
}

/** A copy of the event without `gpa_order` or `gpa_order_unload` at all. */
export function withoutGpaOrder (event: TransactionEventInput): TransactionEventInput {
  const copy = structuredClone(event)
  delete copy.gpa_order
  delete copy.gpa_order_unload
  return copy
}
