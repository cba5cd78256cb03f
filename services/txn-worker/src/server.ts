import { pino } from 'pino'
import { TxnWorkerConfig, loadServiceConfig } from '@jit/config'
import { closeOnSignal, createConnections } from '@jit/connections'
import { createMetricsRegistry } from '@jit/profiler'
import { buildApp } from './app.js'
import { createWorkerMetrics } from './metrics.js'
import { txnWorkerMigrationSets } from './migrations.js'
import { createWorkerOn } from './worker.js'

// a wrong configuration exits 78 naming every problem, as in every service
const config = loadServiceConfig(TxnWorkerConfig, 'txn-worker')

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'txn-worker' } })
// Connects everything, applies the outbox, ledger and archive migrations and the worker's own
// command log, and declares the topology (safe when several workers start at once).
const connections = createConnections({ config, logger, name: 'txn-worker', migrations: txnWorkerMigrationSets })
await connections.start()

const registry = createMetricsRegistry({ service: 'txn-worker' })
const metrics = createWorkerMetrics(registry, { sql: connections.db.sql })
const worker = createWorkerOn(connections, { config, logger, metrics })
let stopping = false
// intake: consumers stop taking messages and finish those in flight, loops and relay stop;
// connections.close() then closes the publisher, the broker connection and the pools, in order.
connections.onShutdown('intake', async () => {
  stopping = true
  await worker.stop()
})

const app = await buildApp({ config, logger, db: connections.db, registry, connections, ready: () => !stopping })

closeOnSignal({ connections, app, config, logger, onStopping: () => { stopping = true } })

await app.listen({ host: config.HOST, port: config.PORT })
