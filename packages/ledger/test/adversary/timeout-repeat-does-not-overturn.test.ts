import t from 'tap'
import { holdLocks } from '@jit/test-support'
import { decideJitFunding, getAccount, type BatchMemberResult } from '../../src/index.js'
import { startDecisionBatch } from '../../src/decisions.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// The same request twice at once (the processor retrying a token): the first, with time to
// spare, is in the middle of its decision (card lock taken, waiting for the account row); the
// repeat has 300 ms left and its wait for the card lock reaches its deadline. The repeat must
// not record a TIMEOUT under the token the first is deciding (its commit would roll back the
// first one's approval): it comes back `unclaimed` (the authorizer then waits for the decision
// being made), and the first one's approval stands (docs/ledger.md "Lock order": the token's
// claim lock).
const db = await ledgerDatabase(t, { poolMax: 6 })

t.test('a repeat whose budget ends while the first is mid-decision', async t => {
  const c = await fundedCard(db, 'adv-overturn', 100000)
  const req = jitRequest(c, 1000)
  const release = await holdLocks(db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.account} for update`)
  const first = startDecisionBatch(db.sql, [req], 5000).results
  await new Promise(resolve => setTimeout(resolve, 200))
  const repeat = startDecisionBatch(db.sql, [req], 300).results
  await new Promise(resolve => setTimeout(resolve, 900))
  await release()
  const [a, b] = await Promise.all([first, repeat])
  const show = (x: BatchMemberResult[] | undefined): string => JSON.stringify(x?.map(r => 'outcome' in r ? `${String(r.outcome)}/${String(r.decline_reason ?? '')} replay=${String(r.replay)}` : r))
  t.same(a?.map(r => 'outcome' in r ? [r.outcome, r.replay] : r), [['approved', false]], `the first is approved: ${show(a)}`)
  t.same(b, [{ unclaimed: true }], `the repeat is unclaimed, nothing recorded: ${show(b)}`)
  t.equal((await getAccount(db.sql, c.account))?.available, 99000, 'one hold of 10.00')
  const [again] = await decideJitFunding(db.sql, [req])
  t.same([again?.outcome, again?.replay], ['approved', true], 'asked again later: the approval replayed')
  await assertInvariants(t, db)
})
