/**
 * @jit/txn-worker: applies transaction events and provisioning commands to the ledger exactly
 * once, archives webhooks and JIT decisions, expires stale holds, relays the outbox, and serves a
 * read-only operator API. `server.ts` runs it; `cli.ts` is the `jit-ops` operations CLI.
 * @packageDocumentation
 */
export { buildApp, type TxnWorkerAppDeps } from './app.js'
export {
  createWorker, createWorkerOn, WORKER_QUEUES,
  type TxnWorker, type TxnWorkerDeps, type WorkerClients, type WorkerConfig, type WorkerQueue
} from './worker.js'
export { createWorkerMetrics, type WorkerMetrics } from './metrics.js'
export { txnWorkerMigrations, txnWorkerMigrationSets } from './migrations.js'
export { ledgerLifecycle, type LedgerLifecycle } from './ledger-lifecycle.js'
export type { ParkRetryRound } from './transactions.js'
export { HOLD_SWEEP_LOCK_KEY } from './hold-expiry.js'
export { isTransientFailure } from './transient.js'
export {
  listDeadLetters, redriveDeadLetters, deadQueueOf,
  type DeadLetter, type RedriveResult
} from './ops/dead-letters.js'
export { purgeHistory, MIN_EFFECT_RETENTION_DAYS, type PurgeOptions, type PurgeResult } from './ops/purge.js'
export { runCli, EXIT, type CliIo } from './ops/run-cli.js'
