// in-flight sharing of identical requests (the `deciding` map).
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { rowOf, tokenOf, compare, occupyBatchSlot, warmCardBehindLock } from './support.js'

const ENV = { poolMax: 3, env: { JIT_DECISION_BUDGET_MS: '1000', JIT_DECISION_GRACE_MS: '200', JIT_BATCH_CONCURRENCY: '1', JIT_BATCH_MAX: '8' } }

t.test('two identical copies, the first stale (user revision bumped after caching)', async t => {
  const h = await build(t, ENV)
  const c = await h.fundedCard('adv2-st', 100000)
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm')
  await h.db.sql`update users set revision = revision + 1 where user_token = ${c.user}`
  const body = jitBody(c, 10)
  const [r1, r2] = await Promise.all([h.jit(body), h.jit(body)])
  t.comment(`copies: ${r1.status} ${r1.body.jit_funding.memo ?? ''} / ${r2.status} ${r2.body.jit_funding.memo ?? ''}`)
  t.same(r2.body, r1.body, 'the copies get one answer')
  const cmp = await compare(h, body, r1)
  t.ok(cmp.ok, cmp.detail)
  t.equal(await h.available(c.user), 100000 - 100 - ((await rowOf(h, tokenOf(body)))?.outcome === 'approved' ? 1000 : 0))
  t.same(await h.invariants(), [])
})

t.test('two identical copies behind a lock held past the deadline (TIMEOUT)', async t => {
  const h = await build(t, ENV)
  const { card: c, holder } = await warmCardBehindLock(t, h, 'adv2-lk', 1.5)
  const body = jitBody(c, 10)
  const [r1, r2] = await Promise.all([h.jit(body), h.jit(body)])
  await holder
  const r3 = await h.jit(body)
  t.comment(`copies: ${r1.status} ${r1.body.jit_funding.memo ?? ''} / ${r2.status} ${r2.body.jit_funding.memo ?? ''} / later ${r3.status}`)
  t.same(r2.body, r1.body, 'the copies get one answer')
  t.same(r3.body, r1.body, 'a later repeat the same')
  const cmp = await compare(h, body, r1)
  t.ok(cmp.ok, cmp.detail)
  t.same(await h.invariants(), [])
})

t.test('one token, two fingerprints (amounts 10 and 20) in one batch', async t => {
  const h = await build(t, ENV)
  const blockerCard = await h.fundedCard('adv2-fp-blk', 100000)
  const c = await h.fundedCard('adv2-fp', 100000)
  t.equal((await h.jit(jitBody(blockerCard, 1))).status, 200, 'warm blocker')
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm')
  const done = await occupyBatchSlot(h, blockerCard)
  const a = jitBody(c, 10)
  const b = jitBody(c, 20, { token: tokenOf(a) })
  const [ra, rb] = await Promise.all([h.jit(a), h.jit(b)])
  await done()
  const row = await rowOf(h, tokenOf(a))
  t.comment(`10: ${ra.status} ${ra.body.jit_funding.decline_reason ?? ''} / 20: ${rb.status} ${rb.body.jit_funding.decline_reason ?? ''} | record ${row?.outcome}/${row?.decline_reason} amount ${JSON.stringify(row?.response?.jit_funding?.amount)}`)
  const winner = row?.response?.jit_funding?.amount === 10 ? ra : rb
  const loser = winner === ra ? rb : ra
  const winnerBody = winner === ra ? a : b
  const cmp = await compare(h, winnerBody, winner)
  t.ok(cmp.ok, `the request recorded got its record: ${cmp.detail}`)
  t.equal(loser.body.jit_funding.decline_reason, 'DUPLICATE_TRANSACTION', 'the other DUPLICATE_TRANSACTION')
  const ra2 = await h.jit(a); const rb2 = await h.jit(b)
  t.same(ra2.body, ra.body, 'repeat of 10 same'); t.same(rb2.body, rb.body, 'repeat of 20 same')
  t.equal(await h.available(c.user), 100000 - 100 - (row?.outcome === 'approved' ? (row.response.jit_funding.amount as number) * 100 : 0), 'money exact')
  t.same(await h.invariants(), [])
})
