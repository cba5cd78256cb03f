import t from 'tap'
import { randomBytes } from 'node:crypto'
import { startDecisionBatch, getAccount, getDecision, isDecided } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// Tokens have no length bound before the ledger, which indexes them (an index entry holds at
// most ~2.7 kB: a 6,000-character incompressible token would fail its statement, 54000). Issue
// #9: one bad member never fails the others. A transaction token that long is a malformed
// request: a recorded TRANSACTION_NOT_PERMITTED decline, moving nothing. A JIT token that long
// cannot be recorded at all: the batch's statement fails, its members are decided again apart,
// the ordinary ones are approved and the long one alone comes back failed, nothing recorded.
const db = await ledgerDatabase(t, { poolMax: 4 })
const long = (): string => randomBytes(4500).toString('base64')

t.test('a 6,000-character transaction token and a 6,000-character JIT token, in a batch of four', async t => {
  const c = await fundedCard(db, 'adv-longtx', 100000)
  const ok = await fundedCard(db, 'adv-longtx-ok', 100000)
  const longTx = jitRequest(c, 1000, { transactionToken: long() })
  const longJit = jitRequest(c, 1000, { jitToken: long() })
  const requests = [jitRequest(ok, 1000), longTx, longJit, jitRequest(ok, 2000)]
  const results = await startDecisionBatch(db.sql, requests, 5000).results
  t.same(results.map(r => isDecided(r) ? `${r.outcome}/${r.decline_reason ?? ''}` : 'undecided'),
    ['approved/', 'declined/TRANSACTION_NOT_PERMITTED', 'undecided', 'approved/'], 'the ordinary ones approved, the long transaction token declined')
  t.equal((await getDecision(db.sql, longTx.jitToken))?.outcome, 'declined', 'the decline is recorded')
  t.equal((results[2] as { failed?: { code?: string } }).failed?.code, '54000', 'the long JIT token failed alone (index row size)')
  t.equal((await getAccount(db.sql, c.account))?.available, 100000, 'nothing moved for either')
  t.equal((await getAccount(db.sql, ok.account))?.available, 97000, 'the others hold 30.00')
  await assertInvariants(t, db)
})
