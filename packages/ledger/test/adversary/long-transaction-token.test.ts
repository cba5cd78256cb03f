import t from 'tap'
import { randomBytes } from 'node:crypto'
import { startDecisionBatch, getAccount, getDecision, isDecided } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// A JIT request's transaction token has no length bound before the ledger, which indexes it in
// decisions and ledger_messages: a 6,000-character incompressible one fails its statement
// (54000, index row size). Issue #9: one bad member never fails the others. In a batch with an
// ordinary member, the batch's statement fails, and its members are decided again apart: the
// ordinary one is approved, the long one alone comes back failed, nothing recorded for it.
const db = await ledgerDatabase(t, { poolMax: 4 })

t.test('a 6,000-character transaction token, in a batch of three', async t => {
  const c = await fundedCard(db, 'adv-longtx', 100000)
  const ok = await fundedCard(db, 'adv-longtx-ok', 100000)
  const tx = randomBytes(4500).toString('base64')
  const long = jitRequest(c, 1000, { transactionToken: tx })
  const others = [jitRequest(ok, 1000), jitRequest(ok, 2000)]
  const results = await startDecisionBatch(db.sql, [others[0]!, long, others[1]!], 5000).results
  t.same(results.map(r => isDecided(r) ? r.outcome : 'undecided'), ['approved', 'undecided', 'approved'], 'the others are approved')
  const failed = results[1] as { failed?: { code?: string } }
  t.equal(failed.failed?.code, '54000', 'the long one failed alone (index row size)')
  t.equal(await getDecision(db.sql, long.jitToken), null, 'nothing recorded for it')
  t.equal((await getAccount(db.sql, c.account))?.available, 100000, 'its account unchanged')
  t.equal((await getAccount(db.sql, ok.account))?.available, 97000, 'the others hold 30.00')
  await assertInvariants(t, db)
})
