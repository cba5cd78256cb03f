import t from 'tap'
import * as ledger from '@jit/ledger'
import { transactionEvent } from '@jit/processor-sim'
import { build, jitBody } from './helper.js'

// One request in a batch must not decide the others (docs/ledger.md: members of a batch are
// decided together in one statement; a stale member is retried alone, the others decided). A
// JIT request whose token is the transaction token of an open stand-in hold (the processor
// approved a message without us; its hold is keyed by that token) arrives among 60 ordinary
// requests of other cards. Expected: the 60 are decided (approved: each card has the funds),
// the odd one is declined (a recorded 402), nothing is a failure answer.
for (const batch of [1, 64]) {
  t.test(`batches of at most ${batch}: a JIT token that is an open stand-in hold's token`, async t => {
    const h = await build(t, { poolMax: 10, env: { JIT_BATCH_MAX: String(batch), JIT_BATCH_CONCURRENCY: '2', JIT_DECISION_BUDGET_MS: '2900', JIT_DECISION_GRACE_MS: '100' } })
    const odd = await h.fundedCard('adv-poison', 100000)
    const tx = `adv-poison-tx-${Date.now()}`
    const standin = transactionEvent(odd, { type: 'authorization', state: 'PENDING', token: tx, amount: 2000 } as never) as Record<string, unknown>
    delete standin.gpa_order
    t.comment(JSON.stringify(await ledger.applyTransactionEvent(h.db.sql, standin as never)))
    const cards = await Promise.all(Array.from({ length: 60 }, async (_, i) => await h.fundedCard(`adv-poison-ok-${i}`, 100000)))
    // the odd one in the middle, so that it shares a batch with ordinary ones
    const all = await Promise.all([
      ...cards.slice(0, 40).map(async c => await h.jit(jitBody(c, 10))),
      h.jit(jitBody(odd, 10, { token: tx })),
      ...cards.slice(40).map(async c => await h.jit(jitBody(c, 10)))
    ])
    const oddAnswer = all[40]
    const answers = [...all.slice(0, 40), ...all.slice(41)]
    const summary: Record<string, number> = {}
    for (const a of answers) { const k = `${a.status} ${String(a.body?.jit_funding?.memo ?? '')}`; summary[k] = (summary[k] ?? 0) + 1 }
    t.comment(`the odd request: ${oddAnswer?.status ?? ''} ${JSON.stringify(oddAnswer?.body)}`)
    t.same(summary, { '200 ': 60 }, 'every ordinary request approved')
    t.not(oddAnswer?.body?.jit_funding?.memo, 'Declined: the gateway could not decide; try again.', 'the odd one is decided (recorded), not a failure')
    t.same(await h.invariants(), [])
  })
}
