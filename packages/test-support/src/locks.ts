import type postgres from 'postgres'

/**
 * Holds the row locks a query takes, in a transaction of its own on a reserved connection, until
 * `release()` (rollback): how tests make PostgreSQL "slow" for whoever needs those rows.
 * @example
 * const release = await holdLocks(sql, c => c`select 1 from accounts where account_token = ${t} for update`)
 */
export async function holdLocks (sql: postgres.Sql, lock: (conn: postgres.ReservedSql) => Promise<unknown>): Promise<() => Promise<void>> {
  const conn = await sql.reserve()
  await conn`begin`
  await lock(conn)
  return async () => {
    await conn`rollback`
    conn.release()
  }
}
