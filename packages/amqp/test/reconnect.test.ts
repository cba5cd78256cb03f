import t from 'tap'
import { createTestVhost, sleep, waitFor } from '@jit/test-support'
import { createAmqp, EVENTS_EXCHANGE } from '../src/index.js'
import { closeVhostConnections, silentLogger, vhostOf } from './helpers.js'

// Drops the broker connections of this file's own vhost only; other files share the broker.
const url = await createTestVhost(t)

t.test('connection dropped mid-stream: every resolved send is delivered, rejected ones are reported', async t => {
  const amqp = createAmqp({
    url,
    logger: silentLogger,
    connectionName: 'amqp-reconnect-test',
    topology: { retryDelaysMs: [100], queues: [{ name: 'stream', bindings: [{ exchange: EVENTS_EXCHANGE, routingKey: 'stream.#' }] }] }
  })
  t.teardown(() => amqp.close())
  await amqp.declareTopology()

  const consumed = new Set<string>()
  let deliveries = 0
  const consumer = amqp.consume('stream', async msg => {
    deliveries++
    consumed.add(msg.messageId)
  }, { concurrency: 8 })

  const publisher = amqp.createPublisher()
  const attempted = new Set<string>()
  const resolved = new Set<string>()
  const rejected = new Set<string>()
  const state = { dropped: false }
  let resolvedAfterDrop = 0
  let seq = 0

  const drop = (async () => {
    await waitFor(() => resolved.size >= 300, 30_000, '300 confirmed before the drop')
    const closed = await closeVhostConnections(vhostOf(url))
    t.ok(closed >= 1, `closed ${closed} connection(s) of our vhost`)
    state.dropped = true
  })()

  // 16 senders publish back to back until the drop happened and 300 more were confirmed after it.
  const sender = async (): Promise<void> => {
    while ((!state.dropped || resolvedAfterDrop < 300) && seq < 50_000) {
      const id = `m-${seq++}`
      attempted.add(id)
      const afterDrop = state.dropped
      try {
        await publisher.publish('stream.item', { id }, { messageId: id })
        resolved.add(id)
        if (afterDrop) resolvedAfterDrop++
      } catch {
        rejected.add(id)
      }
    }
  }
  await Promise.all([drop, ...Array.from({ length: 16 }, sender)])

  t.equal(resolved.size + rejected.size, attempted.size, 'every send settled one way or the other')
  t.ok(resolvedAfterDrop >= 300, 'the publisher recovered after the drop')
  t.comment(`attempted ${attempted.size}, resolved ${resolved.size}, rejected ${rejected.size}`)

  await waitFor(() => [...resolved].every(id => consumed.has(id)), 60_000, 'every confirmed message consumed')
  // Let any stragglers (rejected sends that did reach the queue) arrive before the final checks.
  await sleep(500)
  const missing = [...resolved].filter(id => !consumed.has(id))
  t.same(missing, [], 'no confirmed message was lost')
  t.ok([...consumed].every(id => attempted.has(id)), 'nothing consumed that was not sent')
  t.ok(deliveries >= consumed.size)
  t.equal(await amqp.ping(), true, 'connected again')
  await consumer.close()
  const [stats] = await amqp.queueStats()
  t.equal(stats?.deadMessages, 0)
})
