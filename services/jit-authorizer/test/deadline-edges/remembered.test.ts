// the per-process memory of answers (rememberedAnswers) and the shed path beside it.
import t from 'tap'
import * as ledger from '@jit/ledger'
import { transactionEvent } from '@jit/processor-sim'
import { build, jitBody } from '../helper.js'
import { sleep, rowOf, tokenOf, compare } from './support.js'

t.test('a repeat with another amount after a remembered approval', async t => {
  const h = await build(t)
  const c = await h.fundedCard('adv2-rem', 100000)
  const body = jitBody(c, 10)
  const first = await h.jit(body)
  t.equal(first.status, 200)
  const other = jitBody(c, 20, { token: tokenOf(body) })
  const res = await h.jit(other)
  t.comment(`other amount: ${res.status} ${JSON.stringify(res.body.jit_funding)}`)
  t.equal(res.body.jit_funding.decline_reason, 'DUPLICATE_TRANSACTION', 'another request under the token: DUPLICATE_TRANSACTION')
  const again = await h.jit(body)
  t.same(again.body, first.body, 'the original repeated: the same answer')
  const cmp = await compare(h, body, first)
  t.ok(cmp.ok, cmp.detail)
  t.equal(await h.available(c.user), 100000 - 1000)
  t.same(await h.invariants(), [])
})

t.test('a webhook (DECLINED authorization, timed out) claims the token first', async t => {
  const h = await build(t)
  const c = await h.fundedCard('adv2-wh', 100000)
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm')
  const body = jitBody(c, 10)
  const jitToken = tokenOf(body)
  const ev = transactionEvent(c, { type: 'authorization', state: 'DECLINED', amount: 1000, jit: { token: jitToken, method: 'pgfs.authorization' }, timedOut: true } as never)
  t.comment(`webhook: ${JSON.stringify(await ledger.applyTransactionEvent(h.db.sql, ev as never))}`)
  const row0 = await rowOf(h, jitToken)
  t.comment(`record after webhook: ${row0?.outcome}/${row0?.decline_reason} ${JSON.stringify(row0?.response)}`)
  const res = await h.jit(body)
  const res2 = await h.jit(body)
  t.comment(`JIT after the claim: ${res.status} ${JSON.stringify(res.body.jit_funding)}; repeat ${res2.status} ${res2.body.jit_funding.decline_reason}`)
  t.equal(res.status, 402, 'declined (nothing can be held for a claimed token)')
  t.same(res2.body, res.body, 'repeat same')
  t.equal(await h.available(c.user), 100000 - 100, 'nothing held')
  t.same(await h.invariants(), [])
})

t.test('an approved token repeated while the gateway sheds', async t => {
  const h = await build(t, { env: { JIT_MAX_EVENT_LOOP_DELAY_MS: '100' } })
  const c = await h.fundedCard('adv2-shedrep', 100000)
  const body = jitBody(c, 10)
  const first = await h.jit(body)
  t.equal(first.status, 200, 'approved and remembered')
  const until = Date.now() + 1500
  while (Date.now() < until) { /* stall */ }
  for (let i = 0; i < 40 && !h.app.isUnderPressure(); i++) await sleep(25)
  t.ok(h.app.isUnderPressure(), 'shedding')
  const shedRepeat = await h.jit(body)
  t.comment(`repeat while shedding: ${shedRepeat.status} ${JSON.stringify(shedRepeat.body.jit_funding)}`)
  for (let i = 0; i < 80 && h.app.isUnderPressure(); i++) await sleep(50)
  const afterPressure = await h.jit(body)
  t.comment(`repeat just after the pressure (pressure=${h.app.isUnderPressure()}): ${afterPressure.status} ${afterPressure.body.jit_funding.memo ?? ''}`)
  await sleep(1000)
  const later = await h.jit(body)
  t.comment(`repeat 1 s later: ${later.status} ${later.body.jit_funding.memo ?? ''}`)
  const row = await rowOf(h, tokenOf(body))
  t.comment(`record ${row?.outcome}/${row?.decline_reason}`)
  for (const [what, r] of [['shed repeat', shedRepeat], ['after pressure', afterPressure], ['later', later]] as const) {
    t.same(r.body, first.body, `${what}: the answer the ledger holds (approved)`)
  }
  t.equal(await h.available(c.user), 100000 - 1000)
  t.same(await h.invariants(), [])
})
