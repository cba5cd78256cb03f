import t from 'tap'
import postgres from 'postgres'
import { createClient } from 'redis'
import { createTestDatabase, createTestRedisPrefix, startPrivateRedis, uniqueTestName, createTestVhost } from '../src/index.js'

t.test('unique names differ and are identifier-safe', async t => {
  const a = uniqueTestName('x')
  const b = uniqueTestName('x')
  t.not(a, b)
  t.match(a, /^[a-z0-9_]+$/)
})

t.test('a test database exists until teardown', async t => {
  let url = ''
  await t.test('inner', async t => {
    url = await createTestDatabase(t)
    const sql = postgres(url, { max: 1 })
    const [row] = await sql`select current_database() as name`
    t.equal(row?.name, new URL(url).pathname.slice(1))
    await sql.end()
  })
  const sql = postgres(url, { max: 1, connect_timeout: 5 })
  await t.rejects(sql`select 1`, /does not exist/)
  await sql.end()
})

t.test('a private redis stops and starts', async t => {
  const redis = await startPrivateRedis(t)
  const prefix = createTestRedisPrefix(t)
  const client = createClient({ url: redis.url, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  await client.connect()
  await client.set(prefix + 'k', 'v')
  t.equal(await client.get(prefix + 'k'), 'v')
  await redis.stop()
  await t.rejects(client.get(prefix + 'k'))
  await redis.start()
})

t.test('a vhost of our own accepts connections', async t => {
  const url = await createTestVhost(t)
  t.match(url, /^amqp:\/\/guest:guest@127\.0\.0\.1:5672\/jit_/)
})
