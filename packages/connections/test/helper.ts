import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { pino } from 'pino'
import postgres from 'postgres'
import { fileURLToPath } from 'node:url'
import { outboxMigrations } from '@jit/outbox'
import { CommonConfig, loadConfig, type CommonConfigT } from '@jit/config'
import { createConnections, type Connections, type ConnectionsOptions } from '../src/index.js'
import type { MigrationSet } from '@jit/postgres'
import { createTestDatabase, createTestRedisPrefix, createTestVhost, sharedRedisUrl, type Teardownable } from '@jit/test-support'

const run = promisify(execFile)

/** A silent logger: tests assert on behaviour, not log lines. */
export const logger = pino({ level: 'silent' })

/** What a service would pass as `migrations`: the outbox (the metrics read it) and a set of the tests' own. */
export const testMigrations: MigrationSet[] = [
  outboxMigrations,
  { name: 'connections-test', dir: fileURLToPath(new URL('./fixtures/migrations', import.meta.url)) }
]

/** Isolated URLs for one test: its own database, vhost and key prefix. */
export interface TestServers {
  databaseUrl: string
  amqpUrl: string
  redisPrefix: string
}

export async function testServers (t: Teardownable): Promise<TestServers> {
  const [databaseUrl, amqpUrl] = await Promise.all([createTestDatabase(t), createTestVhost(t)])
  return { databaseUrl, amqpUrl, redisPrefix: createTestRedisPrefix(t) }
}

/** CommonConfig as a service would load it, pointed at the test's servers, with small pools. */
export function testConfig (servers: TestServers, overrides: Record<string, string> = {}): CommonConfigT {
  return loadConfig(CommonConfig, {
    DATABASE_URL: servers.databaseUrl,
    DATABASE_POOL_MIN: '1',
    DATABASE_POOL_MAX: '4',
    REDIS_URL: sharedRedisUrl,
    REDIS_KEY_PREFIX: servers.redisPrefix,
    AMQP_URL: servers.amqpUrl,
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...overrides
  })
}

/** The vhost's queue names, read with rabbitmqctl (independent of the code under test). */
export async function listQueues (amqpUrl: string): Promise<string[]> {
  const vhost = decodeURIComponent(new URL(amqpUrl).pathname.slice(1))
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '-p', vhost, 'name', '--no-table-headers'])
  return stdout.split('\n').map(line => line.trim()).filter(line => line !== '').sort()
}

export async function listExchanges (amqpUrl: string): Promise<string[]> {
  const vhost = decodeURIComponent(new URL(amqpUrl).pathname.slice(1))
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_exchanges', '-p', vhost, 'name', '--no-table-headers'])
  return stdout.split('\n').map(line => line.trim()).filter(line => line !== '')
}

/** Runs `fn` on a short-lived connection of its own (not the pool under test). */
export async function withSql<T> (url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    return await fn(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** Connections of a test (the silent logger), closed at its teardown. */
export function connectionsFor (t: Teardownable, opts: Omit<ConnectionsOptions, 'logger'>): Connections {
  const connections = createConnections({ logger, ...opts })
  t.teardown(async () => { await connections.close() })
  return connections
}
