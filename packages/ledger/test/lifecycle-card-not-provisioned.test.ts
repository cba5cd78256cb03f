import t from 'tap'
import { applyTransactionEvent, creditAccount, retryParkedEvents, upsertCard, type TransactionEventInput } from '../src/index.js'
import { adversary } from './adversary/support.js'
import { ledgerDatabase, shop } from './helpers.js'

// Decision 11 (README): an event that names a card the ledger does not know waits for the card
// (parked, "card not provisioned yet"), and falls back to the user's own account only when it
// names no card, so the account that pays is always the card's. A company card C2 of user U is
// funded by a shared account S; U also has an own account (from another card). The processor's
// messages about C2 overtake its card.upsert: they must not charge U's own account (the hold
// would keep it there for good); they wait, and the park loop applies them to S.
const db = await ledgerDatabase(t)
const { card, check, money } = adversary(t, db, 'unprov')

check('a stand-in purchase and a force capture on a card not provisioned yet go to the card\'s shared account once it is', async t => {
  const { c } = await card('owner')
  const shared = `adv-shared-${c.user}`
  await creditAccount(db.sql, { accountToken: shared, currency: 'USD', amount: 500000, effectKind: 'test.load', effectKey: `load-${shared}` })
  const c2 = { user: c.user, card: `${c.card}-company`, account: shared }
  const s2 = shop(db, c2)
  const p = s2.purchase(10000)
  const now = new Date()
  const early: TransactionEventInput[] = [s2.pending(p), s2.forceCapture(3000)]
  for (const e of early) {
    const r = await applyTransactionEvent(db.sql, e, { now })
    t.match(r, { outcome: 'parked', reason: 'card not provisioned yet' }, `${e.type} waits for the card`)
  }
  await upsertCard(db.sql, { card_token: c2.card, user_token: c.user, account_token: shared, status: 'ACTIVE', expiration: '2099-12' })
  // No wake-up on card.upsert: the park loop's backoff (5 s doubling, at most 5 min) retries it.
  const retried = await retryParkedEvents(db.sql, { now: new Date(now.getTime() + 60000), horizonMs: 14 * 86400000 })
  t.match(retried, { applied: 2, stillParked: 0 }, 'both apply once the card is known')
  t.comment(`clearing: ${JSON.stringify(await applyTransactionEvent(db.sql, s2.clearing(p, 10000, true)))}`)
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'the owner\'s own account is not charged for the company card')
  t.same(await money(shared), { balance: 487000, available: 487000 }, 'the shared account pays 100 + 30')
})

check('control: the same messages after card.upsert go to the shared account', async t => {
  const { c } = await card('owner-ctl')
  const shared = `adv-shared-${c.user}`
  await creditAccount(db.sql, { accountToken: shared, currency: 'USD', amount: 500000, effectKind: 'test.load', effectKey: `load-${shared}` })
  const c2 = { user: c.user, card: `${c.card}-company`, account: shared }
  await upsertCard(db.sql, { card_token: c2.card, user_token: c.user, account_token: shared, status: 'ACTIVE', expiration: '2099-12' })
  const s2 = shop(db, c2)
  const p = s2.purchase(10000)
  for (const e of [s2.pending(p), s2.forceCapture(3000), s2.clearing(p, 10000, true)]) await applyTransactionEvent(db.sql, e)
  t.same(await money(c.account), { balance: 100000, available: 100000 })
  t.same(await money(shared), { balance: 487000, available: 487000 })
})
