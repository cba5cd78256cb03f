import t from 'tap'
import { decideJitFunding, getAccount, type JitDecisionRequest, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// docs/ledger.md "Keys": one network message (its transaction token) has one effect. The same
// transaction token asked under 12 different JIT tokens, on two cards (two card locks), in 6
// concurrent batches: one is approved and holds; every other is a DUPLICATE_TRANSACTION decline.
const db = await ledgerDatabase(t, { poolMax: 10 })

for (const kind of ['authorization', 'immediate_debit'] as const) {
  t.test(`${kind}: one transaction token, 12 JIT tokens, 6 concurrent batches`, async t => {
    const bad: string[] = []
    for (let round = 0; round < 6; round++) {
      const cards = [await fundedCard(db, `adv-1m-${kind}-${round}-a`, 100000), await fundedCard(db, `adv-1m-${kind}-${round}-b`, 100000)]
      const tx = `adv-1m-${kind}-${round}-${Date.now()}`
      const method = kind === 'immediate_debit' ? 'pgfs.pindebit' : 'pgfs.authorization'
      const batches: JitDecisionRequest[][] = Array.from({ length: 6 }, (_, b) => [0, 1].map(k => jitRequest(cards[(b + k + round) % 2] as never, 1000, { jitToken: `${tx}-j${b}-${k}`, method, kind, transactionToken: tx })))
      const results = (await Promise.all(batches.map(async batch => await decideJitFunding(db.sql, batch).then(r => r, (e: unknown) => { bad.push(`round ${round}: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`); return [] as JitDecisionResult[] })))).flat()
      const approved = results.filter(r => r.outcome === 'approved').length
      const dup = results.filter(r => r.decline_reason === 'DUPLICATE_TRANSACTION').length
      if (approved !== 1 || dup !== 11) bad.push(`round ${round}: ${approved} approved, ${dup} duplicates of ${results.length}`)
      const spent = (await Promise.all(cards.map(async c => 100000 - ((await getAccount(db.sql, c.account))?.available ?? 0)))).reduce((a, b) => a + b, 0)
      if (spent !== 1000) bad.push(`round ${round}: ${spent} spent`)
    }
    t.same(bad, [], 'one message, one effect, every round')
    await assertInvariants(t, db)
  })
}
