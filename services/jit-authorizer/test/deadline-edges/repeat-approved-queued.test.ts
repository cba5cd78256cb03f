// repeats of tokens the ledger already APPROVED, arriving while the one connection is busy:
// the one whose batch waits for the connection, and the one still queued in the batcher.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { sleep, compare } from './support.js'

t.test('repeats of approved tokens behind a busy connection', async t => {
  const h = await build(t, { poolMax: 1, env: { JIT_DECISION_BUDGET_MS: '500', JIT_DECISION_GRACE_MS: '200', JIT_BATCH_CONCURRENCY: '1', JIT_BATCH_MAX: '1' } })
  const a = await h.fundedCard('ra-a', 100000)
  const b = await h.fundedCard('ra-b', 100000)
  const ya = jitBody(a, 10)
  const yb = jitBody(b, 10)
  const first = await h.jit(ya)
  const second = await h.jit(yb)
  t.equal(first.status, 200, 'a approved')
  t.equal(second.status, 200, 'b approved')
  const busy = h.db.sql.begin(async tx => {
    await tx`set local statement_timeout = 0`
    await tx`select pg_sleep(1.5)`
  })
  await sleep(50)
  const [ra, rb] = await Promise.all([h.jit(ya), h.jit(yb)])
  await busy
  await sleep(1500)
  for (const [name, body, orig, rep] of [['a (batch waiting for the connection)', ya, first, ra], ['b (queued in the batcher)', yb, second, rb]] as const) {
    const cmp = await compare(h, body, rep)
    t.comment(`${name}: first ${orig.status}; repeat ${cmp.detail}`)
    t.same(rep.body, orig.body, `${name}: the repeat gets the approval it was answered`)
  }
  t.equal(await h.available(a.user), 100000 - 1000)
  t.equal(await h.available(b.user), 100000 - 1000)
  t.same(await h.invariants(), [])
})
