import t, { type Test } from 'tap'
import { applyTransactionEvent, getHold, type TransactionEventInput } from '../../src/index.js'
import { adversary } from './support.js'
import { ledgerDatabase } from '../helpers.js'

// docs/ledger.md "Keys": "A message belongs to a purchase (its decision and its hold) when any
// identifier links them"; "Invariants": "any order of arrival of one purchase's events converges
// to the same balances"; "the same message redelivered with other identifiers applies once".
const db = await ledgerDatabase(t)

const { card, check, money } = adversary(t, db, 'links')

async function apply (t: Test, e: TransactionEventInput, label = ''): Promise<void> {
  try {
    const r = await applyTransactionEvent(db.sql, e)
    t.comment(`${label} ${e.type}/${e.state}: ${JSON.stringify(r)}`)
  } catch (err) {
    t.comment(`${label} ${e.type}/${e.state}: THROWS ${(err as Error).message}`)
  }
}

check('P2 clearing linked only by original_jit_funding_token = the incremental JIT token', async t => {
  const { c, s } = await card('p2')
  const p = await s.approved(10000)
  const inc = await s.decideIncremental(p, 2000)
  t.equal(inc.result.outcome, 'approved')
  const cl = s.clearing(p, 12000, true)
  delete cl.preceding_related_transaction_token
  if (cl.gpa_order?.jit_funding !== undefined) cl.gpa_order.jit_funding.original_jit_funding_token = inc.jitToken
  await apply(t, cl, 'clearing')
  t.same(await money(c.account), { balance: 88000, available: 88000 }, 'clear 120 final of the purchase')
})

check('P3 clearing copy without gpa_order or preceding first (plain debit), then its linked copy', async t => {
  const { c, s } = await card('p3')
  const p = await s.approved(10000)
  const cl = s.clearing(p, 10000, true)
  const bare = structuredClone(cl)
  delete bare.gpa_order
  delete bare.preceding_related_transaction_token
  await apply(t, bare, 'bare')
  await apply(t, cl, 'linked')
  t.same(await money(c.account), { balance: 90000, available: 90000 }, 'same as linked copy first')
  t.comment(JSON.stringify(await getHold(db.sql, p.jitToken)))
})
