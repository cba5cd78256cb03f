import t from 'tap'
import { holdLocks } from '@jit/test-support'
import { applyTransactionEvent, decideJitFunding, getAccount, getDecision, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest, shop } from '../helpers.js'

// A decision with a transaction token whose budget ends while it waits for the account row
// (docs/ledger.md: a lock wait that reaches the deadline is a recorded TIMEOUT decline, moving
// no money). Then: the same request again (the same TIMEOUT), an incremental on it (not
// permitted: we approved nothing), the processor's PENDING for it (approved anyway: a forced
// hold, the only one), the PENDING again (nothing more). One decision event, invariants hold.
const db = await ledgerDatabase(t, { poolMax: 6 })

t.test('TIMEOUT in the middle, then its repeat, an incremental, and its PENDING twice', async t => {
  const c = await fundedCard(db, 'adv-tmid', 100000)
  const s = shop(db, c)
  const p = s.purchase(1000)
  const req = jitRequest(c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })
  const release = await holdLocks(db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.account} for update`)
  const [first] = await decideJitFunding(db.sql, [{ ...req, deadlineMs: Date.now() + 300 }])
  await release()
  t.equal(first?.decline_reason, 'TIMEOUT', 'TIMEOUT')
  const [msgs] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from ledger_messages where message_token = ${p.txToken}`
  t.equal(msgs?.n, 0, 'the message row rolled back with the money')
  const [again] = await decideJitFunding(db.sql, [req])
  t.same({ replay: again?.replay, response: again?.response }, { replay: true, response: first?.response }, 'the repeat replays the TIMEOUT')
  const inc = await s.decideIncremental(p, 500)
  t.equal(inc.result.decline_reason, 'TRANSACTION_NOT_PERMITTED', 'an incremental on a TIMEOUT is not permitted')
  const w1 = await applyTransactionEvent(db.sql, s.pending(p))
  const w2 = await applyTransactionEvent(db.sql, s.pending(p))
  t.comment(`PENDING: ${JSON.stringify(w1)}; again: ${JSON.stringify(w2)}`)
  const a = await getAccount(db.sql, c.account)
  t.same({ balance: a?.balance, available: a?.available }, { balance: 100000, available: 99000 }, 'one forced hold of 10.00')
  t.equal((await getDecision(db.sql, p.jitToken))?.decline_reason, 'TIMEOUT', 'the decision stays the TIMEOUT')
  const [ev] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from outbox where routing_key like 'jit.decision.%' and payload->>'jit_token' = ${p.jitToken}`
  t.equal(ev?.n, 1, 'one decision event')
  const r = (x: JitDecisionResult | undefined): string => `${x?.outcome ?? ''}/${x?.decline_reason ?? ''}`
  t.comment(`first ${r(first)}`)
  await assertInvariants(t, db)
})
