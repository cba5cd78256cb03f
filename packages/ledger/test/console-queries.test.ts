import t from 'tap'
import {
  accountActivity, applyTransactionEvent, decideJitFunding, decisionStats, findIdentifier, heldChangeOf, listAccountHolds, listDecisions
} from '../src/index.js'
import { fundedCard, jitRequest, ledgerDatabase, shop } from './helpers.js'

const db = await ledgerDatabase(t)
const c = await fundedCard(db, `console-${process.pid}`, 100000)
const s = shop(db, c)

// docs/ledger.md "Expected results": auth 100; clear 50 not final -> balance 950, available 900
const p = s.purchase(10000)
await s.decide(p)
await applyTransactionEvent(db.sql, s.clearing(p, 5000, false))
const [declined] = await decideJitFunding(db.sql, [jitRequest(c, 99_999_999, { jitToken: `console-declined-${process.pid}` })])

t.test('accountActivity: each money change with balance, held and available after it', async t => {
  const items = await accountActivity(db.sql, c.account, { limit: 50 })
  t.ok(items)
  const [newest] = items ?? []
  t.match(newest, { balance_after: 95000, held_after: 5000, available_after: 90000 }, 'after the clearing: the account as it is now')
  const placed = items?.find(i => i.source === 'hold' && i.kind === 'placed')
  t.match(placed, { balance_after: 100000, held_after: 10000, available_after: 90000, held_change: 10000, hold_token: p.jitToken })
  const load = items?.find(i => i.source === 'journal' && i.amount === 100000)
  t.match(load, { balance_after: 100000, held_after: 0, available_after: 100000 })
  const times = (items ?? []).map(i => i.at.getTime())
  t.same(times, [...times].sort((a, b) => b - a), 'newest first')

  // the next page is worked back from the figures after it
  const page = await accountActivity(db.sql, c.account, { limit: 1, before: placed?.at })
  t.match(page, [{ source: 'journal', balance_after: 100000, available_after: 100000 }])
  t.equal(await accountActivity(db.sql, 'no-such-account', { limit: 5 }), null)
})

t.test('heldChangeOf: placements raise held, captures and releases lower it, a plain debit after close does not touch it', async t => {
  t.equal(heldChangeOf('placed', 5), 5)
  t.equal(heldChangeOf('increased', 5), 5)
  t.equal(heldChangeOf('captured', 5), -5)
  t.equal(heldChangeOf('released', 5), -5)
  t.equal(heldChangeOf('decreased', 5), -5)
  t.equal(heldChangeOf('debited_after_close', 5), 0)
})

t.test('findIdentifier names cards, users, accounts, decisions, holds and transaction tokens', async t => {
  t.match(await findIdentifier(db.sql, c.card), [{ kind: 'card', user_token: c.user, account_token: c.account }])
  const user = await findIdentifier(db.sql, c.user)
  t.same(user.map(m => m.kind).sort(), ['account', 'user'], 'a user whose account has the same token')
  t.match(await findIdentifier(db.sql, p.jitToken), [{ kind: 'decision', hold_token: p.jitToken }, { kind: 'hold', hold_token: p.jitToken }])
  t.match(await findIdentifier(db.sql, p.txToken), [{ kind: 'transaction', hold_token: p.jitToken }])
  t.same(await findIdentifier(db.sql, 'nothing-at-all'), [])
})

t.test('listDecisions and decisionStats: reason, memo, counts', async t => {
  const decisions = await listDecisions(db.sql, { cardToken: c.card }, { limit: 10 })
  t.equal(decisions[0]?.decline_reason, 'INSUFFICIENT_FUNDS')
  t.match(decisions[0]?.memo, /available balance is below the amount/)
  t.equal(decisions[0]?.jit_token, `console-declined-${process.pid}`)
  t.equal(declined?.outcome, 'declined')
  t.equal((await listDecisions(db.sql, { userToken: c.user }, { limit: 1 })).length, 1)
  const stats = await decisionStats(db.sql, new Date(Date.now() - 3600_000))
  t.same(stats.byOutcome.map(r => `${r.outcome}:${r.decline_reason ?? ''}:${r.count}`).sort(), ['approved::1', 'declined:INSUFFICIENT_FUNDS:1'])
  t.equal(stats.perMinute.reduce((a, m) => a + m.approved + m.declined, 0), 2)
})

t.test('listAccountHolds: by state, newest first', async t => {
  t.match(await listAccountHolds(db.sql, c.account, { state: 'OPEN', limit: 5 }), [{ hold_token: p.jitToken, captured: 5000, remaining: 5000 }])
  t.same(await listAccountHolds(db.sql, c.account, { state: 'CLOSED', limit: 5 }), [])
})
