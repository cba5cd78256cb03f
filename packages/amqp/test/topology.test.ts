import t from 'tap'
import { createTestVhost } from '@jit/test-support'
import {
  createAmqp,
  resolveTopology,
  UnroutableError,
  DEFAULT_QUEUES,
  type Amqp
} from '../src/index.js'
import { silentLogger } from './helpers.js'

const url = await createTestVhost(t)

function open (topology = {}): Amqp {
  const amqp = createAmqp({ url, logger: silentLogger, topology, connectionName: 'amqp-topology-test' })
  t.teardown(() => amqp.close())
  return amqp
}

t.test('declaring the topology twice is idempotent and creates every queue', async t => {
  const amqp = open()
  await amqp.declareTopology()
  await amqp.declareTopology()
  // A second process declaring at the same time must not fail either.
  const other = open()
  await Promise.all([amqp.declareTopology(), other.declareTopology()])

  const stats = await amqp.queueStats()
  t.same(stats.map(s => s.queue), ['jit-funding', 'transactions', 'webhooks', 'commands'])
  for (const s of stats) {
    t.same(s, { queue: s.queue, messages: 0, consumers: 0, retryMessages: 0, deadMessages: 0 })
  }
  for (const q of DEFAULT_QUEUES) {
    for (const name of [`${q.name}.retry.1`, `${q.name}.retry.2`, `${q.name}.retry.3`, `${q.name}.dead`]) {
      const ok = await amqp.connection.queueDeclare({ queue: name, passive: true })
      t.equal(ok.queue, name)
    }
  }
  await t.resolves(amqp.connection.exchangeDeclare({ exchange: 'cards.dlx', passive: true }))
  await t.resolves(amqp.connection.exchangeDeclare({ exchange: 'cards.commands', passive: true }))
  t.equal(await amqp.ping(), true)
})

t.test('routing follows the contract bindings', async t => {
  const amqp = open()
  await amqp.declareTopology()
  const publisher = amqp.createPublisher()
  await publisher.publish('jit.decision.approved', { a: 1 })
  await publisher.publish('webhook.transactions.authorization.clearing', { a: 2 })
  await publisher.publish('webhook.chargebacktransitions.initiated', { a: 3 })
  await publisher.publish('webhook.cardtransitions.SUSPENDED', { a: 4 })
  await publisher.publish('user.upsert', { a: 5 }, { exchange: 'cards.commands' })
  await publisher.publish('ledger.hold.placed', { a: 6 })
  const depth = Object.fromEntries((await amqp.queueStats()).map(s => [s.queue, s.messages]))
  t.same(depth, { 'jit-funding': 1, transactions: 2, webhooks: 3, commands: 1 })
  for (const q of ['jit-funding', 'transactions', 'webhooks', 'commands']) await amqp.connection.queuePurge(q)
})

t.test('publishing to a missing exchange rejects, and the publisher recovers', async t => {
  const amqp = open()
  await amqp.declareTopology()
  const publisher = amqp.createPublisher()
  await t.rejects(publisher.publish('x.y', { a: 1 }, { exchange: 'no-such-exchange' }), /NOT_FOUND|no exchange/i)
  // The broker closed that channel; the next send opens a new one.
  const id = await publisher.publish('jit.decision.declined', { a: 1 })
  t.type(id, 'string')
  const [jit] = await amqp.queueStats()
  t.equal(jit?.messages, 1)
  await amqp.connection.queuePurge('jit-funding')

  // One bad exchange among concurrent sends must not sink the others sharing the channel.
  const results = await Promise.allSettled([
    ...Array.from({ length: 20 }, async (_, i) => await publisher.publish('jit.decision.approved', { i })),
    publisher.publish('x.y', {}, { exchange: 'also-missing' })
  ])
  t.equal(results.filter(r => r.status === 'fulfilled').length, 20)
  t.equal(results[20]?.status, 'rejected')
  const [after] = await amqp.queueStats()
  t.equal(after?.messages, 20)
  await amqp.connection.queuePurge('jit-funding')
})

t.test('mandatory publishes reject when nothing is bound; plain ones do not', async t => {
  const amqp = open()
  await amqp.declareTopology()
  const publisher = amqp.createPublisher()
  await t.rejects(publisher.publish('nobody.listens', { a: 1 }, { mandatory: true }), UnroutableError)
  await t.resolves(publisher.publish('nobody.listens', { a: 1 }))
  await t.resolves(publisher.publish('jit.decision.approved', { a: 1 }, { mandatory: true }))
  await amqp.connection.queuePurge('jit-funding')
})

t.test('bad arguments are refused up front', async t => {
  const amqp = open()
  t.throws(() => amqp.consume('not-a-topology-queue', async () => {}), /not part of the topology/)
  t.throws(() => amqp.consume('webhooks', async () => {}, { concurrency: 0 }), /concurrency/)
  t.throws(() => resolveTopology({ retryDelaysMs: [-1] }), /retry delay/)
  t.throws(() => resolveTopology({ queues: [{ name: 'a', bindings: [] }, { name: 'a', bindings: [] }] }), /unique/)
  t.same(resolveTopology().retryDelaysMs, [1000, 5000, 25000])
  const publisher = amqp.createPublisher()
  await t.rejects(publisher.publish('', {}), /routing key/)
  await t.rejects(publisher.publish('a.b', undefined), /JSON/)
  await publisher.close()
  await t.rejects(publisher.publish('a.b', {}), /closed/)
})

t.test('ping is false on a closed connection; queueStats rejects without a topology', async t => {
  const amqp = createAmqp({ url, logger: silentLogger, topology: { queues: [{ name: 'never-declared', bindings: [] }] } })
  await t.rejects(amqp.queueStats(), /NOT_FOUND|no queue/i)
  await amqp.close()
  t.equal(await amqp.ping(), false)
  t.throws(() => amqp.createPublisher(), /closed/)
})
