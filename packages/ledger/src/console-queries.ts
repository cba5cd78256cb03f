import type { HoldView } from './queries.js'
import type { Sql } from './types.js'

/**
 * Read queries of the operator console. Each one is served by an index (primary keys,
 * `holds_account`, `holds_transaction_tokens`, `hold_history_hold`, `journal_lines_account`, and
 * the console's decision indexes on card, user and time from the txn-worker's migrations), and
 * each is bounded by a limit: the console pages, it never scans.
 */

/** What a searched token turned out to be. */
export type IdentifierKind = 'card' | 'user' | 'account' | 'decision' | 'hold' | 'transaction'

/** One thing a token names, with the tokens that lead on from it. */
export interface IdentifierMatch {
  kind: IdentifierKind
  token: string
  user_token: string | null
  card_token: string | null
  account_token: string | null
  /** The purchase's hold, for a decision, hold or network transaction token. */
  hold_token: string | null
}

/**
 * Everything `token` names: a card, user, account, JIT decision, hold, or a network
 * transaction token recorded on a hold. Primary-key and GIN lookups only.
 */
export async function findIdentifier (sql: Sql, token: string): Promise<IdentifierMatch[]> {
  return await sql<IdentifierMatch[]>`
    select 'card' as kind, card_token as token, user_token, card_token, coalesce(account_token, user_token) as account_token, null as hold_token
      from cards where card_token = ${token}
    union all
    select 'user', user_token, user_token, null, user_token, null from users where user_token = ${token}
    union all
    select 'account', account_token, null, null, account_token, null from accounts where account_token = ${token}
    union all
    select 'decision', jit_token, user_token, card_token, account_token, coalesce(original_jit_token, jit_token)
      from decisions where jit_token = ${token}
    union all
    select 'hold', hold_token, user_token, card_token, account_token, hold_token from holds where hold_token = ${token}
    union all
    (select 'transaction', ${token}, user_token, card_token, account_token, coalesce(original_jit_token, jit_token)
      from decisions where transaction_token = ${token} limit 5)
    union all
    (select 'transaction', ${token}, user_token, card_token, account_token, hold_token
      from holds where transaction_tokens @> array[${token}::text] limit 5)
  `
}

/** A JIT decision as the console shows it: with the memo the cardholder's support reads. */
export interface DecisionSummary {
  jit_token: string
  method: string
  kind: string
  user_token: string
  card_token: string | null
  account_token: string | null
  original_jit_token: string | null
  outcome: string
  decline_reason: string | null
  /** The memo sent to the processor, else the decline reason's standard memo. */
  memo: string | null
  amount: number | null
  currency: string | null
  http_status: number
  created_at: Date
}

/** Whose decisions {@link listDecisions} reads: a card's or a cardholder's. */
export type DecisionOwner = { cardToken: string } | { userToken: string }

/**
 * The newest decisions of a card or a cardholder (`created_at` before `before` when given),
 * newest first, at most `limit`.
 */
export async function listDecisions (sql: Sql, owner: DecisionOwner, opts: { before?: Date, limit: number }): Promise<DecisionSummary[]> {
  const who = 'cardToken' in owner ? sql`d.card_token = ${owner.cardToken}` : sql`d.user_token = ${owner.userToken}`
  const before = opts.before === undefined ? sql`` : sql`and d.created_at < ${opts.before}`
  return await sql<DecisionSummary[]>`
    select d.jit_token, d.method, d.kind, d.user_token, d.card_token, d.account_token, d.original_jit_token, d.outcome,
      d.decline_reason, coalesce(d.response #>> '{jit_funding,memo}', m.memo) as memo, d.amount, d.currency, d.http_status, d.created_at
    from decisions d left join decline_memos m on m.reason = d.decline_reason
    where ${who} ${before}
    order by d.created_at desc limit ${opts.limit}
  `
}

/** Counts of decisions since a time, for the health view. */
export interface DecisionStats {
  /** Per outcome and decline reason (null reason for approvals and answers). */
  byOutcome: Array<{ outcome: string, decline_reason: string | null, count: number }>
  /** Per minute (oldest first): approved and declined. */
  perMinute: Array<{ minute: Date, approved: number, declined: number }>
}

/** Decisions made since `since`, counted by outcome and reason and per minute. */
export async function decisionStats (sql: Sql, since: Date): Promise<DecisionStats> {
  const [byOutcome, perMinute] = await Promise.all([
    sql<Array<{ outcome: string, decline_reason: string | null, count: number }>>`
      select outcome, decline_reason, count(*)::int as count from decisions
      where created_at >= ${since} group by outcome, decline_reason order by count desc`,
    sql<Array<{ minute: Date, approved: number, declined: number }>>`
      select date_trunc('minute', created_at) as minute,
        count(*) filter (where outcome = 'approved')::int as approved,
        count(*) filter (where outcome = 'declined')::int as declined
      from decisions where created_at >= ${since} group by 1 order by 1`
  ])
  return { byOutcome: [...byOutcome], perMinute: [...perMinute] }
}

/** A hold as listed by {@link listAccountHolds} (without its transaction tokens). */
export type HoldSummary = Omit<HoldView, 'transaction_tokens'>

/**
 * Holds of an account, newest first (`opened_at` before `before` when given), optionally of one
 * state, at most `limit`.
 */
export async function listAccountHolds (sql: Sql, accountToken: string, opts: { state?: 'OPEN' | 'CLOSED' | 'EXPIRED', before?: Date, limit: number }): Promise<HoldSummary[]> {
  return await sql<HoldSummary[]>`
    select hold_token, account_token, user_token, card_token, currency, mcc, state, forced, authorized, captured,
      released, remaining, over_captured, opened_at, last_activity_at, closed_at
    from holds
    where account_token = ${accountToken}
      ${opts.state === undefined ? sql`` : sql`and state = ${opts.state}`}
      ${opts.before === undefined ? sql`` : sql`and opened_at < ${opts.before}`}
    order by opened_at desc, hold_token limit ${opts.limit}
  `
}

/** One money change of an account: a journal line or a hold change, with the account after it. */
export interface AccountActivity {
  source: 'journal' | 'hold'
  at: Date
  /** Journal: the entry's kind (`clearing`, `credit` ...); hold: its action (`placed`, `captured` ...). */
  kind: string
  /** Journal: the signed change of the balance; hold: the amount of the action (unsigned). */
  amount: number
  /** The change of `held` this made (holds only; 0 for journal lines). */
  held_change: number
  effect_key: string | null
  description: string | null
  entry_id: number | null
  hold_token: string | null
  detail: Record<string, unknown>
  /** The account's balance, held and available right after this change (and any change of the same instant). */
  balance_after: number
  held_after: number
  available_after: number
}

/**
 * How a hold-history action moved the account's `held`: placements and increments raise it,
 * a clearing after the hold was closed touches no hold, everything else (captures, releases,
 * expiries, decreases) lowers it by the action's amount.
 */
export function heldChangeOf (action: string, amount: number): number {
  if (action === 'placed' || action === 'increased') return amount
  if (action === 'debited_after_close') return 0
  return -amount
}

interface JournalRow { entry_id: number, kind: string, effect_key: string | null, description: string | null, created_at: Date, amount: number }
interface HoldRow { id: number, hold_token: string, action: string, amount: number, effect_key: string | null, detail: Record<string, unknown>, at: Date }

/**
 * An account's money changes, newest first (before `before` when given), at most `limit`, each
 * with the balance, held and available right after it. Those are worked back from the account's
 * current figures: the journal lines and hold changes newer than the page are summed (index range
 * scans), then each change on the page is undone in turn. Changes of one instant (one ledger
 * transaction, e.g. a capture's journal line and its hold change) share the figures after them.
 */
export async function accountActivity (sql: Sql, accountToken: string, opts: { before?: Date, limit: number }): Promise<AccountActivity[] | null> {
  const [account] = await sql<Array<{ balance: number, held: number }>>`select balance, held from accounts where account_token = ${accountToken}`
  if (account === undefined) return null
  const before = opts.before
  const [journal, holds, later] = await Promise.all([
    sql<JournalRow[]>`
      select e.entry_id, e.kind, e.effect_key, e.description, e.created_at, l.amount
      from journal_lines l join journal_entries e using (entry_id)
      where l.account_token = ${accountToken} ${before === undefined ? sql`` : sql`and e.created_at < ${before}`}
      order by l.entry_id desc limit ${opts.limit}`,
    sql<HoldRow[]>`
      select hh.id, hh.hold_token, hh.action, hh.amount, hh.effect_key, hh.detail, hh.at
      from holds h join hold_history hh using (hold_token)
      where h.account_token = ${accountToken} ${before === undefined ? sql`` : sql`and hh.at < ${before}`}
      order by hh.at desc, hh.id desc limit ${opts.limit}`,
    before === undefined
      ? Promise.resolve([])
      : sql<Array<{ source: string, amount: number, action: string | null }>>`
        select 'journal' as source, coalesce(sum(l.amount), 0)::bigint as amount, null as action
        from journal_lines l join journal_entries e using (entry_id)
        where l.account_token = ${accountToken} and e.created_at >= ${before}
        union all
        select 'hold', sum(hh.amount)::bigint, hh.action
        from holds h join hold_history hh using (hold_token)
        where h.account_token = ${accountToken} and hh.at >= ${before}
        group by hh.action`
  ])
  let balance = account.balance
  let held = account.held
  for (const row of later) {
    if (row.source === 'journal') balance -= Number(row.amount)
    else held -= heldChangeOf(row.action ?? '', Number(row.amount))
  }
  const items: AccountActivity[] = [
    ...journal.map(j => ({
      source: 'journal' as const,
      at: j.created_at,
      kind: j.kind,
      amount: j.amount,
      held_change: 0,
      effect_key: j.effect_key,
      description: j.description,
      entry_id: j.entry_id,
      hold_token: null,
      detail: {},
      seq: j.entry_id
    })),
    ...holds.map(h => ({
      source: 'hold' as const,
      at: h.at,
      kind: h.action,
      amount: h.amount,
      held_change: heldChangeOf(h.action, h.amount),
      effect_key: h.effect_key,
      description: null,
      entry_id: null,
      hold_token: h.hold_token,
      detail: h.detail ?? {},
      seq: h.id
    }))
  ].sort((a, b) => b.at.getTime() - a.at.getTime() || (a.source === b.source ? b.seq - a.seq : a.source === 'journal' ? -1 : 1))
    .slice(0, opts.limit)
    .map(({ seq, ...item }) => ({ ...item, balance_after: 0, held_after: 0, available_after: 0 }))
  // Undo the page newest first; one instant's changes all show the figures after the last of them.
  let i = 0
  while (i < items.length) {
    const at = (items[i] as AccountActivity).at.getTime()
    let j = i
    while (j < items.length && (items[j] as AccountActivity).at.getTime() === at) j++
    for (let k = i; k < j; k++) {
      const item = items[k] as AccountActivity
      item.balance_after = balance
      item.held_after = held
      item.available_after = balance - held
    }
    for (let k = i; k < j; k++) {
      const item = items[k] as AccountActivity
      if (item.source === 'journal') balance -= item.amount
      else held -= item.held_change
    }
    i = j
  }
  return items
}
