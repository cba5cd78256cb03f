import t from 'tap'
import { applyTransactionEvent, type TransactionEventInput } from '../src/index.js'
import { ledgerDatabase, lifecycleKit, assertInvariants, shop, webhookEvent, type Purchase } from './helpers.js'

// One network message (one `token`) that the processor both approved on its own (a stand-in
// PENDING or COMPLETION) and declined (a DECLINED, often timed out), for a purchase we never
// approved: whichever webhook comes first, the books end alike (docs/ledger.md "Invariants": any
// order of arrival converges). The repair wins: nothing stays held or debited.
const db = await ledgerDatabase(t)
const kit = lifecycleKit(t, db, 'repair-first')
const money = kit.money
const card = async (balance?: number) => await kit.account('card', balance)

async function play (events: TransactionEventInput[]): Promise<void> {
  for (const e of events) await applyTransactionEvent(db.sql, e)
}

function declinedIncremental (s: ReturnType<typeof shop>, p: Purchase, i: Purchase): TransactionEventInput {
  return { ...s.incrementalPending(p, i), state: 'DECLINED' }
}

for (const order of ['approval first', 'repair first'] as const) {
  const inOrder = <T>(approval: T, repair: T): T[] => order === 'approval first' ? [approval, repair] : [repair, approval]

  t.test(`stand-in authorization and its DECLINED, ${order}: nothing held`, async t => {
    const { c, s } = await card()
    const p = s.purchase(10000)
    await play(inOrder(s.pending(p), s.declined(p, true)))
    t.same(await money(c.account), { balance: 100000, available: 100000 })
    await assertInvariants(t, db)
  })

  t.test(`authorization we declined, the processor's PENDING and DECLINED, ${order}: nothing held`, async t => {
    const { c, s } = await card(5000)
    const p = s.purchase(10000)
    t.equal((await s.decide(p)).decline_reason, 'INSUFFICIENT_FUNDS')
    await play(inOrder(s.pending(p), s.declined(p, false)))
    t.same(await money(c.account), { balance: 5000, available: 5000 })
    await assertInvariants(t, db)
  })

  t.test(`stand-in incremental and its DECLINED, ${order}: only the original held`, async t => {
    const { c, s } = await card()
    const p = s.purchase(10000)
    await s.decide(p)
    const i = s.purchase(2000)
    await play(inOrder(s.incrementalPending(p, i), declinedIncremental(s, p, i)))
    t.same(await money(c.account), { balance: 100000, available: 90000 })
    await assertInvariants(t, db)
  })

  t.test(`stand-in PIN debit and its DECLINED, ${order}: nothing debited`, async t => {
    const { c, s } = await card()
    const p = s.purchase(3000)
    const pin = (state: string): TransactionEventInput => webhookEvent(c, {
      type: 'pindebit', state, token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.pindebit' }, timedOut: state === 'DECLINED'
    })
    await play(inOrder(pin('COMPLETION'), pin('DECLINED')))
    t.same(await money(c.account), { balance: 100000, available: 100000 })
    await assertInvariants(t, db)
  })
}
