import t from 'tap'
import { startDecisionBatch, isDecided, isQueryCancelledError, getDecision, getAccount, loadCard, upsertCard } from '../src/index.js'
import { holdLocks } from '@jit/test-support'
import { ledgerDatabase, fundedCard, jitRequest, assertInvariants } from './helpers.js'

const db = await ledgerDatabase(t, { poolMax: 6 })

t.test('one stale member of a batch is returned undecided; the others are decided in the same commit', async t => {
  const a = await fundedCard(db, 'batch-a', 100000)
  const b = await fundedCard(db, 'batch-b', 100000)
  const card = await loadCard(db.sql, b.card)
  await upsertCard(db.sql, { card_token: b.card, user_token: b.user, status: 'ACTIVE', expiration: '2099-12' })
  const first = jitRequest(a, 1000)
  const stale = jitRequest(b, 1000, { expect: { card: card?.revision ?? 0 } })
  const last = jitRequest(a, 2000)
  const results = await startDecisionBatch(db.sql, [first, stale, last], 1000).results
  t.equal(results.length, 3)
  t.ok(isDecided(results[0]!) && results[0].outcome === 'approved')
  t.same(results[1], { stale: true }, 'the stale member: nothing written')
  t.ok(isDecided(results[2]!) && results[2].outcome === 'approved')
  t.equal(await getDecision(db.sql, stale.jitToken), null)
  t.equal((await getAccount(db.sql, a.account))?.available, 97000)
  t.equal((await getAccount(db.sql, b.account))?.available, 100000)
  await assertInvariants(t, db)
})

t.test('the same token twice in one batch: decided once, the second replays it', async t => {
  const c = await fundedCard(db, 'batch-same', 100000)
  const req = jitRequest(c, 500)
  const [one, two] = await startDecisionBatch(db.sql, [req, req], 1000).results
  t.ok(one !== undefined && isDecided(one) && !one.replay)
  t.ok(two !== undefined && isDecided(two) && two.replay)
  t.equal((await getAccount(db.sql, c.account))?.available, 99500)
  await assertInvariants(t, db)
})

t.test('the budget bounds the whole batch: lock waits end by it and become recorded TIMEOUT declines', async t => {
  const c = await fundedCard(db, 'batch-lock', 100000)
  const free = await fundedCard(db, 'batch-free', 100000)
  const release = await holdLocks(db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.account} for update`)
  const started = Date.now()
  const results = await startDecisionBatch(db.sql, [jitRequest(c, 100), jitRequest(free, 100)], 300).results
  const elapsed = Date.now() - started
  await release()
  t.ok(elapsed < 2000, `answered after ${elapsed} ms`)
  t.ok(results[0] !== undefined && isDecided(results[0]) && results[0].decline_reason === 'TIMEOUT', 'the locked member: TIMEOUT')
  t.ok(results[1] !== undefined && isDecided(results[1]), 'the other member is decided')
  await assertInvariants(t, db)
})

t.test('a cancelled batch rolls back: nothing of it is recorded', async t => {
  const c = await fundedCard(db, 'batch-cancel', 100000)
  const release = await holdLocks(db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.account} for update`)
  const req = jitRequest(c, 100)
  const batch = startDecisionBatch(db.sql, [req], 5000)
  await new Promise(resolve => setTimeout(resolve, 200))
  batch.cancel()
  const err = await batch.results.then(() => null, (e: unknown) => e)
  await release()
  t.ok(isQueryCancelledError(err), 'cancelled (57014)')
  t.equal(await getDecision(db.sql, req.jitToken), null, 'rolled back')
  t.equal((await getAccount(db.sql, c.account))?.available, 100000)
  await assertInvariants(t, db)
})

t.test('a batch that approved something and is still running at its commit-by rolls back; one that only declined commits', async t => {
  const free = await fundedCard(db, 'commit-by-free', 100000)
  const locked = await fundedCard(db, 'commit-by-locked', 100000)
  const release = await holdLocks(db.sql, async conn => await conn`select 1 from accounts where account_token = ${locked.account} for update`)
  // the first member is approved at once; the second waits out the budget on the lock (300 ms),
  // past the commit-by (100 ms): the caller has answered both undecided by then
  const approved = jitRequest(free, 100)
  const waiting = jitRequest(locked, 100)
  const err = await startDecisionBatch(db.sql, [approved, waiting], 300, { commitByMs: 100 }).results.then(() => null, (e: unknown) => e)
  t.ok(isQueryCancelledError(err), `rolled back as a cancel is (57014): ${String(err)}`)
  t.equal(await getDecision(db.sql, approved.jitToken), null, 'the approval was not committed')
  t.equal(await getDecision(db.sql, waiting.jitToken), null)
  t.equal((await getAccount(db.sql, free.account))?.available, 100000, 'nothing held')
  // the same shape where the first member is declined (more than the funds): nothing to hold
  // back, so the late commit stands and records both declines
  const declined = jitRequest(free, 200000)
  const waiting2 = jitRequest(locked, 100)
  const results = await startDecisionBatch(db.sql, [declined, waiting2], 300, { commitByMs: 100 }).results
  await release()
  t.ok(isDecided(results[0]!) && results[0].decline_reason === 'INSUFFICIENT_FUNDS')
  t.ok(isDecided(results[1]!) && results[1].decline_reason === 'TIMEOUT')
  t.equal((await getDecision(db.sql, declined.jitToken))?.outcome, 'declined', 'recorded')
  // within its commit-by a batch commits as before
  const quick = jitRequest(free, 100)
  const [one] = await startDecisionBatch(db.sql, [quick], 1000, { commitByMs: 1500 }).results
  t.ok(one !== undefined && isDecided(one) && one.outcome === 'approved')
  t.equal((await getAccount(db.sql, free.account))?.available, 99900)
  await assertInvariants(t, db)
})
