// After the backend of a batch's reserved connection is terminated, warm-card decisions only
// (no screening reads, no other pool queries): are they decided again?
import t from 'tap'
import { createDatabase } from '@jit/postgres'
import { databaseUrlFor } from '@jit/test-support'
import { build, jitBody } from '../helper.js'
import { sleep, rowOf, tokenOf, compare, holdAccount } from './support.js'

t.test('warm decisions after a terminated batch backend', async t => {
  const h = await build(t, { poolMax: 4, env: { JIT_DECISION_BUDGET_MS: '1500', JIT_DECISION_GRACE_MS: '300' } })
  const [{ db } = { db: '' }] = await h.db.sql<Array<{ db: string }>>`select current_database() as db`
  const admin = createDatabase({ url: databaseUrlFor(db), poolMin: 0, poolMax: 1, statementTimeoutMs: 5000 })
  t.teardown(async () => { await admin.close(1) })
  const c = await h.fundedCard('adv2-tw', 100000)
  const warm = await Promise.all(Array.from({ length: 5 }, async (_, i) => await h.fundedCard(`adv2-tw-${i}`, 100000)))
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm')
  for (const w of warm) t.equal((await h.jit(jitBody(w, 1))).status, 200, 'warm')
  const holder = holdAccount(h, c.user, 1.0)
  await sleep(150)
  const body = jitBody(c, 10)
  const answer = h.jit(body)
  let killed: readonly unknown[] = []
  for (let i = 0; i < 50 && killed.length === 0; i++) {
    await sleep(10)
    killed = await admin.sql`select pg_terminate_backend(pid) as k from pg_stat_activity where datname = current_database() and query like '%jit_decide_batch%' and wait_event_type = 'Lock'`
  }
  const r1 = await answer
  await holder
  t.comment(`terminated ${killed.length}; answered ${r1.status} ${r1.body.jit_funding.memo ?? ''}`)
  const after: string[] = []
  const bodies: Array<[Record<string, unknown>, any]> = []
  for (let i = 0; i < 40; i++) {
    await sleep(200)
    const b = jitBody(warm[i % warm.length] as any, 10)
    const r = await h.jit(b)
    bodies.push([b, r])
    after.push(r.status === 200 ? '200' : `${r.status}:${String(r.body.jit_funding.memo).slice(10, 30)}`)
  }
  t.comment(`40 warm decisions after, 200 ms apart: ${after.join(', ')}`)
  t.ok(after.every(a => a === '200'), 'every later decision is decided (the database is healthy)')
  let mism = 0
  for (const [b, r] of bodies) { try { const cmp = await compare(h, b, r); if (!cmp.ok) mism++ } catch (err) { t.comment(`compare query failed: ${String(err)}`) } }
  t.comment(`answers differing from the record: ${mism} of ${bodies.length}`)
  const row = await rowOf(h, tokenOf(body)).catch(async () => await rowOf(h, tokenOf(body)))
  t.comment(`the first: record ${row === null ? 'NOTHING' : row.outcome}`)
  t.same(await h.invariants().catch(async () => await h.invariants()), [])
})
