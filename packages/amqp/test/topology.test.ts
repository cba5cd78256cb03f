import t from 'tap'
import { createTestVhost } from '@jit/test-support'
import {
  createAmqp,
  resolveTopology,
  UnroutableError,
  DEFAULT_QUEUES,
  type Amqp
} from '../src/index.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { silentLogger, vhostOf } from './helpers.js'

const rabbitmqctl = async (...args: string[]): Promise<{ stdout: string }> => await promisify(execFile)('rabbitmqctl', ['-q', ...args])

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
  await publisher.publish('webhook.familynotknownyet.x', { a: 7 })
  const depth = Object.fromEntries((await amqp.queueStats()).map(s => [s.queue, s.messages]))
  // webhooks: every webhook family except the two the transactions queue takes (archived from there)
  t.same(depth, { 'jit-funding': 1, transactions: 2, webhooks: 2, commands: 1 })
  const webhooks: string[] = []
  for (let i = 0; i < 2; i++) webhooks.push((await amqp.connection.basicGet({ queue: 'webhooks', noAck: true }))?.routingKey ?? '')
  t.same(webhooks.sort(), ['webhook.cardtransitions.SUSPENDED', 'webhook.familynotknownyet.x'])
  for (const q of ['jit-funding', 'transactions', 'webhooks', 'commands']) await amqp.connection.queuePurge(q)
})

t.test('the plain webhook.# binding of an older release is replaced by the filtered one', async t => {
  const amqp = open()
  await amqp.declareTopology()
  await amqp.connection.queueBind({ queue: 'webhooks', exchange: 'cards.events', routingKey: 'webhook.#' })
  await amqp.declareTopology()
  const publisher = amqp.createPublisher()
  await publisher.publish('webhook.transactions.authorization', { a: 1 })
  await publisher.publish('webhook.usertransitions.ACTIVE', { a: 2 })
  const depth = Object.fromEntries((await amqp.queueStats()).map(s => [s.queue, s.messages]))
  t.equal(depth.transactions, 1)
  t.equal(depth.webhooks, 1, 'the transaction event reached the webhooks queue no more, the transition once')
  for (const q of ['transactions', 'webhooks']) await amqp.connection.queuePurge(q)
})

t.test('one binding with exclusions per queue', async t => {
  t.throws(() => resolveTopology({
    queues: [{ name: 'a', bindings: [{ exchange: 'x', routingKey: 'a.#', except: ['a.b.#'] }, { exchange: 'x', routingKey: 'c.#', except: ['c.d.#'] }] }]
  }), /at most one binding with exclusions/)
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

t.test('retry queues are quorum queues with at-least-once dead-lettering', async t => {
  const amqp = open()
  await amqp.declareTopology()
  const { stdout } = await rabbitmqctl('list_queues', '-p', vhostOf(url), 'name', 'type', 'arguments')
  const retry = stdout.split('\n').filter(l => /\.retry\.\d/.test(l))
  t.equal(retry.length, DEFAULT_QUEUES.length * 3, 'every retry queue listed')
  for (const line of retry) {
    t.match(line, /\tquorum\t/, `${line.split('\t')[0]} is a quorum queue`)
    t.match(line, /x-dead-letter-strategy.*at-least-once/, 'with at-least-once dead-lettering')
  }
})

t.test('old classic retry queues are migrated: empty ones at once, non-empty ones once their messages expired back', async t => {
  const vhost = await createTestVhost(t, 'migrate')
  const old = createAmqp({ url: vhost, logger: silentLogger, topology: { retryDelaysMs: [300] }, connectionName: 'amqp-migrate-old' })
  t.teardown(() => old.close())
  // what an older release declared: classic retry queues, with one message waiting in one of them
  await old.connection.exchangeDeclare({ exchange: 'cards.dlx', type: 'direct', durable: true })
  for (const q of DEFAULT_QUEUES) {
    await old.connection.queueDeclare({ queue: `${q.name}.retry.1`, durable: true, arguments: { 'x-message-ttl': 300, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q.name } })
  }
  await old.connection.queueDeclare({ queue: 'transactions', durable: true, arguments: { 'x-dead-letter-exchange': 'cards.dlx', 'x-dead-letter-routing-key': 'transactions.dead' } })
  const pub = old.createPublisher()
  await pub.publish('transactions.retry.1', { waiting: true }, { exchange: '' })

  const amqp = createAmqp({ url: vhost, logger: silentLogger, topology: { retryDelaysMs: [300] }, connectionName: 'amqp-migrate-new' })
  t.teardown(() => amqp.close())
  await amqp.declareTopology()
  const { stdout } = await rabbitmqctl('list_queues', '-p', vhostOf(vhost), 'name', 'type')
  for (const q of DEFAULT_QUEUES) t.match(stdout, new RegExp(`^${q.name}\\.retry\\.1\\tquorum$`, 'm'), `${q.name}.retry.1 is now a quorum queue`)
  const back = await amqp.connection.queueDeclare({ queue: 'transactions', passive: true })
  t.equal(back.messageCount, 1, 'the message that was waiting in the old queue is back in its work queue, not lost')
})

t.test('a classic retry queue that does not empty is refused with a named error', async t => {
  const vhost = await createTestVhost(t, 'stuck')
  const amqp = createAmqp({ url: vhost, logger: silentLogger, connectionName: 'amqp-migrate-stuck' })
  t.teardown(() => amqp.close())
  // no TTL: its message never expires back
  await amqp.connection.queueDeclare({ queue: 'jit-funding.retry.1', durable: true })
  const pub = amqp.createPublisher()
  await pub.publish('jit-funding.retry.1', { stuck: true }, { exchange: '' })
  const { declareTopology, resolveTopology: resolve } = await import('../src/topology.js')
  await t.rejects(declareTopology(amqp.connection, resolve({ retryDelaysMs: [100] }), { migrationGraceMs: 200 }), { name: 'RetryQueueMigrationError', queue: 'jit-funding.retry.1', messages: 1 })
})
