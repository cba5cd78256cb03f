import t from 'tap'
import { decideJitFunding, getAccount, type JitDecisionRequest, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// docs/ledger.md "Invariants": one decision per JIT token. The same token asked many times at
// once, in one batch and across batches (one connection each), the same request and other
// requests (another card, another amount) mixed: exactly one decides; every repeat of that
// request replays its answer; every other request is DUPLICATE_TRANSACTION and moves nothing;
// nobody gets an error; one decision event.
const db = await ledgerDatabase(t, { poolMax: 12 })

for (const kind of ['authorization', 'immediate_debit'] as const) {
  t.test(`${kind}: one token, 30 asks in 10 concurrent batches, three bodies`, async t => {
    const bad: string[] = []
    for (let round = 0; round < 8; round++) {
      const cards = [
        await fundedCard(db, `adv-storm-${kind}-${round}-a`, 100000),
        await fundedCard(db, `adv-storm-${kind}-${round}-b`, 100000)
      ]
      const jitToken = `adv-storm-${kind}-${round}-${Date.now()}`
      const method = kind === 'immediate_debit' ? 'pgfs.pindebit' : 'pgfs.authorization'
      const bodies: JitDecisionRequest[] = [
        jitRequest(cards[0] as never, 1000, { jitToken, method, kind, transactionToken: `${jitToken}-tx` }),
        jitRequest(cards[1] as never, 1000, { jitToken, method, kind, transactionToken: `${jitToken}-tx` }),
        jitRequest(cards[0] as never, 1500, { jitToken, method, kind, transactionToken: `${jitToken}-tx` })
      ]
      const batches: Array<Array<{ body: number, r: JitDecisionRequest }>> = []
      for (let b = 0; b < 10; b++) {
        batches.push([0, 1, 2].map(k => { const body = (b + k * (round + 1)) % 3; return { body, r: bodies[body] as JitDecisionRequest } }))
      }
      const outcomes = await Promise.all(batches.map(async batch => await decideJitFunding(db.sql, batch.map(x => x.r)).then(
        rs => rs.map((r, i) => ({ body: batch[i]?.body as number, r: r as JitDecisionResult })),
        (e: unknown) => { bad.push(`round ${round}: batch error ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`); return [] })))
      const all = outcomes.flat()
      const deciders = all.filter(x => !x.r.replay && !x.r.duplicate)
      if (deciders.length !== 1) bad.push(`round ${round}: ${deciders.length} deciders`)
      const winner = deciders[0]
      for (const x of all) {
        if (winner === undefined) break
        if (x.body === winner.body && !(x === winner || (x.r.replay && x.r.outcome === winner.r.outcome))) bad.push(`round ${round}: a repeat answered ${JSON.stringify(x.r)}`)
        if (x.body !== winner.body && !(x.r.duplicate && x.r.decline_reason === 'DUPLICATE_TRANSACTION')) bad.push(`round ${round}: another body answered ${x.r.outcome}/${x.r.decline_reason ?? ''}`)
      }
      const spent = (await Promise.all(cards.map(async c => 100000 - ((await getAccount(db.sql, c.account))?.available ?? 0)))).reduce((a, b) => a + b, 0)
      const want = winner === undefined ? -1 : (winner.r.outcome === 'approved' ? (bodies[winner.body]?.amount ?? 0) : 0)
      if (spent !== want) bad.push(`round ${round}: ${spent} spent, the decision says ${want}`)
      const [ev] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from outbox where routing_key like 'jit.decision.%' and payload->>'jit_token' = ${jitToken}`
      if (ev?.n !== 1) bad.push(`round ${round}: ${ev?.n ?? 0} decision events`)
    }
    t.same(bad, [], 'every round: one decision, the rest replays or duplicates')
    await assertInvariants(t, db)
  })
}
