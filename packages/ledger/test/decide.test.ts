import t, { type Test } from 'tap'
import type { TransactionSql } from 'postgres'
import { decideJitFunding, getAccount, getDecision, getHold, recordTimeoutDecline, isStaleCacheError, upsertCard, setLimits, loadCard, TIMEOUT_DECLINE, type JitDecisionResult } from '../src/index.js'
import { holdLocks } from '@jit/test-support'
import { ledgerDatabase, fundedCard, jitRequest, assertInvariants } from './helpers.js'

const db = await ledgerDatabase(t, { poolMax: 10 })

// Every test moves money: the invariants are checked at its end, inside it.
function moneyTest (name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async t => {
    await fn(t)
    await assertInvariants(t, db)
  })
}

moneyTest('an approval opens a hold and reduces available, once per token', async t => {
  const c = await fundedCard(db, 'approve', 100000)
  const req = jitRequest(c, 10000)
  const [first] = await decideJitFunding(db.sql, [req])
  t.equal(first?.status, 200)
  t.equal(first?.outcome, 'approved')
  t.same(first?.response, { jit_funding: req.echo })
  const account = await getAccount(db.sql, c.account)
  t.equal(account?.balance, 100000)
  t.equal(account?.available, 90000)
  const [again] = await decideJitFunding(db.sql, [req])
  t.equal(again?.replay, true)
  t.same(again?.response, first?.response)
  t.equal((await getAccount(db.sql, c.account))?.available, 90000, 'a repeat places no second hold')
  const hold = await getHold(db.sql, req.jitToken)
  t.equal(hold?.remaining, 10000)
  t.equal(hold?.state, 'OPEN')
})

moneyTest('a token reused with a different request is a duplicate and changes nothing', async t => {
  const c = await fundedCard(db, 'dup', 100000)
  const req = jitRequest(c, 10000)
  await decideJitFunding(db.sql, [req])
  const other = jitRequest(c, 20000, { jitToken: req.jitToken })
  const [dup] = await decideJitFunding(db.sql, [other])
  t.equal(dup?.status, 402)
  t.equal(dup?.duplicate, true)
  t.equal(dup?.response.jit_funding.decline_reason, 'DUPLICATE_TRANSACTION')
  t.equal((await getAccount(db.sql, c.account))?.available, 90000)
  t.equal((await getDecision(db.sql, req.jitToken))?.amount, 10000, 'the stored decision is the first one')
})

moneyTest('insufficient funds declines with a memo and holds nothing', async t => {
  const c = await fundedCard(db, 'poor', 500)
  const [r] = await decideJitFunding(db.sql, [jitRequest(c, 501)])
  t.equal(r?.status, 402)
  t.equal(r?.response.jit_funding.decline_reason, 'INSUFFICIENT_FUNDS')
  t.type(r?.response.jit_funding.memo, 'string')
  t.equal((await getAccount(db.sql, c.account))?.available, 500)
})

moneyTest('300 concurrent $10 authorizations on $1,000 approve exactly 100', async t => {
  const c = await fundedCard(db, 'race', 100000)
  const results = await Promise.all(Array.from({ length: 300 }, () => decideJitFunding(db.sql, [jitRequest(c, 1000)])))
  const approved = results.filter(([r]) => r?.outcome === 'approved').length
  const declined = results.filter(([r]) => r?.decline_reason === 'INSUFFICIENT_FUNDS').length
  t.equal(approved, 100)
  t.equal(declined, 200)
  const account = await getAccount(db.sql, c.account)
  t.equal(account?.available, 0)
  t.equal(account?.balance, 100000)
})

moneyTest('one token sent 50 times at once gives one hold and identical answers', async t => {
  const c = await fundedCard(db, 'same', 100000)
  const req = jitRequest(c, 10000)
  const results = await Promise.all(Array.from({ length: 50 }, () => decideJitFunding(db.sql, [req])))
  const bodies = new Set(results.map(([r]) => JSON.stringify([r?.status, r?.response])))
  t.equal(bodies.size, 1)
  t.equal(results.filter(([r]) => r?.replay === false).length, 1)
  t.equal((await getAccount(db.sql, c.account))?.available, 90000)
})

moneyTest('a batch decides several holds on one account in one transaction', async t => {
  const c = await fundedCard(db, 'batch', 3000)
  const results = await decideJitFunding(db.sql, [jitRequest(c, 1000), jitRequest(c, 1000), jitRequest(c, 1000), jitRequest(c, 1000)])
  t.same(results.map(r => r.outcome), ['approved', 'approved', 'approved', 'declined'])
  t.equal((await getAccount(db.sql, c.account))?.available, 0)
})

moneyTest('incrementals grow the original hold; without an open original they are not permitted', async t => {
  const c = await fundedCard(db, 'incr', 100000)
  const orig = jitRequest(c, 10000)
  await decideJitFunding(db.sql, [orig])
  const [inc] = await decideJitFunding(db.sql, [jitRequest(c, 2000, { method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: orig.jitToken })])
  t.equal(inc?.outcome, 'approved')
  const hold = await getHold(db.sql, orig.jitToken)
  t.equal(hold?.authorized, 12000)
  t.equal((await getAccount(db.sql, c.account))?.available, 88000)
  const [orphan] = await decideJitFunding(db.sql, [jitRequest(c, 2000, { method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: 'nope' })])
  t.equal(orphan?.decline_reason, 'TRANSACTION_NOT_PERMITTED')
})

moneyTest('an incremental racing its original waits for it', async t => {
  const c = await fundedCard(db, 'incrace', 100000)
  for (let i = 0; i < 10; i++) {
    const orig = jitRequest(c, 1000)
    const inc = jitRequest(c, 500, { method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: orig.jitToken })
    const [[o], [n]] = await Promise.all([decideJitFunding(db.sql, [orig]), decideJitFunding(db.sql, [inc])])
    t.equal(o?.outcome, 'approved')
    const hold = await getHold(db.sql, orig.jitToken)
    // Either the incremental ran first (no original yet: not permitted) or after (grows the hold).
    if (n?.outcome === 'approved') t.equal(hold?.authorized, 1500)
    else { t.equal(n?.decline_reason, 'TRANSACTION_NOT_PERMITTED'); t.equal(hold?.authorized, 1000) }
  }
})

moneyTest('immediate debit posts to the journal; balance inquiry answers balances', async t => {
  const c = await fundedCard(db, 'pin', 100000)
  const [d] = await decideJitFunding(db.sql, [jitRequest(c, 3000, { method: 'pgfs.pindebit', kind: 'immediate_debit' })])
  t.equal(d?.outcome, 'approved')
  const account = await getAccount(db.sql, c.account)
  t.equal(account?.balance, 97000)
  t.equal(account?.available, 97000)
  const [b] = await decideJitFunding(db.sql, [jitRequest(c, 0, { method: 'pgfs.balanceinquiry', kind: 'balance_inquiry' })])
  t.equal(b?.status, 200)
  const usd = (b?.response.jit_funding.balances as Record<string, Record<string, unknown>>).USD
  t.equal(usd?.ledger_balance, 970)
  t.equal(usd?.available_balance, 970)
  t.same(usd?.balances, {})
})

moneyTest('period limits are enforced atomically', async t => {
  const c = await fundedCard(db, 'limits', 1000000)
  await setLimits(db.sql, { scope: 'card', token: c.card, currency: 'USD', daily: 5000, daily_count: 100 })
  const results = await Promise.all(Array.from({ length: 20 }, () => decideJitFunding(db.sql, [jitRequest(c, 1000)])))
  t.equal(results.filter(([r]) => r?.outcome === 'approved').length, 5)
  t.equal(results.filter(([r]) => r?.decline_reason === 'AMOUNT_LIMIT_EXCEEDED').length, 15)
  await setLimits(db.sql, { scope: 'user', token: c.user, currency: 'USD', daily_count: 1 })
  const c2 = await fundedCard(db, 'count', 100000)
  await setLimits(db.sql, { scope: 'user', token: c2.user, currency: 'USD', daily_count: 2 })
  const out = []
  for (let i = 0; i < 3; i++) out.push((await decideJitFunding(db.sql, [jitRequest(c2, 100)]))[0]?.decline_reason ?? null)
  t.same(out, [null, null, 'TRANSACTION_COUNT_LIMIT_EXCEEDED'])
})

moneyTest('a stale cached revision is refused and changes nothing', async t => {
  const c = await fundedCard(db, 'stale', 100000)
  const card = await loadCard(db.sql, c.card)
  await upsertCard(db.sql, { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12' })
  const req = jitRequest(c, 1000, { expect: { card: card?.revision ?? 0 } })
  const err = await decideJitFunding(db.sql, [req]).then(() => null, (e: unknown) => e)
  t.ok(isStaleCacheError(err), 'refused as stale')
  t.equal(await getDecision(db.sql, req.jitToken), null, 'no decision recorded')
  t.equal((await getAccount(db.sql, c.account))?.available, 100000)
})

// A wait bounded by a setting ends in a TIMEOUT decline that a repeat replays and that moves no
// money: lock_timeout inside jit_decide (recorded in the same statement), statement_timeout by
// cancelling the statement (57014: rolled back, then recorded by recordTimeoutDecline).
for (const [setting, name, recorded] of [
  ['lock_timeout', 'a lock wait that reaches the budget records a TIMEOUT decline in the same statement', 'in the statement'],
  ['statement_timeout', 'a statement cancelled by its statement timeout is recorded by recordTimeoutDecline', 'by recordTimeoutDecline']
] as const) {
  moneyTest(name, async t => {
    const c = await fundedCard(db, setting === 'lock_timeout' ? 'slow' : 'cancelled', 100000)
    const req = jitRequest(c, 1000)
    const release = await holdLocks(db.sql, async conn => await conn`select * from accounts where account_token = ${c.account} for update`)
    const outcome = await db.sql.begin(async (tx: TransactionSql) => {
      await tx.unsafe(`set local ${setting} = 300`)
      const [result] = await decideJitFunding(tx, [req])
      return result
    }).then(result => result, (e: unknown) => e as { code?: string })
    let r: JitDecisionResult | undefined
    if (recorded === 'in the statement') r = outcome as JitDecisionResult | undefined
    else {
      t.equal((outcome as { code?: string } | undefined)?.code, '57014', 'statement timeout')
      r = await recordTimeoutDecline(db.sql, req)
    }
    await release()
    t.equal(r?.status, 402)
    t.equal(r?.decline_reason, 'TIMEOUT')
    t.equal(r?.response.jit_funding.decline_reason, 'TRANSACTION_NOT_PERMITTED')
    const [again] = await decideJitFunding(db.sql, [req])
    t.equal(again?.replay, true)
    t.same(again?.response, r?.response)
    t.equal((await getAccount(db.sql, c.account))?.available, 100000)
  })
}

moneyTest('the TIMEOUT decline the caller may answer at its deadline is the one the ledger records', async t => {
  const [row] = await db.sql<Array<{ response_reason: string, memo: string }>>`select response_reason, memo from decline_memos where reason = 'TIMEOUT'`
  t.same({ decline_reason: row?.response_reason, memo: row?.memo }, TIMEOUT_DECLINE)
})

moneyTest('a decision that starts after its deadline records a TIMEOUT decline and moves no money', async t => {
  const c = await fundedCard(db, 'late', 100000)
  const req = jitRequest(c, 1000, { deadlineMs: Date.now() - 5 })
  const [r] = await decideJitFunding(db.sql, [req])
  t.equal(r?.status, 402)
  t.equal(r?.decline_reason, 'TIMEOUT')
  t.same(r?.response.jit_funding.decline_reason, TIMEOUT_DECLINE.decline_reason)
  t.equal((await getAccount(db.sql, c.account))?.available, 100000)
})

moneyTest('lock waits end at the deadline and the decision is a recorded TIMEOUT decline', async t => {
  const c = await fundedCard(db, 'lockdeadline', 100000)
  const release = await holdLocks(db.sql, async conn => await conn`select * from accounts where account_token = ${c.account} for update`)
  const started = Date.now()
  const req = jitRequest(c, 1000, { deadlineMs: Date.now() + 300 })
  const [r] = await decideJitFunding(db.sql, [req])
  const waited = Date.now() - started
  await release()
  t.equal(r?.decline_reason, 'TIMEOUT')
  t.ok(waited < 3000, `gave up after ${waited} ms`)
  t.equal((await getDecision(db.sql, req.jitToken))?.decline_reason, 'TIMEOUT')
  t.equal((await getAccount(db.sql, c.account))?.available, 100000)
})
