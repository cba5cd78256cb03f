import t from 'tap'
import { EVENT_SCHEMAS, compileValidator } from '@jit/contracts'
import type { TSchema } from '@sinclair/typebox'
import { purchasesOf, webhookBatch, simToken, transactionEvent, type SimCard, type SimPurchase } from '@jit/processor-sim'
import { startStack, type Stack } from './harness.js'

// docs/ledger.md "Expected results", end to end: the cardholder is provisioned and funded by commands
// on cards.commands, JIT decisions go through the authorizer's HTTP endpoint, webhooks through
// webhook-ingest's, the worker applies them, and balances are read from the operator API.

const stack = await startStack(t)

async function newFundedCard (s: Stack, name: string): Promise<SimCard> {
  const c = { user: simToken(`u-${name}`), card: simToken(`c-${name}`) }
  t.equal((await s.command('user.upsert', { user_token: c.user, status: 'ACTIVE' })).type, 'command.applied')
  t.equal((await s.command('card.upsert', { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })).type, 'command.applied')
  t.equal((await s.command('account.credit', { user_token: c.user, amount: '1000.00', currency: 'USD' })).type, 'command.applied')
  return c
}

type Step = (sim: ReturnType<typeof purchasesOf>, ctx: { p: SimPurchase, c: SimCard }) => Promise<void>

/** Approves a purchase through the authorizer and sends its PENDING webhook. */
async function auth (sim: ReturnType<typeof purchasesOf>, p: SimPurchase): Promise<void> {
  const res = await stack.jit(sim.request(p))
  if (res.status !== 200) throw new Error(`auth ${p.amount}: ${res.status} ${JSON.stringify(res.body)}`)
  await hooks([sim.pending(p)])
}

async function hooks (events: Array<Record<string, unknown>>): Promise<void> {
  const res = await stack.webhook(webhookBatch('transactions', events))
  if (res.status !== 200) throw new Error(`webhook batch: ${res.status} ${JSON.stringify(res.body)}`)
  await stack.settle()
}

const rows: Array<[string, number, number, number, Step]> = [
  ['auth 100', 10000, 100000, 90000, async (s, { p }) => { await auth(s, p) }],
  ['auth 100; clear 100 final', 10000, 90000, 90000, async (s, { p }) => { await auth(s, p); await hooks([s.clearing(p, 10000, true)]) }],
  ['auth 100; clear 50 final', 10000, 95000, 95000, async (s, { p }) => { await auth(s, p); await hooks([s.clearing(p, 5000, true)]) }],
  ['auth 100; clear 50 not final', 10000, 95000, 90000, async (s, { p }) => { await auth(s, p); await hooks([s.clearing(p, 5000, false)]) }],
  ['auth 100; clear 120 final', 10000, 88000, 88000, async (s, { p }) => { await auth(s, p); await hooks([s.clearing(p, 12000, true)]) }],
  ['auth 100; reversal', 10000, 100000, 100000, async (s, { p }) => { await auth(s, p); await hooks([s.reversal(p, null)]) }],
  ['auth 100; clear 100 final; refund 100', 10000, 100000, 100000, async (s, { p }) => {
    await auth(s, p); await hooks([s.clearing(p, 10000, true)]); await hooks([s.refund(p, 10000)])
  }],
  ['auth 50; clear 25 not final; reversal 25', 5000, 97500, 97500, async (s, { p }) => {
    await auth(s, p); await hooks([s.clearing(p, 2500, false)]); await hooks([s.reversal(p, 2500)])
  }],
  ['auth 100; DECLINED webhook with timed_out', 10000, 100000, 100000, async (s, { p }) => {
    const res = await stack.jit(s.request(p))
    if (res.status !== 200) throw new Error(`not approved: ${res.status} ${JSON.stringify(res.body)}`)
    await hooks([s.declined(p, true)])
  }],
  ['auth 100; incremental 20; clear 120 final', 10000, 88000, 88000, async (s, { p }) => {
    await auth(s, p)
    const inc = s.purchase(2000)
    t.equal((await stack.jit(s.request(inc, 'pgfs.authorization.incremental', p.jitToken))).status, 200)
    await hooks([s.incrementalPending(p, inc)])
    await hooks([s.clearing(p, 12000, true)])
  }],
  ['auth 100; incremental 20; incremental 30; clear 150 final', 10000, 85000, 85000, async (s, { p }) => {
    await auth(s, p)
    for (const amount of [2000, 3000]) {
      const inc = s.purchase(amount)
      t.equal((await stack.jit(s.request(inc, 'pgfs.authorization.incremental', p.jitToken))).status, 200)
      await hooks([s.incrementalPending(p, inc)])
    }
    await hooks([s.clearing(p, 15000, true)])
  }],
  ['auth 100; advice releasing 40; clear 60 final', 10000, 94000, 94000, async (s, { p }) => {
    await auth(s, p); await hooks([s.advice(p, 4000)]); await hooks([s.clearing(p, 6000, true)])
  }],
  ['force capture 30', 3000, 97000, 97000, async (s) => { await hooks([s.forceCapture(3000)]) }],
  ['single-message PIN debit 30', 3000, 97000, 97000, async (s, { p }) => {
    t.equal((await stack.jit(s.request(p, 'pgfs.pindebit'))).status, 200)
    await hooks([s.pinDebit(p)])
  }],
  ['auth 100; the same clearing delivered 3 times', 10000, 90000, 90000, async (s, { p }) => {
    await auth(s, p)
    const clearing = s.clearing(p, 10000, true)
    await hooks([clearing]); await hooks([clearing]); await hooks([clearing])
  }],
  ['auth 100; clearing webhook before the authorization\'s PENDING webhook', 10000, 90000, 90000, async (s, { p }) => {
    t.equal((await stack.jit(s.request(p))).status, 200)
    await hooks([s.clearing(p, 10000, true)])
    await hooks([s.pending(p)])
  }],
  ['auth 100 sent 50 times at once with one JIT token', 10000, 100000, 90000, async (s, { p }) => {
    const request = s.request(p)
    const answers = await Promise.all(Array.from({ length: 50 }, async () => await stack.jit(request)))
    t.equal(new Set(answers.map(a => JSON.stringify(a))).size, 1, '50 identical answers')
    await hooks([s.pending(p)])
  }]
]

for (const [name, amount, balance, available, run] of rows) {
  t.test(name, async t => {
    const c = await newFundedCard(stack, name.replace(/[^a-z0-9]+/gi, '-').slice(0, 20))
    const sim = purchasesOf(c)
    await run(sim, { p: sim.purchase(amount), c })
    await stack.settle()
    const account = await stack.account(c.user)
    t.equal(account?.balance_minor, balance, `balance ${balance / 100}`)
    t.equal(account?.available_minor, available, `available ${available / 100}`)
    t.same(await stack.invariants(), [], 'ledger invariants hold')
  })
}

t.test('one webhook batch delivered three times changes money once', async t => {
  const c = await newFundedCard(stack, 'batch3')
  const sim = purchasesOf(c)
  const p = sim.purchase(10000)
  t.equal((await stack.jit(sim.request(p))).status, 200)
  const batch = webhookBatch('transactions', [sim.pending(p), sim.clearing(p, 4000, false), transactionEvent(c, { type: 'refund', state: 'COMPLETION', amount: 500, unload: true, jit: { token: simToken('jitf'), method: 'pgfs.refund' } })])
  for (let i = 0; i < 3; i++) t.equal((await stack.webhook(batch)).status, 200)
  await stack.settle()
  const account = await stack.account(c.user)
  t.equal(account?.balance_minor, 100000 - 4000 + 500)
  t.equal(account?.available_minor, 100000 - 4000 + 500 - 6000)
  t.same(await stack.invariants(), [])
})

t.test('a card suspended by a command is declined right after command.applied', async t => {
  const c = await newFundedCard(stack, 'suspend')
  const sim = purchasesOf(c)
  t.equal((await stack.jit(sim.request(sim.purchase(100)))).status, 200, 'approved while active (and now cached)')
  t.equal((await stack.command('card.upsert', { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12' })).type, 'command.applied')
  const res = await stack.jit(sim.request(sim.purchase(100)))
  t.equal(res.status, 402)
  t.equal(res.body.jit_funding.decline_reason, 'CARD_NOT_ACTIVE')
  await stack.settle()
  t.same(await stack.invariants(), [])
})

t.test('every event written to the outbox matches its AsyncAPI contract schema', async t => {
  await stack.settle()
  const rows = await stack.workerConnections.db.sql<Array<{ routing_key: string, payload: unknown }>>`
    select routing_key, payload from outbox order by id`
  t.ok(rows.length > 50, `${rows.length} events`)
  const validators = new Map<string, ReturnType<typeof compileValidator>>()
  const problems: string[] = []
  for (const row of rows) {
    const schema = (EVENT_SCHEMAS as Record<string, TSchema>)[row.routing_key]
    if (schema === undefined) { problems.push(`${row.routing_key}: no schema`); continue }
    let check = validators.get(row.routing_key)
    if (check === undefined) { check = compileValidator(schema); validators.set(row.routing_key, check) }
    const result = check(row.payload)
    if (!result.ok) problems.push(`${row.routing_key}: ${JSON.stringify(result.errors)}`)
  }
  t.same([...new Set(problems)].slice(0, 20), [], 'every payload validates')
})
