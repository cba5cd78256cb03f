import type { Sql, UserRecord, CardRecord, LimitsRecord } from '@jit/ledger'

/** What the screening reads of one decision: the user, the card and both scopes' limits. */
export interface ScreeningRows {
  user: UserRecord | null
  card: CardRecord | null
  cardLimits: LimitsRecord | null
  userLimits: LimitsRecord | null
}

interface Row extends Record<string, unknown> {
  u_user_token: string | null, u_status: UserRecord['status'], u_revision: number, u_command_version: number | null
  c_card_token: string | null, c_user_token: string, c_account_token: string | null, c_status: CardRecord['status'], c_expiration: string, c_revision: number, c_command_version: number | null
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

/**
 * The four rows a decision screens on, in one statement (one round trip, one snapshot) instead
 * of one query each: the same columns as @jit/ledger's loadUser, loadCard and loadLimits (the
 * records the Redis cache holds under the same keys, so every process reads the same shape).
 * `cardToken` null: no card and no card limits.
 */
export async function loadScreeningRows (sql: Sql, userToken: string, cardToken: string | null, currency: string): Promise<ScreeningRows> {
  const [row] = await sql<Row[]>`
    select u.user_token as u_user_token, u.status as u_status, u.revision as u_revision, u.command_version as u_command_version,
      c.card_token as c_card_token, c.user_token as c_user_token, c.account_token as c_account_token, c.status as c_status,
      c.expiration as c_expiration, c.revision as c_revision, c.command_version as c_command_version,
      cl.token as cl_token, cl.currency as cl_currency, cl.per_transaction as cl_per_transaction, cl.daily as cl_daily,
      cl.monthly as cl_monthly, cl.daily_count as cl_daily_count, cl.blocked_mccs as cl_blocked_mccs, cl.revision as cl_revision,
      cl.command_version as cl_command_version,
      ul.token as ul_token, ul.currency as ul_currency, ul.per_transaction as ul_per_transaction, ul.daily as ul_daily,
      ul.monthly as ul_monthly, ul.daily_count as ul_daily_count, ul.blocked_mccs as ul_blocked_mccs, ul.revision as ul_revision,
      ul.command_version as ul_command_version
    from (values (1)) as one (x)
    left join users u on u.user_token = ${userToken}
    left join cards c on c.card_token = ${cardToken}::text
    left join spending_limits cl on cl.scope = 'card' and cl.token = ${cardToken}::text and cl.currency = ${currency}
    left join spending_limits ul on ul.scope = 'user' and ul.token = ${userToken} and ul.currency = ${currency}
  `
  if (row === undefined) throw new Error('the screening statement returned no row')
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
