/**
 * The three ledger calls a funded card is made of. They are passed in rather than imported:
 * the ledger's own tests use this package, so it cannot depend on @jit/ledger (a build cycle).
 * Pass the ledger module itself: `fundedCards(ledger)` with `import * as ledger from '@jit/ledger'`.
 */
export interface CardProvisioning<S> {
  upsertUser: (sql: S, user: { user_token: string, status: 'ACTIVE' }) => Promise<unknown>
  upsertCard: (sql: S, card: { card_token: string, user_token: string, status: 'ACTIVE' | 'SUSPENDED', expiration: string }) => Promise<unknown>
  creditAccount: (sql: S, credit: { accountToken: string, currency: string, amount: number, effectKind: string, effectKey: string }) => Promise<unknown>
}

/** A user, its card and the account that funds it (the user's own: same token). */
export interface FundedCard {
  user: string
  card: string
  account: string
}

export interface FundedCardOptions {
  /** The account's currency (default USD). */
  currency?: string
  /** The card's expiration, YYYY-MM (default 2099-12). */
  expiration?: string
  /** The card's status (default ACTIVE). */
  status?: 'ACTIVE' | 'SUSPENDED'
}

/**
 * `fundedCard(db, name, balance)`: an ACTIVE user `u-<name>` with a card `c-<name>` funded by
 * the user's own account holding `balance` minor units (a `test.load` credit keyed
 * `load-<name>`; no credit when the balance is 0). Names must be unique within a database.
 */
export function fundedCards<S> (ledger: CardProvisioning<S>) {
  return async function fundedCard (db: { sql: S }, name: string, balance: number, opts: FundedCardOptions = {}): Promise<FundedCard> {
    const user = `u-${name}`
    const card = `c-${name}`
    await ledger.upsertUser(db.sql, { user_token: user, status: 'ACTIVE' })
    await ledger.upsertCard(db.sql, { card_token: card, user_token: user, status: opts.status ?? 'ACTIVE', expiration: opts.expiration ?? '2099-12' })
    if (balance > 0) {
      await ledger.creditAccount(db.sql, { accountToken: user, currency: opts.currency ?? 'USD', amount: balance, effectKind: 'test.load', effectKey: `load-${name}` })
    }
    return { user, card, account: user }
  }
}

/** What a JIT request's fingerprint is made of (the ledger's `jitRequestFingerprint` takes it). */
export interface FingerprintFields {
  method: string
  userToken: string
  actingUserToken: string | null
  cardToken: string
  amount: string
  currency: string
  originalJitToken: string | null
}

/** The fields of a JIT decision request these helpers set (the ledger's `JitDecisionRequest`). */
export interface TestDecisionRequest {
  jitToken: string
  fingerprint: string
  method: string
  kind: string
  userToken: string
  cardToken: string
  accountToken: string
  amount: number
  currency: string
  mcc: string
  originalJitToken: string | null
  transactionToken: string | null
  declineReason: string | null
  expect: null
  echo: { token: string, method: string, user_token: string, amount: number }
  timezone: string
}

let jitSeq = 0

/**
 * `jitRequest(card, amount, over?)`: a USD `pgfs.authorization` decision request for a funded
 * card, as the authorizer builds it (a JIT token unique to this process unless `over` names one).
 * The fingerprint function is passed in for the same reason as in {@link fundedCards}: bind it
 * once with `jitRequests<JitDecisionRequest>(jitRequestFingerprint)`.
 */
export function jitRequests<R> (fingerprint: (fields: FingerprintFields) => string) {
  return function jitRequest (c: FundedCard, amount: number, overrides: Partial<R> = {}): R {
    // R is the ledger's JitDecisionRequest: these are its fields
    const over = overrides as Partial<TestDecisionRequest>
    const jitToken = over.jitToken ?? `jit-${process.pid}-${++jitSeq}-${Math.random().toString(36).slice(2, 8)}`
    const method = over.method ?? 'pgfs.authorization'
    const request: TestDecisionRequest = {
      jitToken,
      fingerprint: fingerprint({ method, userToken: c.user, actingUserToken: null, cardToken: c.card, amount: String(amount), currency: 'USD', originalJitToken: over.originalJitToken ?? null }),
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
      timezone: 'UTC'
    }
    return { ...request, ...over } as R
  }
}
