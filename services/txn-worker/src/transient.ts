import { TransientError } from '@jit/amqp'

// porsager `postgres` and Node socket errors that mean "the server is not reachable right now".
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT'
])

// SQLSTATEs of a server going away or refusing sessions: admin_shutdown, crash_shutdown,
// cannot_connect_now (starting up or in recovery), too_many_connections; and of contention, which
// passes when the other transaction finishes: lock_not_available (a lock wait reached
// lock_timeout), deadlock_detected (PostgreSQL rolled this one back to let the other through),
// query_canceled (statement_timeout, typically waiting behind a hot row). A clearing that met a
// busy account must wait and try again, not be dead-lettered after three quick retries.
const TRANSIENT_SQLSTATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300', '55P03', '40P01', '57014'])

function codeOf (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

function isTransientOne (err: unknown): boolean {
  if (err instanceof TransientError) return true
  const code = codeOf(err)
  if (code === undefined) return false
  if (CONNECTION_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true
  // Class 08 (connection exception), except 08P01 protocol_violation: that one can be caused by
  // the message itself (e.g. too many parameters) and would then fail the same way forever.
  return /^08[0-9A-Z]{3}$/.test(code) && code !== '08P01'
}

/**
 * True when a handler failed because a dependency is down rather than because of the message: a
 * PostgreSQL connection-level failure (porsager's `ECONNREFUSED`, `CONNECTION_CLOSED`,
 * `CONNECTION_ENDED`, `CONNECTION_DESTROYED`, `CONNECT_TIMEOUT`, SQLSTATE class 08, `57P01`-`57P03`,
 * `53300`), contention (`55P03` lock timeout, `40P01` deadlock, `57014` statement timeout or
 * cancel) or a {@link TransientError} (a cache invalidation that could not be done). Looks
 * through `cause` chains and AggregateErrors. The consumer requeues such a message after a backoff
 * without counting a retry, so an outage of any length dead-letters nothing.
 */
export function isTransientFailure (err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false
  if (isTransientOne(err)) return true
  if (err instanceof AggregateError && err.errors.some(e => isTransientFailure(e, depth + 1))) return true
  return isTransientFailure((err as { cause?: unknown }).cause, depth + 1)
}
