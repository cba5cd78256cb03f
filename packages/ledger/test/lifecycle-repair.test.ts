import t from 'tap'
import type { TransactionSql } from 'postgres'
import {
  applyTransactionEvent, classifyTransactionEvent, decideJitFunding, getDecision, getHold, recordTimeoutDecline, releaseHold, TransactionEventError, type TransactionEventInput
} from '../src/index.js'
import { sleep } from '@jit/test-support'
import { ledgerDatabase, jitRequest, webhookEvent, token, lifecycleKit, type Purchase } from './helpers.js'

// Late approvals, stand-in approvals, resizes and the messages that move money without a hold.
const db = await ledgerDatabase(t, { poolMax: 6 })
const { account, money, moneyTest } = lifecycleKit(t, db, 'rep')

async function outboxCount (routingKey: string, field: string, value: string): Promise<number> {
  const [row] = await db.sql<Array<{ n: number }>>`
    select count(*)::int as n from outbox where routing_key = ${routingKey} and payload->>${field} = ${value}`
  return row?.n ?? 0
}

moneyTest('a DECLINED timed_out webhook before our approval wins: the late decision places no hold', async t => {
  const { c, s } = await account('tomb')
  const p = s.purchase(10000)
  const r = await applyTransactionEvent(db.sql, s.declined(p, true))
  t.equal(r.outcome, 'applied')
  t.equal(r.effect, 'tombstone')
  const late = await s.decide(p)
  t.equal(late.status, 402, 'our late decision is refused')
  t.equal(await getHold(db.sql, p.jitToken), null, 'no hold')
  t.same(await money(c.account), { balance: 100000, available: 100000 })
  t.equal((await applyTransactionEvent(db.sql, s.declined(p, true))).outcome, 'duplicate')
  t.equal((await getDecision(db.sql, p.jitToken))?.outcome, 'declined')
})

moneyTest('a DECLINED webhook for a purchase we declined ourselves changes nothing', async t => {
  const { c, s } = await account('ours-declined', 500)
  const p = s.purchase(10000)
  t.equal((await s.decide(p)).decline_reason, 'INSUFFICIENT_FUNDS')
  const r = await applyTransactionEvent(db.sql, s.declined(p, false))
  t.same([r.outcome, r.effect], ['applied', 'nothing_to_release'])
  t.same(await money(c.account), { balance: 500, available: 500 })
  t.equal((await getDecision(db.sql, p.jitToken))?.decline_reason, 'INSUFFICIENT_FUNDS', 'our decision is kept')
})

/**
 * Our decision of `p` made in a transaction left open (in flight, its locks held) while `webhook`
 * is applied beside it; committed after `waitMs`. The decision, whether the webhook had settled
 * before that commit, and the webhook's result.
 */
async function beside (c: { user: string, card: string, account: string }, p: Purchase, webhook: TransactionEventInput, waitMs: number) {
  const conn = await db.sql.reserve()
  try {
    await conn`begin`
    const [decision] = await decideJitFunding(conn as unknown as TransactionSql, [jitRequest(c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })])
    let settled = false
    const applied = applyTransactionEvent(db.sql, webhook).then(r => { settled = true; return r })
    await sleep(waitMs)
    const settledBeforeCommit = settled
    await conn`commit`
    return { decision, settledBeforeCommit, result: await applied }
  } finally {
    conn.release()
  }
}

moneyTest('a DECLINED webhook racing our in-flight decision waits for it, then releases its hold', async t => {
  const { c, s } = await account('race')
  const p = s.purchase(10000)
  const { decision, settledBeforeCommit, result } = await beside(c, p, s.declined(p, true), 300)
  t.equal(decision?.outcome, 'approved', 'decided in the open transaction')
  t.equal(settledBeforeCommit, false, 'the webhook waits for the decision to commit')
  t.equal(result.outcome, 'applied')
  t.equal(result.effect, 'hold_released')
  t.same(await money(c.account), { balance: 100000, available: 100000 })
  t.equal((await getHold(db.sql, p.jitToken))?.state, 'CLOSED')
})

moneyTest('a PENDING webhook racing our in-flight decision confirms it: one hold', async t => {
  const { c, s } = await account('race2')
  const p = s.purchase(10000)
  const { result } = await beside(c, p, s.pending(p), 200)
  t.equal(result.effect, 'hold_confirmed')
  t.same(await money(c.account), { balance: 100000, available: 90000 })
})

moneyTest('a stand-in approval opens a forced hold past available, evented; a late decision adds nothing', async t => {
  const { c, s } = await account('standin', 1000)
  const p = s.purchase(5000)
  const r = await applyTransactionEvent(db.sql, s.pending(p, { standinApprovedBy: 'NETWORK', jit: { token: p.jitToken, method: 'pgfs.authorization' } }))
  t.equal(r.effect, 'standin_hold')
  t.same(await money(c.account), { balance: 1000, available: -4000 })
  t.equal(await outboxCount('ledger.account.overdrawn', 'account_token', c.account), 1, 'overdrawn evented')
  t.equal(await outboxCount('ledger.hold.placed', 'jit_token', p.jitToken), 1)
  const hold = await getHold(db.sql, p.jitToken)
  t.equal(hold?.forced, true)
  t.same(hold?.transaction_tokens, [p.txToken])
  const late = await s.decide(p)
  t.equal(late.status, 402)
  t.equal((await getHold(db.sql, p.jitToken))?.authorized, 5000, 'still one hold of 50')
  t.equal((await applyTransactionEvent(db.sql, s.clearing(p, 5000, true))).effect, 'captured')
  t.same(await money(c.account), { balance: -4000, available: -4000 })
})

moneyTest('a timeout the processor approved anyway (our decision: TIMEOUT) opens a forced hold', async t => {
  const { c, s } = await account('timeout-approved')
  const p = s.purchase(10000)
  const req = jitRequest(c, 10000, { jitToken: p.jitToken })
  await recordTimeoutDecline(db.sql, req)
  const r = await applyTransactionEvent(db.sql, s.pending(p, { timedOut: true }))
  t.equal(r.effect, 'standin_hold')
  t.same(await money(c.account), { balance: 100000, available: 90000 })
  t.equal((await applyTransactionEvent(db.sql, s.pending(p, { timedOut: true }))).outcome, 'duplicate')
})

moneyTest('a stand-in authorization without any jit_funding is keyed by its transaction token', async t => {
  const { c } = await account('nojit')
  const tx = token('auth')
  const auth = webhookEvent(c, { type: 'authorization', state: 'PENDING', token: tx, amount: 2000, standinApprovedBy: 'MARQETA' })
  t.equal((await applyTransactionEvent(db.sql, auth)).effect, 'standin_hold')
  const clearing = webhookEvent(c, { type: 'authorization.clearing', state: 'COMPLETION', amount: 2000, preceding: tx, isFinal: true })
  const r = await applyTransactionEvent(db.sql, clearing)
  t.equal(r.effect, 'captured')
  t.equal(r.holdToken, tx)
  t.same(await money(c.account), { balance: 98000, available: 98000 })
})

moneyTest('a PENDING amount different from our decision resizes the one hold', async t => {
  const { c, s } = await account('resize')
  const p = await s.approved(10000)
  const smaller = s.pending(p, { amount: 8000 })
  const r = await applyTransactionEvent(db.sql, smaller)
  t.equal(r.effect, 'hold_resized')
  t.same(await money(c.account), { balance: 100000, available: 92000 })
  t.equal((await applyTransactionEvent(db.sql, smaller)).outcome, 'duplicate')
  t.equal((await getHold(db.sql, p.jitToken))?.authorized, 8000)

  const q = await s.approved(10000)
  t.equal((await applyTransactionEvent(db.sql, s.pending(q, { amount: 13000 }))).effect, 'hold_resized')
  t.same(await money(c.account), { balance: 100000, available: 79000 })
  const [count] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from holds where account_token = ${c.account}`
  t.equal(count?.n, 2, 'never a second hold')
})

moneyTest('a stand-in incremental grows the hold; a late decision for it adds nothing', async t => {
  const { c, s } = await account('inc-standin')
  const p = await s.approved(10000)
  const inc = s.purchase(2500)
  const r = await applyTransactionEvent(db.sql, s.incrementalPending(p, inc))
  t.equal(r.effect, 'standin_hold_increased')
  t.same(await money(c.account), { balance: 100000, available: 87500 })
  const [late] = await decideJitFunding(db.sql, [jitRequest(c, 2500, {
    jitToken: inc.jitToken, method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: p.jitToken
  })])
  t.equal(late?.status, 402)
  t.equal((await getHold(db.sql, p.jitToken))?.authorized, 12500)
})

moneyTest('a DECLINED incremental we approved releases its delta only', async t => {
  const { c, s } = await account('inc-declined')
  const p = await s.approved(10000)
  const inc = await s.decideIncremental(p, 2000)
  t.same(await money(c.account), { balance: 100000, available: 88000 })
  const declined = s.incrementalPending(p, inc, { state: 'DECLINED', timedOut: true })
  const r = await applyTransactionEvent(db.sql, declined)
  t.equal(r.effect, 'hold_released')
  t.same(await money(c.account), { balance: 100000, available: 90000 })
  t.equal((await getHold(db.sql, p.jitToken))?.state, 'OPEN', 'the purchase itself stands')
  t.equal((await applyTransactionEvent(db.sql, declined)).outcome, 'duplicate')
})

moneyTest('single-message debits: stand-in is forced, a different amount adjusts, DECLINED gives it back', async t => {
  const { c, s } = await account('pin')
  const pinEvent = (p: { jitToken: string, txToken: string, amount: number }, over: Partial<Parameters<typeof webhookEvent>[1]> = {}): TransactionEventInput =>
    webhookEvent(c, { type: 'pindebit', state: 'COMPLETION', token: p.txToken, amount: p.amount, jit: { token: p.jitToken, method: 'pgfs.pindebit' }, ...over })

  const standin = s.purchase(3000)
  t.equal((await applyTransactionEvent(db.sql, pinEvent(standin))).effect, 'debited')
  t.same(await money(c.account), { balance: 97000, available: 97000 })
  t.equal((await s.decide(standin, 'pgfs.pindebit')).status, 402, 'a late decision debits nothing more')
  t.same(await money(c.account), { balance: 97000, available: 97000 })

  const differs = s.purchase(3000)
  await s.decide(differs, 'pgfs.pindebit')
  t.equal((await applyTransactionEvent(db.sql, pinEvent(differs, { amount: 3500 }))).effect, 'debit_adjusted')
  t.same(await money(c.account), { balance: 93500, available: 93500 })

  const late = s.purchase(2000)
  await s.decide(late, 'pgfs.auth_plus_capture')
  t.same(await money(c.account), { balance: 91500, available: 91500 })
  const declined = webhookEvent(c, { type: 'authorization', state: 'DECLINED', token: late.txToken, amount: 2000, jit: { token: late.jitToken, method: 'pgfs.auth_plus_capture' }, timedOut: true })
  const r = await applyTransactionEvent(db.sql, declined)
  t.equal(r.effect, 'credited')
  t.same(await money(c.account), { balance: 93500, available: 93500 })
  t.equal((await applyTransactionEvent(db.sql, declined)).outcome, 'duplicate')
})

moneyTest('a clearing on a closed hold is a plain debit; an unlinkable clearing too', async t => {
  const { c, s } = await account('closed')
  const p = await s.approved(10000)
  const released = await releaseHold(db.sql, { jitToken: p.jitToken, reason: 'customer call', operator: 'agent-7', messageId: token('msg') })
  t.equal(released.released, 10000)
  const r = await applyTransactionEvent(db.sql, s.clearing(p, 4000, true))
  t.equal(r.effect, 'debited')
  t.same(await money(c.account), { balance: 96000, available: 96000 })
  const hold = await getHold(db.sql, p.jitToken)
  t.equal(hold?.captured, 0, 'the closed hold is not reopened')
  t.ok(hold?.history.some(h => h.action === 'debited_after_close'))

  const orphan = webhookEvent(c, { type: 'authorization.clearing', state: 'COMPLETION', amount: 1000, isFinal: true })
  const o = await applyTransactionEvent(db.sql, orphan)
  t.equal(o.effect, 'debited')
  t.same(await money(c.account), { balance: 95000, available: 95000 })
})

moneyTest('chargeback credit and its reversal (forced debit)', async t => {
  const { c, s } = await account('chargeback', 1000)
  const p = await s.approved(1000)
  await applyTransactionEvent(db.sql, s.clearing(p, 1000, true))
  const cb = webhookEvent(c, { type: 'authorization.clearing.chargeback', state: 'COMPLETION', amount: 1000, preceding: p.txToken })
  t.equal((await applyTransactionEvent(db.sql, cb)).effect, 'credited')
  t.same(await money(c.account), { balance: 1000, available: 1000 })
  // spend it, then the chargeback is reversed: forced, overdrawn, evented
  const q = await s.approved(1000)
  await applyTransactionEvent(db.sql, s.clearing(q, 1000, true))
  const rev = webhookEvent(c, { type: 'authorization.clearing.chargeback.reversal', state: 'COMPLETION', amount: 1000, preceding: p.txToken })
  t.equal((await applyTransactionEvent(db.sql, rev)).effect, 'debited')
  t.same(await money(c.account), { balance: -1000, available: -1000 })
  t.ok(await outboxCount('ledger.account.overdrawn', 'account_token', c.account) >= 1)
  t.equal((await applyTransactionEvent(db.sql, rev)).outcome, 'duplicate')
})

moneyTest('messages that move no money are ignored', async t => {
  const { c, s } = await account('ignored')
  const p = await s.approved(10000)
  const events: TransactionEventInput[] = [
    webhookEvent(c, { type: 'refund', state: 'PENDING', amount: 500, unload: true, jit: { token: token('j'), method: 'pgfs.refund' } }),
    webhookEvent(c, { type: 'refund.authorization', state: 'PENDING', amount: 500, jit: { token: token('j'), method: 'pgfs.refund.authorization' } }),
    webhookEvent(c, { type: 'authorization.clearing', state: 'DECLINED', amount: 500, preceding: p.txToken }),
    webhookEvent(c, { type: 'balanceinquiry', state: 'COMPLETION', amount: 0 }),
    webhookEvent(c, { type: 'authorization.advice', state: 'CLEARED', amount: 500, preceding: p.txToken, jit: { token: token('j'), method: 'pgfs.authorization.advice' } }),
    webhookEvent(c, { type: 'some.future.type', state: 'COMPLETION', amount: 500 })
  ]
  for (const e of events) t.equal((await applyTransactionEvent(db.sql, e)).outcome, 'ignored', `${e.type} ${e.state}`)
  t.same(await money(c.account), { balance: 100000, available: 90000 })
})

moneyTest('a malformed event is refused whole, with a code, and changes nothing', async t => {
  const { c, s } = await account('bad')
  const p = await s.approved(10000)
  const cases: Array<[string, TransactionEventInput, string]> = [
    ['inexact amount', { ...s.clearing(p, 100, true), amount: '1.001', gpa: undefined, gpa_order: undefined }, 'INVALID_AMOUNT'],
    ['unknown currency', { ...s.clearing(p, 100, true), currency_code: 'XYZ', gpa: undefined }, 'UNKNOWN_CURRENCY'],
    ['no amount', { ...s.clearing(p, 100, true), amount: undefined, gpa: undefined, gpa_order: undefined }, 'MISSING_AMOUNT'],
    ['currency mismatch', s.clearing(p, 100, true, { currency: 'EUR' }), 'CURRENCY_MISMATCH'],
    ['no token', { ...s.clearing(p, 100, true), token: '' }, 'INVALID_EVENT']
  ]
  for (const [name, event, code] of cases) {
    const err = await applyTransactionEvent(db.sql, event).then(() => null, (e: unknown) => e)
    t.ok(err instanceof TransactionEventError, `${name}: refused`)
    t.equal((err as TransactionEventError).code, code, `${name}: ${code}`)
  }
  t.same(await money(c.account), { balance: 100000, available: 90000 })
  const tokens = cases.map(([, event]) => String(event.token)).filter(t => t !== '')
  const [effects] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from effects where key in ${db.sql(tokens)}`
  t.equal(effects?.n, 0, 'no effect key left behind')
  const [messages] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from ledger_messages where message_token in ${db.sql(tokens)}`
  t.equal(messages?.n, 0, 'no message state left behind')
})

moneyTest('an event for a card not provisioned yet is parked, not lost', async t => {
  const ghost = { user: token('ghost-user'), card: token('ghost-card') }
  const r = await applyTransactionEvent(db.sql, webhookEvent(ghost, { type: 'refund', state: 'COMPLETION', amount: 500 }))
  t.equal(r.outcome, 'parked')
  t.equal(r.reason, 'card not provisioned yet')
  // naming no card, it waits for the user's own account instead
  const { card_token: _card, ...noCard } = webhookEvent(ghost, { type: 'refund', state: 'COMPLETION', amount: 700 })
  const n = await applyTransactionEvent(db.sql, noCard)
  t.equal(n.outcome, 'parked')
  t.equal(n.reason, 'no funding account for the card or user yet')
  const [row] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from parked_events where payload->>'user_token' = ${ghost.user}`
  t.equal(row?.n, 2)
  await db.sql`delete from parked_events where payload->>'user_token' = ${ghost.user}`
})

moneyTest('classification: the method decides before the type, the state after', async t => {
  const base = { token: 'x', state: 'COMPLETION' }
  const jit = (method: string) => ({ gpa_order: { jit_funding: { token: 'j', method } } })
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization.clearing', ...jit('pgfs.force_capture') }), 'force_capture')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization', ...jit('pgfs.auth_plus_capture') }), 'immediate_debit')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization.advice', ...jit('pgfs.authorization.reversal') }), 'reversal')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization.advice' }), 'ignored')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization', state: 'DECLINED' }), 'authorization_declined')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization', state: 'ERROR' }), 'authorization_declined')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization.incremental', state: 'PENDING' }), 'incremental')
  t.equal(classifyTransactionEvent({ ...base, type: 'refund', state: 'PENDING' }), 'ignored')
  t.equal(classifyTransactionEvent({ ...base, type: 'refund' }), 'refund')
  t.equal(classifyTransactionEvent({ ...base, type: 'pindebit.chargeback.reversal' }), 'chargeback_debit')
  t.equal(classifyTransactionEvent({ ...base, type: 'authorization.clearing', state: 'DECLINED' }), 'ignored')
  t.equal(classifyTransactionEvent({ ...base, type: 'gpa.credit' }), 'ignored')
})

moneyTest('a DECLINED authorization never releases another purchase\'s hold through its links', async t => {
  const { c, s } = await account('declinelinks')
  const p1 = s.purchase(10000)
  t.equal((await s.decide(p1)).outcome, 'approved')
  // a different JIT token whose event points at P1's transaction
  const stranger = webhookEvent(c, { type: 'authorization', state: 'DECLINED', amount: 500, preceding: p1.txToken, jit: { token: token('jitz'), method: 'pgfs.authorization', original: p1.jitToken }, timedOut: true })
  await applyTransactionEvent(db.sql, stranger)
  const hold = await getHold(db.sql, p1.jitToken)
  t.equal(hold?.state, 'OPEN', 'P1 still holds its money')
  t.equal(hold?.remaining, 10000)
  t.same(await money(c.account), { balance: 100000, available: 90000 })
})

moneyTest('a decision recorded by a DECLINED webhook (the tombstone) is evented like every decision', async t => {
  const { s } = await account('tombevent')
  const p = s.purchase(10000)
  await applyTransactionEvent(db.sql, s.declined(p, true))
  t.equal(await outboxCount('jit.decision.declined', 'jit_token', p.jitToken), 1)
  const [row] = await db.sql<Array<{ payload: Record<string, unknown> }>>`
    select payload from outbox where routing_key = 'jit.decision.declined' and payload->>'jit_token' = ${p.jitToken}`
  t.equal(row?.payload.decline_reason, 'TRANSACTION_NOT_PERMITTED')
  t.equal(row?.payload.detail, 'TIMEOUT')
})

moneyTest('four-decimal currencies (CLF) are exact in the ledger too', async t => {
  const [row] = await db.sql<Array<{ e: number, major: string }>>`select ledger_exponent('CLF') as e, ledger_major(12345, ledger_exponent('CLF'))::text as major`
  t.equal(row?.e, 4)
  t.equal(row?.major, '1.2345')
})
