import t from 'tap'
import { sleep, waitFor } from '@jit/test-support'
import { batchingHandler, PermanentError, DEFAULT_QUEUES, type ConsumedMessage } from '../src/index.js'
import { ownQueue, testBroker } from './helpers.js'

const { amqp, publisher } = await testBroker(t, 'amqp-batcher-test', { retryDelaysMs: [100], queues: [...DEFAULT_QUEUES, ownQueue('batched', 'batched.#')] })

t.test('messages delivered together are handled in batches, each acknowledged after its batch, a poison one failing alone', async t => {
  const sizes: number[] = []
  const handled = new Map<number, number>()
  let running = 0
  let mostRunning = 0
  const handler = batchingHandler(async (msgs: ConsumedMessage[]) => {
    running++
    mostRunning = Math.max(mostRunning, running)
    sizes.push(msgs.length)
    await sleep(30) // a commit's worth of time: the next messages arrive meanwhile
    running--
    return msgs.map(m => {
      const n = (m.body as { n: number }).n
      if (n === 13) return new PermanentError('poison (test)')
      handled.set(n, (handled.get(n) ?? 0) + 1)
      return undefined
    })
  }, { maxBatch: 10 })
  const consumer = amqp.consume('batched', handler, { prefetch: 20, concurrency: 20 })
  t.teardown(() => consumer.close())
  for (let n = 0; n < 60; n++) await publisher.publish('batched.thing', { n })
  await waitFor(async () => consumer.stats().acked === 59 && consumer.stats().dead === 1, 15_000, 'all handled')
  t.equal(handled.size, 59, 'every good message handled')
  t.ok([...handled.values()].every(c => c === 1), 'each once')
  t.notOk(handled.has(13))
  t.ok(sizes.every(s => s >= 1 && s <= 10), `batches within maxBatch: ${sizes.join(',')}`)
  t.ok(sizes.some(s => s > 1), 'messages were batched')
  t.equal(mostRunning, 1, 'one batch in flight at a time')
  const dead = await amqp.connection.basicGet({ queue: 'batched.dead', noAck: true })
  t.same(dead?.body, { n: 13 }, 'the poison message alone was dead-lettered')
})

t.test('a batch that fails as a whole fails each of its messages (retried, not acknowledged)', async t => {
  let calls = 0
  const seen: number[] = []
  const handler = batchingHandler(async msgs => {
    calls++
    if (calls === 1) throw new Error('the whole batch failed (test)')
    for (const m of msgs) seen.push((m.body as { n: number }).n)
    return msgs.map(() => undefined)
  })
  const consumer = amqp.consume('batched', handler, { prefetch: 10, concurrency: 10 })
  t.teardown(() => consumer.close())
  for (let n = 0; n < 3; n++) await publisher.publish('batched.other', { n })
  await waitFor(async () => consumer.stats().acked === 3, 15_000, 'retried and acknowledged')
  t.ok(consumer.stats().retried >= 1, 'the failed batch went to the retry path')
  t.same([...new Set(seen)].sort(), [0, 1, 2])
})

t.test('bad options are refused', async t => {
  t.throws(() => batchingHandler(async m => m.map(() => undefined), { maxBatch: 0 }), TypeError)
  t.throws(() => batchingHandler(async m => m.map(() => undefined), { maxInFlight: 1.5 }), TypeError)
})
