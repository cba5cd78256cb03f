// A decision queued at its deadline plus grace is answered the TIMEOUT decline; its record fails
// (statement_timeout while another process holds its card's lock) and is retried by the shed
// recorder; the repeat, after the lock goes, must get the decline it was answered.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { sleep, rowOf, tokenOf, compare, ONE_CONNECTION, warmCards, busyConnection, holdFromPsql, availableMatchesRecord } from './support.js'

for (const ahead of [1, 2]) {
  t.test(`the TIMEOUT answer behind ${ahead} request(s), its first record refused, the repeat`, async t => {
    const h = await build(t, ONE_CONNECTION)
    const [a, b] = await warmCards(t, h, `sd${ahead}`)
    const holder = holdFromPsql(h, `select pg_advisory_xact_lock(ledger_card_lock_key('${b.card}'))`, 2.5)
    await sleep(200)
    const busy = busyConnection(h, 1.0)
    await sleep(30)
    const first = jitBody(a, 10)
    const second = jitBody(b, 10)
    const before = Promise.all([h.jit(first), ...(ahead > 1 ? [h.jit(jitBody(a, 11))] : [])])
    const answer = await h.jit(second)
    await Promise.all([before, busy, holder])
    await sleep(300)
    const repeat = await h.jit(second)
    await sleep(500)
    const cmp = await compare(h, second, answer)
    t.ok(cmp.ok, `the first answer is the record: ${cmp.detail}`)
    t.same(repeat.body, answer.body, 'the repeat gets the first answer')
    t.not((await rowOf(h, tokenOf(second)))?.outcome, 'approved', 'never approved behind the decline')
    await availableMatchesRecord(t, h, b, second)
    t.same(await h.invariants(), [])
  })
}
