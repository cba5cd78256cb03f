import t from 'tap'
import {
  applyTransactionEvent, applyTransactionEventBatch, applyTransactionEvents, getHold, TransactionEventError, upsertCard, type TransactionEventInput
} from '../src/index.js'
import { ledgerDatabase, assertInvariants, lifecycleKit, shop } from './helpers.js'

// applyTransactionEvents: a batch in one statement (the worker's first attempt at each batch).
const db = await ledgerDatabase(t, { poolMax: 4 })
const { account, money } = lifecycleKit(t, db, 'together')

t.test('one statement applies a batch like the savepoint path: the same outcomes, money and keys', async t => {
  // the same history on two accounts: one through each path
  const histories = await Promise.all(['one', 'two'].map(async name => {
    const k = await account(name)
    const p = k.s.purchase(10000)
    t.equal((await k.s.decide(p)).outcome, 'approved')
    return { ...k, p, events: [k.s.clearing(p, 6000, true), k.s.forceCapture(2500), k.s.pending(p), k.s.refund(null, 700), k.s.pending(p)] }
  }))
  const [one, two] = histories as [typeof histories[number], typeof histories[number]]
  const a = one.events
  const b = two.events
  const together = await db.sql.begin(async tx => await applyTransactionEvents(tx, a))
  const each = await db.sql.begin(async tx => await applyTransactionEventBatch(tx, b))
  t.same(together.map(r => r.outcome), ['applied', 'applied', 'applied', 'applied', 'duplicate'], 'in arrival order: the second pending is the duplicate')
  t.same(together.map(r => r.outcome), each.map(o => o.ok ? o.result.outcome : 'error'), 'the same outcomes as one savepoint each')
  t.same(together.map(r => r.effect ?? null), each.map(o => o.ok ? o.result.effect ?? null : 'error'), 'the same effects')
  t.same(await money(one.c.account), await money(two.c.account), 'the same money')
  t.same(await money(one.c.account), { balance: 100000 - 6000 - 2500 + 700, available: 100000 - 6000 - 2500 + 700 })
  t.equal((await getHold(db.sql, one.p.jitToken))?.state, 'CLOSED')
  const again = await db.sql.begin(async tx => await applyTransactionEvents(tx, a))
  t.same(again.map(r => r.outcome), a.map(() => 'duplicate'), 'a redelivered batch changes nothing')
  for (const e of a) t.equal((await applyTransactionEvent(db.sql, e)).outcome, 'duplicate', `${e.token} keyed once`)
  await assertInvariants(t, db)
})

t.test('results come back in the order of the events, whatever order the cards are applied in', async t => {
  const x = await account('order-x')
  const y = await account('order-y')
  // interleaved cards: applied grouped by card, answered slot by slot
  const fx1 = x.s.forceCapture(100)
  const fy1 = y.s.forceCapture(200)
  const ignored = { ...x.s.forceCapture(1), type: 'authorization', state: 'ERROR' } as TransactionEventInput
  const fx1Again = { ...fx1 }
  const fy2 = y.s.forceCapture(300)
  const events = [fy1, fx1, ignored, fx1Again, fy2]
  const results = await db.sql.begin(async tx => await applyTransactionEvents(tx, events))
  t.same(results.map(r => r.outcome), ['applied', 'applied', 'ignored', 'duplicate', 'applied'])
  t.same(results.map(r => r.action), ['force_capture', 'force_capture', 'ignored', 'force_capture', 'force_capture'])
  t.equal((await money(x.c.account)).balance, 100000 - 100)
  t.equal((await money(y.c.account)).balance, 100000 - 200 - 300)
  t.same(await db.sql.begin(async tx => await applyTransactionEvents(tx, [ignored])), [{ outcome: 'ignored', action: 'ignored', reason: 'authorization ERROR moves no money' }], 'a batch of events that move no money runs no SQL')
  t.same(await db.sql.begin(async tx => await applyTransactionEvents(tx, [])), [], 'an empty batch')
  await assertInvariants(t, db)
})

t.test('one event that fails fails the statement: nothing of the batch commits', async t => {
  const { c, s } = await account('fail')
  const good = s.forceCapture(1000)
  const fc = s.forceCapture(5000)
  const otherCurrency = { ...fc, currency_code: 'EUR', gpa: { ...fc.gpa, currency_code: 'EUR' } }
  const noAmount = { ...s.forceCapture(1), amount: undefined, gpa_order: undefined, gpa: undefined } as TransactionEventInput
  const notAnEvent = { type: 'authorization.clearing' } as TransactionEventInput
  for (const [name, bad, code] of [
    ['a currency the account is not in', otherCurrency, 'CURRENCY_MISMATCH'],
    ['no amount', noAmount, null],
    ['no token', notAnEvent, 'INVALID_EVENT']
  ] as const) {
    const err = await db.sql.begin(async tx => await applyTransactionEvents(tx, [good, bad])).then(() => null, (e: unknown) => e)
    t.ok(err !== null, `${name}: the batch fails`)
    if (code !== null) t.equal((err as TransactionEventError).code, code, `${name}: the ledger's refusal, as for one event`)
    t.same(await money(c.account), { balance: 100000, available: 100000 }, `${name}: the good event of the batch did not commit`)
  }
  // and the savepoint path then tells them apart
  const outcomes = await db.sql.begin(async tx => await applyTransactionEventBatch(tx, [good, otherCurrency]))
  t.same(outcomes.map(o => o.ok), [true, false])
  t.equal((await money(c.account)).balance, 100000 - 1000)
  await assertInvariants(t, db)
})

t.test('two batches of two cards of one account at once: every card locked first, no deadlock (20 rounds)', async t => {
  // Batch 1 holds card A's events then card B's, batch 2 card B's: locking each card only at its
  // first event, batch 1 would hold the account row when it asks for B, which batch 2 holds
  // while it waits for the account row.
  const failures: string[] = []
  for (let i = 0; i < 20; i++) {
    const { c, s: a } = await account(`shared-${i}`)
    const cardB = `${c.card}-b`
    await upsertCard(db.sql, { card_token: cardB, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })
    const b = shop(db, { ...c, card: cardB })
    const one = [...Array.from({ length: 5 }, () => a.forceCapture(100)), ...Array.from({ length: 5 }, () => b.forceCapture(10))]
    const two = Array.from({ length: 5 }, () => b.forceCapture(1))
    const settled = await Promise.allSettled([one, two].map(async events => await db.sql.begin(async tx => await applyTransactionEvents(tx, events))))
    for (const r of settled) if (r.status === 'rejected') failures.push(`round ${i}: ${(r.reason as Error).message}`)
    const m = await money(c.account)
    if (m.balance !== 100000 - 500 - 50 - 5) failures.push(`round ${i}: ${JSON.stringify(m)}`)
  }
  t.same(failures, [], 'both batches commit every round, each event once')
  await assertInvariants(t, db)
})
