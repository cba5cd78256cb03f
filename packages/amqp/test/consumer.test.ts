import t from 'tap'
import { alwaysFailing, sleep, waitFor } from '@jit/test-support'
import { PermanentError, DEFAULT_QUEUES, EVENTS_EXCHANGE, type ConsumedMessage } from '../src/index.js'
import { ownQueue, testBroker } from './helpers.js'

const delays = [100, 300, 600]
const { amqp, publisher } = await testBroker(t, 'amqp-consumer-test', {
  retryDelaysMs: delays,
  queues: [
    ...DEFAULT_QUEUES,
    ...[['probe', 'probe.#'], ['flaky-a', 'flaky.#'], ['flaky-b', 'flaky.#'], ['perm', 'perm.#'], ['recover', 'recover.#'], ['conc', 'conc.#'], ['raw', 'raw.#']]
      .map(([name, key]) => ownQueue(name as string, key as string))
  ]
})

async function deadCount (queue: string): Promise<number> {
  return (await amqp.connection.queueDeclare({ queue: `${queue}.dead`, passive: true })).messageCount
}

t.test('a published message carries the contract properties', async t => {
  const id = await publisher.publish('probe.thing.happened', { amount: 1250, note: 'é' }, { correlationId: 'cmd-1', headers: { 'x-extra': 'yes' } })
  const msg = await amqp.connection.basicGet({ queue: 'probe', noAck: true })
  t.ok(msg)
  if (msg === undefined) return
  t.equal(msg.contentType, 'application/json')
  t.equal(msg.messageId, id)
  t.match(id, /^[0-9a-f-]{36}$/)
  t.equal(msg.type, 'probe.thing.happened')
  t.equal(msg.routingKey, 'probe.thing.happened')
  t.equal(msg.correlationId, 'cmd-1')
  t.equal(msg.durable, true)
  t.ok(typeof msg.timestamp === 'number' && Math.abs(msg.timestamp * 1000 - Date.now()) < 60_000)
  t.same(msg.body, { amount: 1250, note: 'é' })
  t.equal(msg.headers?.['x-extra'], 'yes')

  const given = await publisher.publish('probe.again', [1, 2], { messageId: 'my-own-id' })
  t.equal(given, 'my-own-id')
  const again = await amqp.connection.basicGet({ queue: 'probe', noAck: true })
  t.equal(again?.messageId, 'my-own-id')
  t.equal(again?.correlationId, undefined)
})

t.test('publish with confirms, then consume', async t => {
  const received: ConsumedMessage[] = []
  const consumer = amqp.consume('probe', async msg => { received.push(msg) })
  const ids: string[] = []
  for (let i = 0; i < 20; i++) ids.push(await publisher.publish(`probe.n.${i}`, { i }, { correlationId: `c${i}` }))
  await waitFor(() => received.length === 20, 10_000, '20 messages')
  t.same(received.map(m => m.messageId).sort(), [...ids].sort())
  const first = received.find(m => m.messageId === ids[0])
  t.equal(first?.routingKey, 'probe.n.0')
  t.same(first?.body, { i: 0 })
  t.equal(first?.correlationId, 'c0')
  t.equal(first?.retryCount, 0)
  t.equal(first?.redelivered, false)
  t.type(first?.publishedAt, 'number')
  t.equal(consumer.stats().acked, 20)
  await consumer.close()
  const probe = (await amqp.queueStats()).find(s => s.queue === 'probe')
  t.same(probe, { queue: 'probe', messages: 0, consumers: 0, retryMessages: 0, deadMessages: 0 })
})

t.test('a handler that always fails: 3 retries with growing delays, then its dead queue; no fan-out', async t => {
  const deliveries: Array<{ at: number, msg: ConsumedMessage }> = []
  const seenByB: ConsumedMessage[] = []
  const a = amqp.consume('flaky-a', async msg => {
    deliveries.push({ at: Date.now(), msg })
    throw new Error('downstream unavailable')
  })
  const b = amqp.consume('flaky-b', async msg => { seenByB.push(msg) })
  const id = await publisher.publish('flaky.event.x', { n: 1 }, { correlationId: 'corr-9' })
  await waitFor(async () => (await deadCount('flaky-a')) === 1, 15_000, 'dead letter')
  // Give a misrouted retry time to show up at the second queue (the longest delay is 600 ms).
  await sleep(1000)
  t.equal(deliveries.length, 4, 'first delivery and exactly 3 retries')
  t.same(deliveries.map(d => d.msg.retryCount), [0, 1, 2, 3])
  t.same(deliveries.map(d => d.msg.routingKey), Array(4).fill('flaky.event.x'), 'original routing key kept')
  t.ok(deliveries.every(d => d.msg.messageId === id && d.msg.correlationId === 'corr-9'))
  for (let i = 1; i < 4; i++) {
    const gap = (deliveries[i]?.at ?? 0) - (deliveries[i - 1]?.at ?? 0)
    t.ok(gap >= (delays[i - 1] ?? 0) - 20, `retry ${i} waited its delay (${gap} ms)`)
  }
  t.equal(seenByB.length, 1, 'the other subscriber saw it exactly once')
  t.same(a.stats(), { acked: 0, retried: 3, dead: 1, requeued: 0, transient: 0 })

  const dead = await amqp.connection.basicGet({ queue: 'flaky-a.dead', noAck: true })
  t.equal(dead?.messageId, id)
  t.same(dead?.body, { n: 1 })
  t.equal(dead?.type, 'flaky.event.x')
  t.equal(dead?.correlationId, 'corr-9')
  t.equal(dead?.contentType, 'application/json')
  t.match(dead?.headers?.['x-failure-reason'], /downstream unavailable/)
  t.equal(dead?.headers?.['x-retry-count'], 3)
  t.equal(dead?.headers?.['x-original-routing-key'], 'flaky.event.x')
  t.equal(dead?.headers?.['x-original-queue'], 'flaky-a')
  t.ok(!Number.isNaN(Date.parse(String(dead?.headers?.['x-first-failed-at']))))
  t.equal(dead?.headers?.['x-death'], undefined, 'broker bookkeeping headers are not copied')
  await a.close()
  await b.close()
})

t.test('PermanentError goes straight to the dead queue with the reason', async t => {
  const { handler, calls } = alwaysFailing(() => new PermanentError('unknown card token'))
  const c = amqp.consume('perm', handler)
  const id = await publisher.publish('perm.x', { card: 'nope' })
  await waitFor(async () => (await deadCount('perm')) === 1, 10_000, 'dead letter')
  await sleep(300)
  t.equal(calls(), 1)
  const dead = await amqp.connection.basicGet({ queue: 'perm.dead', noAck: true })
  t.equal(dead?.messageId, id)
  t.match(dead?.headers?.['x-failure-reason'], /PermanentError: unknown card token/)
  t.equal(dead?.headers?.['x-retry-count'], undefined, 'never retried')
  t.same(c.stats(), { acked: 0, retried: 0, dead: 1, requeued: 0, transient: 0 })
  const perm = (await amqp.queueStats()).find(s => s.queue === 'perm')
  t.equal(perm?.retryMessages, 0)
  await c.close()
})

t.test('a handler that recovers on retry acks the message and nothing is dead', async t => {
  const seen: number[] = []
  const c = amqp.consume('recover', async msg => {
    seen.push(msg.retryCount)
    if (msg.retryCount < 2) throw new Error('not yet')
  })
  await publisher.publish('recover.x', { ok: true })
  await waitFor(() => seen.length === 3, 10_000, 'three deliveries')
  await waitFor(() => c.stats().acked === 1, 5000, 'ack')
  t.same(seen, [0, 1, 2])
  t.equal(await deadCount('recover'), 0)
  t.same(c.stats(), { acked: 1, retried: 2, dead: 0, requeued: 0, transient: 0 })
  await c.close()
})

t.test('messages that are not JSON or lack a message id are dead-lettered, not retried', async t => {
  let calls = 0
  const c = amqp.consume('raw', async () => { calls++ })
  // Published by a foreign client that ignores the contract.
  const raw = amqp.connection.createPublisher({ confirm: true })
  await raw.send({ exchange: EVENTS_EXCHANGE, routingKey: 'raw.text', messageId: 'text-1' }, 'plain text')
  await raw.send({ exchange: EVENTS_EXCHANGE, routingKey: 'raw.broken', messageId: 'broken-1', contentType: 'application/json' }, Buffer.from('{not json'))
  await raw.send({ exchange: EVENTS_EXCHANGE, routingKey: 'raw.anon' }, { fine: true })
  await raw.close()
  await waitFor(async () => (await deadCount('raw')) === 3, 10_000, 'three dead letters')
  t.equal(calls, 0)
  const byId = new Map<string, { body: unknown, reason: unknown }>()
  for (let i = 0; i < 3; i++) {
    const m = await amqp.connection.basicGet({ queue: 'raw.dead', noAck: true })
    byId.set(String(m?.messageId), { body: m?.body, reason: m?.headers?.['x-failure-reason'] })
  }
  t.equal(byId.get('text-1')?.body, 'plain text', 'text kept as it arrived')
  t.match(byId.get('text-1')?.reason, /not JSON/)
  t.same(byId.get('broken-1')?.body, Buffer.from('{not json'), 'broken JSON kept byte for byte')
  const anon = [...byId.entries()].find(([k]) => k.startsWith('missing-'))
  t.match(anon?.[1].reason, /no message_id/)
  await c.close()
})

t.test('concurrency bounds the handlers in flight; close waits for them', async t => {
  let inFlight = 0
  let maxInFlight = 0
  let finished = 0
  const c = amqp.consume('conc', async () => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    await sleep(50)
    inFlight--
    finished++
  }, { concurrency: 3 })
  await Promise.all(Array.from({ length: 30 }, async (_, i) => await publisher.publish(`conc.${i}`, { i })))
  await waitFor(() => finished >= 10, 10_000, 'some handled')
  await c.close()
  t.equal(inFlight, 0, 'close resolved only after the running handlers finished')
  t.equal(maxInFlight, 3)
  const conc = (await amqp.queueStats()).find(s => s.queue === 'conc')
  t.equal((conc?.messages ?? 0) + finished, 30, 'unhandled prefetched messages went back to the queue')
})
