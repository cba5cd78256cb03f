import { formatAmount } from '@jit/contracts'
import { purchasesOf, simToken, type SimCard, type SimPurchase } from './messages.js'
import type { Processor, JitOutcome } from './processor.js'
import type { Provisioner } from './provision.js'
import { provisionCardholder } from './provision.js'
import type { OperatorClient, AccountBalances } from './operator.js'
import { createRandom, transactionFields, type SimRandom } from './random.js'
import { startSlowGateway } from './slow-gateway.js'

/**
 * The expected results of docs/ledger.md as processor traffic: each scenario provisions a cardholder
 * funded with 1000.00 through the AMQP commands, plays its sequence as the processor would (the
 * JIT request over HTTP with its deadline, then the webhooks) and checks the account's balance
 * and available through the worker's operator API.
 */

export interface ScenarioContext {
  card: SimCard
  sim: ReturnType<typeof purchasesOf>
  processor: Processor
  operator: OperatorClient
  /** A purchase with seeded merchant fields. */
  purchase: (amountMinor: number) => SimPurchase
  /** The JIT request of a purchase, then its PENDING (or DECLINED) webhook; fails unless approved. */
  authorize: (p: SimPurchase) => Promise<JitOutcome>
  /** Sends a JIT request and fails unless approved (no webhook). */
  approve: (body: Record<string, unknown>) => Promise<JitOutcome>
  /** Delivers transaction events in one batch (at most 10); fails unless answered 200. */
  webhooks: (...events: Array<Record<string, unknown>>) => Promise<void>
  /** Notes shown in the table's detail column. */
  note: (text: string) => void
}

export interface Scenario {
  name: string
  /** Expected balance and available, minor units, from a 1000.00 start. */
  balance: number
  available: number
  run: (ctx: ScenarioContext) => Promise<void>
}

const FUNDING = 100_000

async function waitFor<T> (what: string, read: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (value !== null) return value
    if (Date.now() > until) throw new Error(`${what}: not seen within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** What the processor sends about an approved purchase, amounts in minor units. */
type FollowUp =
  | { clearing: number, final: boolean }
  | { reversal: number | null }
  | { refund: number }
  | { advice: number }
  | { incremental: number }

const major = (minor: number): number => minor / 100

/** The follow-up as the scenario's name says it. */
function describeFollowUp (f: FollowUp): string {
  if ('clearing' in f) return `clear ${major(f.clearing)} ${f.final ? 'final' : 'not final'}`
  if ('reversal' in f) return f.reversal === null ? 'reversal' : `reversal ${major(f.reversal)}`
  if ('refund' in f) return `refund ${major(f.refund)}`
  if ('advice' in f) return `advice releasing ${major(f.advice)}`
  return `incremental ${major(f.incremental)}`
}

async function sendFollowUp (x: ScenarioContext, p: SimPurchase, f: FollowUp): Promise<void> {
  if ('clearing' in f) return await x.webhooks(x.sim.clearing(p, f.clearing, f.final))
  if ('reversal' in f) return await x.webhooks(x.sim.reversal(p, f.reversal))
  if ('refund' in f) return await x.webhooks(x.sim.refund(p, f.refund))
  if ('advice' in f) return await x.webhooks(x.sim.advice(p, f.advice))
  // an incremental authorization is a JIT request of its own, then its PENDING webhook
  const inc = x.purchase(f.incremental)
  await x.approve(x.sim.request(inc, 'pgfs.authorization.incremental', p.jitToken))
  await x.webhooks(x.sim.incrementalPending(p, inc))
}

/**
 * An approved authorization of `amount` (JIT request and PENDING webhook), then the follow-ups in
 * order; the name is the sequence, as docs/ledger.md "Expected results" writes it.
 */
function authorizationThen (amount: number, followUps: FollowUp[], balance: number, available: number): Scenario {
  return {
    name: [`auth ${major(amount)}`, ...followUps.map(describeFollowUp)].join('; '),
    balance,
    available,
    run: async (x) => {
      const p = x.purchase(amount)
      await x.authorize(p)
      for (const f of followUps) await sendFollowUp(x, p, f)
    }
  }
}

/**
 * An approved JIT request of `amount` (with `method`, default an authorization), then the webhooks
 * `events` builds, each in a batch of its own, in order (no PENDING webhook unless it is one of them).
 */
function approvedThen (name: string, amount: number, method: string | undefined, events: (sim: ScenarioContext['sim'], p: SimPurchase) => Array<Record<string, unknown>>, balance: number, available: number): Scenario {
  return {
    name,
    balance,
    available,
    run: async (x) => {
      const p = x.purchase(amount)
      await x.approve(x.sim.request(p, method))
      for (const event of events(x.sim, p)) await x.webhooks(event)
    }
  }
}

/** Every sequence of the "Expected results" of docs/ledger.md, plus a slow gateway and a balance inquiry. */
export const SCENARIOS: readonly Scenario[] = [
  // the authorized amount, what follows, then the expected balance and available (minor units)
  authorizationThen(10000, [], 100000, 90000),
  authorizationThen(10000, [{ clearing: 10000, final: true }], 90000, 90000),
  authorizationThen(10000, [{ clearing: 5000, final: true }], 95000, 95000),
  authorizationThen(10000, [{ clearing: 5000, final: false }], 95000, 90000),
  authorizationThen(10000, [{ clearing: 12000, final: true }], 88000, 88000),
  authorizationThen(10000, [{ reversal: null }], 100000, 100000),
  authorizationThen(10000, [{ clearing: 10000, final: true }, { refund: 10000 }], 100000, 100000),
  authorizationThen(5000, [{ clearing: 2500, final: false }, { reversal: 2500 }], 97500, 97500),
  approvedThen('auth 100; DECLINED webhook with timed_out', 10000, undefined, (sim, p) => [sim.declined(p, true)], 100000, 100000),
  authorizationThen(10000, [{ incremental: 2000 }, { clearing: 12000, final: true }], 88000, 88000),
  authorizationThen(10000, [{ incremental: 2000 }, { incremental: 3000 }, { clearing: 15000, final: true }], 85000, 85000),
  authorizationThen(10000, [{ advice: 4000 }, { clearing: 6000, final: true }], 94000, 94000),
  { name: 'force capture 30', balance: 97000, available: 97000, run: async (x) => { await x.webhooks(x.sim.forceCapture(3000)) } },
  approvedThen('single-message PIN debit 30', 3000, 'pgfs.pindebit', (sim, p) => [sim.pinDebit(p)], 97000, 97000),
  {
    name: 'auth 100; the same clearing delivered 3 times',
    balance: 90000,
    available: 90000,
    run: async (x) => {
      const p = x.purchase(10000)
      await x.authorize(p)
      const clearing = x.sim.clearing(p, 10000, true)
      for (let i = 0; i < 3; i++) await x.webhooks(clearing)
    }
  },
  approvedThen("auth 100; clearing webhook before the authorization's PENDING webhook", 10000, undefined,
    (sim, p) => [sim.clearing(p, 10000, true), sim.pending(p)], 90000, 90000),
  {
    name: 'auth 100 sent 50 times at once with one JIT token',
    balance: 100000,
    available: 90000,
    run: async (x) => {
      const p = x.purchase(10000)
      const body = x.sim.request(p)
      const outcomes = await Promise.all(Array.from({ length: 50 }, async () => await x.processor.requestFunding(body)))
      const texts = new Set(outcomes.map(o => `${String(o.status)} ${JSON.stringify(o.body)}`))
      if (outcomes.some(o => o.status !== 200)) throw new Error(`not every repeat approved: ${[...texts].join(' | ')}`)
      if (texts.size !== 1) throw new Error(`repeats got different answers: ${[...texts].join(' | ')}`)
      await x.webhooks(x.sim.pending(p))
      x.note('50 identical answers')
    }
  },
  {
    name: 'slow gateway: timeout, then the late approval repaired',
    balance: 100000,
    available: 100000,
    run: async (x) => {
      const p = x.purchase(10000)
      // the gateway's answer reaches the processor after its deadline: the processor declines to
      // the network on its own while our decision completed (a late approval holding money for a
      // purchase that failed), and its DECLINED webhook with timed_out must release the hold
      const jitUrl = new URL(x.processor.options.jitUrl)
      const slow = await startSlowGateway(jitUrl.origin, 1500)
      let outcome: JitOutcome
      try {
        outcome = await x.processor.with({ jitUrl: new URL(jitUrl.pathname, slow.url).href }).requestFunding(x.sim.request(p), { deadlineMs: 500 })
      } finally {
        await slow.close()
      }
      if (!outcome.timedOut) throw new Error(`expected a timeout, got HTTP ${String(outcome.status)}`)
      const decision = await waitFor('the late decision', async () => await x.operator.decision(p.jitToken))
      x.note(`timed out; late ${String(decision.outcome)} repaired`)
      await x.webhooks(x.sim.declined(p, true))
    }
  },
  {
    name: 'balance inquiry',
    balance: 100000,
    available: 100000,
    run: async (x) => {
      const p = x.purchase(0)
      const outcome = await x.approve(x.sim.request(p, 'pgfs.balanceinquiry'))
      const balances = (outcome.body as { jit_funding?: { balances?: Record<string, { available_balance?: unknown, ledger_balance?: unknown }> } }).jit_funding?.balances
      const usd = balances?.USD
      if (usd === undefined) throw new Error(`no USD balances in the answer: ${JSON.stringify(outcome.body)}`)
      if (usd.available_balance !== formatAmount(FUNDING, 'USD') || usd.ledger_balance !== formatAmount(FUNDING, 'USD')) {
        throw new Error(`inquiry answered ledger ${String(usd.ledger_balance)} available ${String(usd.available_balance)}, expected 1000`)
      }
      x.note('answered 1000.00 / 1000.00')
    }
  }
]

/** One scenario's result. */
export interface ScenarioResult {
  name: string
  ok: boolean
  expected: { balance: number, available: number }
  actual: { balance: number, available: number } | null
  ms: number
  detail: string
}

export interface ScenarioRunOptions {
  processor: Processor
  provisioner: Provisioner
  operator: OperatorClient
  /** Seed of the merchant fields. @default 1 */
  seed?: number
  /** Scenarios run at once (each on its own cardholder). @default 4 */
  concurrency?: number
  /** Only the scenarios whose name includes this text. */
  filter?: string
  /** How long an account may take to reach its expected balances, ms. @default 15000 */
  settleTimeoutMs?: number
  onResult?: (result: ScenarioResult, done: number, total: number) => void
}

/** Reads the account until it shows the expected balances twice in a row, or the timeout. */
async function settledBalances (operator: OperatorClient, token: string, expected: { balance: number, available: number }, timeoutMs: number): Promise<AccountBalances | null> {
  const until = Date.now() + timeoutMs
  let last: AccountBalances | null = null
  let matches = 0
  while (Date.now() < until) {
    last = await operator.account(token)
    const match = last !== null && last.balance_minor === expected.balance && last.available_minor === expected.available
    matches = match ? matches + 1 : 0
    // a second look a little later: a duplicate still in flight would show up in it
    if (matches >= 2) return last
    await new Promise(resolve => setTimeout(resolve, match ? 250 : 50))
  }
  return last
}

export async function runScenarios (options: ScenarioRunOptions): Promise<ScenarioResult[]> {
  const chosen = SCENARIOS.filter(s => options.filter === undefined || s.name.includes(options.filter))
  const random: SimRandom = createRandom(options.seed ?? 1)
  // draw every scenario's fields up front, in order, so concurrency does not change them
  const fields = chosen.map(() => Array.from({ length: 4 }, () => transactionFields(random)))
  const results: ScenarioResult[] = new Array(chosen.length)
  let next = 0
  let done = 0
  const run = async (index: number): Promise<ScenarioResult> => {
    const scenario = chosen[index] as Scenario
    const started = performance.now()
    const card = { user: simToken('sim-user'), card: simToken('sim-card') }
    const notes: string[] = []
    const sim = purchasesOf(card)
    const mine = fields[index] ?? []
    let drawn = 0
    const ctx: ScenarioContext = {
      card,
      sim,
      processor: options.processor,
      operator: options.operator,
      purchase: (amount) => {
        const f = mine[drawn++ % Math.max(1, mine.length)]
        return sim.purchase(amount, f)
      },
      async approve (body) {
        const outcome = await options.processor.requestFunding(body)
        if (!outcome.approved) throw new Error(`${String((body as { gpa_order?: { jit_funding?: { method?: string } } }).gpa_order?.jit_funding?.method ?? 'JIT request')} not approved: ${outcome.timedOut ? 'timed out' : `HTTP ${String(outcome.status)} ${String(outcome.declineReason)}`}`)
        return outcome
      },
      async authorize (p) {
        const outcome = await options.processor.requestFunding(sim.request(p))
        await ctx.webhooks(outcome.approved ? sim.pending(p) : sim.declined(p, outcome.timedOut))
        if (!outcome.approved) throw new Error(`auth ${p.amount / 100} not approved: ${outcome.timedOut ? 'timed out' : `HTTP ${String(outcome.status)} ${String(outcome.declineReason)}`}`)
        return outcome
      },
      async webhooks (...events) {
        const deliveries = await options.processor.deliverWebhooks('transactions', events)
        const failed = deliveries.find(d => !d.delivered)
        if (failed !== undefined) throw new Error(`webhook batch refused: ${failed.statuses.join(', ')}`)
      },
      note: (text) => { notes.push(text) }
    }
    const expected = { balance: scenario.balance, available: scenario.available }
    try {
      await provisionCardholder(options.provisioner, { ...card, funding: formatAmount(FUNDING, 'USD').toFixed(2) })
      await scenario.run(ctx)
      const account = await settledBalances(options.operator, card.user, expected, options.settleTimeoutMs ?? 15_000)
      const actual = account === null ? null : { balance: account.balance_minor, available: account.available_minor }
      const ok = actual !== null && actual.balance === expected.balance && actual.available === expected.available
      if (!ok) notes.push(actual === null ? 'no account' : 'balances differ')
      return { name: scenario.name, ok, expected, actual, ms: performance.now() - started, detail: notes.join('; ') }
    } catch (err) {
      const account = await options.operator.account(card.user).catch(() => null)
      notes.push((err as Error).message)
      return { name: scenario.name, ok: false, expected, actual: account === null ? null : { balance: account.balance_minor, available: account.available_minor }, ms: performance.now() - started, detail: notes.join('; ') }
    }
  }
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++
      if (index >= chosen.length) return
      const result = await run(index)
      results[index] = result
      options.onResult?.(result, ++done, chosen.length)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, chosen.length)) }, worker))
  return results
}

/** The results as a fixed-width text table (amounts in major units). */
export function formatScenarioTable (results: ScenarioResult[]): string {
  const money = (minor: number): string => (minor / 100).toFixed(2)
  const rows = results.map(r => [
    r.ok ? 'PASS' : 'FAIL',
    r.name,
    `${money(r.expected.balance)} / ${money(r.expected.available)}`,
    r.actual === null ? '-' : `${money(r.actual.balance)} / ${money(r.actual.available)}`,
    `${Math.round(r.ms)} ms`,
    r.detail
  ])
  const header = ['', 'scenario', 'expected balance / available', 'actual', 'time', 'detail']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const passed = results.filter(r => r.ok).length
  return [line(header), line(widths.map(w => '-'.repeat(w))), ...rows.map(line), '', `${passed} of ${results.length} scenarios passed`].join('\n') + '\n'
}
