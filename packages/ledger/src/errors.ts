/** Error codes raised by the ledger's SQL functions (SQLSTATE class JT). */
export const LEDGER_SQLSTATE = {
  staleCache: 'JT001',
  noAccount: 'JT002',
  unknownDeclineReason: 'JT003'
} as const

/** The error's code (a PostgreSQL SQLSTATE, or a driver or socket code), if it has one. */
export function errorCodeOf (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

/** True when `err` is a PostgreSQL error with this SQLSTATE. */
export function hasSqlState (err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}

/** The cache was stale: the caller refreshes what it read and decides again. */
export function isStaleCacheError (err: unknown): boolean {
  return hasSqlState(err, LEDGER_SQLSTATE.staleCache)
}

/** The decision ran out of its budget inside PostgreSQL (statement or lock timeout). */
export function isBudgetExceededError (err: unknown): boolean {
  return hasSqlState(err, '57014') || hasSqlState(err, '55P03')
}
