import type { Sql, UserRecord, CardRecord, LimitsRecord } from '@jit/ledger'

/** What the screening reads of one decision: the user, the card and both scopes' limits. */
export interface ScreeningRows {
  user: UserRecord | null
  card: CardRecord | null
  cardLimits: LimitsRecord | null
  userLimits: LimitsRecord | null
}

interface Row extends Record<string, unknown> {
  i: number
  u_user_token: string | null
  u_status: UserRecord['status']
  u_revision: number
  u_command_version: number | null
  c_card_token: string | null
  c_user_token: string
  c_account_token: string | null
  c_status: CardRecord['status']
  c_expiration: string
  c_revision: number
  c_command_version: number | null
}

/** One scope's limits from the columns prefixed `cl_` (card) or `ul_` (user); null without a row. */
function limitsOf (row: Row, scope: 'card' | 'user', p: 'cl' | 'ul'): LimitsRecord | null {
  if (row[`${p}_token`] === null) return null
  const at = <K extends keyof LimitsRecord>(field: K): LimitsRecord[K] => row[`${p}_${field}`] as LimitsRecord[K]
  return {
    scope,
    token: at('token'),
    currency: at('currency'),
    per_transaction: at('per_transaction'),
    daily: at('daily'),
    monthly: at('monthly'),
    daily_count: at('daily_count'),
    blocked_mccs: at('blocked_mccs'),
    revision: at('revision'),
    command_version: at('command_version')
  }
}

/** One decision's keys of a screening read. */
export interface ScreeningKeys {
  userToken: string
  /** null: no card and no card limits. */
  cardToken: string | null
  currency: string
}

/**
 * The four rows each of several decisions screens on, in one statement (one round trip, one
 * snapshot) instead of one query per row: the same columns as @jit/ledger's loadUser, loadCard
 * and loadLimits (the records the Redis cache holds under the same keys, so every process reads
 * the same shape). Results in `keys` order.
 */
export async function loadScreeningRows (sql: Sql, keys: readonly ScreeningKeys[]): Promise<ScreeningRows[]> {
  if (keys.length === 0) return []
  const rows = await sql<Row[]>`
    select q.i::int as i, u.user_token as u_user_token, u.status as u_status, u.revision as u_revision, u.command_version as u_command_version,
      c.card_token as c_card_token, c.user_token as c_user_token, c.account_token as c_account_token, c.status as c_status,
      c.expiration as c_expiration, c.revision as c_revision, c.command_version as c_command_version,
      cl.token as cl_token, cl.currency as cl_currency, cl.per_transaction as cl_per_transaction, cl.daily as cl_daily,
      cl.monthly as cl_monthly, cl.daily_count as cl_daily_count, cl.blocked_mccs as cl_blocked_mccs, cl.revision as cl_revision,
      cl.command_version as cl_command_version,
      ul.token as ul_token, ul.currency as ul_currency, ul.per_transaction as ul_per_transaction, ul.daily as ul_daily,
      ul.monthly as ul_monthly, ul.daily_count as ul_daily_count, ul.blocked_mccs as ul_blocked_mccs, ul.revision as ul_revision,
      ul.command_version as ul_command_version
    from unnest(${keys.map(k => k.userToken)}::text[], ${keys.map(k => k.cardToken)}::text[], ${keys.map(k => k.currency)}::text[])
      with ordinality as q (user_token, card_token, currency, i)
    left join users u on u.user_token = q.user_token
    left join cards c on c.card_token = q.card_token
    left join spending_limits cl on cl.scope = 'card' and cl.token = q.card_token and cl.currency = q.currency
    left join spending_limits ul on ul.scope = 'user' and ul.token = q.user_token and ul.currency = q.currency
  `
  const out = new Array<ScreeningRows | undefined>(keys.length)
  for (const row of rows) out[(row.i as number) - 1] = rowsOf(row)
  return out.map(r => {
    if (r === undefined) throw new Error('the screening statement returned no row for a key')
    return r
  })
}

/** The records of one result row. */
function rowsOf (row: Row): ScreeningRows {
  return {
    user: row.u_user_token === null ? null : { user_token: row.u_user_token, status: row.u_status, revision: row.u_revision, command_version: row.u_command_version },
    card: row.c_card_token === null
      ? null
      : {
          card_token: row.c_card_token,
          user_token: row.c_user_token,
          account_token: row.c_account_token,
          status: row.c_status,
          expiration: row.c_expiration,
          revision: row.c_revision,
          command_version: row.c_command_version
        },
    cardLimits: limitsOf(row, 'card', 'cl'),
    userLimits: limitsOf(row, 'user', 'ul')
  }
}

export interface ScreeningReaderOptions {
  sql: Sql
  /** Most decisions in one screening statement. @default 64 */
  maxBatch?: number
  /** Screening statements in flight at once; reads arriving meanwhile form the next one. @default 2 */
  maxConcurrent?: number
}

/**
 * Screening reads batched without waiting, as decisions are: a read goes at once while fewer
 * than `maxConcurrent` statements are in flight, else it joins the next statement, which leaves
 * as soon as one returns. A lone read never waits; under load one statement carries many.
 */
export function createScreeningReader (opts: ScreeningReaderOptions): (keys: ScreeningKeys) => Promise<ScreeningRows> {
  const maxBatch = opts.maxBatch ?? 64
  const maxConcurrent = opts.maxConcurrent ?? 2
  const waiting: Array<{ keys: ScreeningKeys, resolve: (rows: ScreeningRows) => void, reject: (err: unknown) => void }> = []
  let inFlight = 0
  function send (): void {
    while (inFlight < maxConcurrent && waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch)
      inFlight++
      loadScreeningRows(opts.sql, batch.map(w => w.keys)).then(
        rows => { batch.forEach((w, i) => { w.resolve(rows[i] as ScreeningRows) }) },
        (err: unknown) => { for (const w of batch) w.reject(err) }
      ).finally(() => {
        inFlight--
        send()
      })
    }
  }
  return async keys => await new Promise<ScreeningRows>((resolve, reject) => {
    waiting.push({ keys, resolve, reject })
    send()
  })
}
