// the halving retry commits its first half (an approval) in its own transaction; the second
// half then runs past the deadline and rolls back (57014). Test-only triggers: 'bad-%' raises a
// data error (22023) when approved (a member error: the batch is halved), 'slow-%' sleeps 1.3 s
// on its approved decision row.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { tokenOf, sleep, starve, rowOf, compare, installSlowAndBadTokens, holdFromPsql, fundedByName, occupyBatchSlot } from './support.js'

for (const variant of ['starve', 'card-lock-taken-after-cancel'] as const) {
  t.test(`halved batch, second half rolled back (${variant})`, async t => {
    const h = await build(t, { poolMax: 4, env: { JIT_DECISION_BUDGET_MS: '1000', JIT_DECISION_GRACE_MS: '300', JIT_BATCH_CONCURRENCY: '1' } })
    await installSlowAndBadTokens(h)
    const { l, n, bad, w, hh } = await fundedByName(t, h, 'bs', ['l', 'n', 'bad', 'w', 'hh'])
    // the members below form one batch behind it
    const slot = await occupyBatchSlot(h, l)
    const members: Array<[string, Record<string, unknown>]> = [
      ['approval n (first half)', jitBody(n, 7)],
      ['culprit bad (first half)', jitBody(bad, 2, { token: `bad-${process.pid}-${variant.slice(0, 4)}` })],
      ['slow w (second half)', jitBody(w, 4, { token: `slow-${process.pid}-${variant.slice(0, 4)}` })],
      ['h (second half)', jitBody(hh, 3)]
    ]
    const answers = members.map(([, b]) => h.jit(b))
    for (let i = 0; i < 400; i++) {
      const [r] = await h.db.sql<Array<{ n: number }>>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep' and query like '%jit_decide_batch%'`
      if ((r?.n ?? 0) > 0) break
      await sleep(5)
    }
    let cardHolder: Promise<unknown> = Promise.resolve()
    if (variant === 'starve') starve(1600)
    else cardHolder = holdFromPsql(h, `select pg_advisory_xact_lock(ledger_card_lock_key('${hh.card}'))`, 2)
    const res = await Promise.all(answers)
    await Promise.all([slot(), cardHolder])
    await sleep(2500)
    for (const [i, [name, body]] of members.entries()) {
      const cmp = await compare(h, body, res[i]!)
      t.comment(`${name}: ${cmp.detail}`)
      t.ok(cmp.ok, `${name}: answer = record`)
    }
    const m = await h.app.inject({ method: 'GET', url: '/metrics' })
    t.comment(m.body.split('\n').filter(l => /^jit_(late_commits|shed_recorded|budget_timeouts)/.test(l)).join(' ; '))
    const rn = await rowOf(h, tokenOf(members[0]![1]))
    t.equal(await h.available(n.user), 100000 - 100 - (rn?.outcome === 'approved' ? 700 : 0), `n exact vs record (${await h.available(n.user)})`)
    t.same(await h.invariants(), [])
  })
}
