import type { Test } from 'tap'
import type { Database } from '@jit/postgres'
import { lifecycleKit } from '../helpers.js'

/**
 * The per-file helpers of the adversarial tests, named as these tests use them: `card(name)` a
 * fresh funded card (1000.00 unless told) with its shop, `check(name, fn)` a subtest that ends
 * with the ledger invariants, `money(account)` its balance and available.
 */
export function adversary (t: Test, db: Database, prefix: string) {
  const kit = lifecycleKit(t, db, `adv-${prefix}`)
  return { card: kit.account, check: kit.moneyTest, money: kit.money }
}
