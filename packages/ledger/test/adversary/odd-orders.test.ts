import t from 'tap'
import { applyTransactionEvent, decideJitFunding, expireStaleHolds, getHold, type TransactionEventInput } from '../../src/index.js'
import { adversary } from './support.js'
import { ledgerDatabase, jitRequest } from '../helpers.js'

// Orders of one purchase's messages that the lifecycle tables of docs/ledger.md decide but the
// model test (test/model) does not generate as such: each is played in the orders named and
// must end at the balances the rules give (account at 1000.00, "Rules" and "Expected results").
const db = await ledgerDatabase(t)
const DAY = 86400000

const { card, check, money } = adversary(t, db, 'odd')

async function play (events: TransactionEventInput[], now?: Date): Promise<void> {
  for (const e of events) await applyTransactionEvent(db.sql, e, now === undefined ? {} : { now })
}

check('reversal of all before the final clearing, and after it: 900/900 either way', async t => {
  for (const order of ['reversal first', 'clearing first']) {
    const { c, s } = await card(order.replace(' ', '-'))
    const p = await s.approved(10000)
    const reversal = s.reversal(p, null)
    const clearing = s.clearing(p, 10000, true)
    await play(order === 'reversal first' ? [reversal, clearing] : [clearing, reversal])
    t.same(await money(c.account), { balance: 90000, available: 90000 }, `${order}: the clearing of a closed hold is a plain debit`)
  }
})

check('two partial clearings summing over the hold, neither final: captured to the hold, the excess over-captured, the hold kept open at 0', async t => {
  const { c, s } = await card('partials')
  const p = await s.approved(10000)
  await play([s.clearing(p, 6000, false), s.clearing(p, 6000, false)])
  t.same(await money(c.account), { balance: 88000, available: 88000 })
  const h = await getHold(db.sql, p.jitToken)
  t.same([h?.state, h?.remaining, h?.captured, h?.over_captured], ['OPEN', 0, 10000, 2000])
})

check('clearing after the hold expired (7 days): a plain debit, 900/900; a lodging hold is still open at day 8', async t => {
  const { c, s } = await card('expired')
  const p = await s.approved(10000)
  const lodging = s.purchase(5000)
  const [r] = await decideJitFunding(db.sql, [jitRequest(c, 5000, { jitToken: lodging.jitToken, transactionToken: lodging.txToken, mcc: '7011' })])
  t.equal(r?.outcome, 'approved')
  const now = new Date(Date.now() + 8 * DAY)
  await expireStaleHolds(db.sql, { now, defaultDays: 7, mccDays: [{ from: 7011, to: 7011, days: 30 }] })
  t.equal((await getHold(db.sql, p.jitToken))?.state, 'EXPIRED')
  t.equal((await getHold(db.sql, lodging.jitToken))?.state, 'OPEN')
  await play([s.clearing(p, 10000, true)], now)
  t.same(await money(c.account), { balance: 90000, available: 85000 }, 'the grocery clearing debited once; the lodging 50 still held')
})

check('refund of a refund (each its own message): both credit', async t => {
  const { c, s } = await card('refund2')
  const p = await s.approved(10000)
  const clearing = s.clearing(p, 10000, true)
  const refund = s.refund(p, 2500)
  const second = s.refund(p, 1000)
  second.preceding_related_transaction_token = refund.token
  await play([clearing, refund, second])
  t.same(await money(c.account), { balance: 93500, available: 93500 })
})

check('a DECLINED after the final clearing releases nothing; an incremental after it is not permitted and its stand-in moves nothing', async t => {
  const { c, s } = await card('after-final')
  const p = await s.approved(10000)
  await play([s.clearing(p, 10000, true), s.declined(p, true)])
  t.same(await money(c.account), { balance: 90000, available: 90000 })
  const inc = await s.decideIncremental(p, 2000)
  t.equal(inc.result.decline_reason, 'TRANSACTION_NOT_PERMITTED')
  const standin = s.purchase(3000)
  const r = await applyTransactionEvent(db.sql, s.incrementalPending(p, standin))
  t.equal(r.effect, 'hold_not_open')
  t.same(await money(c.account), { balance: 90000, available: 90000 })
})
