import t from 'tap'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { freePort } from '@jit/test-support'
import { createMongo } from '../src/index.js'

// A real server is optional (none can be installed on the CI machines); the failure paths below
// need none, the round trip tests run when one is configured.
const mongoUrl = process.env.TEST_MONGO_URL ?? process.env.MONGO_URL

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
process.on('unhandledRejection', onUnhandled)
t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

t.test('pool and timeout options reach the driver', async t => {
  const mongo = createMongo({ url: 'mongodb://127.0.0.1:1', appName: 'jit-test' })
  t.teardown(() => mongo.close())
  t.equal(mongo.client.options.minPoolSize, 2, 'default poolMin')
  t.equal(mongo.client.options.maxPoolSize, 10, 'default poolMax')
  t.equal(mongo.client.options.serverSelectionTimeoutMS, 2000, 'default selection timeout')
  t.equal(mongo.client.options.appName, 'jit-test')

  const custom = createMongo({ url: 'mongodb://127.0.0.1:1/jitdb', poolMin: 0, poolMax: 3, serverSelectionTimeoutMs: 500 })
  t.teardown(() => custom.close())
  t.equal(custom.client.options.minPoolSize, 0)
  t.equal(custom.client.options.maxPoolSize, 3)
  t.equal(custom.client.options.serverSelectionTimeoutMS, 500)
  t.equal(custom.db().databaseName, 'jitdb', 'db() defaults to the database in the URL')
  t.equal(custom.db('other').databaseName, 'other')
})

t.test('bad options are refused at creation', async t => {
  t.throws(() => createMongo({ url: 'mongodb://127.0.0.1:1', poolMin: 5, poolMax: 2 }), RangeError)
  t.throws(() => createMongo({ url: 'mongodb://127.0.0.1:1', poolMax: 0 }), RangeError)
  t.throws(() => createMongo({ url: 'mongodb://127.0.0.1:1', poolMin: 1.5 }), RangeError)
  t.throws(() => createMongo({ url: 'mongodb://127.0.0.1:1', serverSelectionTimeoutMs: 0 }), RangeError)
  t.throws(() => createMongo({ url: 'http://not-mongo' }), 'a malformed URL fails at boot')
})

t.test('an unreachable server: connect and ping reject within the selection timeout', async t => {
  const port = await freePort()
  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const mongo = createMongo({
    url: `mongodb://jit:s3cret@127.0.0.1:${port}/x?authSource=admin`,
    serverSelectionTimeoutMs: 300,
    logger
  })
  t.teardown(() => mongo.close())

  let started = performance.now()
  await t.rejects(mongo.connect(), { name: 'MongoServerSelectionError' })
  let elapsed = performance.now() - started
  t.ok(elapsed >= 250, `waited for the selection timeout (${Math.round(elapsed)} ms)`)
  t.ok(elapsed < 5000, `gave up soon after it (${Math.round(elapsed)} ms)`)

  started = performance.now()
  // Not MongoTopologyClosedError: ping tries the server again after a failed connect.
  await t.rejects(mongo.ping(), { name: 'MongoServerSelectionError' })
  await t.rejects(mongo.ping(), { name: 'MongoServerSelectionError' }, 'and again')
  elapsed = performance.now() - started
  t.ok(elapsed < 5000, `ping gave up too (${Math.round(elapsed)} ms)`)

  const log = lines.join('')
  t.match(log, /mongodb connection failed/, 'the failure is logged')
  t.notMatch(log, /s3cret/, 'the password never reaches the log')
  t.match(log, /jit:\*\*\*@127\.0\.0\.1/, 'the redacted URL is logged')

  await mongo.close()
  await mongo.close()
  await t.rejects(mongo.ping(), /closed/, 'a closed client refuses work instead of reconnecting')
  await t.rejects(mongo.connect(), /closed/)
  // Give any stray driver timer a chance to surface a rejection.
  await new Promise(resolve => setTimeout(resolve, 200))
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('against a real server', { skip: mongoUrl === undefined ? 'no MongoDB server: set MONGO_URL' : false }, async t => {
  const mongo = createMongo({ url: mongoUrl as string, poolMin: 1, poolMax: 4 })
  t.teardown(() => mongo.close())
  await mongo.connect()
  const ms = await mongo.ping()
  t.ok(ms >= 0 && ms < 5000, `ping round trip ${ms} ms`)
})
