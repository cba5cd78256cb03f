import pino from 'pino'
import { JitAuthorizerConfig, loadServiceConfig } from '@jit/config'
import { closeOnSignal, createConnections } from '@jit/connections'
import { ledgerMigrationSets } from '@jit/ledger'
import { createServiceOutboxRelay } from '@jit/outbox'
import { createMetricsRegistry } from '@jit/profiler'
import { buildApp } from './app.js'

// a wrong configuration exits 78 naming every problem, as in every service
const config = loadServiceConfig(JitAuthorizerConfig, 'jit-authorizer')

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'jit-authorizer' } })
const connections = createConnections({
  config,
  logger,
  name: 'jit-authorizer',
  use: { archive: false },
  // decisions go through PostgreSQL and the outbox: RabbitMQ down is degraded, not unready
  amqpRequired: false,
  // the ledger's tables and rules (and the outbox it writes to)
  migrations: ledgerMigrationSets,
  // The decision budget is enforced inside PostgreSQL: a statement that runs out of it is
  // cancelled and rolled back there, never abandoned mid-commit by the caller.
  postgres: { statementTimeoutMs: config.JIT_DECISION_BUDGET_MS }
})
await connections.start()

const registry = createMetricsRegistry({ service: 'jit-authorizer' })
// Publishes the decisions' events, polling only: waking on every decision's `NOTIFY outbox`
// cost a relay transaction (and a publish round) per decision in this process, and raced the
// workers' relays, which do wake on it and publish at the commit. Polled, one relay round
// carries every event of OUTBOX_RELAY_INTERVAL_MS, and an authorizer running without workers
// still publishes everything.
const relay = createServiceOutboxRelay({ config, sql: connections.db.sql, publisher: connections.publisher, logger, listen: false })
connections.onShutdown('drain', async () => { await relay.stop() })

const app = await buildApp({ config, logger, db: connections.db, cache: connections.cache, registry, connections })
relay.start()

// drain, then finish in-flight decisions, then the relay's batch and the pools
closeOnSignal({ connections, app, config, logger })

await app.listen({ host: config.HOST, port: config.PORT })
