import t from 'tap'
import { startPrivateRedis, waitFor, type PrivateRedis, type Teardownable } from '@jit/test-support'
import type { Connections } from '../src/index.js'
import { connectionsFor, testConfig, testServers } from './helper.js'

/**
 * Started connections (no AMQP) on a Redis of this test's own, which the test can stop and start;
 * `down`: that Redis is stopped before the connections start.
 */
async function startOnPrivateRedis (t: Teardownable, name: string, { down }: { down: boolean }): Promise<{ redis: PrivateRedis, connections: Connections }> {
  const servers = await testServers(t)
  const redis = await startPrivateRedis(t)
  if (down) await redis.stop()
  const connections = connectionsFor(t, { config: testConfig(servers, { REDIS_URL: redis.url }), name, use: { amqp: false } })
  await connections.start()
  return { redis, connections }
}

t.test('with Redis stopped, health stays ok and reports the cache down; it comes back by itself', async t => {
  const { redis, connections } = await startOnPrivateRedis(t, 'cache-down', { down: false })

  const up = await connections.health()
  t.equal(up.dependencies.redis?.up, true, 'redis up at first')
  t.type(up.dependencies.redis?.latencyMs, 'number')

  await redis.stop()
  await waitFor(async () => (await connections.health()).dependencies.redis?.up === false, 15_000, 'the cache to be reported down')
  const down = await connections.health()
  t.equal(down.ok, true, 'a dead cache does not make the service unready')
  t.equal(down.dependencies.redis?.up, false)
  t.equal(down.dependencies.redis?.latencyMs, null)
  t.equal(down.dependencies.redis?.required, false)
  t.type(down.dependencies.redis?.error, 'string')
  t.equal(down.dependencies.redis?.detail?.connected, false)
  t.equal(down.dependencies.postgres?.up, true, 'PostgreSQL still up')
  const value = await connections.cache.getOrLoad('user', 'u1', async () => ({ from: 'loader' }))
  t.same(value, { from: 'loader' }, 'reads fall through to the loader')

  await redis.start()
  await waitFor(async () => (await connections.health()).dependencies.redis?.up === true, 15_000, 'the cache to reconnect')
  t.pass('the cache reconnected without a restart')
})

t.test('start() succeeds while Redis is down', async t => {
  const { connections } = await startOnPrivateRedis(t, 'cache-down-at-start', { down: true })
  const report = await connections.health()
  t.equal(report.ok, true)
  t.equal(report.dependencies.redis?.up, false)
  t.equal(report.dependencies.archive?.up, true)
})
