import type { Database } from '@jit/postgres'
import { parseAmount } from '@jit/contracts'
import type { ProcessorTransaction } from '@jit/marqeta-client'

/**
 * Reconciliation: the processor's transactions of a period (its Core API) against our ledger. The
 * webhooks are the record of truth, but a webhook can be lost for good (retries exhausted, an
 * endpoint misconfigured), and a lost clearing leaves a hold open and a balance wrong until the
 * hold expires. Every difference is reported; none is repaired here (a repair is an operator's
 * decision, e.g. a re-send of the event from the processor).
 */

/** One difference between the processor and our ledger. */
export interface ReconcileDifference {
  kind: 'missing_event' | 'amount_mismatch' | 'hold_open_after_settlement' | 'hold_open_after_decline'
  /** The processor's transaction token. */
  token: string
  type: string
  detail: string
}

/** What our ledger holds about a set of processor transactions. */
export interface LedgerView {
  /** Effect keys applied (the event token or its JIT token). */
  effects: Set<string>
  /** Decisions by JIT token and by network transaction token. */
  decisions: Map<string, { outcome: string, amount: number | null }>
  /** Holds by hold token (the purchase's original JIT token) and by each transaction token on them. */
  holds: Map<string, { hold_token: string, state: string, authorized: number }>
  /** Posted amount on the cardholder's account per effect key (signed, minor units). */
  posted: Map<string, number>
}

function jitOf (t: ProcessorTransaction): { token?: string, original?: string, amount?: unknown } {
  const order = (t.gpa_order ?? t.gpa_order_unload) as { jit_funding?: { token?: string, original_jit_funding_token?: string, amount?: unknown } } | undefined
  const j = order?.jit_funding
  return { ...(j?.token === undefined ? {} : { token: j.token }), ...(j?.original_jit_funding_token === undefined ? {} : { original: j.original_jit_funding_token }), ...(j?.amount === undefined ? {} : { amount: j.amount }) }
}

/** The keys our ledger may have recorded a transaction under: its own token and its JIT token. */
export function ledgerKeys (t: ProcessorTransaction): string[] {
  const jit = jitOf(t)
  return [t.token, ...(jit.token === undefined ? [] : [jit.token])]
}

function minorAmount (t: ProcessorTransaction): number | null {
  const currency = typeof t.currency_code === 'string' ? t.currency_code : 'USD'
  const raw = jitOf(t).amount ?? t.amount
  try {
    return raw === undefined || raw === null ? null : parseAmount(raw, currency)
  } catch {
    return null
  }
}

const POSTING = /^(authorization\.clearing|pindebit|refund|authorization\.clearing\.chargeback|pindebit\.chargeback)/

/**
 * Compares the processor's transactions with the ledger's view of them: a pure function, so each
 * rule is tested on its own. Declined and informative-only transactions need nothing from us but
 * the absence of a hold.
 */
export function compareWithLedger (transactions: ProcessorTransaction[], ledger: LedgerView): ReconcileDifference[] {
  const diffs: ReconcileDifference[] = []
  const seen = (t: ProcessorTransaction): boolean => ledgerKeys(t).some(k => ledger.effects.has(k) || ledger.decisions.has(k) || ledger.posted.has(k) || ledger.holds.has(k))
  const holdOf = (t: ProcessorTransaction): { hold_token: string, state: string, authorized: number } | undefined => {
    const jit = jitOf(t)
    for (const k of [jit.original, jit.token, t.preceding_related_transaction_token as string | undefined, t.token]) {
      if (k !== undefined && ledger.holds.has(k)) return ledger.holds.get(k)
    }
    return undefined
  }
  for (const t of transactions) {
    const type = String(t.type)
    const state = String(t.state)
    const amount = minorAmount(t)
    if (state === 'DECLINED' || state === 'ERROR') {
      const hold = holdOf(t)
      if (type === 'authorization' && hold?.state === 'OPEN') {
        diffs.push({ kind: 'hold_open_after_decline', token: t.token, type, detail: `hold ${hold.hold_token} is still OPEN although the processor declined the authorization` })
      }
      continue
    }
    if (!seen(t)) {
      diffs.push({ kind: 'missing_event', token: t.token, type, detail: `${type} ${state}${amount === null ? '' : ` of ${amount} minor units`} is not in the ledger` })
      continue
    }
    if (POSTING.test(type) && amount !== null) {
      const posted = ledgerKeys(t).map(k => ledger.posted.get(k)).find(v => v !== undefined)
      if (posted !== undefined && Math.abs(posted) !== amount) {
        diffs.push({ kind: 'amount_mismatch', token: t.token, type, detail: `the processor's amount is ${amount}, the ledger posted ${Math.abs(posted)} (minor units)` })
      }
    }
    if (type === 'authorization' && amount !== null) {
      const hold = holdOf(t)
      if (hold !== undefined && hold.authorized < amount) {
        diffs.push({ kind: 'amount_mismatch', token: t.token, type, detail: `the processor authorized ${amount}, hold ${hold.hold_token} has ${hold.authorized} (minor units)` })
      }
    }
    if (type === 'authorization.clearing' && t.is_final_clearing === true) {
      const hold = holdOf(t)
      if (hold?.state === 'OPEN') diffs.push({ kind: 'hold_open_after_settlement', token: t.token, type, detail: `hold ${hold.hold_token} is still OPEN after the final clearing` })
    }
  }
  return diffs
}

/** Reads what the ledger holds about these transactions (read-only, a few queries whatever their number). */
export async function readLedgerView (db: Database, transactions: ProcessorTransaction[]): Promise<LedgerView> {
  const keys = [...new Set(transactions.flatMap(t => [...ledgerKeys(t), ...[jitOf(t).original, t.preceding_related_transaction_token].filter((k): k is string => typeof k === 'string')]))]
  const view: LedgerView = { effects: new Set(), decisions: new Map(), holds: new Map(), posted: new Map() }
  if (keys.length === 0) return view
  const effects = await db.query('reconcile.effects', sql => sql<Array<{ key: string }>>`select key from effects where key = any(${keys})`)
  for (const e of effects) view.effects.add(e.key)
  const decisions = await db.query('reconcile.decisions', sql => sql<Array<{ jit_token: string, transaction_token: string | null, outcome: string, amount: string | null }>>`
    select jit_token, transaction_token, outcome, amount::text from decisions where jit_token = any(${keys}) or transaction_token = any(${keys})`)
  for (const d of decisions) {
    const value = { outcome: d.outcome, amount: d.amount === null ? null : Number(d.amount) }
    view.decisions.set(d.jit_token, value)
    if (d.transaction_token !== null) view.decisions.set(d.transaction_token, value)
  }
  const holds = await db.query('reconcile.holds', sql => sql<Array<{ hold_token: string, state: string, authorized: string, transaction_tokens: string[] }>>`
    select hold_token, state, authorized::text, transaction_tokens from holds where hold_token = any(${keys}) or transaction_tokens && ${keys}::text[]`)
  for (const h of holds) {
    const value = { hold_token: h.hold_token, state: h.state, authorized: Number(h.authorized) }
    view.holds.set(h.hold_token, value)
    for (const t of h.transaction_tokens) view.holds.set(t, value)
  }
  // journal effect keys are the key itself or `<kind>:<key>`
  const posted = await db.query('reconcile.journal', sql => sql<Array<{ key: string, amount: string }>>`
    select case when position(':' in e.effect_key) > 0 then split_part(e.effect_key, ':', 2) else e.effect_key end as key, sum(l.amount)::text as amount
    from journal_entries e join journal_lines l using (entry_id)
    where (e.effect_key = any(${keys}) or split_part(e.effect_key, ':', 2) = any(${keys}))
      and l.account_token not like 'program\\_funding:%' and l.account_token not like 'network\\_settlement:%'
    group by 1`)
  for (const p of posted) view.posted.set(p.key, Number(p.amount))
  return view
}
