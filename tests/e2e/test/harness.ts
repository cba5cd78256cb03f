import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { Connection } from 'rabbitmq-client'
import type { FastifyInstance } from 'fastify'
import { JitAuthorizerConfig, WebhookIngestConfig, TxnWorkerConfig, loadConfig } from '@jit/config'
import { createConnections, type Connections } from '@jit/connections'
import { createOutboxRelay } from '@jit/outbox'
import { checkLedgerInvariants, ledgerMigrationSets } from '@jit/ledger'
import { createMetricsRegistry } from '@jit/profiler'
import { basicAuthHeader } from '@jit/http-auth'
import { createTestDatabase, createTestVhost, createTestRedisPrefix, type Teardownable } from '@jit/test-support'
import { buildApp as buildAuthorizer } from '@jit/jit-authorizer'
import { buildApp as buildIngest } from '@jit/webhook-ingest'
import { buildApp as buildWorkerApp, createWorkerOn, createWorkerMetrics, txnWorkerMigrationSets, type TxnWorker } from '@jit/txn-worker'

const JIT_AUTH = basicAuthHeader('jit-e2e', 'E2e-Only-Passw0rd-For-Jit!')
const WEBHOOK_AUTH = basicAuthHeader('hooks-e2e', 'E2e-Only-Passw0rd-Hooks!')
const OPERATOR_AUTH = basicAuthHeader('ops-e2e', 'E2e-Only-Passw0rd-Ops!!')

/** The command answer (`command.applied` / `command.rejected`) of a command. */
export interface CommandAnswer { type: string, body: Record<string, unknown> }

export interface Stack {
  authorizer: FastifyInstance
  ingest: FastifyInstance
  operator: FastifyInstance
  worker: TxnWorker
  workerConnections: Connections
  /** POSTs a JIT funding request to the authorizer. */
  jit: (body: unknown) => Promise<{ status: number, body: any }>
  /** POSTs a webhook batch to webhook-ingest. */
  webhook: (body: unknown) => Promise<{ status: number, body: any }>
  /** Sends a command on cards.commands and waits for its answer. */
  command: (type: string, body: Record<string, unknown>, messageId?: string) => Promise<CommandAnswer>
  /** The worker's operator view of an account (HTTP), or null on 404. */
  account: (token: string) => Promise<{ balance_minor: number, available_minor: number, [k: string]: unknown } | null>
  /** Waits until the worker has consumed everything and nothing is parked. */
  settle: () => Promise<void>
  invariants: () => Promise<unknown[]>
}

/**
 * The three services in this process, as in production but for the listening sockets: each with
 * its own connections to this test file's database, vhost and key prefix, talking only through
 * RabbitMQ and PostgreSQL.
 */
export async function startStack (t: Teardownable): Promise<Stack> {
  const env = {
    DEPLOY_ENV: 'local',
    LOG_LEVEL: 'silent',
    DATABASE_URL: await createTestDatabase(t, 'e2e'),
    AMQP_URL: await createTestVhost(t, 'e2e'),
    REDIS_KEY_PREFIX: createTestRedisPrefix(t, 'e2e'),
    DATABASE_POOL_MIN: '1',
    DATABASE_POOL_MAX: '4',
    // A loaded 2-core CI machine can take more than the default 1.5 s budget: these tests assert
    // the money rules, not speed, so give decisions the most the configuration allows.
    JIT_DECISION_BUDGET_MS: '2700',
    JIT_DECISION_GRACE_MS: '300',
    OUTBOX_RELAY_INTERVAL_MS: '50',
    PARK_RETRY_INTERVAL_MS: '100',
    JIT_BASIC_AUTH: 'jit-e2e:E2e-Only-Passw0rd-For-Jit!',
    WEBHOOK_BASIC_AUTH: 'hooks-e2e:E2e-Only-Passw0rd-Hooks!',
    WEBHOOK_HMAC_SECRET: '',
    OPERATOR_BASIC_AUTH: 'ops-e2e:E2e-Only-Passw0rd-Ops!!'
  }
  const logger = pino({ level: process.env.E2E_LOG_LEVEL ?? 'silent' })
  // one topology for the vhost, with short retry delays for tests
  const amqp = { topology: { retryDelaysMs: [100, 200, 300] } }

  const authConfig = loadConfig(JitAuthorizerConfig, env)
  const ingestConfig = loadConfig(WebhookIngestConfig, env)
  const workerConfig = loadConfig(TxnWorkerConfig, env)

  const authConnections = createConnections({ config: authConfig, logger, name: 'jit-authorizer', use: { archive: false }, migrations: ledgerMigrationSets, amqp, postgres: { statementTimeoutMs: authConfig.JIT_DECISION_BUDGET_MS } })
  const ingestConnections = createConnections({ config: ingestConfig, logger, name: 'webhook-ingest', use: { postgres: false, cache: false, archive: false }, amqp })
  const workerConnections = createConnections({ config: workerConfig, logger, name: 'txn-worker', amqp, migrations: txnWorkerMigrationSets })
  await authConnections.start()
  await Promise.all([ingestConnections.start(), workerConnections.start()])

  const authRegistry = createMetricsRegistry({ service: 'jit-authorizer' })
  const authorizer = await buildAuthorizer({ config: authConfig, logger, db: authConnections.db, cache: authConnections.cache, registry: authRegistry, connections: authConnections })
  const relay = createOutboxRelay({ sql: authConnections.db.sql, publisher: authConnections.publisher, logger, intervalMs: 50, listenChannel: 'outbox' })
  relay.start()

  const ingest = buildIngest({ config: ingestConfig, logger, publisher: ingestConnections.publisher, connections: ingestConnections, registry: createMetricsRegistry({ service: 'webhook-ingest' }) })

  const workerRegistry = createMetricsRegistry({ service: 'txn-worker' })
  const worker = createWorkerOn(workerConnections, { config: workerConfig, logger, metrics: createWorkerMetrics(workerRegistry) })
  const operator = await buildWorkerApp({ config: workerConfig, logger, db: workerConnections.db, registry: workerRegistry, connections: workerConnections })

  // A listener of command answers, as an internal service would bind one.
  const listener = new Connection(env.AMQP_URL)
  const answers = new Map<string, CommandAnswer>()
  const waiting = new Map<string, (a: CommandAnswer) => void>()
  const answerQueue = `e2e-answers-${randomUUID()}`
  const consumer = listener.createConsumer({
    queue: answerQueue,
    queueOptions: { exclusive: true, autoDelete: true },
    queueBindings: [{ exchange: 'cards.events', routingKey: 'command.#' }]
  }, async (msg) => {
    const body = (typeof msg.body === 'object' && msg.body !== null ? msg.body : JSON.parse(String(msg.body))) as Record<string, unknown>
    const answer = { type: msg.routingKey, body }
    const id = String(msg.correlationId ?? body.correlation_id)
    answers.set(id, answer)
    waiting.get(id)?.(answer)
  })
  await new Promise<void>((resolve, reject) => {
    consumer.once('ready', () => resolve())
    consumer.once('error', reject)
  })
  const commandPublisher = listener.createPublisher({ confirm: true })

  t.teardown(async () => {
    await commandPublisher.close()
    await consumer.close()
    await listener.close()
    await worker.stop()
    await relay.stop()
    await Promise.all([authorizer.close(), ingest.close(), operator.close()])
    await Promise.all([authConnections.close(), ingestConnections.close(), workerConnections.close()])
  })

  const inject = async (app: FastifyInstance, url: string, auth: string, body: unknown): Promise<{ status: number, body: any }> => {
    const res = await app.inject({ method: 'POST', url, headers: { authorization: auth, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
    return { status: res.statusCode, body: res.body.length > 0 ? res.json() : null }
  }

  async function settle (): Promise<void> {
    const deadline = Date.now() + 20_000
    let quiet = 0
    while (Date.now() < deadline) {
      const stats = await workerConnections.amqp.queueStats()
      const busy = stats.some(s => s.messages > 0 || s.retryMessages > 0)
      const [row] = await workerConnections.db.sql<Array<{ parked: number, unsent: number }>>`
        select (select count(*) from parked_events) as parked, (select count(*) from outbox where published_at is null) as unsent`
      const idle = !busy && row?.parked === 0 && row.unsent === 0
      // queue depth excludes unacked messages in flight: require a few quiet polls in a row
      quiet = idle ? quiet + 1 : 0
      if (quiet >= 4) return
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error('the stack did not settle within 20 s')
  }

  return {
    authorizer,
    ingest,
    operator,
    worker,
    workerConnections,
    jit: async (body) => await inject(authorizer, '/v1/jit-funding', JIT_AUTH, body),
    webhook: async (body) => await inject(ingest, '/v1/webhooks/marqeta', WEBHOOK_AUTH, body),
    async command (type, body, messageId = randomUUID()) {
      const answered = answers.get(messageId)
      const promise = answered !== undefined
        ? Promise.resolve(answered)
        : new Promise<CommandAnswer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer to ${type} ${messageId} within 15 s`)), 15_000)
          waiting.set(messageId, (a) => { clearTimeout(timer); resolve(a) })
        })
      await commandPublisher.send({ exchange: 'cards.commands', routingKey: type, messageId, type, contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000), durable: true }, body)
      return await promise
    },
    async account (token) {
      const res = await operator.inject({ method: 'GET', url: `/v1/accounts/${encodeURIComponent(token)}`, headers: { authorization: OPERATOR_AUTH } })
      if (res.statusCode === 404) return null
      if (res.statusCode !== 200) throw new Error(`operator API answered ${res.statusCode}: ${res.body}`)
      return (res.json() as { account: { balance_minor: number, available_minor: number } }).account
    },
    settle,
    invariants: async () => await checkLedgerInvariants(workerConnections.db.sql)
  }
}
