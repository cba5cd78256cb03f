import t from 'tap'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { opsRoutes } from '../src/index.js'
import { connectionsFor, logger, testConfig, testMigrations, testServers } from './helper.js'

t.test('opsRoutes serves health, readiness and metrics from the connections', async t => {
  const servers = await testServers(t)
  const connections = connectionsFor(t, { config: testConfig(servers), name: 'plugin-test', migrations: testMigrations })
  const registry = new Registry()
  let accepting = true
  const app = Fastify({ loggerInstance: logger })
  t.teardown(async () => { await app.close() })
  await connections.start()
  await app.register(opsRoutes, { connections, registry, service: 'plugin-test', ready: () => accepting })
  await app.ready()
  t.equal(await connections.db.query('through-app', async sql => (await sql<Array<{ one: number }>>`select 1 as one`)[0]?.one), 1, 'started')

  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok', service: 'plugin-test' })

  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200)
  const body = ready.json()
  t.equal(body.ok, true)
  t.equal(body.status, 'ready')
  t.equal(body.dependencies.postgres.up, true)
  t.equal(body.dependencies.postgres.detail.pool.max, 4, 'pool stats survive the response schema')
  t.type(body.dependencies.rabbitmq.latencyMs, 'number')
  t.equal(body.dependencies.redis.required, false)

  accepting = false
  const shedding = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(shedding.statusCode, 503, '503 while ready() is false')
  t.equal(shedding.json().ok, false)
  t.match(shedding.json().reasons, [/overloaded/])
  accepting = true

  await connections.cache.getOrLoad('user', 'u1', async () => ({ id: 'u1' }))
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(metrics.body, /^jit_db_pool_max_connections 4$/m, 'pool capacity')
  t.match(metrics.body, /^jit_db_pool_connections\{state="in_use"\} \d+$/m, 'pool usage, apart from capacity')
  t.match(metrics.body, /^jit_db_pool_waiting_calls 0$/m)
  t.match(metrics.body, /^jit_dependency_up\{dependency="postgres",required="true"\} 1$/m, 'dependency up gauge')
  t.match(metrics.body, /^jit_dependency_up\{dependency="redis",required="false"\} 1$/m)
  t.match(metrics.body, /^jit_dependency_probe_duration_seconds\{dependency="postgres"\} 0\.\d+/m, 'probe time in seconds')
  t.match(metrics.body, /^jit_outbox_pending_messages \d+$/m, 'outbox backlog')
  t.match(metrics.body, /^jit_outbox_oldest_pending_age_seconds [\d.e-]+$/m)
  t.notMatch(metrics.body, /hit_rate|utilisation|_ms[{ ]/, 'no ratio since start, no milliseconds')
  t.match(metrics.body, /^jit_cache_misses_total 1$/m, 'the miss above is counted')
  t.match(metrics.body, /^jit_db_queries_total [1-9]/m, 'the query above is counted')
  t.match(metrics.body, /^jit_amqp_queue_messages\{queue="webhooks",state="dead"\} 0$/m, 'queue depth gauge')
  t.notMatch(metrics.body, /^"/, 'the text is not JSON-encoded')

  // SIGTERM: drain() turns /ready to 503 at once while everything keeps serving.
  const drained = connections.drain(300)
  t.equal(connections.draining, true)
  const draining = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(draining.statusCode, 503, '/ready is 503 while draining')
  t.match(draining.json().reasons, [/draining/])
  t.equal(await connections.db.query('while-draining', async sql => (await sql<Array<{ one: number }>>`select 1 as one`)[0]?.one), 1, 'and the service still works')
  await drained

  // A required dependency going away makes the service unready.
  await connections.close()
  const closed = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(closed.statusCode, 503)
  t.match(closed.json().reasons, [/postgres down: closed/])
})

t.test('opsRoutes without connections: liveness, readiness from ready() only, metrics', async t => {
  const registry = new Registry()
  const app = Fastify({ loggerInstance: logger })
  t.teardown(async () => { await app.close() })
  let accepting = true
  await app.register(opsRoutes, { registry, service: 'bare', ready: () => accepting })
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', ok: true, service: 'bare', dependencies: {} })
  accepting = false
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 503)
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.notMatch(metrics.body, /jit_db_pool/, 'no connection metrics without connections')
})
