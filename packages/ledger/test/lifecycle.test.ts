import t, { type Test } from 'tap'
import { applyTransactionEvent, getHold, type LifecycleResult, type TransactionEventInput } from '../src/index.js'
import { ledgerDatabase, shop, type Purchase, lifecycleKit } from './helpers.js'

// docs/ledger.md "Expected results": the account starts at 1000.00, the authorization is placed by
// our JIT decision (decideJitFunding), everything else arrives as webhooks.
const db = await ledgerDatabase(t, { poolMax: 4 })
const { account, money, moneyTest } = lifecycleKit(t, db, 'exp')

async function approve (t: Test, s: ReturnType<typeof shop>, p: Purchase): Promise<void> {
  const r = await s.decide(p)
  t.equal(r.outcome, 'approved', `JIT ${p.jitToken} approved`)
}

async function apply (t: Test, events: TransactionEventInput[], expected: Array<LifecycleResult['outcome']>): Promise<LifecycleResult[]> {
  const results: LifecycleResult[] = []
  for (const e of events) results.push(await applyTransactionEvent(db.sql, e))
  t.same(results.map(r => r.outcome), expected, 'outcomes')
  return results
}

/**
 * Runs a row of the table: `build` places the decisions and returns the webhooks in arrival
 * order; then checks the balances, and that delivering every webhook again changes nothing.
 */
async function row (t: Test, name: string, expected: { balance: number, available: number },
  build: (s: ReturnType<typeof shop>) => Promise<TransactionEventInput[]>): Promise<void> {
  const { c, s } = await account(name)
  const events = await build(s)
  const results = await apply(t, events, events.map(() => 'applied'))
  t.same(await money(c.account), expected, `${name}: balance and available`)
  const again = await apply(t, events, events.map(() => 'duplicate'))
  t.equal(again.length, results.length)
  t.same(await money(c.account), expected, `${name}: redelivery changes nothing`)
}

moneyTest('auth 100', async t => {
  await row(t, 'auth', { balance: 100000, available: 90000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p)]
  })
})

moneyTest('auth 100; clear 100 final', async t => {
  await row(t, 'clear-full', { balance: 90000, available: 90000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 10000, true)]
  })
})

moneyTest('auth 100; clear 50 final', async t => {
  await row(t, 'clear-partial-final', { balance: 95000, available: 95000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 5000, true)]
  })
})

moneyTest('auth 100; clear 50 not final (and with is_final_clearing absent)', async t => {
  await row(t, 'clear-partial-open', { balance: 95000, available: 90000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 5000, false)]
  })
  await row(t, 'clear-partial-absent', { balance: 95000, available: 90000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 5000, undefined)]
  })
})

moneyTest('auth 100; clear 120 final: over-capture recorded and evented', async t => {
  let p: Purchase | undefined
  await row(t, 'over', { balance: 88000, available: 88000 }, async s => {
    p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 12000, true)]
  })
  const hold = await getHold(db.sql, p?.jitToken ?? '')
  t.equal(hold?.captured, 10000)
  t.equal(hold?.over_captured, 2000)
  t.equal(hold?.state, 'CLOSED')
  const [ev] = await db.sql<Array<{ payload: Record<string, unknown> }>>`
    select payload from outbox where routing_key = 'ledger.hold.captured' and payload->>'jit_token' = ${p?.jitToken ?? ''}`
  t.equal(ev?.payload.amount_minor, 12000)
  t.equal(ev?.payload.amount, '120.00')
  t.equal(ev?.payload.over_captured_minor, 2000)
  t.equal(ev?.payload.currency, 'USD')
})

moneyTest('auth 100; reversal (with and without an amount)', async t => {
  await row(t, 'reversal', { balance: 100000, available: 100000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.reversal(p, 10000)]
  })
  let p: Purchase | undefined
  await row(t, 'reversal-all', { balance: 100000, available: 100000 }, async s => {
    p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.reversal(p, null)]
  })
  t.equal((await getHold(db.sql, p?.jitToken ?? ''))?.state, 'CLOSED', 'a reversal that leaves nothing closes the hold')
})

moneyTest('auth 100; clear 100 final; refund 100', async t => {
  await row(t, 'refund', { balance: 100000, available: 100000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 10000, true), s.refund(p, 10000)]
  })
})

moneyTest('auth 50; clear 25 not final; reversal 25', async t => {
  await row(t, 'partial-reversal', { balance: 97500, available: 97500 }, async s => {
    const p = s.purchase(5000)
    await approve(t, s, p)
    return [s.pending(p), s.clearing(p, 2500, false), s.reversal(p, 2500)]
  })
})

moneyTest('auth 100; DECLINED webhook with timed_out: the late approval is repaired', async t => {
  let p: Purchase | undefined
  await row(t, 'timeout', { balance: 100000, available: 100000 }, async s => {
    p = s.purchase(10000)
    await approve(t, s, p)
    return [s.declined(p, true)]
  })
  const [ev] = await db.sql<Array<{ payload: Record<string, unknown> }>>`
    select payload from outbox where routing_key = 'ledger.hold.released' and payload->>'jit_token' = ${p?.jitToken ?? ''}`
  t.match(ev?.payload.reason, /late approval repaired/)
  t.equal(ev?.payload.amount_minor, 10000)
  t.equal(ev?.payload.amount, '100.00')
  t.equal((await getHold(db.sql, p?.jitToken ?? ''))?.state, 'CLOSED')
})

moneyTest('auth 100; incremental 20; clear 120 final', async t => {
  await row(t, 'incremental', { balance: 88000, available: 88000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    const inc = await s.decideIncremental(p, 2000)
    t.equal(inc.result.outcome, 'approved')
    return [s.pending(p), s.incrementalPending(p, inc), s.clearing(p, 12000, true)]
  })
})

moneyTest('auth 100; incremental 20; incremental 30; clear 150 final', async t => {
  await row(t, 'incremental-2', { balance: 85000, available: 85000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    const a = await s.decideIncremental(p, 2000)
    const b = await s.decideIncremental(p, 3000)
    return [s.pending(p), s.incrementalPending(p, a), s.incrementalPending(p, b), s.clearing(p, 15000, true)]
  })
})

moneyTest('auth 100; advice releasing 40; clear 60 final', async t => {
  await row(t, 'advice', { balance: 94000, available: 94000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.pending(p), s.advice(p, 4000), s.clearing(p, 6000, true)]
  })
})

moneyTest('force capture 30', async t => {
  await row(t, 'force', { balance: 97000, available: 97000 }, async s => [s.forceCapture(3000)])
})

moneyTest('single-message PIN debit 30: the webhook confirms our debit', async t => {
  await row(t, 'pin', { balance: 97000, available: 97000 }, async s => {
    const p = s.purchase(3000)
    const r = await s.decide(p, 'pgfs.pindebit')
    t.equal(r.outcome, 'approved')
    return [{ ...s.pending(p, { type: 'pindebit', state: 'COMPLETION', jit: { token: p.jitToken, method: 'pgfs.pindebit' } }) }]
  })
})

moneyTest('auth 100; the same clearing delivered 3 times (in a row and at once)', async t => {
  const { c, s } = await account('thrice')
  const p = s.purchase(10000)
  await approve(t, s, p)
  await apply(t, [s.pending(p)], ['applied'])
  const clearing = s.clearing(p, 10000, true)
  await apply(t, [clearing, clearing, clearing], ['applied', 'duplicate', 'duplicate'])
  t.same(await money(c.account), { balance: 90000, available: 90000 })

  const q = s.purchase(10000)
  await approve(t, s, q)
  const other = s.clearing(q, 10000, true)
  const results = await Promise.all([1, 2, 3].map(async () => await applyTransactionEvent(db.sql, other)))
  t.same(results.map(r => r.outcome).sort(), ['applied', 'duplicate', 'duplicate'], 'concurrent copies apply once')
  t.same(await money(c.account), { balance: 80000, available: 80000 })
  const [journal] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from journal_entries where kind = 'capture' and effect_key like ${'clearing:%'} and description is not null and entry_id in (select entry_id from journal_lines where account_token = ${c.account})`
  t.equal(journal?.n, 2, 'one journal entry per clearing')
})

moneyTest('auth 100; clearing webhook before the authorization\'s PENDING webhook', async t => {
  await row(t, 'clear-first', { balance: 90000, available: 90000 }, async s => {
    const p = s.purchase(10000)
    await approve(t, s, p)
    return [s.clearing(p, 10000, true), s.pending(p)]
  })
})

moneyTest('auth 100 sent 50 times at once with one JIT token (and its webhook 50 times)', async t => {
  const { c, s } = await account('fifty')
  const p = s.purchase(10000)
  const decisions = await Promise.all(Array.from({ length: 50 }, async () => await s.decide(p)))
  t.equal(new Set(decisions.map(d => JSON.stringify([d.status, d.response]))).size, 1, 'identical answers')
  const pending = s.pending(p)
  const results = await Promise.all(Array.from({ length: 50 }, async () => await applyTransactionEvent(db.sql, pending)))
  t.equal(results.filter(r => r.outcome === 'applied').length, 1)
  t.equal(results.filter(r => r.outcome === 'duplicate').length, 49)
  t.same(await money(c.account), { balance: 100000, available: 90000 })
})
