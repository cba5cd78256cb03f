import type { Sql } from './types.js'

export type UserStatus = 'ACTIVE' | 'SUSPENDED' | 'CLOSED' | 'UNVERIFIED' | 'LIMITED'
export type CardStatus = 'ACTIVE' | 'SUSPENDED' | 'TERMINATED' | 'UNACTIVATED'

/** The outcome of an entity command: applied, or stale (an older `version` than the applied one). */
export interface UpsertResult {
  applied: boolean
  stale: boolean
  revision: number | null
}

export interface UserRecord { user_token: string, status: UserStatus, revision: number, command_version: number | null }
export interface CardRecord {
  card_token: string
  user_token: string
  account_token: string | null
  status: CardStatus
  expiration: string
  revision: number
  command_version: number | null
}
export interface LimitsRecord {
  scope: 'user' | 'card'
  token: string
  currency: string
  per_transaction: number | null
  daily: number | null
  monthly: number | null
  daily_count: number | null
  blocked_mccs: string[]
  revision: number
  command_version: number | null
}

function result (rows: Array<{ revision: number }>): UpsertResult {
  const row = rows[0]
  return row === undefined ? { applied: false, stale: true, revision: null } : { applied: true, stale: false, revision: row.revision }
}

/**
 * Creates or replaces a user. A `version` older than the one applied changes nothing (stale);
 * every applied change takes a new revision, which invalidates cached copies at decision time.
 */
export async function upsertUser (sql: Sql, user: { user_token: string, status: UserStatus, version?: number | null }): Promise<UpsertResult> {
  const version = user.version ?? null
  return result(await sql<Array<{ revision: number }>>`
    insert into users (user_token, status, command_version) values (${user.user_token}, ${user.status}, ${version})
    on conflict (user_token) do update set status = excluded.status,
      command_version = coalesce(excluded.command_version, users.command_version),
      revision = nextval('ledger_revision_seq'), updated_at = now()
    where users.command_version is null or excluded.command_version is null
      or excluded.command_version >= users.command_version
    returning revision
  `)
}

/** Creates or replaces a card (see upsertUser for `version`). */
export async function upsertCard (sql: Sql, card: {
  card_token: string
  user_token: string
  status: CardStatus
  expiration: string
  account_token?: string | null
  version?: number | null
}): Promise<UpsertResult> {
  const version = card.version ?? null
  return result(await sql<Array<{ revision: number }>>`
    insert into cards (card_token, user_token, account_token, status, expiration, command_version)
    values (${card.card_token}, ${card.user_token}, ${card.account_token ?? null}, ${card.status}, ${card.expiration}, ${version})
    on conflict (card_token) do update set user_token = excluded.user_token, account_token = excluded.account_token,
      status = excluded.status, expiration = excluded.expiration,
      command_version = coalesce(excluded.command_version, cards.command_version),
      revision = nextval('ledger_revision_seq'), updated_at = now()
    where cards.command_version is null or excluded.command_version is null
      or excluded.command_version >= cards.command_version
    returning revision
  `)
}

/** Changes only the status of a known card or user (transition webhooks); false when unknown. */
export async function setCardStatus (sql: Sql, cardToken: string, status: CardStatus): Promise<boolean> {
  const rows = await sql`
    update cards set status = ${status}, revision = nextval('ledger_revision_seq'), updated_at = now()
    where card_token = ${cardToken} returning 1
  `
  return rows.length > 0
}

export async function setUserStatus (sql: Sql, userToken: string, status: UserStatus): Promise<boolean> {
  const rows = await sql`
    update users set status = ${status}, revision = nextval('ledger_revision_seq'), updated_at = now()
    where user_token = ${userToken} returning 1
  `
  return rows.length > 0
}

/** Replaces a scope's spending limits (absent field = no limit). Amounts in minor units. */
export async function setLimits (sql: Sql, limits: {
  scope: 'user' | 'card'
  token: string
  currency: string
  per_transaction?: number | null
  daily?: number | null
  monthly?: number | null
  daily_count?: number | null
  blocked_mccs?: string[] | null
  version?: number | null
}): Promise<UpsertResult> {
  const version = limits.version ?? null
  return result(await sql<Array<{ revision: number }>>`
    insert into spending_limits (scope, token, currency, per_transaction, daily, monthly, daily_count, blocked_mccs, command_version)
    values (${limits.scope}, ${limits.token}, ${limits.currency}, ${limits.per_transaction ?? null}, ${limits.daily ?? null},
      ${limits.monthly ?? null}, ${limits.daily_count ?? null}, ${limits.blocked_mccs ?? []}, ${version})
    on conflict (scope, token, currency) do update set per_transaction = excluded.per_transaction,
      daily = excluded.daily, monthly = excluded.monthly, daily_count = excluded.daily_count,
      blocked_mccs = excluded.blocked_mccs,
      command_version = coalesce(excluded.command_version, spending_limits.command_version),
      revision = nextval('ledger_revision_seq'), updated_at = now()
    where spending_limits.command_version is null or excluded.command_version is null
      or excluded.command_version >= spending_limits.command_version
    returning revision
  `)
}

/**
 * The cache key of a scope's limits (cache kind `limits`): the authorizer reads under it and the
 * worker invalidates it when `limits.set` is applied, so both must build it the same way.
 * Users and cards are cached under their own tokens (kinds `user` and `card`).
 */
export function limitsCacheKey (scope: 'user' | 'card', token: string, currency: string): string {
  return `${scope}:${token}:${currency}`
}

/** Loaders for the cache: the authoritative rows, or null. */
export async function loadUser (sql: Sql, userToken: string): Promise<UserRecord | null> {
  const [row] = await sql<UserRecord[]>`
    select user_token, status, revision, command_version from users where user_token = ${userToken}
  `
  return row ?? null
}

export async function loadCard (sql: Sql, cardToken: string): Promise<CardRecord | null> {
  const [row] = await sql<CardRecord[]>`
    select card_token, user_token, account_token, status, expiration, revision, command_version
    from cards where card_token = ${cardToken}
  `
  return row ?? null
}

export async function loadLimits (sql: Sql, scope: 'user' | 'card', token: string, currency: string): Promise<LimitsRecord | null> {
  const [row] = await sql<LimitsRecord[]>`
    select scope, token, currency, per_transaction, daily, monthly, daily_count, blocked_mccs, revision, command_version
    from spending_limits where scope = ${scope} and token = ${token} and currency = ${currency}
  `
  return row ?? null
}
