import t from 'tap'
import { applyTransactionEvent, decideJitFunding, retryParkedEvents, TransactionEventError, type TransactionEventInput } from '../src/index.js'
import { ledgerDatabase, lifecycleKit, jitRequest, token, withoutGpaOrder, type Purchase } from './helpers.js'

// A stand-in webhook that carries no jit_funding opens its hold keyed by the message's own
// token; our decision of that message comes later (and moves no money). From then on the
// decision links its JIT token to that hold (docs/ledger.md "Keys": any identifier links), so a
// follow-up that names the purchase only through the JIT token finds it instead of waiting for
// the park horizon. And the webhook and the decision of one message serialize even when the
// webhook has no JIT token to claim: one hold, never two.
const db = await ledgerDatabase(t, { poolMax: 6 })
const kit = lifecycleKit(t, db, 'late-decision')
const { money, moneyTest } = kit
const card = async (balance?: number) => await kit.account('card', balance)

/** The body with its gpa_order reduced to `funding.gateway_log.transaction_id = gw` (no jit_funding). */
function gatewayOnly (body: TransactionEventInput, gw: string): TransactionEventInput {
  const b = structuredClone(body) as Record<string, unknown>
  const key = b.gpa_order === undefined ? 'gpa_order_unload' : 'gpa_order'
  const order = b[key] as { jit_funding?: unknown, funding: { gateway_log: Record<string, unknown> } }
  delete order.jit_funding
  order.funding.gateway_log.transaction_id = gw
  return b as TransactionEventInput
}

async function decide (c: Awaited<ReturnType<typeof card>>['c'], p: Purchase) {
  const [r] = await decideJitFunding(db.sql, [jitRequest(c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })])
  return r
}

const retry = () => retryParkedEvents(db.sql, { now: new Date(Date.now() + 3_600_000), horizonMs: 30 * 86_400_000, backoffMs: 1, maxBackoffMs: 1 })

moneyTest('a clearing linked only by the gateway id waits, then finds the stand-in hold through the later decision', async t => {
  const { c, s } = await card()
  const p = s.purchase(10000)
  const standin = await applyTransactionEvent(db.sql, gatewayOnly(s.pending(p), p.jitToken))
  t.equal(standin.effect, 'standin_hold')
  const clearing = gatewayOnly(s.clearing(p, 10000, true, { preceding: undefined }), p.jitToken)
  delete (clearing as Record<string, unknown>).preceding_related_transaction_token
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'parked', 'nothing known links the gateway id yet')
  const r = await decide(c, p)
  t.equal(r?.outcome, 'declined', 'the stand-in decided this message already')
  t.equal((await retry()).applied, 1, 'the decision links the JIT token to the stand-in hold')
  t.same(await money(c.account), { balance: 90000, available: 90000 }, 'auth 100; clear 100 final')
})

moneyTest('a redelivery with jit_funding links the JIT token to the stand-in hold its bare copy opened', async t => {
  const { c, s } = await card()
  const p = s.purchase(10000)
  t.equal((await applyTransactionEvent(db.sql, withoutGpaOrder(s.pending(p)))).effect, 'standin_hold')
  t.equal((await applyTransactionEvent(db.sql, s.pending(p))).outcome, 'duplicate')
  // linked only by original_jit_funding_token
  const clearing = s.clearing(p, 10000, true)
  delete (clearing as Record<string, unknown>).preceding_related_transaction_token
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'applied')
  t.same(await money(c.account), { balance: 90000, available: 90000 })
})

moneyTest('a redelivery refused for its currency links nothing', async t => {
  const { c, s } = await card()
  const p = s.purchase(10000)
  t.equal((await applyTransactionEvent(db.sql, withoutGpaOrder(s.pending(p)))).effect, 'standin_hold')
  await t.rejects(applyTransactionEvent(db.sql, s.pending(p, { currency: 'JPY', amount: 100 })), TransactionEventError)
  const reversal = gatewayOnly(s.reversal(p, null), p.jitToken)
  delete (reversal as Record<string, unknown>).preceding_related_transaction_token
  t.equal((await applyTransactionEvent(db.sql, reversal)).outcome, 'parked', 'the refused copy left no decision row behind')
  t.same(await money(c.account), { balance: 100000, available: 90000 })
})

moneyTest('a PENDING without jit_funding and our decision of that message at once: one hold', async t => {
  for (let i = 0; i < 10; i++) {
    const { c, s } = await card()
    const p = s.purchase(10000)
    await Promise.all([applyTransactionEvent(db.sql, withoutGpaOrder(s.pending(p))), decide(c, p)])
    const holds = await db.sql`select hold_token from holds where hold_token in (${p.jitToken}, ${p.txToken})`
    t.equal(holds.length, 1, `one hold (round ${i})`)
    t.same(await money(c.account), { balance: 100000, available: 90000 })
  }
})

moneyTest('original_jit_funding_token naming an incremental decision links to the purchase it grew', async t => {
  const { c, s } = await card()
  const p = s.purchase(10000)
  t.equal((await s.decide(p)).outcome, 'approved')
  t.equal((await s.decideIncremental(p, 2000)).result.outcome, 'approved')
  const inc = (await db.sql<Array<{ jit_token: string }>>`select jit_token from decisions where original_jit_token = ${p.jitToken}`)[0]?.jit_token as string
  const clearing = s.clearing(p, 12000, true, { jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: inc } })
  delete (clearing as Record<string, unknown>).preceding_related_transaction_token
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'applied')
  t.same(await money(c.account), { balance: 88000, available: 88000 }, 'auth 100; incremental 20; clear 120 final')
})
