import { pino } from 'pino'
import { WebhookIngestConfig, loadServiceConfig } from '@jit/config'
import { closeOnSignal, createConnections } from '@jit/connections'
import { createMetricsRegistry } from '@jit/profiler'
import { SERVICE_NAME, buildApp } from './app.js'

// Entry point: the only place that reads the environment (through @jit/config) and listens.
// Fail fast at boot with every problem listed (exit 78, as in every service); secret values are
// never in the message.
const config = loadServiceConfig(WebhookIngestConfig, SERVICE_NAME)

const logger = pino({ name: SERVICE_NAME, level: config.LOG_LEVEL })
const registry = createMetricsRegistry({ service: SERVICE_NAME })

// Stateless: RabbitMQ only (topology declared at start, idempotent when N instances start).
const connections = createConnections({
  config,
  logger,
  name: SERVICE_NAME,
  use: { postgres: false, cache: false, archive: false },
  // While the broker is unreachable a publish waits this long for it, then the batch gets a 503.
  amqp: { acquireTimeoutMs: config.WEBHOOK_BROKER_WAIT_MS }
})
try {
  await connections.start()
} catch (err) {
  logger.fatal({ err }, 'could not connect; exiting')
  process.exit(1)
}

const app = buildApp({ config, logger, publisher: connections.publisher, connections, registry }, {
  // Webhook batches are small; a client that trickles bytes or idles must not hold a socket.
  connectionTimeout: config.WEBHOOK_CONNECTION_TIMEOUT_MS,
  requestTimeout: config.WEBHOOK_REQUEST_TIMEOUT_MS,
  // Above nginx's upstream keepalive_timeout (60 s), so the proxy closes idle sockets first.
  keepAliveTimeout: config.WEBHOOK_KEEP_ALIVE_TIMEOUT_MS
})

// Order matters: stop accepting and finish in-flight requests (their publishes wait for their
// confirms), then close the publisher and the connection (connections.close does both, in order).
closeOnSignal({ connections, app, config, logger })

try {
  await app.listen({ host: config.HOST, port: config.PORT })
} catch (err) {
  logger.fatal({ err }, 'could not listen')
  await connections.close()
  process.exit(1)
}
