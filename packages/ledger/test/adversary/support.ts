import type { Test } from 'tap'
import type { Database } from '@jit/postgres'
import { getAccount } from '../../src/index.js'
import { fundedCard, assertInvariants, shop } from '../helpers.js'

/** What the tests compare: an account's posted balance and available (minor units). */
export async function money (db: Database, account: string): Promise<{ balance: number, available: number }> {
  const a = await getAccount(db.sql, account)
  return { balance: a?.balance ?? NaN, available: a?.available ?? NaN }
}

/**
 * The per-file helpers of the adversarial tests: `card(name)` gives a fresh funded card (1000.00
 * unless told) with its shop, `check(name, fn)` a subtest that ends with the ledger invariants.
 */
export function adversary (t: Test, db: Database, prefix: string) {
  let n = 0
  return {
    money: async (account: string) => await money(db, account),
    async card (name: string, balance = 100000, currency = 'USD') {
      const c = await fundedCard(db, `adv-${prefix}-${name}-${++n}`, balance, { currency })
      return { c, s: shop(db, c) }
    },
    check (name: string, fn: (t: Test) => Promise<void>): void {
      t.test(name, async t => {
        await fn(t)
        await assertInvariants(t, db)
      })
    }
  }
}
