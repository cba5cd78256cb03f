import t from 'tap'
import { decideJitFunding, getAccount, upsertUser } from '../src/index.js'
import { ledgerDatabase, fundedCard, jitRequest, assertInvariants } from './helpers.js'

// acting_user_token (docs/ledger.md): the cardholder who spends must be ACTIVE as well as the
// card's owner; the account that pays is the card's, never the acting user's own.
const db = await ledgerDatabase(t, { poolMax: 4 })

t.test('an acting user who is not active is declined CARDHOLDER_NOT_ACTIVE, and nothing moves', async t => {
  const owner = await fundedCard(db, 'acting-owner', 100000)
  const actor = await fundedCard(db, 'acting-actor', 100000)
  await upsertUser(db.sql, { user_token: actor.user, status: 'SUSPENDED' })
  const [r] = await decideJitFunding(db.sql, [jitRequest(owner, 1000, { actingUserToken: actor.user })])
  t.equal(r?.outcome, 'declined')
  t.equal(r?.decline_reason, 'CARDHOLDER_NOT_ACTIVE')
  const [unknown] = await decideJitFunding(db.sql, [jitRequest(owner, 1000, { actingUserToken: 'nobody-at-all' })])
  t.equal(unknown?.decline_reason, 'CARDHOLDER_NOT_ACTIVE', 'an unknown acting user too')
  t.equal((await getAccount(db.sql, owner.account))?.available, 100000)
  await assertInvariants(t, db)
})

t.test('an active acting user spends from the card\'s account, not their own', async t => {
  const owner = await fundedCard(db, 'acting-owner2', 100000)
  const actor = await fundedCard(db, 'acting-actor2', 100000)
  const [r] = await decideJitFunding(db.sql, [jitRequest(owner, 1000, { actingUserToken: actor.user })])
  t.equal(r?.outcome, 'approved')
  t.equal((await getAccount(db.sql, owner.account))?.available, 99000, 'the card\'s account pays')
  t.equal((await getAccount(db.sql, actor.account))?.available, 100000, 'the acting user\'s own account is untouched')
  await assertInvariants(t, db)
})
