import t from 'tap'
import { decideJitFunding, startDecisionBatch, isDecided, getAccount } from '../src/index.js'
import { ledgerDatabase, fundedCard, jitRequest, assertInvariants } from './helpers.js'

// Batch members are sent in funding-account order (two batches then lock accounts in the same
// order and cannot deadlock on them) and answered in the callers' order.
const db = await ledgerDatabase(t, { poolMax: 6 })

t.test('members of two accounts in mixed order: each answer is its own request\'s, money in arrival order per account', async t => {
  const a = await fundedCard(db, 'order-a', 1000)
  const b = await fundedCard(db, 'order-b', 1000)
  const requests = [jitRequest(b, 1000), jitRequest(a, 1000), jitRequest(b, 1000), jitRequest(a, 500)]
  const results = await startDecisionBatch(db.sql, requests, 2000).results
  t.same(results.map(r => isDecided(r) ? r.response.jit_funding.token : null), requests.map(r => r.jitToken), 'answers in the callers\' order')
  t.same(results.map(r => isDecided(r) ? r.decline_reason : 'undecided'), [null, null, 'INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS'],
    'the first request of each account got its funds')
  const again = await decideJitFunding(db.sql, [requests[3]!, requests[0]!])
  t.same(again.map(r => r.response.jit_funding.token), [requests[3]!.jitToken, requests[0]!.jitToken], 'replays in the callers\' order too')
  t.equal((await getAccount(db.sql, a.account))?.available, 0)
  t.equal((await getAccount(db.sql, b.account))?.available, 0)
  await assertInvariants(t, db)
})

t.test('batches locking the same accounts in opposite arrival orders never deadlock', async t => {
  const cards = await Promise.all(Array.from({ length: 4 }, async (_, i) => await fundedCard(db, `order-dl-${i}`, 1_000_000)))
  for (let round = 0; round < 20; round++) {
    const forward = cards.map(c => jitRequest(c, 100))
    const backward = [...cards].reverse().map(c => jitRequest(c, 100))
    const [one, two] = await Promise.all([
      startDecisionBatch(db.sql, forward, 2500).results,
      startDecisionBatch(db.sql, backward, 2500).results
    ])
    t.ok([...one, ...two].every(r => isDecided(r) && r.outcome === 'approved'), `round ${round}: all approved, no deadlock`)
  }
  await assertInvariants(t, db)
})
