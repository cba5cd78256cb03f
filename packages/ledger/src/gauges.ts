import type { Sql } from './types.js'

/**
 * Accounts whose available amount (balance minus open holds) is below minus their credit line
 * right now. Only a forced effect (stand-in hold, over-capture, force capture, chargeback
 * reversal, forced debit) can get an account there (LEDGER rules), each time with a
 * `ledger.account.overdrawn` event; this is the gauge an operator alerts on. One pass over
 * `accounts` (no join): cheap enough for a scrape every few seconds.
 */
export async function countOverdrawnAccounts (sql: Sql): Promise<number> {
  const [row] = await sql<Array<{ n: number }>>`
    select count(*)::int as n from accounts where balance - held < -credit_line`
  return row?.n ?? 0
}
