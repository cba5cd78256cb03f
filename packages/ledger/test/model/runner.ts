/**
 * Plays model histories against the real ledger (its public API, a real PostgreSQL database)
 * and compares every step with the in-memory model of docs/ledger.md; after each history every
 * ledger invariant must hold. Used by the CI-sized test and by the long mode (cli.ts).
 */
import fc from 'fast-check'
import postgres from 'postgres'
import { createDatabase, runMigrations, type Database } from '@jit/postgres'
import { createTestDatabase, type Teardownable } from '@jit/test-support'
import {
  applyTransactionEvent, applyTransactionEventBatch, applyTransactionEvents, checkLedgerInvariants, ledgerMigrationSets, creditAccount, debitAccount, decideJitFunding, expireStaleHolds,
  jitRequestFingerprint, releaseHold, retryParkedEvents, setLimits, TransactionEventError, upsertCard, upsertUser,
  type JitDecisionRequest
} from '../../src/index.js'
import { ACCOUNTS, ACCOUNT_OF, CURRENCY_OF, FOREIGN_CURRENCY, countOps, tokensOf, type AccountId, type CardId, type History, type Op, type Tokens } from './history.js'
import { buildMessage, JIT_METHOD, MCC, type BuiltMessage } from './messages.js'
import { LedgerModel, cloneState, initialState, type ModelState } from './model.js'
import { historyArb, type GeneratorFlag } from './generate.js'

/** What the ledger holds for one history: per account balance and held, and each purchase's open hold. */
export interface Snapshot {
  accounts: Record<AccountId, { balance: string, held: string }>
  /** purchase index -> remaining, for OPEN holds. */
  open: Record<string, string>
  /** Holds that belong to no purchase of the history, or a second hold of one purchase. */
  stray: string[]
}

/**
 * A migrated database of its own for a model run. Its commits do not wait for the disk
 * (synchronous_commit off for the database; durability is not what this test is about), except
 * JIT decisions, which insist on it and get it back in their own transaction (see decide()).
 */
export async function modelDatabase (t: Teardownable): Promise<Database> {
  const url = await createTestDatabase(t, 'ledger-model')
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`alter database "${new URL(url).pathname.slice(1)}" set synchronous_commit = off`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const db = createDatabase({ url, poolMin: 1, poolMax: 4, statementTimeoutMs: 30000 })
  t.teardown(() => db.close(1))
  await runMigrations(db.sql, ledgerMigrationSets)
  return db
}

export class ModelMismatch extends Error {
  constructor (message: string, readonly detail: Record<string, unknown>) {
    super(message)
    this.name = 'ModelMismatch'
  }
}

/** decideJitFunding with synchronous_commit on for its transaction, as it insists. */
async function decide (sql: Database['sql'], requests: JitDecisionRequest[]): Promise<void> {
  await sql.begin(async tx => {
    await tx`set local synchronous_commit = on`
    await decideJitFunding(tx, requests)
  })
}

const TRANSIENT = new Set(['40P01', '40001', '55P03', '57014'])
const DAY_MS = 86_400_000

function snapshotOfModel (s: ModelState): Snapshot {
  const open: Record<string, string> = {}
  for (const hold of s.holds.values()) if (hold.state === 'OPEN') open[String(hold.p)] = String(hold.remaining)
  return {
    accounts: Object.fromEntries(ACCOUNTS.map(a => [a, { balance: String(s.accounts[a].balance), held: String(s.accounts[a].held) }])) as Snapshot['accounts'],
    open,
    stray: []
  }
}

const sameSnapshot = (a: Snapshot, b: Snapshot): boolean => JSON.stringify(a) === JSON.stringify(b)

function distinct (states: ModelState[]): ModelState[] {
  const seen = new Set<string>()
  return states.filter(s => {
    const key = JSON.stringify(s, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v instanceof Map ? [...v] : v instanceof Set ? [...v] : v)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function permutations<T> (items: T[]): T[][] {
  if (items.length <= 1) return [items]
  const out: T[][] = []
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest])
  })
  return out
}

/** One line per operation, with the fields of the message it sends that the ledger reads (for findings). */
export function describeOp (h: History, tk: Tokens, op: Op): string {
  if (op.t === 'together') return `at once${op.batched === true ? ' (its webhooks as one batch)' : ''}: [ ${op.ops.map(o => describeOp(h, tk, o)).join(' | ')} ]`
  const built = buildMessage(h, tk, op)
  if (built === undefined) {
    const ps = 'p' in op && typeof op.p === 'number' ? h.purchases[op.p] : undefined
    if (op.t === 'decide' && ps !== undefined) {
      return `JIT ${JIT_METHOD[ps.method]} token=${tk.jit(op.p)} txn=${tk.tx(op.p)} amount=${ps.amount}${op.currency === 'other' ? ' (foreign currency)' : ''}${op.late ? ' (past its deadline)' : ''} card ${ps.card}`
    }
    if (op.t === 'incDecide' && ps !== undefined) {
      return `JIT pgfs.authorization.incremental token=${tk.incJit(op.p, op.k)} txn=${tk.incTx(op.p, op.k)} original=${tk.jit(op.p)} amount=${ps.incrementals[op.k]?.amount ?? '-'}`
    }
    return JSON.stringify(op)
  }
  return summarizeMessage(built.body as Record<string, unknown>)
}

function summarizeMessage (b: Record<string, unknown>): string {
  const order = (b.gpa_order ?? b.gpa_order_unload) as Record<string, unknown> | undefined
  const jit = order?.jit_funding as Record<string, unknown> | undefined
  const gateway = (order?.funding as { gateway_log?: Record<string, unknown> } | undefined)?.gateway_log
  const gpa = b.gpa as Record<string, unknown> | undefined
  const parts = [`webhook ${String(b.type)} ${String(b.state)} token=${String(b.token)}`, `amount=${JSON.stringify(b.amount)}`]
  if (b.currency_code !== undefined) parts.push(`currency_code=${String(b.currency_code)}`)
  if (gpa !== undefined) parts.push(`gpa{impacted_amount=${JSON.stringify(gpa.impacted_amount)}${gpa.currency_code === undefined ? '' : ` currency_code=${String(gpa.currency_code)}`}}`)
  if (b.preceding_related_transaction_token !== undefined) parts.push(`preceding=${String(b.preceding_related_transaction_token)}`)
  if (b.is_final_clearing !== undefined) parts.push(`is_final_clearing=${String(b.is_final_clearing)}`)
  if (b.standin_approved_by !== undefined) parts.push('standin_approved_by=NETWORK')
  if (order === undefined) parts.push('no gpa_order')
  else {
    const inner: string[] = []
    if (jit !== undefined) inner.push(`jit_funding{token=${String(jit.token)} method=${String(jit.method)}${jit.original_jit_funding_token === undefined ? '' : ` original=${String(jit.original_jit_funding_token)}`} amount=${JSON.stringify(jit.amount)}}`)
    if (gateway !== undefined) inner.push(`gateway_log{${gateway.transaction_id === undefined ? '' : `transaction_id=${String(gateway.transaction_id)} `}timed_out=${String(gateway.timed_out)}}`)
    parts.push(`${b.gpa_order === undefined ? 'gpa_order_unload' : 'gpa_order'}{${inner.join(' ')}}`)
  }
  return parts.join(' ')
}

export interface RunStats { histories: number, ops: number }

/** One database, many histories: each history starts from empty ledger tables. */
export class ModelRunner {
  private tables: string[] = []
  private runId = Math.random().toString(36).slice(2, 6)
  /** The parked events' tokens in the order the last retry attempted them. */
  private retrySequence: string[] = []
  private count = 0
  readonly stats: RunStats = { histories: 0, ops: 0 }
  /** Milliseconds spent playing operations, reading the ledger back and running the model. */
  readonly timing = { reset: 0, execute: 0, snapshot: 0, model: 0, invariants: 0 }

  constructor (readonly db: Database) {}

  /** Finds the tables a history writes (those migrations leave empty; reference data stays). */
  async init (): Promise<void> {
    const rows = await this.db.sql<Array<{ tablename: string }>>`select tablename from pg_tables where schemaname = current_schema() order by 1`
    for (const { tablename } of rows) {
      const [row] = await this.db.sql.unsafe(`select exists (select 1 from "${tablename}") as any`)
      if (row?.any !== true) this.tables.push(tablename)
    }
  }

  // DELETE, not TRUNCATE: a few rows each, and TRUNCATE costs ~100 ms on a loaded machine. The
  // replica role skips foreign-key and immutability triggers for this cleanup only.
  private async reset (): Promise<void> {
    const deletes = this.tables.map(t => `delete from "${t}";`).join(' ')
    await this.db.sql.begin(async tx => await tx.unsafe(`set local session_replication_role = replica; ${deletes}`))
  }

  /** Plays one history; throws ModelMismatch at the first step where the ledger and the model disagree. */
  async run (h: History): Promise<void> {
    let t0 = performance.now()
    await this.reset()
    this.timing.reset += performance.now() - t0
    const tk = tokensOf(`m${this.runId}${(this.count++).toString(36)}`)
    const model = new LedgerModel(h, tk)
    // Every serialization of the concurrent steps so far that the ledger's state agrees with:
    // two orders can leave the same balances but different holds behind (a closed hold or none).
    let states = [initialState(h)]
    const day = new Date().toISOString().slice(0, 10)
    await this.provision(h, tk)
    for (const [i, op] of h.ops.entries()) {
      let t0 = performance.now()
      await this.execute(h, tk, op, i)
      this.timing.execute += performance.now() - t0
      t0 = performance.now()
      const actual = await this.snapshot(h, tk)
      this.timing.snapshot += performance.now() - t0
      t0 = performance.now()
      const candidates = states.flatMap(state => this.candidates(model, state, op))
      const matches = distinct(candidates.filter(c => sameSnapshot(snapshotOfModel(c), actual)))
      this.timing.model += performance.now() - t0
      if (matches.length > 0) {
        states = matches.slice(0, 24)
        continue
      }
      // limits count per UTC day: a history that crossed midnight proves nothing about them
      if (h.limits !== null && new Date().toISOString().slice(0, 10) !== day) return
      const expected = snapshotOfModel(candidates[0] as ModelState)
      throw new ModelMismatch(`ledger and model disagree after op ${i} (${op.t})`, {
        prefix: tk.prefix,
        step: i,
        expected,
        actual,
        steps: this.steps(h, tk, i)
      })
    }
    t0 = performance.now()
    const violations = await checkLedgerInvariants(this.db.sql)
    this.timing.invariants += performance.now() - t0
    if (violations.length > 0) {
      throw new ModelMismatch('ledger invariants broken after the history', { prefix: tk.prefix, violations, steps: this.steps(h, tk, h.ops.length - 1) })
    }
    this.stats.histories++
    this.stats.ops += countOps(h.ops)
  }

  private steps (h: History, tk: Tokens, last: number): string[] {
    const setup = [`accounts: A ${h.balanceA} USD (cards A and B), C ${h.balanceC} JPY (card C), D ${h.balanceD} USD (card D, once provisioned)${h.limits === null ? '' : `; card A limits ${JSON.stringify(h.limits)}`}`]
    return [...setup, ...h.ops.slice(0, last + 1).map((op, i) => `#${i} ${describeOp(h, tk, op)}`)]
  }

  /** The model states the database may have serialized this operation into. */
  private candidates (model: LedgerModel, state: ModelState, op: Op): ModelState[] {
    const out: ModelState[] = []
    if (op.t === 'together') {
      for (const order of permutations(op.ops)) {
        const s = cloneState(state)
        for (const inner of order) model.apply(s, inner)
        out.push(s)
      }
      return out
    }
    if (op.t === 'retry' && state.parked.size > 0) {
      // the ledger's own serialization: every attempt, in the order it claimed them (an applied
      // event wakes the ones waiting for its hold, so the order is only known as it happens)
      const s = cloneState(state)
      model.retryInSequence(s, this.retrySequence)
      return [s]
    }
    const s = cloneState(state)
    model.apply(s, op)
    return [s]
  }

  private async provision (h: History, tk: Tokens): Promise<void> {
    const sql = this.db.sql
    for (const c of ['A', 'B', 'C'] as CardId[]) {
      await upsertUser(sql, { user_token: tk.user(c), status: 'ACTIVE' })
    }
    await creditAccount(sql, { accountToken: tk.account('A'), currency: 'USD', amount: h.balanceA, effectKind: 'test.load', effectKey: `${tk.prefix}-A` })
    await creditAccount(sql, { accountToken: tk.account('C'), currency: 'JPY', amount: h.balanceC, effectKind: 'test.load', effectKey: `${tk.prefix}-C` })
    for (const c of ['A', 'B', 'C'] as CardId[]) {
      await upsertCard(sql, { card_token: tk.card(c), user_token: tk.user(c), status: 'ACTIVE', expiration: '2099-12', account_token: tk.account(ACCOUNT_OF[c]) })
    }
    if (h.limits !== null) {
      await setLimits(sql, { scope: 'card', token: tk.card('A'), currency: 'USD', daily: h.limits.daily, daily_count: h.limits.dailyCount })
    }
  }

  private async execute (h: History, tk: Tokens, op: Op, i: number): Promise<void> {
    if (op.t === 'together') {
      const batch = op.batched === true ? op.ops.filter(inner => buildMessage(h, tk, inner) !== undefined) : []
      await Promise.all([
        ...(batch.length === 0 ? [] : [this.retrying(h, tk, i, 'batch', async () => await this.applyBatch(h, tk, batch))]),
        ...op.ops.filter(inner => !batch.includes(inner)).map(async inner => await this.execute(h, tk, inner, i))
      ])
      return
    }
    await this.retrying(h, tk, i, op.t, async () => await this.executeOnce(h, tk, op))
  }

  /** Runs `fn` again on what the worker retries with backoff (the transaction rolled back, nothing changed). */
  private async retrying (h: History, tk: Tokens, i: number, what: string, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await fn()
        return
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code !== undefined && TRANSIENT.has(code) && attempt < 20) {
          await new Promise(resolve => setTimeout(resolve, 5 * (attempt + 1)))
          continue
        }
        throw new ModelMismatch(`the ledger failed on op ${i} (${what}): ${(err as Error).message}`, {
          prefix: tk.prefix, step: i, error: String(err), code, steps: this.steps(h, tk, i)
        })
      }
    }
  }

  /**
   * Processor messages delivered together, applied as the txn-worker applies them: one
   * transaction and one statement (applyTransactionEvents); should any event fail, that
   * transaction rolls back whole and the batch runs again one savepoint each
   * (applyTransactionEventBatch), where a refused event fails alone. A transient failure rolls
   * the whole batch back and it is tried again.
   */
  private async applyBatch (h: History, tk: Tokens, ops: Op[]): Promise<void> {
    const bodies = ops.map(op => (buildMessage(h, tk, op) as BuiltMessage).body)
    // any failure: the savepoint path below tells the event's own refusal from a real error
    const together = await this.db.sql.begin(async tx => await applyTransactionEvents(tx, bodies)).then(() => true, () => false)
    if (together) return
    const outcomes = await this.db.sql.begin(async tx => await applyTransactionEventBatch(tx, bodies))
    for (const outcome of outcomes) {
      if (!outcome.ok && !(outcome.error instanceof TransactionEventError)) throw outcome.error
    }
  }

  private async executeOnce (h: History, tk: Tokens, op: Op): Promise<void> {
    const sql = this.db.sql
    switch (op.t) {
      case 'decide': {
        const ps = h.purchases[op.p]
        if (ps === undefined) return
        const account = ACCOUNT_OF[ps.card]
        const currency = op.currency === 'same' ? CURRENCY_OF[account] : FOREIGN_CURRENCY[account]
        await decide(sql, [this.request(tk, ps.card, {
          jitToken: tk.jit(op.p),
          transactionToken: tk.tx(op.p),
          method: JIT_METHOD[ps.method],
          kind: ps.method === 'auth' ? 'authorization' : 'immediate_debit',
          amount: ps.amount,
          currency,
          mcc: MCC[ps.mcc],
          originalJitToken: null,
          ...(op.late ? { deadlineMs: Date.now() - 1000 } : {})
        })])
        return
      }
      case 'incDecide': {
        const ps = h.purchases[op.p]
        const inc = ps?.incrementals[op.k]
        if (ps === undefined || inc === undefined || ps.method !== 'auth') return
        await decide(sql, [this.request(tk, ps.card, {
          jitToken: tk.incJit(op.p, op.k),
          transactionToken: tk.incTx(op.p, op.k),
          method: 'pgfs.authorization.incremental',
          kind: 'incremental',
          amount: inc.amount,
          currency: CURRENCY_OF[ACCOUNT_OF[ps.card]],
          mcc: MCC[ps.mcc],
          originalJitToken: tk.jit(op.p)
        })])
        return
      }
      case 'credit':
        await creditAccount(sql, { accountToken: tk.account(op.account), currency: CURRENCY_OF[op.account], amount: op.amount, effectKind: 'account.credit', effectKey: `${tk.prefix}-credit${op.seq}` })
        return
      case 'debit':
        await debitAccount(sql, { accountToken: tk.account(op.account), currency: CURRENCY_OF[op.account], amount: op.amount, force: op.force, effectKind: 'account.debit', effectKey: `${tk.prefix}-debit${op.seq}` })
        return
      case 'reserved': {
        const movement = { accountToken: `${op.name}:USD`, currency: 'USD', amount: op.amount, effectKind: op.credit ? 'account.credit' : 'account.debit', effectKey: `${tk.prefix}-reserved${op.seq}` }
        let applied = false
        try {
          const r = op.credit ? await creditAccount(sql, movement) : await debitAccount(sql, { ...movement, force: true })
          applied = r.applied
        } catch {
          return // refused with a reason: what the rules ask
        }
        if (applied) throw new Error(`${op.credit ? 'credit' : 'debit'} of reserved counter-account ${movement.accountToken} was applied`)
        return
      }
      case 'release': {
        const [hold] = await sql<Array<{ hold_token: string }>>`select hold_token from holds where hold_token in (${tk.jit(op.p)}, ${tk.tx(op.p)}) order by hold_token = ${tk.jit(op.p)} desc limit 1`
        await releaseHold(sql, { jitToken: hold?.hold_token ?? tk.jit(op.p), reason: 'model', operator: 'model', messageId: `${tk.prefix}-release${op.seq}` })
        return
      }
      case 'expire':
        await expireStaleHolds(sql, { now: new Date(Date.now() + op.days * DAY_MS), defaultDays: 7, mccDays: [{ from: 7011, to: 7011, days: 30 }] })
        return
      case 'retry':
        // one attempt at a time, noting which event each claims (the query is the claim's:
        // nothing else runs during a retry), in passes until one applies nothing
        this.retrySequence = []
        for (let pass = 0; pass < 6; pass++) {
          const now = new Date(Date.now() + 3_600_000 + pass)
          let applied = 0
          for (let attempt = 0; attempt < 200; attempt++) {
            const [next] = await sql<Array<{ token: string }>>`
              select token from parked_events where next_attempt_at <= ${now} order by next_attempt_at, first_parked_at limit 1`
            if (next === undefined) break
            this.retrySequence.push(next.token)
            applied += (await retryParkedEvents(sql, { now, horizonMs: 30 * DAY_MS, backoffMs: 1, maxBackoffMs: 1, limit: 1 })).applied
          }
          if (applied === 0) return
        }
        return
      case 'provisionD':
        await upsertUser(sql, { user_token: tk.user('D'), status: 'ACTIVE' })
        await creditAccount(sql, { accountToken: tk.account('D'), currency: 'USD', amount: h.balanceD, effectKind: 'test.load', effectKey: `${tk.prefix}-D` })
        await upsertCard(sql, { card_token: tk.card('D'), user_token: tk.user('D'), status: 'ACTIVE', expiration: '2099-12', account_token: tk.account('D') })
        return
      case 'purge': {
        // A purge runs past the park horizon, when nothing younger than its retention is still
        // parked; with events still parked here it would be earlier than that, so it waits.
        const [parked] = await sql<Array<{ n: number }>>`select count(*)::int as n from parked_events`
        if ((parked?.n ?? 0) === 0) await sql`delete from effects`
        return
      }
      case 'together':
        throw new Error('unreachable')
      default: {
        const built = buildMessage(h, tk, op)
        if (built === undefined) return
        try {
          await applyTransactionEvent(sql, built.body)
        } catch (err) {
          if (err instanceof TransactionEventError) return // refused with its reason (dead-lettered by the worker)
          throw err
        }
      }
    }
  }

  private request (tk: Tokens, card: CardId, r: Pick<JitDecisionRequest, 'jitToken' | 'transactionToken' | 'method' | 'kind' | 'amount' | 'currency' | 'mcc' | 'originalJitToken' | 'deadlineMs'>): JitDecisionRequest {
    const userToken = tk.user(card)
    const cardToken = tk.card(card)
    return {
      ...r,
      fingerprint: jitRequestFingerprint({ method: r.method, userToken, actingUserToken: null, cardToken, amount: String(r.amount), currency: r.currency, originalJitToken: r.originalJitToken }),
      userToken,
      cardToken,
      accountToken: tk.account(ACCOUNT_OF[card]),
      declineReason: null,
      expect: null,
      echo: { token: r.jitToken, method: r.method, user_token: userToken, amount: r.amount },
      timezone: 'UTC'
    }
  }

  private async snapshot (h: History, tk: Tokens): Promise<Snapshot> {
    const [row] = await this.db.sql<Array<{
      accounts: Array<{ account_token: string, balance: string, held: string }> | null
      holds: Array<{ hold_token: string, remaining: string, state: string }> | null
    }>>`
      select
        (select json_agg(json_build_object('account_token', account_token, 'balance', balance::text, 'held', held::text))
         from accounts where account_token in (${tk.account('A')}, ${tk.account('C')}, ${tk.account('D')})) as accounts,
        (select json_agg(json_build_object('hold_token', hold_token, 'remaining', remaining::text, 'state', state) order by hold_token)
         from holds) as holds`
    const accounts = row?.accounts ?? []
    const holds = row?.holds ?? []
    const owner = new Map<string, number>()
    h.purchases.forEach((_, p) => { owner.set(tk.jit(p), p); owner.set(tk.tx(p), p) })
    const snap: Snapshot = { accounts: { A: { balance: '0', held: '0' }, C: { balance: '0', held: '0' }, D: { balance: '0', held: '0' } }, open: {}, stray: [] }
    for (const a of accounts) {
      const id = ACCOUNTS.find(x => tk.account(x) === a.account_token)
      if (id !== undefined) snap.accounts[id] = { balance: a.balance, held: a.held }
    }
    const seen = new Set<number>()
    for (const hold of holds) {
      const p = owner.get(hold.hold_token)
      if (p === undefined || seen.has(p)) {
        snap.stray.push(`${hold.hold_token} ${hold.state} remaining ${hold.remaining}`)
        continue
      }
      seen.add(p)
      if (hold.state === 'OPEN') snap.open[String(p)] = hold.remaining
    }
    return snap
  }
}

/** Histories per fast-check run (one seed each). */
const BATCH_RUNS = 25

export interface PropertyOptions {
  seed: number
  /** Operations to play in total (histories are generated until this many ran). */
  ops: number
  maxOpsPerHistory: number
  exclude: ReadonlySet<GeneratorFlag>
  /** Progress lines (long mode). */
  log?: (line: string) => void
}

/**
 * Runs the property until `ops` operations were played or a history fails; a failure is
 * shrunk by fast-check and reported with its seed (replayable: same seed, same histories).
 */
export async function checkLedgerModel (runners: ModelRunner[], o: PropertyOptions): Promise<{ stats: RunStats, failure: string | null }> {
  const arb = historyArb({ maxOps: o.maxOpsPerHistory, exclude: o.exclude })
  const total = (): RunStats => runners.reduce((sum, r) => ({ histories: sum.histories + r.stats.histories, ops: sum.ops + r.stats.ops }), { histories: 0, ops: 0 })
  let lastLog = Date.now()
  let failure: string | null = null
  // Each runner (its own database) plays batches of histories until the run has played its
  // operations; batch b of runner w has seed `seed + w * 104729 + b * 7919`, so a run replays
  // from its seed and runner count, and a failing batch replays alone from its own seed.
  const work = async (runner: ModelRunner, w: number): Promise<void> => {
    const property = fc.asyncProperty(arb, async h => {
      if (failure !== null) return // another runner failed: finish this batch quickly
      await runner.run(h)
      if (o.log !== undefined && Date.now() - lastLog > 10_000) {
        lastLog = Date.now()
        const t = total()
        o.log(`${t.histories} histories, ${t.ops} operations`)
      }
    })
    for (let batch = 0; failure === null && total().ops < o.ops; batch++) {
      const batchSeed = (o.seed + w * 104729 + batch * 7919) | 0
      const result = await fc.check(property, { seed: batchSeed, numRuns: BATCH_RUNS })
      if (result.failed && failure === null) failure = failureReport(o.seed, batchSeed, result)
    }
  }
  await Promise.all(runners.map(work))
  return { stats: total(), failure }
}

function failureReport (seed: number, batchSeed: number, result: fc.RunDetails<[History]>): string {
  const counterexample = result.counterexample?.[0]
  const error = result.errorInstance
  const detail = error instanceof ModelMismatch ? error.detail : undefined
  return [
    `model-based test failed: run seed ${seed}; the failing batch replays alone with --seed ${batchSeed} --workers 1 (fast-check path ${result.counterexamplePath ?? '-'}), after ${result.numRuns} runs and ${result.numShrinks} shrinks`,
    `error: ${error instanceof Error ? error.message : String(error)}`,
    detail === undefined ? '' : formatDetail(detail),
    counterexample === undefined ? '' : `shrunk history: ${JSON.stringify(counterexample, bigintJson)}`
  ].filter(line => line !== '').join('\n')
}

function formatDetail (detail: Record<string, unknown>): string {
  const lines: string[] = []
  for (const [key, value] of Object.entries(detail)) {
    if (key === 'steps') lines.push('steps:', ...(value as string[]).map(line => `  ${line}`))
    else lines.push(`${key}: ${JSON.stringify(value, bigintJson)}`)
  }
  return lines.join('\n')
}

function bigintJson (_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
