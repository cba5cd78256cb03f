import t from 'tap'
import { applyTransactionEvent, applyTransactionEventBatch, decideJitFunding } from '../../src/index.js'
import { adversary } from './support.js'
import { ledgerDatabase, jitRequest, withoutJitFunding } from '../helpers.js'

// Two batches at once (docs/ledger.md "Lock order, everywhere: the decision row, the effect key,
// the message row, the hold row, the account row"): a decision batch of two messages T1, T2 of
// one card, and a webhook batch carrying the PENDINGs of T2 then T1 without jit_funding (both
// batches keep arrival order within one card). Since jit_decide takes the message row of each
// member (71e8c5c), the two batches take the message rows T1, T2 in opposite orders. The
// interleaving is forced here with two explicit transactions; each statement is what a batch
// member runs (the webhook of T2 locks its message row, then waits for the account row the
// decision of T1 holds; the decision of T2 then waits for T2's message row). Expected: no
// deadlock: every money transaction takes its cards' locks first (ledger_lock_cards.sql), so the
// webhook batch waits at its start for the decision batch's commit.
const db = await ledgerDatabase(t, { poolMax: 6 })
const { card, money } = adversary(t, db, 'dl')

const withoutJit = withoutJitFunding

t.test('decision batch [T1, T2] and webhook batch [T2, T1] interleaved: no deadlock', async t => {
  const { c, s } = await card('one')
  const p1 = s.purchase(10000)
  const p2 = s.purchase(20000)
  const decide = (p: typeof p1) => jitRequest(c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })
  let step!: () => void
  const decidedFirst = new Promise<void>(resolve => { step = resolve })
  const decisions = db.sql.begin(async tx => {
    await decideJitFunding(tx, [decide(p1)])
    step()
    // meanwhile the webhook batch takes T2's message row, then waits for this account row
    await new Promise(resolve => setTimeout(resolve, 300))
    return await decideJitFunding(tx, [decide(p2)])
  })
  const webhooks = db.sql.begin(async tx => {
    await decidedFirst
    await applyTransactionEvent(tx, withoutJit(s.pending(p2)))
    return await applyTransactionEvent(tx, withoutJit(s.pending(p1)))
  })
  const [d, w] = await Promise.allSettled([decisions, webhooks])
  t.comment(`decision batch: ${d.status === 'fulfilled' ? JSON.stringify(d.value.map(r => r.outcome)) : (d.reason as Error).message}`)
  t.comment(`webhook batch: ${w.status === 'fulfilled' ? JSON.stringify(w.value) : (w.reason as Error).message}`)
  t.comment(`money: ${JSON.stringify(await money(c.account))}`)
  t.same([d.status, w.status], ['fulfilled', 'fulfilled'], 'both batches commit (no deadlock between a decision batch and a webhook batch)')
})

t.test('a real decision batch [T1, T2] and a real webhook batch [T2, T1] of one card at once: both commit (20 rounds)', async t => {
  const failures: string[] = []
  for (let i = 0; i < 20; i++) {
    const { c, s } = await card(`real-${i}`)
    const p1 = s.purchase(10000)
    const p2 = s.purchase(20000)
    const decide = (p: typeof p1) => jitRequest(c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })
    const [d, w] = await Promise.allSettled([
      decideJitFunding(db.sql, [decide(p1), decide(p2)]),
      db.sql.begin(async tx => await applyTransactionEventBatch(tx, [withoutJit(s.pending(p2)), withoutJit(s.pending(p1))]))
    ])
    for (const r of [d, w]) if (r.status === 'rejected') failures.push(`round ${i}: ${(r.reason as Error).message}`)
    if (w.status === 'fulfilled') for (const o of w.value) if (!o.ok) failures.push(`round ${i}: event failed: ${String(o.error)}`)
    const m = await money(c.account)
    // one hold per message whichever ran first: 100 + 200 held, nothing posted
    if (m.balance !== 100000 || m.available !== 70000) failures.push(`round ${i}: ${JSON.stringify(m)}`)
  }
  t.same(failures, [], 'no deadlock, no error, one hold per message')
})
