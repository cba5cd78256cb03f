// What we answer is what we recorded, at the edges of the deadline: an outcome that arrived while
// this process was too busy to read it, a statement PostgreSQL timed out before our own cancel
// ran, and decisions queued behind a busy connection (docs/reliability.md).
import t from 'tap'
import { getDecision, TIMEOUT_DECLINE } from '@jit/ledger'
import { build, jitBody, type Harness } from './helper.js'
import { ONE_CONNECTION, warmCards, busyConnection, holdAccount, starve, tokenOf } from './deadline-edges/support.js'

/** The lock holder's transaction has its lock (it is sleeping). */
async function holding (h: Harness): Promise<boolean> {
  const [row] = await h.db.sql<Array<{ n: number }>>`select count(*)::int as n from pg_stat_activity where datname = current_database() and query like '%for update; select pg_sleep%' and state = 'active' and wait_event = 'PgSleep'`
  return (row?.n ?? 0) > 0
}

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A decision statement of this database waiting on a row lock. */
async function decisionWaiting (h: Harness): Promise<boolean> {
  const [row] = await h.db.sql<Array<{ n: number }>>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%jit_decide%'`
  return (row?.n ?? 0) > 0
}

t.test('an approval that committed while the process was starved past the deadline plus grace is answered as the approval it is', async t => {
  const h = await build(t, { env: { JIT_DECISION_BUDGET_MS: '1000', JIT_DECISION_GRACE_MS: '200' } })
  const c = await h.fundedCard('starved', 100000)
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm: its user and card are cached')
  const holder = holdAccount(h, c.user, 0.3)
  await until('the lock taken', async () => await holding(h))
  const body = jitBody(c, 10)
  const answer = h.jit(body)
  await until('the decision waiting on the account lock', async () => await decisionWaiting(h))
  // the lock goes at 0.3 s and the statement commits the approval; this process reads it only
  // after its deadline (1 s) and its give-up (1.2 s) have both come due
  starve(1600)
  const res = await answer
  await holder
  t.equal(res.status, 200, `answered: ${JSON.stringify(res.body)}`)
  t.equal((await getDecision(h.db.sql, tokenOf(body)))?.outcome, 'approved', 'recorded the same')
  t.equal(await h.available(c.user), 100000 - 100 - 1000)
  t.same(await h.invariants(), [])
})

t.test('a batch PostgreSQL timed out before our cancel ran is recorded as TIMEOUT and answered that, not "could not decide"', async t => {
  // the pool's statement_timeout far below the budget: PostgreSQL's 57014 comes while our own
  // cancel timer (at the 1 s deadline) has not run, as when a starved process runs it late
  const h = await build(t, { statementTimeoutMs: 150, env: { JIT_DECISION_BUDGET_MS: '1000', JIT_DECISION_GRACE_MS: '200' } })
  const c = await h.fundedCard('pg-timeout', 100000)
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm')
  const holder = holdAccount(h, c.user, 0.6)
  await until('the lock taken', async () => await holding(h))
  const body = jitBody(c, 10)
  const res = await h.jit(body)
  await holder
  t.equal(res.status, 402)
  t.equal(res.body.jit_funding.memo, TIMEOUT_DECLINE.memo, `answered: ${JSON.stringify(res.body)}`)
  const recorded = await getDecision(h.db.sql, tokenOf(body))
  t.equal(recorded?.outcome, 'declined', 'recorded a decline')
  t.same((await h.jit(body)).body, res.body, 'a repeat gets the same answer')
  t.equal(await h.available(c.user), 100000 - 100, 'nothing held')
  t.same(await h.invariants(), [])
})

t.test('decisions queued behind a connection busy past their deadline are answered the TIMEOUT decline and recorded as such', async t => {
  // one connection, one batch at a time: a long statement holds the connection, the first
  // decision's batch waits for it in the pool, the second waits in the batcher's queue
  const h = await build(t, ONE_CONNECTION)
  const [a, b] = await warmCards(t, h, 'queued')
  const busy = busyConnection(h, 1.5)
  await new Promise(resolve => setTimeout(resolve, 50))
  const first = jitBody(a, 10)
  const second = jitBody(b, 10)
  const started = Date.now()
  const [r1, r2] = await Promise.all([h.jit(first), h.jit(second)])
  const took = Date.now() - started
  await busy
  t.ok(took < 1400, `both answered by their deadline plus grace (${took} ms; the connection was busy for 1.5 s)`)
  t.equal(r1.status, 402)
  t.equal(r2.status, 402)
  t.equal(r2.body.jit_funding.memo, TIMEOUT_DECLINE.memo, 'the queued one: the TIMEOUT decline')
  // recorded off the hot path once the connection is free (the shed recorder writes every 250 ms)
  await until('the queued decision recorded', async () => (await getDecision(h.db.sql, tokenOf(second))) !== null)
  t.equal((await getDecision(h.db.sql, tokenOf(second)))?.outcome, 'declined')
  t.same((await h.jit(second)).body, r2.body, 'a repeat gets the TIMEOUT decline it was answered')
  t.equal(await h.available(a.user), 100000 - 100, 'nothing held for the first')
  t.equal(await h.available(b.user), 100000 - 100, 'nothing held for the second')
  t.same(await h.invariants(), [])
})
