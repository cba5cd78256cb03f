import t from 'tap'
import { getHold, TIMEOUT_DECLINE } from '@jit/ledger'
import { build, jitBody } from './helper.js'

// Correctness under concurrency at every batch size the authorizer can send (one decision per
// statement up to 64). These tests are about money, not time: on a loaded CI machine 300
// decisions of one account at one per statement can outrun the 2.9 s budget, and the late ones are
// answered the TIMEOUT decline (TRANSACTION_NOT_PERMITTED with the budget memo). It is a recorded decline (its repeat gets it again) and leaves the race
// as strict as before: no more than the funds approved, available = funds - approvals, and once
// any request was declined for funds every dollar is held.
for (const batch of [1, 8, 64]) {
  t.test(`batches of at most ${batch}`, async t => {
    const h = await build(t, { poolMax: 10, env: { JIT_BATCH_MAX: String(batch), JIT_BATCH_CONCURRENCY: '8', JIT_DECISION_BUDGET_MS: '2900', JIT_DECISION_GRACE_MS: '100' } })

    t.test('300 simultaneous $10 authorizations on a $1,000 account approve exactly 100', async t => {
      const c = await h.fundedCard('race', 100000)
      const bodies = Array.from({ length: 300 }, () => jitBody(c, 10))
      const results = await Promise.all(bodies.map(async b => await h.jit(b)))
      const reason = (r: { status: number, body: any }): string => r.status === 200 ? 'approved' : r.body?.jit_funding?.memo === TIMEOUT_DECLINE.memo ? 'TIMEOUT' : String(r.body?.jit_funding?.decline_reason)
      const answers: Record<string, number> = {}
      for (const r of results) answers[reason(r)] = (answers[reason(r)] ?? 0) + 1
      const approved = answers.approved ?? 0
      const timedOut = answers.TIMEOUT ?? 0
      t.same(Object.keys(answers).filter(k => !['approved', 'INSUFFICIENT_FUNDS', 'TIMEOUT'].includes(k)), [], `answers: ${JSON.stringify(answers)}`)
      if (timedOut === 0) t.equal(approved, 100, `answers: ${JSON.stringify(answers)}`)
      else {
        t.comment(`${timedOut} of 300 outran the budget on this machine: ${JSON.stringify(answers)}`)
        t.ok(approved <= 100, `answers: ${JSON.stringify(answers)}`)
        if ((answers.INSUFFICIENT_FUNDS ?? 0) > 0) t.equal(approved, 100, `declined for funds with funds left: ${JSON.stringify(answers)}`)
        const repeats = await Promise.all(results.flatMap((r, i) => reason(r) === 'TIMEOUT' ? [h.jit(bodies[i])] : []))
        t.same(repeats.map(reason), repeats.map(() => 'TIMEOUT'), 'a TIMEOUT answered was recorded')
      }
      t.equal(await h.available(c.user), 100000 - approved * 1000)
      t.equal(await h.balance(c.user), 100000)
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
