import postgres from 'postgres'

const SQLSTATE = /^[0-9A-Z]{5}$/

/**
 * True when `err` is an error reported by the PostgreSQL server (optionally with SQLSTATE `code`),
 * e.g. `'57014'` query_canceled (statement timeout), `'55P03'` lock_not_available (lock timeout),
 * `'23505'` unique_violation, `'40001'` serialization_failure.
 *
 * Also accepts porsager's own SQLSTATE errors (the `57014` it raises when a query still waiting
 * for a connection is cancelled), because callers branch on the code, not on who produced it.
 * Connection failures (`ECONNREFUSED`, `CONNECT_TIMEOUT`, `CONNECTION_CLOSED`) are not matched.
 */
export function isPostgresError (err: unknown, code?: string): boolean {
  if (typeof err !== 'object' || err === null) return false
  const errCode = (err as { code?: unknown }).code
  if (typeof errCode !== 'string') return false
  const fromServer = err instanceof postgres.PostgresError || (err as { name?: unknown }).name === 'PostgresError'
  const porsagerSqlState = err instanceof Error && SQLSTATE.test(errCode) && err.message.startsWith(errCode + ': ')
  if (!fromServer && !porsagerSqlState) return false
  return code === undefined || errCode === code
}
