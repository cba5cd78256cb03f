import t from 'tap'
import { applyTransactionEvent, decideJitFunding } from '../src/index.js'
import { ledgerDatabase, jitRequest, lifecycleKit, withoutGpaOrder } from './helpers.js'

// A JIT decision that arrives after the processor's webhook for the same network message (the
// request's top-level token) was applied moves no money: the processor decided that message
// without us (a stand-in approval or a timed-out DECLINED), and the webhook carried no
// jit_funding, so only the transaction token links the two (docs/ledger.md "Keys").
const db = await ledgerDatabase(t, { poolMax: 4 })
const { account, money, moneyTest } = lifecycleKit(t, db, 'late')

moneyTest('a stand-in PENDING without jit_funding, then our decision of that message: one hold', async t => {
  const { c, s } = await account('standin')
  const p = s.purchase(10000)
  t.equal((await applyTransactionEvent(db.sql, withoutGpaOrder(s.pending(p)))).outcome, 'applied', 'the stand-in hold')
  const late = await s.decide(p)
  t.equal(late.outcome, 'declined', 'the late decision moves no money')
  t.equal(late.decline_reason, 'DUPLICATE_TRANSACTION')
  t.same(await money(c.account), { balance: 100000, available: 90000 }, 'held once')
})

moneyTest('a timed-out DECLINED without gpa_order, then our decision of that message: no hold', async t => {
  const { c, s } = await account('declined')
  const p = s.purchase(10000)
  await applyTransactionEvent(db.sql, withoutGpaOrder(s.declined(p, true)))
  const late = await s.decide(p)
  t.equal(late.outcome, 'declined')
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'nothing held for a declined purchase')
})

moneyTest('a stand-in incremental PENDING, then our incremental decision of that message: grown once', async t => {
  const { c, s } = await account('incremental')
  const p = s.purchase(10000)
  t.equal((await s.decide(p)).outcome, 'approved')
  const inc = s.purchase(2000)
  const pending = withoutGpaOrder(s.incrementalPending(p, inc))
  t.equal((await applyTransactionEvent(db.sql, pending)).outcome, 'applied', 'the stand-in growth')
  t.same(await money(c.account), { balance: 100000, available: 88000 })
  // the same network message decided late: the incremental's transaction token is inc.txToken
  const [late] = await decideJitFunding(db.sql, [jitRequest(c, 2000, {
    jitToken: inc.jitToken, method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: p.jitToken, transactionToken: inc.txToken
  })])
  t.equal(late?.outcome, 'declined', 'the late incremental moves no money')
  t.same(await money(c.account), { balance: 100000, available: 88000 }, 'grown once')
})

moneyTest('our decision first, then its webhook without jit_funding: confirmed, not refused', async t => {
  const { c, s } = await account('normal')
  const p = s.purchase(10000)
  t.equal((await s.decide(p)).outcome, 'approved')
  await applyTransactionEvent(db.sql, withoutGpaOrder(s.pending(p)))
  t.same(await money(c.account), { balance: 100000, available: 90000 })
})
