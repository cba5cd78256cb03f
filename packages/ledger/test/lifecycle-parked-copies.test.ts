import t from 'tap'
import { applyTransactionEvent, creditAccount, getHold, retryParkedEvents, upsertCard, upsertUser, type TransactionEventInput } from '../src/index.js'
import { ledgerDatabase, lifecycleKit, shop, token, withoutGpaOrder, withoutJitFunding } from './helpers.js'

// Two copies of one clearing (one `token`) wait for their purchase, one carrying every link and
// one only its own gateway log id (no jit_funding, no preceding token). The parked row keeps
// every identifier either copy carried, so in either order of the copies the clearing finds its
// hold when it appears (docs/ledger.md "Keys": the same message with other identifiers applies
// once; "Invariants": any order of arrival converges).
const db = await ledgerDatabase(t)
const { account, money, moneyTest } = lifecycleKit(t, db, 'parked-copies')

function gatewayIdOnly (e: TransactionEventInput): TransactionEventInput {
  const copy = withoutJitFunding(e) as Record<string, unknown>
  delete copy.preceding_related_transaction_token
  return copy as TransactionEventInput
}

for (const decided of [false, true]) {
  for (const order of ['linked copy first', 'gateway-id copy first'] as const) {
    moneyTest(`${decided ? 'decided' : 'stand-in'} purchase, clearing 100 final in two copies before the hold, ${order}`, async t => {
      const { c, s } = await account('clearing')
      const p = s.purchase(10000)
      const clearing = s.clearing(p, 10000, true)
      const copies = order === 'linked copy first' ? [clearing, gatewayIdOnly(clearing)] : [gatewayIdOnly(clearing), clearing]
      const now = new Date()
      for (const e of copies) t.equal((await applyTransactionEvent(db.sql, e, { now })).outcome, 'parked')
      if (decided) t.equal((await s.decide(p)).outcome, 'approved')
      else t.equal((await applyTransactionEvent(db.sql, s.pending(p), { now })).effect, 'standin_hold')
      t.equal((await retryParkedEvents(db.sql, { now: new Date(now.getTime() + 60_000), horizonMs: 14 * 86_400_000 })).applied, 1)
      t.same(await money(c.account), { balance: 90000, available: 90000 }, 'auth 100; clear 100 final')
      t.equal((await getHold(db.sql, p.jitToken))?.state, 'CLOSED')
    })
  }
}

moneyTest('a clearing copy without identifiers waits for its account; a linked copy then keeps it waiting for its hold', async t => {
  // no card, user or account yet: every kind waits (README decision 11)
  const c = { user: token('u'), card: token('c'), account: '' }
  c.account = c.user
  const s = shop(db, c)
  const p = s.purchase(10000)
  const clearing = s.clearing(p, 10000, true)
  const bare = withoutGpaOrder(clearing) as Record<string, unknown>
  delete bare.preceding_related_transaction_token
  t.equal((await applyTransactionEvent(db.sql, bare as TransactionEventInput)).outcome, 'parked', 'no account yet')
  await upsertUser(db.sql, { user_token: c.user, status: 'ACTIVE' })
  await creditAccount(db.sql, { accountToken: c.account, currency: 'USD', amount: 100000, effectKind: 'test.load', effectKey: `load-${c.user}` })
  await upsertCard(db.sql, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'parked', 'the linked copy: its hold is not known yet')
  await retryParkedEvents(db.sql, { now: new Date(Date.now() + 60_000), horizonMs: 14 * 86_400_000 })
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'not debited as unlinked: it waits for its purchase')
  t.equal((await s.decide(p)).outcome, 'approved')
  await retryParkedEvents(db.sql, { now: new Date(Date.now() + 120_000), horizonMs: 14 * 86_400_000 })
  t.same(await money(c.account), { balance: 90000, available: 90000 }, 'auth 100; clear 100 final')
})
