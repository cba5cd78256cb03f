import t from 'tap'
import { createMongo } from '@jit/mongodb'
import { freePort, uniqueTestName } from '@jit/test-support'
import { createMongoArchive } from '../src/index.js'
import { archiveContract, type MakeArchive } from './contract.js'

// No MongoDB server can be installed on the CI machines: the contract runs when one is given
// (see README.md), the failure paths below always run.
const mongoUrl = process.env.TEST_MONGO_URL ?? process.env.MONGO_URL
const skip = mongoUrl === undefined ? 'no MongoDB server: set MONGO_URL' : false

const makeMongoArchive: MakeArchive = async (t, opts = {}) => {
  const mongo = createMongo({ url: mongoUrl as string, poolMin: 0, poolMax: 4 })
  t.teardown(() => mongo.close())
  // A database per subtest, dropped at teardown, like createTestDatabase for PostgreSQL.
  const db = mongo.db(uniqueTestName('archive'))
  t.teardown(() => db.dropDatabase())
  const archive = createMongoArchive({ db, ...opts })
  await archive.init()
  return {
    archive,
    readRaw: async (kind, token) => await db.collection('archive').findOne({ kind, token })
  }
}

t.test('contract: MongoDB', { skip }, async t => {
  archiveContract(t, makeMongoArchive)
})

t.test('MongoDB indexes', { skip }, async t => {
  const mongo = createMongo({ url: mongoUrl as string, poolMin: 0, poolMax: 2 })
  t.teardown(() => mongo.close())
  const db = mongo.db(uniqueTestName('archidx'))
  t.teardown(() => db.dropDatabase())
  const archive = createMongoArchive({ db, collection: 'docs', retentionDays: 10, ttlIndex: true })
  await archive.init()
  await archive.init()
  const indexes = await db.collection('docs').indexes()
  const byName = new Map(indexes.map(i => [i.name, i]))
  t.same(byName.get('kind_token_unique')?.key, { kind: 1, token: 1 })
  t.equal(byName.get('kind_token_unique')?.unique, true)
  t.same(byName.get('user_occurred')?.key, { user_token: 1, occurred_at: -1 })
  t.same(byName.get('card_occurred')?.key, { card_token: 1, occurred_at: -1 })
  t.equal(byName.get('occurred_at')?.expireAfterSeconds, 10 * 86400, 'TTL index of the retention')
})

t.test('an unreachable MongoDB fails every call cleanly', async t => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

  const mongo = createMongo({ url: `mongodb://127.0.0.1:${await freePort()}`, serverSelectionTimeoutMs: 200 })
  t.teardown(() => mongo.close())
  const archive = createMongoArchive({ db: mongo.db('jit') })
  const doc = { token: 't1', kind: 'webhook', occurred_at: new Date(), body: { pan: '4111111111111111' } }
  await t.rejects(archive.init(), { name: /^Mongo/ }, 'init')
  await t.rejects(archive.store(doc), { name: /^Mongo/ }, 'store: the error is not mistaken for a duplicate')
  await t.rejects(archive.storeMany([doc]), { name: /^Mongo/ }, 'storeMany')
  await t.rejects(archive.findByToken('t1'), { name: /^Mongo/ }, 'findByToken')
  await t.rejects(archive.query({ user_token: 'u' }), { name: /^Mongo/ }, 'query')
  await t.rejects(archive.purgeExpired(), { name: /^Mongo/ }, 'purgeExpired')
  await t.rejects(archive.ping(), { name: /^Mongo/ }, 'ping')
  t.same(await archive.storeMany([]), { inserted: 0 }, 'an empty batch needs no server')
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('options and input are checked before any I/O', async t => {
  const mongo = createMongo({ url: 'mongodb://127.0.0.1:1', serverSelectionTimeoutMs: 100 })
  t.teardown(() => mongo.close())
  t.throws(() => createMongoArchive({ db: mongo.db(), retentionDays: 0 }), RangeError)
  const archive = createMongoArchive({ db: mongo.db() })
  await t.rejects(archive.store({ token: '', kind: 'webhook', occurred_at: new Date(), body: {} }), TypeError)
  await t.rejects(archive.query({ limit: -1 }), RangeError)
  await archive.close()
  await t.rejects(archive.init(), /closed/)
})
