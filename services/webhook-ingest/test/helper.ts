import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { pino } from 'pino'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { createAmqp, type Amqp } from '@jit/amqp'
import { WebhookIngestConfig, loadConfig, type Environment, type WebhookIngestConfigT } from '@jit/config'
import { basicAuthHeader } from '@jit/http-auth'
import { createMetricsRegistry } from '@jit/profiler'
import { createTestVhost, type Teardownable } from '@jit/test-support'
import { createConnections, type Connections } from '@jit/connections'
import { buildApp, WEBHOOK_PATH } from '../src/app.js'

const run = promisify(execFile)

export const silentLogger = pino({ level: 'silent' })

/** The processor's current and previous credentials in these tests. */
export const CURRENT = { username: 'marqeta', password: 'Current-Webhook-Pass-2024!' }
export const PREVIOUS = { username: 'marqeta', password: 'Previous-Webhook-Pass-2023!' }
export const AUTH = basicAuthHeader(CURRENT.username, CURRENT.password)

/** The queue each test binds to `webhook.#` in its own vhost, to read what was published. */
export const TEST_QUEUE = 'test-webhooks'

/** A real loaded config (through @jit/config) with the test credentials. */
export function testConfig (env: Environment = {}): WebhookIngestConfigT {
  return loadConfig(WebhookIngestConfig, {
    DEPLOY_ENV: 'local',
    WEBHOOK_BASIC_AUTH: `${CURRENT.username}:${CURRENT.password}`,
    ...env
  })
}

/** A test-side connection with {@link TEST_QUEUE} bound on `cards.events` (declares the exchanges). */
export async function bindTestQueue (t: Teardownable, url: string): Promise<Amqp> {
  const amqp = createAmqp({
    url,
    logger: silentLogger,
    connectionName: 'webhook-ingest-test-reader',
    topology: { queues: [{ name: TEST_QUEUE, bindings: [{ exchange: 'cards.events', routingKey: 'webhook.#' }] }], retryDelaysMs: [] }
  })
  t.teardown(async () => { await amqp.close() })
  await amqp.declareTopology()
  return amqp
}

/** One message as read back from the broker. */
export interface ReadMessage {
  routingKey: string
  type: string | undefined
  messageId: string | undefined
  contentType: string | undefined
  headers: Record<string, unknown>
  body: unknown
}

/** Takes every message waiting in `queue` (acknowledging them). */
export async function drain (amqp: Amqp, queue = TEST_QUEUE): Promise<ReadMessage[]> {
  const out: ReadMessage[] = []
  for (;;) {
    const msg = await amqp.connection.basicGet({ queue, noAck: true })
    if (msg === undefined) return out
    out.push({
      routingKey: msg.routingKey,
      type: msg.type,
      messageId: msg.messageId,
      contentType: msg.contentType,
      headers: msg.headers ?? {},
      body: msg.body
    })
  }
}

export interface TestApp {
  app: FastifyInstance
  /** The vhost the app publishes into. */
  amqpUrl: string
  connections: Connections
  post: (payload: string | object, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
}

/**
 * The real app on the real broker (a vhost of this test's own unless `amqpUrl` names one), wired
 * as server.ts does (@jit/connections, RabbitMQ only), closed at teardown in the server's order.
 */
export async function build (t: Teardownable, options: {
  amqpUrl?: string
  /** Settings over the test ones (e.g. `WEBHOOK_PUBLISH_TIMEOUT_MS`, `WEBHOOK_BROKER_WAIT_MS`). */
  env?: Environment
  declareTopology?: boolean
} = {}): Promise<TestApp> {
  const url = options.amqpUrl ?? await createTestVhost(t, 'wi')
  const config = testConfig({ AMQP_URL: url, SHUTDOWN_TIMEOUT_MS: '5000', WEBHOOK_BROKER_WAIT_MS: '2000', ...options.env })
  const connections = createConnections({
    config,
    logger: silentLogger,
    name: 'webhook-ingest-test',
    use: { postgres: false, cache: false, archive: false },
    amqp: { acquireTimeoutMs: config.WEBHOOK_BROKER_WAIT_MS },
    declareTopology: options.declareTopology ?? true
  })
  // A failed start closes whatever it opened by itself.
  await connections.start()
  const app = buildApp({
    config,
    logger: silentLogger,
    publisher: connections.publisher,
    connections,
    registry: createMetricsRegistry({ service: 'webhook-ingest' })
  })
  // The server's order: the app (in-flight requests) first, then the publisher and connection.
  t.teardown(async () => {
    await app.close()
    await connections.close()
  })
  await app.ready()
  const post = async (payload: string | object, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> => {
    const request: InjectOptions = {
      method: 'POST',
      url: WEBHOOK_PATH,
      headers: { authorization: AUTH, 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
    }
    return await app.inject(request)
  }
  return { app, amqpUrl: url, connections, post }
}

/** Reads one counter or gauge value from the Prometheus text of /metrics. */
export function metricValue (text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const labelText = match[2] ?? ''
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(match[3])
  }
  return 0
}

export function vhostOf (amqpUrl: string): string {
  return decodeURIComponent(new URL(amqpUrl).pathname.slice(1))
}

/** Deletes a test vhost (the broker closes its connections and refuses new ones). */
export async function deleteVhost (vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'delete_vhost', vhost])
}

/** Re-creates a deleted test vhost with guest's permissions. */
export async function addVhost (vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost])
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'])
}

/** A transaction event shaped like the processor's (lenient: only what routing needs). */
export function transaction (token: string, type = 'authorization', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { token, type, state: 'PENDING', amount: 12.5, currency_code: 'USD', user_token: 'user-1', card_token: 'card-1', ...extra }
}
