import { createDatabase, runMigrations, type Database } from '@jit/postgres'
import { createTestDatabase, type Teardownable } from '@jit/test-support'
import { ledgerMigrationSets, checkLedgerInvariants, upsertUser, upsertCard, creditAccount, jitRequestFingerprint, type JitDecisionRequest } from '../src/index.js'

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
