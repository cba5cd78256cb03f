import t, { type Test } from 'tap'
import { applyTransactionEvent, retryParkedEvents, type TransactionEventInput } from '../src/index.js'
import { ledgerDatabase, shop, token, webhookEvent, type Purchase, lifecycleKit } from './helpers.js'

// Any order of arrival of one purchase's events converges to the same balances (invariant 7):
// early events are parked and retried, late decisions lose to webhooks that came first.
const db = await ledgerDatabase(t, { poolMax: 6 })
const { account, money, moneyTest } = lifecycleKit(t, db, 'ord', {
  after: async t => {
    const [parked] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from parked_events`
    t.equal(parked?.n, 0, 'nothing left parked')
  }
})

function permutations<T> (xs: T[]): T[][] {
  if (xs.length <= 1) return [xs]
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map(rest => [x, ...rest]))
}

// Each retry runs an hour after the previous one, so backed-off events are due again.
let clock = Date.now()
function later (): Date {
  clock += 3600_000
  return new Date(clock)
}
const HORIZON = 365 * 24 * 3600_000

type Step = { name: string, run: () => Promise<unknown> }
const event = (name: string, e: TransactionEventInput): Step => ({ name, run: async () => await applyTransactionEvent(db.sql, e) })

/** Runs every order of `steps` on a fresh account, re-trying parked events after each step. */
async function converges (t: Test, label: string, expected: { balance: number, available: number },
  build: (s: ReturnType<typeof shop>, p: Purchase) => Promise<{ before?: Step[], steps: Step[] }>, amount = 10000): Promise<void> {
  const probe = await build(shop(db, { user: 'x', card: 'x', account: 'x' }), { jitToken: 'x', txToken: 'x', amount })
  const orders = permutations(probe.steps.map((_, i) => i))
  for (const order of orders) {
    const { c, s } = await account(label)
    const p = s.purchase(amount)
    const { before = [], steps } = await build(s, p)
    for (const step of before) await step.run()
    for (const i of order) {
      const step = steps[i]
      if (step === undefined) throw new Error('no step')
      await step.run()
      await retryParkedEvents(db.sql, { now: later(), horizonMs: HORIZON })
    }
    t.same(await money(c.account), expected, `${label}: ${order.map(i => steps[i]?.name).join(', ')}`)
  }
}

moneyTest('decided purchase: [PENDING, clear 60 not final, reversal 40] in every order', async t => {
  await converges(t, 'dec-rev', { balance: 94000, available: 94000 }, async (s, p) => ({
    before: [{ name: 'decide', run: async () => await s.decide(p) }],
    steps: [event('pending', s.pending(p)), event('clear 60', s.clearing(p, 6000, false)), event('reversal 40', s.reversal(p, 4000))]
  }))
})

moneyTest('the JIT decision itself in every position among [PENDING, clear 60, reversal 40] (24 orders)', async t => {
  await converges(t, 'dec-any', { balance: 94000, available: 94000 }, async (s, p) => ({
    steps: [
      { name: 'decide', run: async () => await s.decide(p) },
      event('pending', s.pending(p)), event('clear 60', s.clearing(p, 6000, false)), event('reversal 40', s.reversal(p, 4000))
    ]
  }))
})

moneyTest('stand-in purchase: [PENDING, clear 60 not final, reversal 40] in every order', async t => {
  await converges(t, 'standin-rev', { balance: 94000, available: 94000 }, async (s, p) => ({
    steps: [
      event('pending', s.pending(p, { standinApprovedBy: 'NETWORK' })),
      event('clear 60', s.clearing(p, 6000, false)), event('reversal 40', s.reversal(p, 4000))
    ]
  }))
})

moneyTest('stand-in purchase: [PENDING, clear 60 final, reversal of all] in every order', async t => {
  await converges(t, 'standin-final', { balance: 94000, available: 94000 }, async (s, p) => ({
    steps: [
      event('pending', s.pending(p, { standinApprovedBy: 'NETWORK' })),
      event('clear 60 final', s.clearing(p, 6000, true)), event('reversal all', s.reversal(p, null))
    ]
  }))
})

moneyTest('decided auth and incremental: [PENDING, incremental PENDING, clear 120 final] in every order', async t => {
  await converges(t, 'dec-inc', { balance: 88000, available: 88000 }, async (s, p) => {
    const inc = s.purchase(2000)
    return {
      before: [
        { name: 'decide', run: async () => await s.decide(p) },
        { name: 'decide inc', run: async () => await s.decideIncremental(p, 2000).then(r => { inc.jitToken = r.jitToken; inc.txToken = r.txToken }) }
      ],
      steps: [
        { name: 'pending', run: async () => await applyTransactionEvent(db.sql, s.pending(p)) },
        { name: 'inc pending', run: async () => await applyTransactionEvent(db.sql, s.incrementalPending(p, inc)) },
        event('clear 120 final', s.clearing(p, 12000, true))
      ]
    }
  })
})

moneyTest('stand-in auth and incremental: [PENDING, incremental PENDING, clear 120 final] in every order', async t => {
  await converges(t, 'standin-inc', { balance: 88000, available: 88000 }, async (s, p) => {
    const inc = s.purchase(2000)
    return {
      steps: [
        event('pending', s.pending(p, { standinApprovedBy: 'NETWORK' })),
        event('inc pending', s.incrementalPending(p, inc, { standinApprovedBy: 'NETWORK' })),
        event('clear 120 final', s.clearing(p, 12000, true))
      ]
    }
  })
})

moneyTest('decision and DECLINED timed_out webhook in both orders: nothing held', async t => {
  await converges(t, 'declined', { balance: 100000, available: 100000 }, async (s, p) => ({
    steps: [{ name: 'decide', run: async () => await s.decide(p) }, event('declined', s.declined(p, true))]
  }))
})

moneyTest('a clearing before an undecided authorization is parked, then applied once its hold exists', async t => {
  const { c, s } = await account('park')
  const p = s.purchase(10000)
  const clearing = s.clearing(p, 10000, true)
  const r = await applyTransactionEvent(db.sql, clearing)
  t.equal(r.outcome, 'parked')
  t.match(r.reason, /not known yet/)
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'parked', 'a redelivery stays one parked row')
  const [row] = await db.sql<Array<{ waiting_for: string[], attempts: number }>>`select waiting_for, attempts from parked_events where token = ${clearing.token}`
  t.ok(row?.waiting_for.includes(p.jitToken) && row.waiting_for.includes(p.txToken), 'waits for the purchase tokens')
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'nothing moved while parked')

  t.equal((await applyTransactionEvent(db.sql, s.pending(p, { standinApprovedBy: 'VISA' }))).effect, 'standin_hold')
  const retried = await retryParkedEvents(db.sql, { now: later(), horizonMs: HORIZON })
  t.same(retried, { applied: 1, stillParked: 0, expired: [], forced: [] })
  t.same(await money(c.account), { balance: 90000, available: 90000 })
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'duplicate')
})

moneyTest('an event parked past the horizon is handed back with its reason', async t => {
  const { c, s } = await account('horizon')
  const p = s.purchase(10000)
  const start = new Date(later().getTime())
  const reversal = s.reversal(p, 2000)
  t.equal((await applyTransactionEvent(db.sql, reversal, { now: start })).outcome, 'parked')
  const first = await retryParkedEvents(db.sql, { now: new Date(start.getTime() + 3600_000), horizonMs: 2 * 3600_000 })
  t.same(first, { applied: 0, stillParked: 1, expired: [], forced: [] })
  const early = await retryParkedEvents(db.sql, { now: new Date(start.getTime() + 3600_000 + 1000), horizonMs: 2 * 3600_000 })
  t.same(early, { applied: 0, stillParked: 0, expired: [], forced: [] }, 'not due again before its backoff')
  const last = await retryParkedEvents(db.sql, { now: new Date(start.getTime() + 3 * 3600_000), horizonMs: 2 * 3600_000 })
  t.equal(last.applied, 0)
  t.equal(last.expired.length, 1)
  t.equal(last.expired[0]?.token, reversal.token)
  t.match(last.expired[0]?.reason, /not known yet/)
  t.equal(last.expired[0]?.payload.token, reversal.token)
  t.equal(last.expired[0]?.attempts, 2)
  t.same(await money(c.account), { balance: 100000, available: 100000 })
})

moneyTest('a parked event that can never apply is handed back at once', async t => {
  await db.sql`
    insert into parked_events (token, payload, reason, first_parked_at, next_attempt_at)
    values ('broken-1', ${db.sql.json({ token: 'broken-1', type: 'authorization.clearing', state: 'COMPLETION', amount: '1.001', currency_code: 'USD' })}, 'test', now(), now())`
  const r = await retryParkedEvents(db.sql, { now: later(), horizonMs: HORIZON })
  t.equal(r.expired.length, 1)
  t.match(r.expired[0]?.reason, /INVALID_AMOUNT/)
})

moneyTest('two retry workers at once apply each parked event exactly once', async t => {
  const { c, s } = await account('workers', 1000000)
  const purchases = Array.from({ length: 12 }, () => s.purchase(1000))
  for (const p of purchases) t.equal((await applyTransactionEvent(db.sql, s.clearing(p, 1000, true))).outcome, 'parked')
  // The holds appear through stand-in approvals applied straight to the ledger.
  for (const p of purchases) await applyTransactionEvent(db.sql, s.pending(p, { standinApprovedBy: 'NETWORK' }))
  const now = later()
  const [a, b] = await Promise.all([
    retryParkedEvents(db.sql, { now, horizonMs: HORIZON }),
    retryParkedEvents(db.sql, { now, horizonMs: HORIZON })
  ])
  t.equal((a?.applied ?? 0) + (b?.applied ?? 0), 12)
  t.same(await money(c.account), { balance: 988000, available: 988000 })
  const [captures] = await db.sql<Array<{ n: number }>>`
    select count(*)::int as n from journal_lines where account_token = ${c.account} and amount = -1000`
  t.equal(captures?.n, 12, 'one debit per clearing')
})

moneyTest('an unlinked event with a chain of transaction tokens finds its hold through preceding tokens', async t => {
  const { c, s } = await account('chain')
  const p = s.purchase(10000)
  await s.decide(p)
  await applyTransactionEvent(db.sql, s.pending(p))
  // an incremental without jit_funding, pointing at the authorization's transaction token
  const incTx = token('inc')
  const inc = webhookEvent(c, { type: 'authorization.incremental', state: 'PENDING', token: incTx, amount: 1000, preceding: p.txToken, standinApprovedBy: 'NETWORK' })
  t.equal((await applyTransactionEvent(db.sql, inc)).effect, 'standin_hold_increased')
  // a clearing whose preceding token is the incremental's (a chain of two)
  const clearing = webhookEvent(c, { type: 'authorization.clearing', state: 'COMPLETION', amount: 11000, preceding: incTx, isFinal: true })
  const r = await applyTransactionEvent(db.sql, clearing)
  t.equal(r.holdToken, p.jitToken)
  t.same(await money(c.account), { balance: 89000, available: 89000 })
})

moneyTest('retrying inside the caller\'s transaction: each event in a savepoint, a bad one does not spoil the rest', async t => {
  const { c, s } = await account('savepoint')
  const p = s.purchase(5000)
  const clearing = s.clearing(p, 5000, true)
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'parked')
  await applyTransactionEvent(db.sql, s.pending(p, { standinApprovedBy: 'NETWORK' }))
  await db.sql`
    insert into parked_events (token, payload, reason, first_parked_at, next_attempt_at)
    values ('broken-2', ${db.sql.json({ token: 'broken-2', type: 'refund', state: 'COMPLETION', amount: '5', currency_code: 'EUR', user_token: c.user })}, 'test', now() - interval '1 hour', now() - interval '1 hour')`
  const result = await db.sql.begin(async tx => await retryParkedEvents(tx, { now: later(), horizonMs: HORIZON }))
  t.equal(result.applied, 1)
  t.equal(result.expired.length, 1)
  t.match(result.expired[0]?.reason, /CURRENCY_MISMATCH/)
  t.same(await money(c.account), { balance: 95000, available: 95000 })
})
