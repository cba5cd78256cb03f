import t from 'tap'
import type { Database } from '@jit/postgres'
import { createRandom, purchasesOf, type SimPurchase } from '@jit/processor-sim'
import { currencyExponent } from '@jit/contracts'
import {
  applyTransactionEvent, applyTransactionEventBatch, applyTransactionEvents, batchApplyOrder, checkLedgerInvariants,
  decideJitFunding, retryParkedEvents, upsertCard, type JitDecisionRequest, type TransactionEventInput
} from '../../src/index.js'
import { ledgerDatabase, fundedCard, jitRequest, withoutJitFunding, withoutGpaOrder } from '../helpers.js'

// Differential test of the ways a batch of webhooks can be applied: the same random processor
// traffic (several currencies, shared accounts, copies without identifiers, redeliveries, odd
// orders, decisions between batches, parked events retried) applied through each path on
// identical databases (same tokens), compared slot by slot and table by table after every step.
//   together : applyTransactionEvents in one transaction; if it throws, the worker's fallback
//              (rollback, then applyTransactionEventBatch)
//   savepoint: applyTransactionEventBatch
//   each     : applyTransactionEvent per event in batchApplyOrder, each its own transaction
const PATHS = ['together', 'savepoint', 'each'] as const
type Path = typeof PATHS[number]
const dbs = {} as Record<Path, Database>
for (const p of PATHS) dbs[p] = await ledgerDatabase(t, { poolMax: 3 })

const SEED = Number(process.env.ADV_SEED ?? 1)
// CI size; the long runs: ADV_SEED, ADV_TRIALS, ADV_MAXBATCH, ADV_PURCHASES, ADV_USERS
const TRIALS = Number(process.env.ADV_TRIALS ?? 12)
const MAXBATCH = Number(process.env.ADV_MAXBATCH ?? 12)

type Slot = { ok: true, outcome: string, effect: string | null, reason: string | null, hold: string | null, action: string | null } | { ok: false, code: string }
const slotOf = (r: { outcome: string, effect?: string, reason?: string, holdToken?: string, action?: string }): Slot =>
  ({ ok: true, outcome: r.outcome, effect: r.effect ?? null, reason: r.reason ?? null, hold: r.holdToken ?? null, action: r.action ?? null })
const errSlot = (e: unknown): Slot => ({ ok: false, code: String((e as { code?: string }).code ?? (e as Error).message ?? e) })

interface Applied { slots: Slot[], threw?: string }

async function apply (path: Path, events: TransactionEventInput[]): Promise<Applied> {
  const db = dbs[path]
  const batch = async (): Promise<Slot[]> => (await db.sql.begin(async tx => await applyTransactionEventBatch(tx, events)))
    .map(o => o.ok ? slotOf(o.result) : errSlot(o.error))
  if (path === 'savepoint') return { slots: await batch() }
  if (path === 'each') {
    const slots: Slot[] = new Array(events.length)
    for (const i of batchApplyOrder(events)) {
      try { slots[i] = slotOf(await applyTransactionEvent(db.sql, events[i] as TransactionEventInput)) } catch (e) { slots[i] = errSlot(e) }
    }
    return { slots }
  }
  if (path === 'together') {
    try {
      const rs = await db.sql.begin(async tx => await applyTransactionEvents(tx, events))
      return { slots: rs.map(slotOf) }
    } catch (e) {
      return { slots: await batch(), threw: errSlot(e).ok ? '' : (errSlot(e) as { code: string }).code }
    }
  }
  throw new Error(`unknown path ${String(path)}`)
}

const TIME_KEY = /(_at|_time|^at|^time)$/
function strip (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip)
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (TIME_KEY.test(k)) o[k] = x === null ? null : 'T'
      else if (k === 'message_id' || k === 'event_id') o[k] = 'ID'
      else o[k] = strip(x)
    }
    return o
  }
  return v
}

async function dump (db: Database): Promise<Record<string, unknown>> {
  const sql = db.sql
  const sorted = (rows: readonly unknown[]): string[] => rows.map(r => JSON.stringify(strip(r))).sort()
  const listed = (rows: readonly unknown[]): string[] => rows.map(r => JSON.stringify(strip(r)))
  return {
    accounts: sorted(await sql`select account_token, currency, balance, held, credit_line, status from accounts`),
    holds: sorted(await sql`select * from holds`),
    decisions: sorted(await sql`select jit_token, outcome, decline_reason, amount, currency, kind, account_token, http_status from decisions`),
    effects: sorted(await sql`select kind, key, result from effects`),
    ledger_messages: sorted(await sql`select * from ledger_messages`),
    parked: sorted(await sql`select token, payload, reason, waiting_for, attempts, first_parked_at is not null as fp, next_attempt_at is not null as na from parked_events`),
    hold_history: listed(await sql`select hold_token, action, amount, effect_key, detail from hold_history order by id`),
    journal: listed(await sql`select e.kind, e.effect_key, e.currency, e.description, (select jsonb_agg(jsonb_build_array(l.account_token, l.amount) order by l.account_token, l.amount) from journal_lines l where l.entry_id = e.entry_id) as lines from journal_entries e order by e.entry_id`),
    outbox: listed(await sql`select exchange, routing_key, correlation_id, payload from outbox order by id`),
    spend: sorted(await sql`select scope, token, currency, period, amount, count from spend_counters`)
  }
}

function diffDumps (a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const k of Object.keys(a)) {
    const x = a[k] as string[]
    const y = b[k] as string[]
    if (JSON.stringify(x) === JSON.stringify(y)) continue
    const onlyX = x.filter(r => !y.includes(r))
    const onlyY = y.filter(r => !x.includes(r))
    out.push(`${k}: ${x.length} vs ${y.length} rows; only-first ${JSON.stringify(onlyX.slice(0, 3))}; only-second ${JSON.stringify(onlyY.slice(0, 3))}${onlyX.length === 0 && onlyY.length === 0 ? ' (order differs)' : ''}`)
  }
  return out
}

const CURRENCIES = ['USD', 'USD', 'EUR', 'JPY', 'KWD', 'BHD']
const findings: string[] = []
const BASE = Date.now()
let round = 0
const stats: Record<string, number> = {}
const count = (k: string): void => { stats[k] = (stats[k] ?? 0) + 1 }

for (let trial = 0; trial < TRIALS; trial++) {
  const rnd = createRandom(SEED * 1000 + trial)
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd.next() * xs.length)] as X
  const chance = (p: number): boolean => rnd.next() < p
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd.next() * (hi - lo + 1))
  const tag = `s${SEED}t${trial}`

  // users (accounts), each with 1-2 cards sharing the user's account
  const cards: Array<{ user: string, card: string, account: string, currency: string }> = []
  const nUsers = int(1, Number(process.env.ADV_USERS ?? 2))
  for (let u = 0; u < nUsers; u++) {
    const currency = pick(CURRENCIES)
    const balance = int(0, 3) === 0 ? int(0, 5000) : int(20000, 200000)
    const name = `${tag}-u${u}${chance(0.1) ? '-' + 'L'.repeat(300) : ''}`
    let base!: { user: string, card: string, account: string }
    for (const p of PATHS) base = await fundedCard(dbs[p], name, balance, { currency })
    cards.push({ ...base, currency })
    if (chance(0.5)) {
      const second = { ...base, card: `${base.card}-b`, currency }
      for (const p of PATHS) await upsertCard(dbs[p].sql, { card_token: second.card, user_token: base.user, status: 'ACTIVE', expiration: '2099-12' })
      cards.push(second)
    }
  }

  // purchases and their messages
  const decideAll = async (reqs: JitDecisionRequest[]): Promise<void> => {
    const outs = await Promise.all(PATHS.map(async p => await decideJitFunding(dbs[p].sql, reqs)))
    const ref = JSON.stringify(outs[0]?.map(r => [r.outcome, r.decline_reason ?? null]))
    for (const [k, o] of outs.entries()) if (JSON.stringify(o.map(r => [r.outcome, r.decline_reason ?? null])) !== ref) findings.push(`${tag}: decision differs on ${PATHS[k] as string}`)
  }
  const pool: TransactionEventInput[] = []
  const pendingDecisions: JitDecisionRequest[] = []
  for (let i = int(1, Number(process.env.ADV_PURCHASES ?? 4)); i > 0; i--) {
    const c = pick(cards)
    const sim = purchasesOf(c)
    const exp = currencyExponent(c.currency)
    const amount = int(1, 300) * (exp === 0 ? 1 : exp === 3 ? 100 : 10) * (chance(0.1) ? 100 : 1)
    const p: SimPurchase = sim.purchase(amount)
    const cur = { currency: c.currency }
    const req = (pp: SimPurchase, over: Partial<JitDecisionRequest> = {}): JitDecisionRequest =>
      jitRequest(c, pp.amount, { jitToken: pp.jitToken, transactionToken: pp.txToken, currency: c.currency, echo: { token: pp.jitToken, method: 'pgfs.authorization', user_token: c.user, amount: pp.amount / 10 ** exp }, ...over } as Partial<JitDecisionRequest>)
    const msgs: TransactionEventInput[] = []
    const kind = pick(['auth', 'auth', 'auth', 'pin', 'force'])
    if (kind === 'force') {
      msgs.push(sim.forceCapture(amount) as TransactionEventInput)
    } else if (kind === 'pin') {
      if (chance(0.7)) { if (chance(0.5)) await decideAll([req(p, { method: 'pgfs.pindebit', kind: 'immediate_debit' } as Partial<JitDecisionRequest>)]); else pendingDecisions.push(req(p, { method: 'pgfs.pindebit', kind: 'immediate_debit' } as Partial<JitDecisionRequest>)) }
      const pin = sim.pinDebit(p) as TransactionEventInput
      msgs.push(pin)
      if (chance(0.3)) msgs.push({ ...structuredClone(pin), state: 'DECLINED' })
    } else {
      if (chance(0.8)) { if (chance(0.6)) await decideAll([req(p)]); else pendingDecisions.push(req(p)) }
      if (chance(0.8)) msgs.push(sim.pending(p, cur) as TransactionEventInput)
      if (chance(0.2)) msgs.push(sim.declined(p, chance(0.5)) as TransactionEventInput)
      if (chance(0.3)) {
        const inc = sim.purchase(int(1, 50) * (exp === 0 ? 1 : 10))
        if (chance(0.6)) pendingDecisions.push(req(inc, { method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: p.jitToken } as Partial<JitDecisionRequest>))
        msgs.push(sim.incrementalPending(p, inc, cur) as TransactionEventInput)
      }
      const clearings = int(0, 2)
      for (let k = 0; k < clearings; k++) msgs.push(sim.clearing(p, int(1, amount), chance(0.5) ? true : chance(0.5) ? false : undefined, cur) as TransactionEventInput)
      if (chance(0.3)) msgs.push(sim.reversal(p, chance(0.5) ? null : int(1, amount)) as TransactionEventInput)
      if (chance(0.15)) msgs.push(sim.advice(p, int(1, amount)) as TransactionEventInput)
      if (chance(0.25)) msgs.push(sim.refund(chance(0.7) ? p : null, int(1, amount)) as TransactionEventInput)
    }
    // currency: the sim's reversal/refund/advice/declined/pinDebit/forceCapture are USD; align most of them
    for (const m of msgs) {
      if (m.currency_code !== c.currency && chance(0.85)) {
        m.currency_code = c.currency
        if (m.gpa !== undefined) m.gpa.currency_code = c.currency
        const e = currencyExponent(c.currency)
        const fix = (x: unknown): unknown => typeof x === 'number' ? Number((Math.round(x * 100) / 10 ** e).toFixed(e)) : x
        if (e !== 2) {
          m.amount = fix(m.amount) as number
          if (m.gpa !== undefined) m.gpa.impacted_amount = fix(m.gpa.impacted_amount) as number
          const jf = (m.gpa_order ?? m.gpa_order_unload)?.jit_funding
          if (jf !== undefined) jf.amount = fix(jf.amount) as number
        }
      }
    }
    // variants: copies without routing fields, missing amounts, duplicates
    for (const m of [...msgs]) {
      const r = rnd.next()
      if (r < 0.08) msgs.push(withoutJitFunding(m))
      else if (r < 0.14) msgs.push(withoutGpaOrder(m))
      else if (r < 0.18) { const x = structuredClone(m); delete x.card_token; msgs.push(x) } else if (r < 0.21) { const x = structuredClone(m); delete x.user_token; delete x.card_token; msgs.push(x) } else if (r < 0.27) msgs.push(m) // the same object twice
      else if (r < 0.31) msgs.push(structuredClone(m))
      else if (r < 0.34) { const x = structuredClone(m); delete x.amount; delete x.gpa; const jf = (x.gpa_order ?? x.gpa_order_unload)?.jit_funding; if (jf !== undefined) delete jf.amount; msgs.push(x) } else if (r < 0.36) { const x = structuredClone(m); x.type = 'authorization.advice'; x.token = `${m.token}-adv`; msgs.push(x) }
    }
    pool.push(...msgs)
  }
  // arrival order: shuffled, with a bias to keep a purchase's order
  const arrival = pool.map((m, i) => ({ m, k: chance(0.5) ? i : rnd.next() * pool.length })).sort((a, b) => a.k - b.k).map(x => x.m)

  let step = 0
  let at = 0
  while (at < arrival.length || pendingDecisions.length > 0) {
    step++
    if (pendingDecisions.length > 0 && chance(0.35)) {
      await decideAll([pendingDecisions.shift() as JitDecisionRequest])
    } else if (at < arrival.length) {
      const n = Math.min(arrival.length - at, int(1, MAXBATCH))
      const events = arrival.slice(at, at + n)
      at += n
      const results: Record<string, Applied> = {}
      for (const p of PATHS) results[p] = await apply(p, events)
      const ref = JSON.stringify(results.savepoint?.slots)
      for (const p of PATHS) {
        if (JSON.stringify(results[p]?.slots) !== ref) {
          findings.push(`${tag} step ${step}: slots differ ${p} vs savepoint\n  events ${JSON.stringify(events.map(e => [e.token, e.type, e.state, e.card_token ?? '-', (e.gpa_order ?? e.gpa_order_unload)?.jit_funding?.method ?? '-']))}\n  ${p}: ${JSON.stringify(results[p]?.slots)}\n  savepoint: ${ref}`)
        }
      }
      const sp = results.savepoint?.slots ?? []
      count('batch'); if (results.together?.threw !== undefined) count(`together-threw:${results.together.threw.slice(0, 40)}`)
      for (const s of sp) count(s.ok ? `${s.action}:${s.outcome}:${s.effect ?? ''}` : `error:${s.code.slice(0, 60)}`)
      if (results.together?.threw !== undefined && sp.every(s => s.ok)) findings.push(`${tag} step ${step}: together threw ${results.together.threw} though every event applies alone`)
    } else {
      await decideAll([pendingDecisions.shift() as JitDecisionRequest])
    }
    if (chance(0.1)) { const now = new Date(BASE + 86400_000 * ++round); for (const p of PATHS) await retryParkedEvents(dbs[p].sql, { horizonMs: 3650 * 86400_000, now, limit: 1000 }) }
    const ref = await dump(dbs.savepoint)
    for (const p of PATHS) {
      if (p === 'savepoint') continue
      const d = diffDumps(await dump(dbs[p]), ref)
      if (d.length > 0) findings.push(`${tag} step ${step}: state ${p} vs savepoint:\n  ${d.join('\n  ')}`)
    }
  }
  for (const p of PATHS) {
    const v = await checkLedgerInvariants(dbs[p].sql)
    if (v.length > 0) findings.push(`${tag}: invariants broken on ${p}: ${JSON.stringify(v)}`)
  }
}

// dedupe: once a state differs it keeps differing
const seen = new Set<string>()
for (const f of findings) { const k = f.split('\n')[0]!.replace(/step \d+/, ''); if (!seen.has(k)) { seen.add(k); t.comment(`FINDING ${f}`) } }
t.comment(`outcomes seen: ${JSON.stringify(stats)}`)
t.equal(findings.length, 0, `all paths agree (${TRIALS} trials, seed ${SEED})`)
