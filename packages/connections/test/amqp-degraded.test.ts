import t from 'tap'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { freePort, waitFor } from '@jit/test-support'
import { createConnections } from '../src/index.js'
import { listQueues, logger, testConfig, testMigrations, testServers } from './helper.js'

/** A TCP proxy to the shared RabbitMQ that can be closed (RabbitMQ "down") and opened again. */
async function rabbitProxy (port: number): Promise<{ open: () => Promise<void>, close: () => Promise<void> }> {
  let server: Server | undefined
  const sockets = new Set<Socket>()
  return {
    async open () {
      server = createServer(client => {
        const upstream = connect(5672, '127.0.0.1')
        sockets.add(client).add(upstream)
        client.pipe(upstream).pipe(client)
        const end = (): void => { client.destroy(); upstream.destroy() }
        client.on('error', end).on('close', end)
        upstream.on('error', end).on('close', end)
      })
      await new Promise<void>(resolve => server?.listen(port, '127.0.0.1', resolve))
    },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => { if (server === undefined) resolve(); else server.close(() => resolve()) })
    }
  }
}

t.test('amqpRequired false: starts and stays ready without RabbitMQ, declares the topology once it is back', async t => {
  const servers = await testServers(t)
  const port = await freePort()
  const proxy = await rabbitProxy(port)
  t.teardown(proxy.close)
  const vhostPath = new URL(servers.amqpUrl).pathname
  const config = testConfig(servers, { AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}${vhostPath}`, DATABASE_CONNECT_TIMEOUT_MS: '1000' })
  const connections = createConnections({ config, logger, name: 'degraded-test', amqpRequired: false, migrations: testMigrations, connectTimeoutMs: 500 })
  t.teardown(() => connections.close())

  await connections.start() // RabbitMQ is "down": the start still succeeds
  const down = await connections.health()
  t.equal(down.ok, true, 'ready without RabbitMQ')
  t.equal(down.dependencies.rabbitmq?.up, false)
  t.equal(down.dependencies.rabbitmq?.required, false, 'reported as degraded, not required')
  t.type(connections.publisher, 'object', 'a publisher exists (its sends wait for the connection)')

  await proxy.open() // RabbitMQ "comes back"
  await waitFor(async () => (await connections.health()).dependencies.rabbitmq?.up === true, 15_000, 'RabbitMQ up again')
  await waitFor(async () => (await listQueues(servers.amqpUrl)).includes('transactions.retry.1'), 10_000, 'topology declared')
  t.pass('the topology is declared once RabbitMQ is back')
})

t.test('after a degraded start, a publish fails after AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS', async t => {
  const servers = await testServers(t)
  const config = testConfig(servers, { AMQP_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}/`, AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS: '300' })
  const connections = createConnections({ config, logger, name: 'acquire-test', use: { cache: false }, amqpRequired: false, migrations: testMigrations, connectTimeoutMs: 300 })
  t.teardown(() => connections.close())
  await connections.start()
  const started = Date.now()
  await t.rejects(connections.publisher.publish('jit.decision.approved', { token: 'acquire-1' }))
  const ms = Date.now() - started
  t.ok(ms >= 250 && ms < 3000, `rejected after ${ms} ms (300 set; the default is 10000)`)
})

t.test('amqpRequired (the default): start fails without RabbitMQ', async t => {
  const servers = await testServers(t)
  const config = testConfig(servers, { AMQP_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}/` })
  const connections = createConnections({ config, logger, name: 'required-test', migrations: testMigrations, connectTimeoutMs: 500 })
  t.teardown(() => connections.close())
  await t.rejects(connections.start(), /RabbitMQ/)
})
