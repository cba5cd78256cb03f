import t from 'tap'
import { freePort } from '@jit/test-support'
import { ConnectionsStartError, createConnections } from '../src/index.js'
import { connectionsFor, listExchanges, listQueues, logger, testConfig, testMigrations, testServers, withSql } from './helper.js'

const SEED_QUEUES = ['commands', 'jit-funding', 'transactions', 'webhooks']

t.test('start() migrates a fresh database, declares the topology and reports every dependency up', async t => {
  const servers = await testServers(t)
  const connections = connectionsFor(t, { config: testConfig(servers), name: 'connections-test', migrations: testMigrations })

  const before = await connections.health()
  t.equal(before.ok, false, 'not ok before start')
  t.equal(before.dependencies.postgres?.error, 'not started')
  t.throws(() => connections.amqp, /start\(\)/, 'no AMQP handle before start')
  t.throws(() => connections.publisher, /start\(\)/, 'no publisher before start')

  await connections.start()
  await connections.start() // a second call is the same start, not a second one

  const tables = await withSql(servers.databaseUrl, async sql => await sql<Array<{ outbox: string | null, archive: string | null, items: string | null, accounts: string | null }>>`
    select to_regclass('outbox')::text as outbox, to_regclass('archive_documents')::text as archive,
           to_regclass('connections_test_items')::text as items, to_regclass('accounts')::text as accounts`)
  t.same(tables[0], { outbox: 'outbox', archive: 'archive_documents', items: 'connections_test_items', accounts: null },
    'the sets the process passed and the archive it uses exist; no other package\'s tables')
  const sets = await withSql(servers.databaseUrl, async sql => await sql<Array<{ set_name: string }>>`select distinct set_name from schema_migrations order by set_name`)
  t.same(sets.map(r => r.set_name), ['archive', 'connections-test', 'outbox'])

  const queues = await listQueues(servers.amqpUrl)
  for (const q of SEED_QUEUES) {
    t.ok(queues.includes(q), `queue ${q} declared`)
    t.ok(queues.includes(`${q}.dead`), `queue ${q}.dead declared`)
  }
  const exchanges = await listExchanges(servers.amqpUrl)
  t.ok(exchanges.includes('cards.events') && exchanges.includes('cards.commands') && exchanges.includes('cards.dlx'), 'exchanges declared')

  const messageId = await connections.publisher.publish('jit.decision.approved', { token: 't1' })
  t.type(messageId, 'string', 'the publisher is confirmed-ready after start')

  const stored = await connections.archive.store({ token: 'doc-1', kind: 'decision', occurred_at: new Date(), body: { a: 1 } })
  t.equal(stored.inserted, true, 'the PostgreSQL archive works after start')

  const report = await connections.health()
  t.equal(report.ok, true)
  t.same(Object.keys(report.dependencies).sort(), ['archive', 'postgres', 'rabbitmq', 'redis'])
  for (const [name, h] of Object.entries(report.dependencies)) {
    t.equal(h.up, true, `${name} up`)
    t.ok(typeof h.latencyMs === 'number' && h.latencyMs >= 0, `${name} latency measured`)
  }
  const pool = report.dependencies.postgres?.detail?.pool as { max: number, min: number, open: number }
  t.equal(pool.max, 4, 'pool stats reported')
  t.equal(pool.min, 1)
  t.ok(pool.open >= 1, 'pool connections open')
  t.equal(report.dependencies.redis?.required, false, 'the cache is not required')
  t.equal(report.dependencies.redis?.detail?.connected, true)
  t.equal(report.dependencies.archive?.detail?.backend, 'postgres')
  const depths = report.dependencies.rabbitmq?.detail?.queues as Array<{ queue: string, messages: number }>
  t.same(depths.map(q => q.queue).sort(), SEED_QUEUES, 'queue stats reported')
  t.equal(depths.find(q => q.queue === 'jit-funding')?.messages, 1, 'the message published above is counted')

  const apps = await withSql(servers.databaseUrl, async sql => await sql<Array<{ n: number }>>`
    select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'connections-test'`)
  t.ok((apps[0]?.n ?? 0) >= 1, 'application_name is the service name')
})

t.test('two processes starting at once on the same fresh database both succeed', async t => {
  const servers = await testServers(t)
  const config = testConfig(servers)
  const a = createConnections({ config, logger, name: 'start-a', use: { cache: false }, migrations: testMigrations })
  const b = createConnections({ config, logger, name: 'start-b', use: { cache: false }, migrations: testMigrations })
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  await Promise.all([a.start(), b.start()])
  const rows = await withSql(servers.databaseUrl, async sql => await sql<Array<{ n: number, distinct_n: number }>>`
    select count(*)::int as n, count(distinct (set_name, version))::int as distinct_n from schema_migrations`)
  t.ok((rows[0]?.n ?? 0) >= 4, 'migrations recorded')
  t.equal(rows[0]?.n, rows[0]?.distinct_n, 'each migration applied once')
  t.equal((await a.health()).ok, true)
  t.equal((await b.health()).ok, true)
})

t.test('an unreachable RabbitMQ fails start() with an error naming it, and closes what was opened', async t => {
  const servers = await testServers(t)
  const port = await freePort()
  const config = testConfig(servers, { AMQP_URL: `amqp://guest:secret@127.0.0.1:${port}/` })
  const connections = connectionsFor(t, { config, name: 'no-rabbit', connectTimeoutMs: 1000 })
  const err = await connections.start().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ConnectionsStartError, 'a ConnectionsStartError')
  const startError = err as ConnectionsStartError
  t.equal(startError.dependency, 'rabbitmq')
  t.match(startError.message, /RabbitMQ/)
  t.match(startError.message, new RegExp(`127\\.0\\.0\\.1:${port}`), 'names the URL')
  t.notMatch(startError.message, /secret/, 'never the password')
  t.same(startError.failures.map(f => f.dependency), ['rabbitmq'], 'PostgreSQL and the archive started fine')
  await t.rejects(connections.db.query('after', async sql => await sql`select 1`), 'the pool was closed after the failed start')
  await t.rejects(connections.start(), ConnectionsStartError, 'start() again gives the same failure')
})

t.test('an unreachable PostgreSQL fails start() naming PostgreSQL only', async t => {
  const port = await freePort()
  const servers = { databaseUrl: `postgres://postgres@127.0.0.1:${port}/nothing`, amqpUrl: 'amqp://guest:guest@127.0.0.1:5672', redisPrefix: 'unused:' }
  const config = testConfig(servers, { DATABASE_CONNECT_TIMEOUT_MS: '1000' })
  const connections = connectionsFor(t, { config, name: 'no-postgres', use: { amqp: false, cache: false } })
  const err = await connections.start().then(() => undefined, (e: unknown) => e) as ConnectionsStartError
  t.ok(err instanceof ConnectionsStartError)
  t.equal(err.dependency, 'postgres')
  t.match(err.message, /PostgreSQL/)
  t.same(err.failures.map(f => f.dependency), ['postgres'], 'the archive waiting on PostgreSQL is not reported twice')
})

t.test('an unreachable MongoDB fails start() naming MongoDB', async t => {
  const servers = await testServers(t)
  const port = await freePort()
  const config = testConfig(servers, { MONGO_URL: `mongodb://127.0.0.1:${port}/archive`, MONGO_POOL_MIN: '0', MONGO_POOL_MAX: '2' })
  const connections = connectionsFor(t, { config, name: 'no-mongo', use: { amqp: false, cache: false }, connectTimeoutMs: 1000 })
  const err = await connections.start().then(() => undefined, (e: unknown) => e) as ConnectionsStartError
  t.ok(err instanceof ConnectionsStartError)
  t.equal(err.dependency, 'archive')
  t.match(err.message, /MongoDB/)
})

t.test('a process without PostgreSQL (webhook-ingest) uses RabbitMQ only', async t => {
  const servers = await testServers(t)
  const connections = connectionsFor(t, {
    config: testConfig(servers, { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/never' }),
    name: 'ingest-like',
    use: { postgres: false, cache: false }
  })
  t.same(connections.uses, { postgres: false, cache: false, amqp: true, archive: false })
  t.throws(() => connections.db, /PostgreSQL is not used.*use\.postgres/)
  t.throws(() => connections.cache, /use\.cache/)
  t.throws(() => connections.archive, /use\.archive/)
  await connections.start()
  await connections.publisher.publish('webhook.transactions.authorization', { token: 'w1' })
  const report = await connections.health()
  t.equal(report.ok, true)
  t.same(Object.keys(report.dependencies), ['rabbitmq'])
})

t.test('use.archive without PostgreSQL or MONGO_URL is a configuration error', async t => {
  const servers = { databaseUrl: 'postgres://postgres@127.0.0.1:5432/x', amqpUrl: 'amqp://guest:guest@127.0.0.1:5672', redisPrefix: 'x:' }
  t.throws(() => createConnections({ config: testConfig(servers), logger, name: 'bad', use: { postgres: false, archive: true } }), /use\.archive needs PostgreSQL or MONGO_URL/)
})

t.test('queue depths are re-read after AMQP_QUEUE_STATS_CACHE_MS', async t => {
  const servers = await testServers(t)
  const depth = async (connections: ReturnType<typeof connectionsFor>): Promise<number | undefined> => {
    const queues = (await connections.health()).dependencies.rabbitmq?.detail?.queues as Array<{ queue: string, messages: number }>
    return queues.find(q => q.queue === 'jit-funding')?.messages
  }
  const fresh = connectionsFor(t, { config: testConfig(servers, { AMQP_QUEUE_STATS_CACHE_MS: '0' }), name: 'stats-fresh', use: { cache: false }, migrations: testMigrations })
  await fresh.start()
  const before = await depth(fresh)
  await fresh.publisher.publish('jit.decision.approved', { token: 'stats-1' })
  t.equal(await depth(fresh), (before ?? 0) + 1, '0: every probe reads the broker')

  const cached = connectionsFor(t, { config: testConfig(servers), name: 'stats-cached', use: { cache: false }, migrations: testMigrations })
  await cached.start()
  const first = await depth(cached)
  await cached.publisher.publish('jit.decision.approved', { token: 'stats-2' })
  t.equal(await depth(cached), first, 'the default (5 s): the reading is reused')
})
