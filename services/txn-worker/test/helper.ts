import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import type { Registry } from 'prom-client'
import { COMMANDS_EXCHANGE, EVENTS_EXCHANGE, createAmqp, type Amqp, type Publisher } from '@jit/amqp'
import { archiveMigrations, createPostgresArchive, type DocumentArchive } from '@jit/archive'
import {
  creditAccount, decideJitFunding, jitRequestFingerprint, ledgerMigrationSets, upsertCard, upsertUser,
  type JitDecisionRequest
} from '@jit/ledger'
import { createDatabase, runMigrations, type Database } from '@jit/postgres'
import { testWorkerConfig } from './fixtures/worker-config.js'
import { createMetricsRegistry } from '@jit/profiler'
import { simToken, transactionEvent, type WebhookSpec } from '@jit/processor-sim'
import { createCache, type Cache } from '@jit/redis'
import {
  createTestDatabase, createTestRedisPrefix, createTestVhost, fundedCards, jitRequests, sharedRedisUrl, type Teardownable
} from '@jit/test-support'
import { createWorker, createWorkerMetrics, txnWorkerMigrations, type TxnWorker, type TxnWorkerDeps, type WorkerMetrics } from '../src/index.js'

export const silentLogger = pino({ level: 'silent' })

/** Short retry delays: a failing message reaches `<queue>.dead` in well under a second. */
export const TEST_RETRY_DELAYS_MS = [100, 100, 100]

export { testWorkerConfig } from './fixtures/worker-config.js'

/** Everything a worker runs on, isolated for one test file. */
export interface TestEnv {
  databaseUrl: string
  amqpUrl: string
  redisPrefix: string
  db: Database
  cache: Cache
  amqp: Amqp
  publisher: Publisher
  archive: DocumentArchive
  registry: Registry
  metrics: WorkerMetrics
  /** Starts a worker on these clients (stopped at teardown). */
  startWorker: (over?: Partial<TxnWorkerDeps>) => TxnWorker
  /** Publishes a command on cards.commands. */
  sendCommand: (type: string, body: unknown, messageId?: string) => Promise<string>
  /** Publishes an event on cards.events. */
  sendEvent: (routingKey: string, body: unknown, messageId?: string) => Promise<string>
  /**
   * A queue of the test's own bound to `cards.events` with `patterns`, consumed into `seen`; the
   * optional hook runs before each message is recorded (to look at the world at that moment).
   */
  watchEvents: (patterns: string[], onMessage?: (e: SeenEvent) => Promise<void>) => Promise<{ seen: SeenEvent[] }>
}

/**
 * A migrated database, a vhost with the contract topology (short retry delays), a Redis key
 * prefix and an archive, all of this file's own, closed in order at teardown (clients first,
 * then the database and vhost are dropped).
 */
export async function build (t: Teardownable, opts: { poolMax?: number, statementTimeoutMs?: number } = {}): Promise<TestEnv> {
  const drops: Array<() => unknown> = []
  const collect: Teardownable = { teardown: fn => { drops.push(fn) } }
  const closers: Array<() => Promise<unknown>> = []
  t.teardown(async () => {
    for (const close of closers.reverse()) await close().catch(() => {})
    for (const drop of drops) await drop()
  })

  const databaseUrl = await createTestDatabase(collect, 'tw')
  const amqpUrl = await createTestVhost(collect, 'tw')
  const redisPrefix = createTestRedisPrefix(collect, 'tw')

  const db = createDatabase({ url: databaseUrl, poolMin: 0, poolMax: opts.poolMax ?? 4, statementTimeoutMs: opts.statementTimeoutMs ?? 20_000 })
  closers.push(async () => { await db.close(2) })
  await runMigrations(db.sql, [...ledgerMigrationSets, archiveMigrations, txnWorkerMigrations])

  const cache = createCache({ url: sharedRedisUrl, keyPrefix: redisPrefix, commandTimeoutMs: 1000 })
  closers.push(async () => { await cache.close() })
  await cache.connect()

  const amqp = createAmqp({ url: amqpUrl, logger: silentLogger, topology: { retryDelaysMs: TEST_RETRY_DELAYS_MS }, connectionName: 'txn-worker-test' })
  closers.push(async () => { await amqp.close() })
  await amqp.declareTopology()
  const publisher = amqp.createPublisher()

  const archive = createPostgresArchive({ sql: db.sql })
  const registry = createMetricsRegistry({ service: 'txn-worker' })
  const metrics = createWorkerMetrics(registry)

  const env: TestEnv = {
    databaseUrl,
    amqpUrl,
    redisPrefix,
    db,
    cache,
    amqp,
    publisher,
    archive,
    registry,
    metrics,
    startWorker (over = {}) {
      const worker = createWorker({
        config: testWorkerConfig,
        logger: silentLogger,
        db,
        cache,
        amqp,
        publisher,
        archive,
        metrics,
        ...over
      })
      // stopped before the clients close (closers run in reverse)
      closers.push(async () => { await worker.stop() })
      return worker
    },
    sendCommand: async (type, body, messageId = randomUUID()) =>
      await publisher.publish(type, body, { exchange: COMMANDS_EXCHANGE, messageId }),
    sendEvent: async (routingKey, body, messageId = randomUUID()) =>
      await publisher.publish(routingKey, body, { exchange: EVENTS_EXCHANGE, messageId }),
    async watchEvents (patterns, onMessage) {
      const queue = `test-watch-${randomUUID()}`
      // not exclusive: rabbitmq-client's consumer redeclares the queue on a channel of its own
      await amqp.connection.queueDeclare({ queue, durable: false })
      for (const routingKey of patterns) await amqp.connection.queueBind({ queue, exchange: EVENTS_EXCHANGE, routingKey })
      const seen: SeenEvent[] = []
      const consumer = amqp.connection.createConsumer({ queue, queueOptions: { durable: false }, qos: { prefetchCount: 10 } }, async msg => {
        const e: SeenEvent = {
          routingKey: msg.routingKey,
          messageId: msg.messageId,
          correlationId: msg.correlationId,
          body: msg.body as Record<string, unknown>
        }
        if (onMessage !== undefined) await onMessage(e)
        seen.push(e)
      })
      closers.push(async () => { await consumer.close() })
      return { seen }
    }
  }
  return env
}

/** A message this test saw on `cards.events`. */
export interface SeenEvent {
  routingKey: string
  messageId: string | undefined
  correlationId: string | undefined
  body: Record<string, unknown>
}

/** Answers of one command (correlation id = its message id). */
export function answersTo (seen: SeenEvent[], messageId: string): SeenEvent[] {
  return seen.filter(e => e.correlationId === messageId && e.routingKey.startsWith('command.'))
}

/** The value of one counter series of the registry (0 when absent). */
export async function counterValue (registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const data = await metric.get()
  let total = 0
  for (const v of data.values) {
    if (Object.entries(labels).every(([k, val]) => v.labels[k] === val)) total += v.value
  }
  return total
}

const jitRequest = jitRequests<JitDecisionRequest>(jitRequestFingerprint)

/**
 * Approves a JIT authorization of `amount` minor units for the user's card, as the
 * jit-authorizer would: a hold keyed by the returned JIT token.
 */
export async function authorize (db: Database, c: { user: string, card: string, account: string }, amount: number, over: Partial<JitDecisionRequest> = {}): Promise<{ jitToken: string, outcome: string }> {
  const request = jitRequest(c, amount, over)
  const [result] = await decideJitFunding(db.sql, [request])
  return { jitToken: request.jitToken, outcome: result?.outcome ?? 'none' }
}

/** An ACTIVE user with an ACTIVE card funded by the user's own account holding `balance` minor units. */
export const fundedCard = fundedCards({ upsertUser, upsertCard, creditAccount })

/** A token unique to this run. */
export const token = simToken

/** What a transaction webhook event is built from (amounts in minor units, USD): the simulator's. */
export type TxSpec = WebhookSpec

/** A transaction webhook event as the processor sends it (swagger transaction_model, major units). */
export function txEvent (c: { user: string, card: string }, spec: TxSpec): Record<string, unknown> {
  return transactionEvent(c, spec)
}

/** The routing key webhook-ingest publishes a transaction event under. */
export function txRoutingKey (event: Record<string, unknown>): string {
  return `webhook.transactions.${String(event.type)}`
}

/** Depth of a queue. */
export async function queueDepth (amqp: Amqp, queue: string): Promise<number> {
  return (await amqp.connection.queueDeclare({ queue, passive: true })).messageCount
}
