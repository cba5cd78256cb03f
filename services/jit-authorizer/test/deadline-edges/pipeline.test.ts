// pool smaller than JIT_BATCH_CONCURRENCY: postgres.js pipelines a batch onto a busy connection;
// PostgreSQL starts it late and measures budget_ms / commit_by_ms from that late start.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { tokenOf, sleep, starve, rowOf, compare } from './support.js'

for (const variant of ['no-starve', 'starve-at-pg-start'] as const) {
  t.test(`pipelined batch behind two long statements (${variant})`, async t => {
    const h = await build(t, { poolMax: 1, env: { JIT_DECISION_BUDGET_MS: '500', JIT_DECISION_GRACE_MS: '200', JIT_BATCH_CONCURRENCY: '2' } })
    const b = await h.fundedCard('pipe-b', 100000)
    t.equal((await h.jit(jitBody(b, 1))).status, 200, 'warm')
    const t0 = Date.now()
    const x1 = h.db.sql`select pg_sleep(0.45)`.execute()
    const x2 = h.db.sql`select pg_sleep(0.45)`.execute()
    await sleep(20)
    const body = jitBody(b, 10)
    const res = await h.jit(body)
    const answeredAt = Date.now() - t0
    if (variant === 'starve-at-pg-start') {
      const wait = 880 - (Date.now() - t0)
      if (wait > 0) await sleep(wait)
      starve(200)
    }
    await Promise.allSettled([x1, x2])
    await sleep(1500)
    const row = await rowOf(h, tokenOf(body))
    const cmp = await compare(h, body, res)
    const repeat = await h.jit(body)
    t.comment(`answered at ${answeredAt} ms; ${cmp.detail}; repeat ${repeat.status} ${JSON.stringify(repeat.body?.jit_funding)}`)
    t.ok(cmp.ok, 'answer = record')
    t.same(repeat.body, res.body, 'repeat gets the same answer')
    const avail = await h.available(b.user)
    t.equal(avail, 100000 - 100 - (row?.outcome === 'approved' ? 1000 : 0), `available exact vs record (${avail})`)
    t.same(await h.invariants(), [])
  })
}
