import { performance } from 'node:perf_hooks'
import t from 'tap'
import { createConnections } from '../src/index.js'
import { connectionsFor, logger, testConfig, testServers } from './helper.js'

t.test('close() runs intake hooks, then drain hooks, then closes every connection', async t => {
  const servers = await testServers(t)
  const connections = connectionsFor(t, { config: testConfig(servers), name: 'close-order' })
  await connections.start()
  const { db, cache, amqp, publisher } = connections

  const events: string[] = []
  connections.onShutdown('drain', async () => {
    events.push('drain:start')
    // Publishers are still open while draining: that is the point of the stage.
    await publisher.publish('jit.decision.approved', { token: 'during-drain' })
    events.push('drain:published')
  })
  connections.onShutdown('intake', async () => {
    events.push('intake-a:start')
    await new Promise(resolve => setTimeout(resolve, 100))
    await db.query('during-intake', async sql => await sql`select 1`)
    events.push('intake-a:end')
  })
  connections.onShutdown('intake', async () => {
    events.push('intake-b:start')
    events.push('intake-b:end')
  })

  const closing = connections.close()
  t.equal(connections.close(), closing, 'close() is idempotent: the same promise')
  await closing

  t.same(events, ['intake-a:start', 'intake-b:start', 'intake-b:end', 'intake-a:end', 'drain:start', 'drain:published'],
    'every intake hook finished before any drain hook started')
  await t.rejects(db.query('after-close', async sql => await sql`select 1`), 'the pool is closed')
  await t.rejects(publisher.publish('jit.decision.approved', { token: 'late' }), 'the publisher is closed')
  t.equal(amqp.connection.ready, false, 'the AMQP connection is closed')
  t.equal(cache.stats().connected, false, 'the cache is closed')
  const report = await connections.health()
  t.equal(report.ok, false, 'closed connections are not ready')
  t.equal(report.dependencies.postgres?.error, 'closed')
  await t.rejects(connections.start(), /closed/, 'start() after close() rejects')

  let lateHookRan = false
  connections.onShutdown('intake', async () => { lateHookRan = true })
  await connections.close()
  t.equal(lateHookRan, false, 'a hook registered after close() never runs')
})

t.test('a failing or hanging hook does not stop later steps; the whole close is bounded', async t => {
  const servers = await testServers(t)
  const connections = connectionsFor(t, {
    config: testConfig(servers, { SHUTDOWN_TIMEOUT_MS: '1000' }),
    name: 'close-faults',
    use: { cache: false }
  })
  await connections.start()
  let otherIntakeRan = false
  connections.onShutdown('intake', async () => { throw new Error('consumer refused to stop') })
  connections.onShutdown('intake', async () => { otherIntakeRan = true })
  connections.onShutdown('drain', async () => { await new Promise(() => {}) }) // never settles

  const started = performance.now()
  await connections.close()
  const elapsed = performance.now() - started
  t.ok(otherIntakeRan, 'the other intake hook ran despite the failure')
  t.ok(elapsed < 5000, `close() finished in ${Math.round(elapsed)} ms despite a hanging hook`)
  await t.rejects(connections.db.query('after-close', async sql => await sql`select 1`), 'the pool was still closed')
  t.equal(connections.amqp.connection.ready, false, 'the AMQP connection was still closed')
})

t.test('close() without start() runs hooks and closes the unopened clients', async t => {
  const servers = await testServers(t)
  const connections = createConnections({ config: testConfig(servers), logger, name: 'close-unstarted' })
  let ran = false
  connections.onShutdown('drain', async () => { ran = true })
  await connections.close()
  t.equal(ran, true)
  t.throws(() => connections.onShutdown('later' as 'intake', async () => {}), /unknown shutdown stage/)
})
