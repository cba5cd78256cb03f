import t from 'tap'
import { getHold } from '@jit/ledger'
import { build, jitBody } from './helper.js'

// Correctness under concurrency at every batch size the authorizer can send (one decision per
// statement up to 64). The budget is generous: these tests are about money, not time. One
// decision per statement is the slowest path, and on a loaded CI machine 300 of them queued behind
// eight statements at a time outran the 2.9 s budget (TIMEOUT declines, not a money error); the
// race needs only many more requests than the funds cover, so it sends 60 there.
for (const batch of [1, 8, 64]) {
  const racers = batch === 1 ? 60 : 300
  t.test(`batches of at most ${batch}`, async t => {
    const h = await build(t, { poolMax: 10, env: { JIT_BATCH_MAX: String(batch), JIT_BATCH_CONCURRENCY: '8', JIT_DECISION_BUDGET_MS: '2900', JIT_DECISION_GRACE_MS: '100' } })

    t.test(`${racers} simultaneous $10 authorizations on funds for a third of them approve exactly that third`, async t => {
      const c = await h.fundedCard('race', racers / 3 * 1000)
      const results = await Promise.all(Array.from({ length: racers }, async () => await h.jit(jitBody(c, 10))))
      t.equal(results.filter(r => r.status === 200).length, racers / 3)
      const answers: Record<string, number> = {}
      for (const r of results) answers[`${r.status} ${r.body?.jit_funding?.memo ?? ''}`] = (answers[`${r.status} ${r.body?.jit_funding?.memo ?? ''}`] ?? 0) + 1
      t.equal(results.filter(r => r.status === 402 && r.body.jit_funding.decline_reason === 'INSUFFICIENT_FUNDS').length, racers / 3 * 2, `answers: ${JSON.stringify(answers)}`)
      t.equal(await h.available(c.user), 0)
      t.equal(await h.balance(c.user), racers / 3 * 1000)
      t.same(await h.invariants(), [])
    })

    t.test('one token sent 50 times at once: one hold, 50 identical answers', async t => {
      const c = await h.fundedCard('same', 100000)
      const body = jitBody(c, 100)
      const results = await Promise.all(Array.from({ length: 50 }, async () => await h.jit(body)))
      t.equal(new Set(results.map(r => JSON.stringify([r.status, r.body]))).size, 1)
      t.equal(results[0]?.status, 200)
      t.equal(await h.available(c.user), 90000)
      t.same(await h.invariants(), [])
    })

    t.test('incrementals racing their original never grow a hold that does not exist', async t => {
      const c = await h.fundedCard('incrace', 1000000)
      let grew = 0
      for (let i = 0; i < 20; i++) {
        const o = jitBody(c, 10)
        const token = String((o.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
        const [orig, inc] = await Promise.all([h.jit(o), h.jit(jitBody(c, 5, { method: 'pgfs.authorization.incremental', original: token }))])
        t.equal(orig.status, 200)
        const hold = await getHold(h.db.sql, token)
        if (inc?.status === 200) { grew++; t.equal(hold?.authorized, 1500) } else {
          t.equal(inc?.body.jit_funding.decline_reason, 'TRANSACTION_NOT_PERMITTED', JSON.stringify(inc?.body))
          t.equal(hold?.authorized, 1000)
        }
      }
      t.comment(`${grew} of 20 incrementals found their original`)
      t.same(await h.invariants(), [])
    })
  })
}
