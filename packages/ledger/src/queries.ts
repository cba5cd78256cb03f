import type { Sql } from './types.js'

export interface AccountView {
  account_token: string
  currency: string
  balance: number
  held: number
  available: number
  credit_line: number
  status: string
  updated_at: Date
}

export interface HoldView {
  hold_token: string
  account_token: string
  user_token: string | null
  card_token: string | null
  currency: string
  mcc: string | null
  transaction_tokens: string[]
  authorized: number
  captured: number
  released: number
  remaining: number
  over_captured: number
  state: 'OPEN' | 'CLOSED' | 'EXPIRED'
  forced: boolean
  opened_at: Date
  last_activity_at: Date
  closed_at: Date | null
}

/** An account with its derived available amount, or null. */
export async function getAccount (sql: Sql, accountToken: string): Promise<AccountView | null> {
  const [row] = await sql<AccountView[]>`
    select account_token, currency, balance, held, balance - held as available, credit_line, status, updated_at
    from accounts where account_token = ${accountToken}
  `
  return row ?? null
}

/** Open holds of an account, oldest first. */
export async function listOpenHolds (sql: Sql, accountToken: string, limit = 100): Promise<HoldView[]> {
  return await sql<HoldView[]>`
    select * from holds where account_token = ${accountToken} and state = 'OPEN'
    order by opened_at limit ${limit}
  `
}

/** A hold with its history, or null. */
export async function getHold (sql: Sql, holdToken: string): Promise<(HoldView & { history: Array<Record<string, unknown>> }) | null> {
  const [hold] = await sql<HoldView[]>`select * from holds where hold_token = ${holdToken}`
  if (hold === undefined) return null
  const history = await sql<Array<Record<string, unknown>>>`
    select action, amount, effect_key, detail, at from hold_history where hold_token = ${holdToken} order by id
  `
  return { ...hold, history: [...history] }
}

/** The stored decision of a JIT token, or null. */
export async function getDecision (sql: Sql, jitToken: string): Promise<Record<string, unknown> | null> {
  const [row] = await sql<Array<Record<string, unknown>>>`
    select jit_token, method, kind, user_token, card_token, account_token, original_jit_token, outcome,
      decline_reason, amount, currency, http_status, response, created_at
    from decisions where jit_token = ${jitToken}
  `
  return row ?? null
}

/** The journal lines of an account, newest first, with their entries. */
export async function getJournal (sql: Sql, accountToken: string, limit = 100): Promise<Array<Record<string, unknown>>> {
  return await sql<Array<Record<string, unknown>>>`
    select e.entry_id, e.kind, e.effect_key, e.currency, e.description, e.created_at, l.amount
    from journal_lines l join journal_entries e using (entry_id)
    where l.account_token = ${accountToken}
    order by e.entry_id desc limit ${limit}
  `
}
