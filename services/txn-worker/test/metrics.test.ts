import t from 'tap'
import { createDatabase, runMigrations } from '@jit/postgres'
import { ledgerMigrationSets, creditAccount, debitAccount, upsertUser } from '@jit/ledger'
import { createMetricsRegistry } from '@jit/profiler'
import { createTestDatabase } from '@jit/test-support'
import { createWorkerMetrics } from '../src/index.js'

const url = await createTestDatabase(t, 'twmetrics')
const db = createDatabase({ url, poolMin: 0, poolMax: 2 })
t.teardown(() => db.close(2))
await runMigrations(db.sql, ledgerMigrationSets)

t.test('txn_worker_overdrawn_accounts counts accounts a forced effect took below their credit line', async t => {
  const registry = createMetricsRegistry({ service: 'txn-worker' })
  createWorkerMetrics(registry, { sql: db.sql, gaugeCacheMs: 0 })
  const gauge = async (): Promise<string | undefined> => /^txn_worker_overdrawn_accounts\{service="txn-worker"\} (\d+)$/m.exec(await registry.metrics())?.[1]
  const account = 'u-overdrawn'
  await upsertUser(db.sql, { user_token: account, status: 'ACTIVE' })
  await creditAccount(db.sql, { accountToken: account, currency: 'USD', amount: 1000, effectKind: 'test.load', effectKey: 'load-od' })
  t.equal(await gauge(), '0', 'a funded account is not overdrawn')
  await debitAccount(db.sql, { accountToken: account, currency: 'USD', amount: 1500, effectKind: 'test.debit', effectKey: 'od-1', force: true })
  t.equal(await gauge(), '1', 'the forced debit overdrew it')
})

t.test('without the database the gauge is not exported', async t => {
  const registry = createMetricsRegistry({ service: 'txn-worker' })
  createWorkerMetrics(registry)
  t.notMatch(await registry.metrics(), 'txn_worker_overdrawn_accounts')
})

t.test('known label values are exported at 0 before the first event', async t => {
  const registry = createMetricsRegistry({ service: 'txn-worker' })
  createWorkerMetrics(registry)
  const text = await registry.metrics()
  t.match(text, 'txn_worker_messages_dead_lettered_total{queue="transactions",reason="failed",service="txn-worker"} 0')
  t.match(text, 'txn_worker_messages_dead_lettered_total{queue="transactions",reason="park_expired",service="txn-worker"} 0')
  t.match(text, 'txn_worker_messages_retried_total{queue="commands",service="txn-worker"} 0')
})
