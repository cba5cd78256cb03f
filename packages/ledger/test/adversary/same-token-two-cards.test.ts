import t from 'tap'
import { decideJitFunding, getAccount, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// docs/ledger.md "Invariants": one decision per JIT token; a token reused with another request
// (another fingerprint) is answered DUPLICATE_TRANSACTION and changes nothing. Two requests under
// one JIT token naming two different cards (so two card locks, no serialization there), the
// first one's transaction still open when the second arrives.
const db = await ledgerDatabase(t, { poolMax: 8 })

for (const kind of ['authorization', 'immediate_debit'] as const) {
  for (const sameAccountOwner of [false, true]) {
    t.test(`${kind}: one JIT token, two cards${sameAccountOwner ? ' (each its own account)' : ''}, the second while the first is uncommitted`, async t => {
      const c1 = await fundedCard(db, `adv-2c-a-${kind}-${String(sameAccountOwner)}`, 100000)
      const c2 = await fundedCard(db, `adv-2c-b-${kind}-${String(sameAccountOwner)}`, 100000)
      const jitToken = `adv-2c-${kind}-${String(sameAccountOwner)}-${Date.now()}`
      const method = kind === 'immediate_debit' ? 'pgfs.pindebit' : 'pgfs.authorization'
      const r1 = jitRequest(c1, 1000, { jitToken, method, kind })
      const r2 = jitRequest(c2, 2000, { jitToken, method, kind })
      let second: Promise<JitDecisionResult | Error> | undefined
      let first: JitDecisionResult | undefined
      await db.sql.begin(async tx => {
        first = (await decideJitFunding(tx as never, [r1]))[0]
        second = decideJitFunding(db.sql, [r2]).then(r => r[0] as JitDecisionResult, (e: unknown) => e as Error)
        await new Promise(resolve => setTimeout(resolve, 300))
      })
      const got = await second
      t.equal(first?.outcome, 'approved', 'the first decides')
      t.notOk(got instanceof Error, `the second is answered, not an error (${got instanceof Error ? `${(got as { code?: string }).code ?? ''} ${got.message}` : ''})`)
      if (!(got instanceof Error)) {
        t.equal(got?.decline_reason, 'DUPLICATE_TRANSACTION', 'the second is a duplicate')
      }
      const a1 = await getAccount(db.sql, c1.account)
      const a2 = await getAccount(db.sql, c2.account)
      t.same({ a1: a1?.available, a2: a2?.available }, { a1: 99000, a2: 100000 }, 'only the first moved money')
      const [d] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from outbox where payload->>'jit_token' = ${jitToken} and routing_key like 'jit.decision.%'`
      t.equal(d?.n, 1, 'one decision event for the token')
      await assertInvariants(t, db)
    })
  }
}
