import t from 'tap'
import {
  applyTransactionEvent, applyTransactionEventBatch, batchApplyOrder, getHold, TransactionEventError, type TransactionEventInput
} from '../src/index.js'
import { ledgerDatabase, assertInvariants, lifecycleKit } from './helpers.js'

const db = await ledgerDatabase(t, { poolMax: 4 })
const { account, money } = lifecycleKit(t, db, 'batch')

t.test('a batch applies like the same events one by one, each once, in one transaction', async t => {
  const { c, s } = await account('same')
  const p = s.purchase(10000)
  t.equal((await s.decide(p)).outcome, 'approved')
  // the clearing before its authorization's webhook, a force capture, a refund, and the pending
  // webhook twice: parking/matching and effect keys inside one transaction
  const events: TransactionEventInput[] = [
    s.clearing(p, 6000, true), s.forceCapture(2500), s.pending(p), s.refund(null, 700), s.pending(p)
  ]
  const outcomes = await db.sql.begin(async tx => await applyTransactionEventBatch(tx, events))
  t.same(outcomes.map(o => o.ok ? o.result.outcome : 'error'), ['applied', 'applied', 'applied', 'applied', 'duplicate'])
  // 1000.00 - 60.00 captured (the rest of the final clearing's hold released) - 25.00 + 7.00
  t.same(await money(c.account), { balance: 100000 - 6000 - 2500 + 700, available: 100000 - 6000 - 2500 + 700 })
  t.equal((await getHold(db.sql, p.jitToken))?.state, 'CLOSED')
  const again = await db.sql.begin(async tx => await applyTransactionEventBatch(tx, events))
  t.same(again.map(o => o.ok ? o.result.outcome : 'error'), events.map(() => 'duplicate'), 'a redelivered batch changes nothing')
  for (const e of events) t.equal((await applyTransactionEvent(db.sql, e)).outcome, 'duplicate', `${e.token} keyed once`)
  await assertInvariants(t, db)
})

t.test('a poison event rolls back only itself and is reported in its slot', async t => {
  const { c, s } = await account('poison')
  const good1 = s.forceCapture(1000)
  const good2 = s.refund(null, 300)
  const fc = s.forceCapture(5000)
  // an unknown currency: refused as sent (TransactionEventError)
  const bad = { ...fc, currency_code: 'ZZZ', gpa: { ...fc.gpa, currency_code: 'ZZZ' } }
  const chokes = s.forceCapture(400)
  const outcomes = await db.sql.begin(async tx => await applyTransactionEventBatch(tx, [good1, bad, chokes, good2], {
    apply: async (sp, event, opts) => {
      if (event.token === chokes.token) {
        // fails after writing: its savepoint must take its effect back
        await applyTransactionEvent(sp, event, opts)
        throw new Error('fails after its effect (test)')
      }
      return await applyTransactionEvent(sp, event, opts)
    }
  }))
  t.ok(outcomes[0]?.ok)
  t.ok(outcomes[1] !== undefined && !outcomes[1].ok && outcomes[1].error instanceof TransactionEventError, 'the refused event carries its TransactionEventError')
  t.ok(outcomes[2] !== undefined && !outcomes[2].ok && (outcomes[2].error as Error).message.includes('test'))
  t.ok(outcomes[3]?.ok)
  t.same(await money(c.account), { balance: 100000 - 1000 + 300, available: 100000 - 1000 + 300 }, 'only the two good events moved money')
  // the rolled back one applies later, once
  t.equal((await applyTransactionEvent(db.sql, chokes)).outcome, 'applied')
  t.equal((await money(c.account)).balance, 100000 - 1000 + 300 - 400)
  await assertInvariants(t, db)
})

t.test('a failure of the transaction itself fails the whole batch', async t => {
  const { c, s } = await account('abort')
  const a = s.forceCapture(1000)
  const b = s.forceCapture(2000)
  const deadlock = Object.assign(new Error('deadlock detected (test)'), { code: '40P01' })
  await t.rejects(db.sql.begin(async tx => await applyTransactionEventBatch(tx, [a, b], {
    apply: async (sp, event, opts) => {
      if (event.token === b.token) throw deadlock
      return await applyTransactionEvent(sp, event, opts)
    }
  })), { code: '40P01' })
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'nothing of the batch committed')
  await t.rejects(applyTransactionEventBatch(db.sql, [a]), TypeError, 'a pool is refused (no savepoints)')
})

t.test('the apply order groups by card and keeps arrival order within one card', async t => {
  const ev = (token: string, card: string): TransactionEventInput => ({ token, type: 'refund', card_token: card })
  const events = [ev('1', 'b'), ev('2', 'a'), ev('3', 'b'), ev('4', 'a'), ev('5', 'c')]
  t.same(batchApplyOrder(events).map(i => events[i]?.token), ['2', '4', '1', '3', '5'])
})
