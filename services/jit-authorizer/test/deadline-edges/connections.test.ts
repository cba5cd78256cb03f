// startDecisionBatch on a reserved connection.
import t from 'tap'
import { createDatabase } from '@jit/postgres'
import { databaseUrlFor } from '@jit/test-support'
import { build, jitBody, type Harness } from '../helper.js'
import { sleep, rowOf, tokenOf, compare, holdAccount, warmCardBehindLock, FAILURE_MEMO } from './support.js'

async function other (t: any, h: Harness): Promise<any> {
  const [{ db } = { db: '' }] = await h.db.sql<Array<{ db: string }>>`select current_database() as db`
  const d = createDatabase({ url: databaseUrlFor(db), poolMin: 0, poolMax: 1, statementTimeoutMs: 5000 })
  t.teardown(async () => { await d.close(1) })
  return d.sql
}

t.test('the batch backend terminated while it waits on a lock (pg_terminate_backend)', async t => {
  const h = await build(t, { poolMax: 4, env: { JIT_DECISION_BUDGET_MS: '1500', JIT_DECISION_GRACE_MS: '300' } })
  const admin = await other(t, h)
  const { card: c, holder } = await warmCardBehindLock(t, h, 'adv2-term', 1.0)
  const body = jitBody(c, 10)
  const safe = async (p: Promise<any>, what: string): Promise<any> => { try { return await p } catch (err) { t.comment(`${what} REJECTED: ${String(err)}`); return { status: 0, body: { jit_funding: { memo: `rejected: ${String(err)}` } } } } }
  const answers = Promise.all([safe(h.jit(body), 'first inject'), sleep(20).then(async () => await safe(h.jit(body), 'copy inject'))])
  let killed: unknown[] = []
  for (let i = 0; i < 50 && killed.length === 0; i++) {
    await sleep(10)
    killed = await admin`select pg_terminate_backend(pid) as k from pg_stat_activity where datname = current_database() and query like '%jit_decide_batch%' and wait_event_type = 'Lock' and pid <> pg_backend_pid()`
  }
  t.comment(`terminated ${killed.length} backend(s)`)
  const [r1, r2] = await answers
  t.comment(`got answers ${r1.status} ${r2.status}`)
  await holder
  t.comment('holder done')
  await sleep(500)
  const r3 = await safe(h.jit(body), 'repeat inject')
  t.comment(`repeat done: ${r3.status} ${r3.body.jit_funding.memo ?? ''}`)
  for (let i = 0; i < 6; i++) {
    try { await h.db.sql`select 1`; t.comment(`pool query ${i}: ok`) } catch (err) { t.comment(`pool query ${i}: ${String(err)}`) }
  }
  const c2 = await h.fundedCard('adv2-term2', 100000).catch(err => { t.comment(`fundedCard after: ${String(err)}`); return null })
  if (c2 !== null) { const r4 = await h.jit(jitBody(c2, 10)); t.comment(`a fresh card's decision after: ${r4.status} ${r4.body.jit_funding.memo ?? ''}`) }
  const r5s: any[] = []
  for (let i = 0; i < 3; i++) { await sleep(200); const r = await safe(h.jit(body), 'later'); r5s.push(r); t.comment(`repeat ${i + 2}: ${r.status} ${r.body.jit_funding.memo ?? ''}`) }
  const row = await rowOf(h, tokenOf(body))
  t.comment('row done')
  t.comment(`answers: ${r1.status} ${r1.body.jit_funding.memo ?? ''} / copy ${r2.status} ${r2.body.jit_funding.memo ?? ''} / repeat after ${r3.status} ${r3.body.jit_funding.memo ?? ''} | record ${row === null ? 'NOTHING' : `${row.outcome}/${row.decline_reason}`}`)
  const cmp = await compare(h, body, r1)
  t.ok(cmp.ok, `the answer is the record: ${cmp.detail}`)
  t.same(r2.body, r1.body, 'the copy the same')
  t.same(r3.body, r1.body, 'the repeat the same')
  for (const r of r5s) t.same(r.body, r1.body, 'a later repeat the same')
  t.equal(await h.available(c.user), 100000 - 100 - (row?.outcome === 'approved' ? 1000 : 0), 'money exact')
  t.same(await h.invariants(), [])
})

t.test('JIT_BATCH_CONCURRENCY = pool max: both connections reserved by batches on locked accounts, cold cards need screening reads', async t => {
  const h = await build(t, { poolMax: 2, env: { JIT_DECISION_BUDGET_MS: '800', JIT_DECISION_GRACE_MS: '200', JIT_BATCH_CONCURRENCY: '2', JIT_BATCH_MAX: '4' } })
  const locked = [await h.fundedCard('adv2-pm-l1', 100000), await h.fundedCard('adv2-pm-l2', 100000)]
  for (const c of locked) t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm locked')
  const cold = await Promise.all(Array.from({ length: 6 }, async (_, i) => await h.fundedCard(`adv2-pm-c${i}`, 100000)))
  const holders = locked.map(c => holdAccount(h, c.user, 2.0))
  await sleep(200)
  const lockedBodies = locked.map(c => jitBody(c, 10))
  const lockedAnswers = Promise.all(lockedBodies.map(async b => await h.jit(b)))
  await sleep(50)
  const coldBodies = cold.map(c => jitBody(c, 10))
  const started = Date.now()
  const coldAnswers = await Promise.all(coldBodies.map(async b => { const r = await h.jit(b); return { ...r, ms: Date.now() - started } }))
  const la = await lockedAnswers
  await Promise.all(holders)
  await sleep(1500)
  const all = [...lockedBodies.map((b, i) => [b, la[i]] as const), ...coldBodies.map((b, i) => [b, coldAnswers[i]] as const)]
  for (const [b, r] of all) {
    const cmp = await compare(h, b, r as any)
    if (!cmp.ok && (r as any).body?.jit_funding?.memo === FAILURE_MEMO && (await rowOf(h, tokenOf(b))) === null) {
      // The documented unrecorded decline of a failed decision (docs/reliability.md: a repeat is
      // decided afresh). Seen once in CI on a loaded machine (one cold card of six, 871 ms), not
      // reproduced since; CHANGELOG "Known gaps" says what is suspected. Its repeat must be
      // decided and recorded like any decision.
      t.comment(`a failure decline, unrecorded: ${cmp.detail}`)
      const again = await h.jit(b)
      t.ok((await compare(h, b, again as any)).ok, 'its repeat is decided afresh and is the record')
      continue
    }
    t.ok(cmp.ok, `answer is the record: ${cmp.detail}`)
    const again = await h.jit(b)
    t.same(again.body, (r as any).body, 'repeat same')
  }
  t.comment(`cold answer times ms: ${coldAnswers.map(r => `${r.ms}:${r.status}`).join(' ')}`)
  t.ok(coldAnswers.every(r => r.ms < 800 + 200 + 300), 'each answered by its deadline plus grace (+300 ms slack)')
  for (const c of [...locked, ...cold]) {
    const b = all.find(([body]) => (body as any).gpa_order.jit_funding.user_token === c.user)?.[0] as any
    const row = await rowOf(h, tokenOf(b))
    const warm = locked.includes(c) ? 100 : 0
    t.equal(await h.available(c.user), 100000 - warm - (row?.outcome === 'approved' ? 1000 : 0), `${c.user} money exact`)
  }
  t.same(await h.invariants(), [])
})
