import t from 'tap'
import { getHold, getDecision, upsertCard } from '@jit/ledger'
import { holdLocks, startPrivateRedis } from '@jit/test-support'
import { build, jitBody } from './helper.js'

t.test('Redis stopped: the same answers, only slower', async t => {
  const redis = await startPrivateRedis(t)
  const h = await build(t, { redisUrl: redis.url })
  const c = await h.fundedCard('redis', 10000)
  t.equal((await h.jit(jitBody(c, 40))).status, 200, 'warm: approved')
  await redis.stop()
  t.equal((await h.jit(jitBody(c, 40))).status, 200, 'Redis down: approved from PostgreSQL')
  const poor = await h.jit(jitBody(c, 40))
  t.equal(poor.status, 402)
  t.equal(poor.body.jit_funding.decline_reason, 'INSUFFICIENT_FUNDS', 'Redis down: limits still hold')
  await upsertCard(h.db.sql, { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12' })
  const suspended = await h.jit(jitBody(c, 1))
  t.equal(suspended.body.jit_funding.decline_reason, 'CARD_NOT_ACTIVE', 'a suspension is seen with Redis down')
  await redis.start()
  t.same(await h.invariants(), [])
})

t.test('a stale cache entry never decides: a suspended card is declined even while cached as active', async t => {
  const h = await build(t)
  const c = await h.fundedCard('stale', 10000)
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'the card is now cached as ACTIVE')
  // change the card behind the cache's back (no invalidation at all)
  await upsertCard(h.db.sql, { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12' })
  const res = await h.jit(jitBody(c, 1))
  t.equal(res.status, 402)
  t.equal(res.body.jit_funding.decline_reason, 'CARD_NOT_ACTIVE')
  await upsertCard(h.db.sql, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'reactivated: approved although the cache said SUSPENDED')
  t.same(await h.invariants(), [])
})

t.test('PostgreSQL slow (a held lock): the budget declines, no hold is left, the repeat gets the same', async t => {
  const h = await build(t, { env: { JIT_DECISION_BUDGET_MS: '800' } })
  const c = await h.fundedCard('slow', 100000)
  const release = await holdLocks(h.db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.user} for update`)
  const body = jitBody(c, 10)
  const token = String((body.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
  const started = Date.now()
  const res = await h.jit(body)
  const elapsed = Date.now() - started
  await release()
  t.equal(res.status, 402)
  t.match(res.body.jit_funding.memo, /time budget/)
  t.ok(elapsed < 2900, `answered within the processor's deadline (${elapsed} ms)`)
  t.equal(await getHold(h.db.sql, token), null, 'no hold')
  t.equal((await getDecision(h.db.sql, token))?.decline_reason, 'TIMEOUT')
  const again = await h.jit(body)
  t.same(again.body, res.body, 'the repeat gets the same decline')
  t.equal(await h.available(c.user), 100000)
  const metrics = await h.app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /jit_budget_timeouts_total 1/)
  t.same(await h.invariants(), [])
})

t.test('the deadline holds under a held lock and an exhausted pool: every answer in time, no late approval', async t => {
  const h = await build(t, { env: { JIT_DECISION_BUDGET_MS: '600' }, poolMax: 3 })
  const c = await h.fundedCard('deadline', 1000000)
  const release = await holdLocks(h.db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.user} for update`)
  const bodies = Array.from({ length: 12 }, () => jitBody(c, 1))
  const started = Date.now()
  const answers = await Promise.all(bodies.map(async b => {
    const res = await h.jit(b)
    return { ...res, at: Date.now() - started }
  }))
  // keep the lock past every deadline, then let the queued statements run
  await new Promise(resolve => setTimeout(resolve, 300))
  await release()
  const slowest = Math.max(...answers.map(a => a.at))
  t.ok(slowest < 600 + 1000, `all 12 answered by ${slowest} ms (budget 600 ms)`)
  t.ok(answers.every(a => a.status === 402), 'all declined while the account was locked')
  // the statements still queued in the pool ran after their deadline: they record declines
  await new Promise(resolve => setTimeout(resolve, 1000))
  const rows = await h.db.sql<Array<{ outcome: string, n: number }>>`
    select outcome, count(*)::int as n from decisions group by outcome`
  t.notOk(rows.some(r => r.outcome === 'approved'), 'no approval was recorded after its deadline')
  t.equal(await h.available(c.user), 1000000, 'no hold')
  for (const b of bodies.slice(0, 3)) {
    const again = await h.jit(b)
    t.equal(again.status, 402, 'a repeat is declined too')
  }
  t.same(await h.invariants(), [])
})
