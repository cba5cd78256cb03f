import { randomUUID } from 'node:crypto'
import { pino, type Logger } from 'pino'
import { Connection, type Publisher as RawPublisher } from 'rabbitmq-client'
import type { FastifyInstance } from 'fastify'
import { JitAuthorizerConfig, WebhookIngestConfig, TxnWorkerConfig, loadConfig } from '@jit/config'
import { createConnections, type Connections } from '@jit/connections'
import { checkLedgerInvariants, upsertUser, upsertCard, creditAccount } from '@jit/ledger'
import { createMetricsRegistry } from '@jit/profiler'
import { basicAuthHeader } from '@jit/http-auth'
import { createTestDatabase, createTestVhost, createTestRedisPrefix, type Teardownable } from '@jit/test-support'
import { buildApp as buildAuthorizer } from '@jit/jit-authorizer'
import { buildApp as buildIngest } from '@jit/webhook-ingest'
import { createWorkerOn, createWorkerMetrics, txnWorkerMigrationSets } from '@jit/txn-worker'
import { LogScanner, secretForms } from './log-scan.js'
import { TEST_PAN } from './hostile.js'

/** Credentials of the suite: strong, and no example placeholder, so production rules apply. */
export const SUITE_SECRETS = {
  JIT_BASIC_AUTH: 'processor-jit:Rl7-Jit-Suite-Passw0rd-q9!',
  WEBHOOK_BASIC_AUTH: 'processor-hooks:Rl7-Hook-Suite-Passw0rd-w4!',
  WEBHOOK_HMAC_SECRET: 'rl7-hmac-suite-secret-5c1f0a9e',
  OPERATOR_BASIC_AUTH: 'support-ops:Rl7-Ops-Suite-Passw0rd-e2!'
}

function headerOf (userPassword: string): string {
  const colon = userPassword.indexOf(':')
  return basicAuthHeader(userPassword.slice(0, colon), userPassword.slice(colon + 1))
}

export const JIT_AUTH = headerOf(SUITE_SECRETS.JIT_BASIC_AUTH)
export const WEBHOOK_AUTH = headerOf(SUITE_SECRETS.WEBHOOK_BASIC_AUTH)

/** Every form of every suite secret, for a {@link LogScanner}. */
export function suiteSecretForms (): string[] {
  return [
    ...secretForms(SUITE_SECRETS.JIT_BASIC_AUTH),
    ...secretForms(SUITE_SECRETS.WEBHOOK_BASIC_AUTH),
    ...secretForms(SUITE_SECRETS.OPERATOR_BASIC_AUTH),
    SUITE_SECRETS.WEBHOOK_HMAC_SECRET
  ]
}

export interface InProcessStack {
  authorizer: FastifyInstance
  ingest: FastifyInstance
  connections: Connections
  logs: LogScanner
  /** Raw AMQP access to the test vhost: odd messages, capture queues. */
  broker: Connection
  rawPublisher: RawPublisher
  /** Binds a fresh capture queue on cards.events and counts (and keeps a field of) what arrives. */
  capture: (routingKey: string, keep: (body: unknown) => string | undefined) => Promise<{ count: () => number, kept: Set<string> }>
  /** A user with an ACTIVE card and a funded account (minor units, USD). */
  fundedCard: (user: string, card: string, balance: number) => Promise<void>
  invariants: () => Promise<unknown[]>
}

/**
 * The three services' apps in this process (the authorizer and webhook-ingest are injected into,
 * the worker consumes), on this file's own database, vhost and key prefix. Logs go at info level
 * to a scanner that keeps only findings (a secret, a sent signature or a card number).
 */
export async function startInProcessStack (t: Teardownable, env: Record<string, string> = {}): Promise<InProcessStack> {
  const logs = new LogScanner(suiteSecretForms(), [TEST_PAN])
  const logger: Logger = pino({ level: 'info' }, logs.stream('in-process'))
  const base = {
    DEPLOY_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: await createTestDatabase(t, 'rel'),
    AMQP_URL: await createTestVhost(t, 'rel'),
    REDIS_KEY_PREFIX: createTestRedisPrefix(t, 'rel'),
    DATABASE_POOL_MIN: '1',
    DATABASE_POOL_MAX: '6',
    OUTBOX_RELAY_INTERVAL_MS: '50',
    ...SUITE_SECRETS,
    ...env
  }
  const amqp = { topology: { retryDelaysMs: [100, 200, 300] } }
  const authConfig = loadConfig(JitAuthorizerConfig, base)
  const ingestConfig = loadConfig(WebhookIngestConfig, base)
  const workerConfig = loadConfig(TxnWorkerConfig, base)

  // One set of connections serves the three apps here: what is under test is their input handling.
  const connections = createConnections({ config: workerConfig, logger, name: 'reliability', amqp, migrations: txnWorkerMigrationSets, postgres: { statementTimeoutMs: authConfig.JIT_DECISION_BUDGET_MS * 2 } })
  await connections.start()
  const authorizer = await buildAuthorizer({ config: authConfig, logger, db: connections.db, cache: connections.cache, registry: createMetricsRegistry({ service: 'jit-authorizer' }) })
  const ingest = buildIngest({ config: ingestConfig, logger, publisher: connections.publisher, registry: createMetricsRegistry({ service: 'webhook-ingest' }) })
  const worker = createWorkerOn(connections, { config: workerConfig, logger, metrics: createWorkerMetrics(createMetricsRegistry({ service: 'txn-worker' })) })

  const broker = new Connection(base.AMQP_URL)
  const rawPublisher = broker.createPublisher({ confirm: true })
  const consumers: Array<{ close: () => Promise<void> }> = []

  t.teardown(async () => {
    await rawPublisher.close()
    for (const c of consumers) await c.close()
    await broker.close()
    await worker.stop()
    await Promise.all([authorizer.close(), ingest.close()])
    await connections.close()
  })

  return {
    authorizer,
    ingest,
    connections,
    logs,
    broker,
    rawPublisher,
    async capture (routingKey, keep) {
      let count = 0
      const kept = new Set<string>()
      const consumer = broker.createConsumer({
        queue: `rel-capture-${randomUUID()}`,
        queueOptions: { exclusive: true, autoDelete: true },
        queueBindings: [{ exchange: 'cards.events', routingKey }]
      }, async (msg) => {
        count++
        const value = keep(msg.body)
        if (value !== undefined) kept.add(value)
      })
      await new Promise<void>((resolve, reject) => { consumer.once('ready', () => resolve()); consumer.once('error', reject) })
      consumers.push(consumer)
      return { count: () => count, kept }
    },
    async fundedCard (user, card, balance) {
      await upsertUser(connections.db.sql, { user_token: user, status: 'ACTIVE' })
      await upsertCard(connections.db.sql, { card_token: card, user_token: user, status: 'ACTIVE', expiration: '2099-12' })
      await creditAccount(connections.db.sql, { accountToken: user, currency: 'USD', amount: balance, effectKind: 'test.load', effectKey: `${user}-load` })
    },
    invariants: async () => await checkLedgerInvariants(connections.db.sql)
  }
}
