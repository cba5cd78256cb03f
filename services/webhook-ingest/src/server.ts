import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { ConfigError, WebhookIngestConfig, loadConfig, readEnvFile, type WebhookIngestConfigT } from '@jit/config'
import { createMetricsRegistry } from '@jit/profiler'
import { SERVICE_NAME, buildApp, createBroker } from './app.js'

// Entry point: the only place that reads the environment (through @jit/config) and listens.
let config: WebhookIngestConfigT
try {
  config = loadConfig(WebhookIngestConfig, readEnvFile())
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  // Fail fast at boot with every problem listed; secret values are never in the message.
  process.stderr.write(`${SERVICE_NAME}: ${err.message}\n`)
  process.exit(1)
}

const logger = pino({ name: SERVICE_NAME, level: config.LOG_LEVEL })
const registry = createMetricsRegistry({ service: SERVICE_NAME })
const broker = createBroker({ url: config.AMQP_URL, logger, connectionName: SERVICE_NAME })

const app = buildApp({ config, logger, publisher: broker.publisher, ready: broker.ready, registry }, {
  // Webhook batches are small; a client that trickles bytes or idles must not hold a socket.
  connectionTimeout: 30_000,
  requestTimeout: 30_000,
  // Above nginx's upstream keepalive_timeout (60 s), so the proxy closes idle sockets first.
  keepAliveTimeout: 65_000
})

// Order matters: stop accepting and finish in-flight requests (their publishes wait for their
// confirms), then close the publisher and the connection.
closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger }, async ({ err, signal }) => {
  if (err !== undefined) logger.error({ err }, 'shutting down after an error')
  else logger.info({ signal }, 'shutting down')
  await app.close()
  await broker.close()
})

try {
  await broker.declareTopology()
  await app.listen({ host: config.HOST, port: config.PORT })
} catch (err) {
  logger.fatal({ err }, 'could not start')
  await broker.close().catch(() => {})
  process.exit(1)
}
