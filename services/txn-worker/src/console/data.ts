import type { DocumentArchive, StoredDocument } from '@jit/archive'
import { formatAmountString, parseAmount } from '@jit/contracts'
import {
  accountActivity, findIdentifier, listAccountHolds, listDecisions,
  type DecisionOwner, type DecisionSummary, type HoldSummary, type IdentifierMatch
} from '@jit/ledger'
import type { Database } from '@jit/postgres'

/**
 * What the console's pages and its JSON read endpoints share: search, a card's decisions with
 * merchant and MCC, a cardholder's timeline. Ledger rows come through the ledger's read
 * functions; merchant names, webhooks and stage timings come from the document archive.
 */
export interface ConsoleData {
  db: Database
  /** Absent: no merchant names, webhooks or last-four search (the ledger alone is shown). */
  archive?: DocumentArchive | undefined
}

/** Money as the exact decimal string of its currency, or null when the currency is unknown. */
export function money (minor: number | null | undefined, currency: string | null | undefined): string | null {
  if (minor === null || minor === undefined || currency === null || currency === undefined) return null
  try {
    return formatAmountString(minor, currency)
  } catch {
    // A currency the contracts do not know has no exponent to format with: minor units still stand.
    return null
  }
}

/** `12.34 USD`, or the minor units when the currency is unknown. */
export function moneyText (minor: number | null | undefined, currency: string | null | undefined): string {
  if (minor === null || minor === undefined) return '–'
  const decimal = money(minor, currency)
  return decimal === null ? `${minor} minor units` : `${decimal} ${currency ?? ''}`.trim()
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function path (v: unknown, ...keys: string[]): unknown {
  let cur = v
  for (const k of keys) {
    if (!isRecord(cur)) return undefined
    cur = cur[k]
  }
  return cur
}

const str = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : null

/** Merchant of a transaction webhook or JIT request body. */
function merchantOf (body: Record<string, unknown>): { name: string | null, mcc: string | null } {
  return { name: str(path(body, 'card_acceptor', 'name')), mcc: str(path(body, 'card_acceptor', 'mcc')) ?? str(body.mcc) }
}

/** JIT tokens a webhook body refers to. */
function jitTokensOf (body: Record<string, unknown>): string[] {
  return [
    path(body, 'gpa_order', 'jit_funding', 'token'), path(body, 'gpa_order_unload', 'jit_funding', 'token'),
    path(body, 'gpa_order', 'jit_funding', 'original_jit_funding_token'), path(body, 'gpa_order_unload', 'jit_funding', 'original_jit_funding_token')
  ].map(str).filter((t): t is string => t !== null)
}

/** Stage timings (ms) when the decision's archived document carries them. */
function stagesOf (body: Record<string, unknown> | undefined): Record<string, number> | null {
  const raw = body === undefined ? undefined : (body.stages_ms ?? body.stages ?? body.timings_ms)
  if (!isRecord(raw)) return null
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v
  return Object.keys(out).length === 0 ? null : out
}

/** A decision with what the archive adds to it. */
export interface DecisionDetail extends DecisionSummary {
  merchant: string | null
  mcc: string | null
  /** Why, in operators' words (the decision event's `detail`), when archived. */
  reason_detail: string | null
  transaction_token: string | null
  stages_ms: Record<string, number> | null
}

const ARCHIVE_PAGE = 500

/** Archived documents of a card or user, newest first, from `from`. */
async function archivedOf (data: ConsoleData, owner: DecisionOwner | { accountToken: string }, from: Date, to?: Date): Promise<StoredDocument[]> {
  if (data.archive === undefined || 'accountToken' in owner) return []
  const q = 'cardToken' in owner ? { card_token: owner.cardToken } : { user_token: owner.userToken }
  return await data.archive.query({ ...q, from, ...(to === undefined ? {} : { to }), limit: ARCHIVE_PAGE })
}

/** Adds merchant, MCC, the operator detail and stage timings to decisions, from archived documents. */
export function enrichDecisions (decisions: DecisionSummary[], docs: StoredDocument[]): DecisionDetail[] {
  const decisionDocs = new Map<string, Record<string, unknown>>()
  const merchantByJit = new Map<string, { name: string | null, mcc: string | null }>()
  for (const doc of docs) {
    if (doc.kind === 'decision') decisionDocs.set(doc.token, doc.body)
    else if (doc.kind === 'webhook') {
      const m = merchantOf(doc.body)
      if (m.name === null && m.mcc === null) continue
      for (const t of jitTokensOf(doc.body)) if (!merchantByJit.has(t)) merchantByJit.set(t, m)
    }
  }
  return decisions.map(d => {
    const body = decisionDocs.get(d.jit_token)
    const m = merchantByJit.get(d.jit_token) ?? merchantByJit.get(d.original_jit_token ?? '')
    return {
      ...d,
      merchant: m?.name ?? (body === undefined ? null : merchantOf(body).name),
      mcc: (body === undefined ? null : str(body.mcc)) ?? m?.mcc ?? null,
      reason_detail: body === undefined ? null : str(body.detail),
      transaction_token: body === undefined ? null : str(body.transaction_token),
      stages_ms: stagesOf(body)
    }
  })
}

/** A card's or cardholder's newest decisions, each with its reason, memo, merchant and MCC. */
export async function decisionsOf (data: ConsoleData, owner: DecisionOwner, opts: { before?: Date, limit: number }): Promise<DecisionDetail[]> {
  const decisions = await listDecisions(data.db.sql, owner, opts)
  if (decisions.length === 0) return []
  const oldest = (decisions[decisions.length - 1] as DecisionSummary).created_at
  // webhooks follow their decision: from a minute before the oldest shown
  const docs = await archivedOf(data, owner, new Date(oldest.getTime() - 60_000))
  return enrichDecisions(decisions, docs)
}

/** One line of a timeline. */
export interface TimelineItem {
  at: Date
  type: 'decision' | 'webhook' | 'hold' | 'journal'
  /** Decision outcome, webhook type, hold action or journal entry kind. */
  what: string
  amount_minor: number | null
  currency: string | null
  /** The hold or JIT token this line belongs to. */
  hold_token: string | null
  token: string | null
  decision?: DecisionDetail
  webhook?: { family: string | null, type: string | null, state: string | null, merchant: string | null, mcc: string | null, response_code: string | null }
  /** Money lines: the account right after. */
  balance_after_minor?: number
  held_after_minor?: number
  available_after_minor?: number
  effect_key?: string | null
  detail?: Record<string, unknown>
}

/** Whose timeline. */
export type TimelineOwner = { cardToken: string } | { userToken: string } | { accountToken: string }

/** A page of a timeline and where the next (older) one starts. */
export interface TimelinePage {
  owner: TimelineOwner
  account_token: string | null
  currency: string | null
  items: TimelineItem[]
  /** Pass as `before` for the next page; null when this page is the last. */
  next_before: Date | null
}

async function accountOf (data: ConsoleData, owner: TimelineOwner): Promise<{ account: string | null, currency: string | null }> {
  const token = 'accountToken' in owner ? owner.accountToken : 'cardToken' in owner ? owner.cardToken : owner.userToken
  const matches = await findIdentifier(data.db.sql, token)
  const kind = 'accountToken' in owner ? 'account' : 'cardToken' in owner ? 'card' : 'user'
  const match = matches.find(m => m.kind === kind)
  if (match === undefined) return { account: null, currency: null }
  const account = match.account_token
  if (account === null) return { account: null, currency: null }
  const [row] = await data.db.sql<Array<{ currency: string }>>`select currency from accounts where account_token = ${account}`
  return row === undefined ? { account: null, currency: null } : { account, currency: row.currency }
}

/**
 * A cardholder's timeline, newest first: decisions (reason, memo, amount, merchant, MCC, stage
 * timings), the webhooks that followed, hold changes and journal lines, each money change with the
 * balance and available after it. Each source gives at most `limit` lines older than `before`;
 * the page is cut so that one instant is never split between two pages.
 * Returns null when the owner is unknown.
 */
export async function timelineOf (data: ConsoleData, owner: TimelineOwner, opts: { before?: Date, limit: number }): Promise<TimelinePage | null> {
  const { account, currency } = await accountOf(data, owner)
  if (account === null) return null
  const decisionOwner: DecisionOwner | null = 'cardToken' in owner ? { cardToken: owner.cardToken } : 'userToken' in owner ? { userToken: owner.userToken } : null
  const [decisions, activity] = await Promise.all([
    decisionOwner === null ? Promise.resolve([]) : listDecisions(data.db.sql, decisionOwner, opts),
    accountActivity(data.db.sql, account, opts)
  ])
  const oldestShown = [...decisions.map(d => d.created_at), ...(activity ?? []).map(a => a.at)].reduce<Date | null>((min, d) => min === null || d < min ? d : min, null)
  const docs = decisionOwner === null || oldestShown === null ? [] : await archivedOf(data, decisionOwner, new Date(oldestShown.getTime() - 1000), opts.before)
  const enriched = enrichDecisions(decisions, docs)
  const items: TimelineItem[] = []
  for (const d of enriched) {
    items.push({ at: d.created_at, type: 'decision', what: d.outcome, amount_minor: d.amount, currency: d.currency, hold_token: d.original_jit_token ?? d.jit_token, token: d.jit_token, decision: d })
  }
  for (const doc of docs) {
    if (doc.kind !== 'webhook') continue
    const m = merchantOf(doc.body)
    const cur = str(doc.body.currency_code)
    let minor: number | null = null
    try {
      // the processor's amount, in major units, parsed exactly (never through float arithmetic)
      if (doc.body.amount !== undefined && cur !== null) minor = parseAmount(doc.body.amount, cur)
    } catch {
      minor = null
    }
    items.push({
      at: doc.occurred_at,
      type: 'webhook',
      what: doc.type ?? doc.family ?? 'webhook',
      amount_minor: minor,
      currency: cur,
      hold_token: jitTokensOf(doc.body)[0] ?? null,
      token: doc.token,
      webhook: { family: doc.family, type: doc.type, state: str(doc.body.state), merchant: m.name, mcc: m.mcc, response_code: str(path(doc.body, 'response', 'code')) }
    })
  }
  for (const a of activity ?? []) {
    items.push({
      at: a.at,
      type: a.source,
      what: a.kind,
      amount_minor: a.amount,
      currency,
      hold_token: a.hold_token,
      token: a.entry_id === null ? a.hold_token : String(a.entry_id),
      balance_after_minor: a.balance_after,
      held_after_minor: a.held_after,
      available_after_minor: a.available_after,
      effect_key: a.effect_key,
      detail: a.detail
    })
  }
  items.sort((x, y) => y.at.getTime() - x.at.getTime())
  let page = items.slice(0, opts.limit)
  let next: Date | null = null
  if (items.length > opts.limit || decisions.length === opts.limit || (activity?.length ?? 0) === opts.limit) {
    const last = page[page.length - 1]
    if (last !== undefined) {
      // never split one instant between pages: the next page starts before it
      const cut = page.filter(i => i.at.getTime() > last.at.getTime())
      page = cut.length > 0 ? cut : page
      next = (page[page.length - 1] as TimelineItem).at
    }
  }
  return { owner, account_token: account, currency, items: page, next_before: next }
}

/** Holds of an account, with their currency's decimals. */
export async function holdsOf (data: ConsoleData, accountToken: string, opts: { state?: 'OPEN' | 'CLOSED' | 'EXPIRED', before?: Date, limit: number }): Promise<HoldSummary[]> {
  return await listAccountHolds(data.db.sql, accountToken, opts)
}

/** A search hit. */
export interface SearchHit extends IdentifierMatch {
  /** For last-four hits: the archived event that matched. */
  occurred_at?: Date
  last_four?: string
}

const LAST_FOUR_WINDOW_MAX_MS = 7 * 86400_000

/** Problems with a search's input, as `{ field, message }`. */
export class SearchInputError extends Error {
  constructor (readonly field: string, message: string) { super(message) }
}

/**
 * Everything a token names; or, with `lastFour` and a window (at most 7 days), the cards whose
 * archived transaction webhooks show those last four digits in that window.
 */
export async function search (data: ConsoleData, q: { token?: string, lastFour?: string, from?: Date, to?: Date }): Promise<SearchHit[]> {
  const hits: SearchHit[] = []
  if (q.token !== undefined && q.token !== '') hits.push(...await findIdentifier(data.db.sql, q.token))
  if (q.lastFour !== undefined && q.lastFour !== '') {
    if (!/^[0-9]{4}$/.test(q.lastFour)) throw new SearchInputError('last_four', 'last_four must be 4 digits')
    const to = q.to ?? new Date()
    const from = q.from ?? new Date(to.getTime() - 86400_000)
    if (from >= to) throw new SearchInputError('from', 'from must be before to')
    if (to.getTime() - from.getTime() > LAST_FOUR_WINDOW_MAX_MS) throw new SearchInputError('to', 'the time window of a last-four search is at most 7 days')
    if (data.archive !== undefined) {
      const docs = await data.archive.query({ kind: 'webhook', from, to, limit: 1000 })
      const seen = new Set<string>()
      for (const doc of docs) {
        const lastFour = str(path(doc.body, 'card', 'last_four')) ?? str(doc.body.last_four)
        if (lastFour !== q.lastFour || doc.card_token === null || seen.has(doc.card_token)) continue
        seen.add(doc.card_token)
        hits.push({ kind: 'card', token: doc.card_token, card_token: doc.card_token, user_token: doc.user_token, account_token: null, hold_token: null, occurred_at: doc.occurred_at, last_four: lastFour })
      }
    }
  }
  return hits
}
