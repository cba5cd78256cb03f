// one batch holding a replay of an approved token, an incremental of it, the same new token
// twice, a fresh approval, an odd currency, an odd-decimals amount and a member PostgreSQL is slow
// to insert (a test-only trigger sleeps 1.3 s on its approved decision row): the batch runs past
// its deadline and its commit-by, and rolls back (our cancel; or, with this process starved, the
// commit_by check). Every answer vs the decisions row afterwards.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { tokenOf, sleep, starve, rowOf, compare, installSlowAndBadTokens, fundedByName, occupyBatchSlot } from './support.js'

for (const variant of ['cancel', 'starve'] as const) {
  t.test(`mixed batch rolled back (${variant})`, async t => {
    const h = await build(t, { poolMax: 4, env: { JIT_DECISION_BUDGET_MS: '1000', JIT_DECISION_GRACE_MS: '400', JIT_BATCH_CONCURRENCY: '1' } })
    await installSlowAndBadTokens(h)
    const { l, x, n, z, s } = await fundedByName(t, h, 'mx', ['l', 'x', 'n', 'z', 's'], ['x'])
    const y = jitBody(x, 10)
    const yAnswer = await h.jit(y)
    t.equal(yAnswer.status, 200, 'y approved')
    const slot = await occupyBatchSlot(h, l)
    const members: Array<[string, Record<string, unknown>]> = [
      ['replay of approved y', y],
      ['incremental of y', jitBody(x, 5, { method: 'pgfs.authorization.incremental', original: tokenOf(y) })],
      ['fresh approval n', jitBody(n, 7)],
      ['dup token z #1', jitBody(z, 3, { token: `dupz-${process.pid}-${variant}` })],
      ['dup token z #2', jitBody(z, 3, { token: `dupz-${process.pid}-${variant}` })],
      ['odd currency', jitBody(n, 2, { currency: 'XYZ' })],
      ['odd decimals', jitBody(n, '2.005')],
      ['unknown method', jitBody(n, 2, { method: 'pgfs.something.new' })],
      ['slow s', jitBody(s, 4, { token: `slow-${process.pid}-${variant}` })]
    ]
    const answers = members.map(([, b]) => h.jit(b))
    if (variant === 'starve') {
      for (let i = 0; i < 300; i++) {
        const [r] = await h.db.sql<Array<{ n: number }>>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep' and query like '%jit_decide_batch%'`
        if ((r?.n ?? 0) > 0) break
        await sleep(5)
      }
      starve(1600)
    }
    const res = await Promise.all(answers)
    await slot()
    await sleep(2500)
    for (const [i, [name, body]] of members.entries()) {
      const cmp = await compare(h, body, res[i]!)
      t.comment(`${name}: ${cmp.detail}`)
      t.ok(cmp.ok, `${name}: answer = record`)
    }
    const rep = await h.jit(y)
    t.same(rep.body, yAnswer.body, 'y repeated afterwards: still its approval')
    // money: x holds y (+ the incremental if it is recorded approved), n holds warm + its approvals
    const inc = await rowOf(h, tokenOf(members[1]![1]))
    t.equal(await h.available(x.user), 100000 - 1000 - (inc?.outcome === 'approved' ? 500 : 0), 'x exact vs records')
    const rows = await h.db.sql<Array<{ outcome: string, amount: string }>>`select outcome, amount from decisions where account_token = ${n.user} and outcome = 'approved'`
    t.equal(await h.available(n.user), 100000 - rows.reduce((a, r) => a + Number(r.amount), 0), 'n exact vs records')
    t.same(await h.invariants(), [])
  })
}
