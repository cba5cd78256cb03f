import t from 'tap'
import { randomBytes } from 'node:crypto'
import { build, jitBody } from './helper.js'

// docs/processor-protocol.md: a readable request is answered (a recorded 402 at worst), never a
// failure, and one request never decides the others of its batch. The transaction `token` and
// `card_token` of the body have no length bound in the inbound schema; the ledger indexes the
// transaction token (decisions_transaction_token, ledger_messages_token: a b-tree entry holds at
// most ~2.7 kB). A request whose transaction token (or card token) is 6,000 incompressible
// characters arrives among 60 ordinary requests.
const long = (): string => randomBytes(4500).toString('base64')
for (const [name, make] of [
  ['a 6,000-character transaction token', (b: Record<string, unknown>) => { b.token = long() }],
  ['a 6,000-character card_token', (b: Record<string, unknown>) => { b.card_token = long() }]
] as const) {
  for (const batch of [1, 64]) {
    t.test(`batches of at most ${batch}: ${name}`, async t => {
      const h = await build(t, { poolMax: 10, env: { JIT_BATCH_MAX: String(batch), JIT_BATCH_CONCURRENCY: '2', JIT_DECISION_BUDGET_MS: '2900', JIT_DECISION_GRACE_MS: '100' } })
      const odd = await h.fundedCard('adv-long', 100000)
      const oddBody = jitBody(odd, 10)
      make(oddBody)
      const cards = await Promise.all(Array.from({ length: 60 }, async (_, i) => await h.fundedCard(`adv-long-ok-${i}`, 100000)))
      const all = await Promise.all([
        ...cards.slice(0, 40).map(async c => await h.jit(jitBody(c, 10))),
        h.jit(oddBody),
        ...cards.slice(40).map(async c => await h.jit(jitBody(c, 10)))
      ])
      const oddAnswer = all[40]
      const answers = [...all.slice(0, 40), ...all.slice(41)]
      const summary: Record<string, number> = {}
      for (const a of answers) { const k = `${a.status} ${String(a.body?.jit_funding?.memo ?? '')}`; summary[k] = (summary[k] ?? 0) + 1 }
      t.comment(`the odd request: ${oddAnswer?.status ?? ''} ${JSON.stringify(oddAnswer?.body).slice(0, 300)}`)
      t.same(summary, { '200 ': 60 }, 'every ordinary request approved')
      t.ok(oddAnswer !== undefined && oddAnswer.status < 500 && oddAnswer.body?.jit_funding?.memo !== 'Declined: the gateway could not decide; try again.', 'the odd one is answered (4xx or a recorded decision), not a failure')
      t.same(await h.invariants(), [])
    })
  }
}
