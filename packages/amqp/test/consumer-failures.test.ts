import t from 'tap'
import { alwaysFailing, sleep, waitFor } from '@jit/test-support'
import { TransientError, RawJson, retryQueueName, type ConsumedMessage } from '../src/index.js'
import { ownQueue, testBroker } from './helpers.js'

// Failures that are not the message's own: a dependency that is down (transient, requeued
// uncounted) and a failure copy that cannot even be built (rejected to the dead queue).
const { amqp, publisher } = await testBroker(t, 'amqp-consumer-failures-test', {
  retryDelaysMs: [50, 50, 50],
  queues: ['outage', 'spin', 'closing', 'deep', 'coded'].map(name => ownQueue(name, `${name}.#`))
})

async function depth (queue: string): Promise<number> {
  return (await amqp.connection.queueDeclare({ queue, passive: true })).messageCount
}

function nested (levels: number): string {
  return '{"a":'.repeat(levels) + '1' + '}'.repeat(levels)
}

t.test('a transient failure is requeued after a backoff, uncounted, until the handler succeeds', async t => {
  const seen: ConsumedMessage[] = []
  const at: number[] = []
  const c = amqp.consume('outage', async msg => {
    seen.push(msg)
    at.push(Date.now())
    if (seen.length <= 4) throw new TransientError('database unreachable')
  }, { transientDelayMs: 50, transientMaxDelayMs: 400 })
  const id = await publisher.publish('outage.x', { n: 1 })
  await waitFor(() => c.stats().acked === 1, 15_000, 'acked after the outage')
  t.equal(seen.length, 5, 'four transient failures, then the success')
  t.ok(seen.every(m => m.messageId === id), 'the same message each time')
  t.same(seen.map(m => m.retryCount), [0, 0, 0, 0, 0], 'no retry counted')
  t.same(seen.slice(1).map(m => m.redelivered), [true, true, true, true], 'requeued, not republished')
  t.ok((at[4] ?? 0) - (at[0] ?? 0) >= 0.8 * (50 + 100 + 200 + 400) - 20, `backed off, growing (${(at[4] ?? 0) - (at[0] ?? 0)} ms)`)
  t.same(c.stats(), { acked: 1, retried: 0, dead: 0, requeued: 0, transient: 4 })
  t.equal(await depth('outage.dead'), 0, 'never dead-lettered')
  t.equal(await depth('outage.retry.1'), 0, 'never on the retry path')
  await c.close()
})

t.test('a handler failing transiently forever does not spin, and close does not wait out the backoff', async t => {
  const { handler, calls } = alwaysFailing(() => new TransientError('still down'))
  const c = amqp.consume('spin', handler, { concurrency: 2, transientDelayMs: 200, transientMaxDelayMs: 5000 })
  await publisher.publish('spin.x', { n: 1 })
  await publisher.publish('spin.y', { n: 2 })
  await sleep(2000)
  // 2 messages, pauses 200, 400, 800, 1600 ms (+-20%): a handful of attempts, not thousands
  t.ok(calls() >= 2 && calls() <= 12, `${calls()} attempts in 2 s`)
  const started = Date.now()
  await c.close()
  t.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms during a backoff of seconds`)
  t.equal(c.stats().dead + c.stats().retried, 0)
  await waitFor(async () => await depth('spin') === 2, 5000, 'both messages back in the queue')
  t.equal(await depth('spin.dead'), 0)
})

t.test('the isTransient option classifies errors; a non-transient one takes the retry path', async t => {
  const codes: string[] = []
  const c = amqp.consume('coded', async msg => {
    const code = (msg.body as { code: string }).code
    codes.push(code)
    if (codes.filter(x => x === code).length === 1) throw Object.assign(new Error(code), { code })
  }, { isTransient: err => (err as { code?: unknown }).code === 'ECONNREFUSED', transientDelayMs: 20 })
  await publisher.publish('coded.a', { code: 'ECONNREFUSED' })
  await waitFor(() => c.stats().acked === 1, 10_000, 'the transient one acked')
  await publisher.publish('coded.b', { code: 'EINVALID' })
  await waitFor(() => c.stats().acked === 2, 10_000, 'the other one acked after a retry')
  t.same(c.stats(), { acked: 2, retried: 1, dead: 0, requeued: 0, transient: 1 })
  await c.close()
})

t.test('a message whose failure copy cannot be built is dead-lettered as it arrived, not requeued forever', async t => {
  const { handler, calls } = alwaysFailing(() => new Error('the handler choked'))
  const c = amqp.consume('deep', handler)
  // 6,000 levels: JSON.parse takes it, JSON.stringify (re-serializing the copy) overflows the stack
  const text = nested(6000)
  t.throws(() => JSON.stringify(JSON.parse(text)), RangeError, 'the premise: re-serializing overflows')
  await publisher.publish('deep.x', new RawJson(text), { messageId: 'deep-1' })
  await waitFor(async () => await depth('deep.dead') === 1, 10_000, 'the dead letter')
  await sleep(300)
  t.equal(calls(), 1, 'handled once, never requeued')
  t.same(c.stats(), { acked: 0, retried: 0, dead: 1, requeued: 0, transient: 0 })
  const dead = await amqp.connection.basicGet({ queue: 'deep.dead', noAck: true })
  t.equal(dead?.messageId, 'deep-1')
  // rabbitmq-client parsed it again; compare the bytes through our own walk
  let levels = 0
  let node: unknown = dead?.body
  while (typeof node === 'object' && node !== null) { node = (node as { a: unknown }).a; levels++ }
  t.equal(levels, 6000, 'the original message, all of it')
  t.equal(dead?.headers?.['x-first-death-reason'], 'rejected', 'dead-lettered by the broker (queue arguments)')
  t.equal(dead?.headers?.['x-first-death-queue'], 'deep')
  t.equal(await depth('deep'), 0)
  await c.close()
})

t.test('a failure copy the broker will not take: the message is requeued after requeuePauseMs, no retry spent', async t => {
  // Its own vhost: the connection's requeue pause is short here, the default (1 s) elsewhere.
  const own = await testBroker(t, 'amqp-requeue-pause-test', { retryDelaysMs: [50], queues: [ownQueue('refused', 'refused.#')] }, { requeuePauseMs: 150 })
  // No retry queue: the mandatory failure copy comes back unroutable, so the original is requeued.
  await own.amqp.connection.queueDelete({ queue: retryQueueName('refused', 1) })
  const at: number[] = []
  const c = own.amqp.consume('refused', async () => {
    at.push(Date.now())
    throw new Error('the message\'s own failure')
  })
  await own.publisher.publish('refused.x', { n: 1 })
  await waitFor(() => at.length >= 3, 10_000, 'handled three times')
  await c.close()
  const gaps = at.slice(1, 3).map((when, i) => when - (at[i] as number))
  t.ok(gaps.every(gap => gap >= 100 && gap < 900), `redelivered after the 150 ms pause, not the 1 s default (${gaps.join(', ')} ms)`)
  t.ok(c.stats().requeued >= 2, 'counted as requeued')
  t.equal(c.stats().retried, 0)
})
