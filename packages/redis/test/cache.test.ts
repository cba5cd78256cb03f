import t, { type Test } from 'tap'
import { createTestRedisPrefix, eventually, sharedRedisUrl } from '@jit/test-support'
import { createCache, CacheUnavailableError, type Cache, type CacheOptions } from '../src/index.js'
import { rawClient } from './helpers.js'

const raw = await rawClient(t, sharedRedisUrl)

async function newCache (tt: Test, options: Partial<CacheOptions> = {}): Promise<{ cache: Cache, prefix: string }> {
  const prefix = createTestRedisPrefix(tt)
  const cache = createCache({ url: sharedRedisUrl, keyPrefix: prefix, ...options })
  tt.teardown(() => cache.close())
  await cache.connect()
  return { cache, prefix }
}

/** The fill after a miss runs in the background; wait until the key is really there. */
async function stored (key: string): Promise<boolean> {
  return await eventually(async () => (await raw.exists(key)) === 1, 2000)
}

t.test('a miss loads and fills, the next read hits; counters per kind', async t => {
  const { cache, prefix } = await newCache(t)
  let loads = 0
  const load = async (): Promise<{ token: string, status: string }> => {
    loads++
    return { token: 'u1', status: 'ACTIVE' }
  }
  t.same(await cache.getOrLoad('user', 'u1', load), { token: 'u1', status: 'ACTIVE' })
  t.ok(await stored(`${prefix}user:u1`), 'filled under prefix + kind + key')
  t.same(await cache.getOrLoad('user', 'u1', load), { token: 'u1', status: 'ACTIVE' })
  t.same(await cache.getOrLoad('card', 'c1', async () => ({ token: 'c1' })), { token: 'c1' })
  t.equal(loads, 1, 'second read of the user came from Redis')
  const stats = cache.stats()
  t.equal(stats.hits, 1)
  t.equal(stats.misses, 2)
  t.equal(stats.loads, 2)
  t.equal(stats.errors, 0)
  t.equal(stats.hitRate, 1 / 3)
  t.equal(stats.connected, true)
  t.same(stats.byKind, { user: { hits: 1, misses: 1 }, card: { hits: 0, misses: 1 } })
  t.equal(JSON.parse(await raw.get(`${prefix}user:u1`) ?? 'null').status, 'ACTIVE', 'stored as JSON')
})

t.test('each kind gets its own TTL', async t => {
  const { cache, prefix } = await newCache(t, { ttlSeconds: { card: 120, velocity: 30 } })
  await cache.getOrLoad('user', 'u', async () => 1)
  await cache.getOrLoad('card', 'c', async () => 2)
  await cache.getOrLoad('limits', 'l', async () => 3)
  await cache.set('velocity', 'v', 4)
  const expected: Array<[string, number]> = [['user:u', 3600], ['card:c', 120], ['limits:l', 300], ['velocity:v', 30]]
  for (const [key, policy] of expected) {
    t.ok(await stored(prefix + key), `${key} stored`)
    const ttl = await raw.ttl(prefix + key)
    t.ok(ttl > policy - 10 && ttl <= policy, `${key}: TTL ${ttl} within policy ${policy}`)
  }
  t.equal(await cache.get('velocity', 'v'), 4)
})

t.test('null answers are not cached, undefined on get miss', async t => {
  const { cache, prefix } = await newCache(t)
  let loads = 0
  const load = async (): Promise<null> => { loads++; return null }
  t.equal(await cache.getOrLoad('user', 'nobody', load), null)
  t.equal(await cache.getOrLoad('user', 'nobody', load), null)
  t.equal(loads, 2, 'a missing user is looked up again')
  t.equal(await raw.exists(`${prefix}user:nobody`), 0)
  t.equal(await cache.get('user', 'nobody'), undefined)
  t.equal(cache.stats().misses, 3)
})

t.test("the loader's error propagates and nothing is cached", async t => {
  const { cache, prefix } = await newCache(t)
  const dbDown = new Error('connection refused by postgres')
  await t.rejects(cache.getOrLoad('card', 'c1', async () => { throw dbDown }), dbDown)
  t.equal(await raw.exists(`${prefix}card:c1`), 0)
  t.equal(cache.stats().errors, 0, 'a loader failure is not a cache error')
  t.equal(await cache.getOrLoad('card', 'c1', async () => 'ok'), 'ok', 'the next call loads again')
})

t.test('concurrent getOrLoad of one key share one load', async t => {
  const { cache } = await newCache(t)
  let loads = 0
  const load = async (): Promise<{ n: number }> => {
    loads++
    await new Promise(resolve => setTimeout(resolve, 50))
    return { n: 42 }
  }
  const answers = await Promise.all(Array.from({ length: 20 }, async () => await cache.getOrLoad('limits', 'u1', load)))
  t.same(answers, Array(20).fill({ n: 42 }))
  t.equal(loads, 1)
  t.equal(cache.stats().loads, 1)
  // A failing shared load fails every caller that joined it, and is forgotten afterwards.
  const boom = new Error('boom')
  const failing = async (): Promise<never> => {
    await new Promise(resolve => setTimeout(resolve, 20))
    throw boom
  }
  const results = await Promise.allSettled([cache.getOrLoad('limits', 'u2', failing), cache.getOrLoad('limits', 'u2', failing)])
  t.same(results.map(r => r.status), ['rejected', 'rejected'])
  t.equal(await cache.getOrLoad('limits', 'u2', async () => 7), 7)
})

t.test('getManyOrLoad: one read for every entry, one load for the misses only, fills them', async t => {
  const { cache, prefix } = await newCache(t)
  await cache.set('user', 'u1', { status: 'ACTIVE' })
  await cache.set('limits', 'card:c1:USD', { none: true })
  const asked: number[][] = []
  const load = async (missing: number[]): Promise<Array<unknown>> => {
    asked.push(missing)
    return missing.map(i => (i === 1 ? { card: 'c1' } : null))
  }
  const entries = [{ kind: 'user', key: 'u1' }, { kind: 'card', key: 'c1' }, { kind: 'limits', key: 'card:c1:USD' }, { kind: 'limits', key: 'user:u1:USD' }]
  t.same(await cache.getManyOrLoad(entries, load), [{ status: 'ACTIVE' }, { card: 'c1' }, { none: true }, null], 'values in entry order')
  t.same(asked, [[1, 3]], 'one load, for the two misses')
  t.ok(await stored(`${prefix}card:c1`), 'the loaded card filled')
  const ttl = await raw.ttl(`${prefix}card:c1`)
  t.ok(ttl > 890 && ttl <= 900, `with the card TTL (${ttl})`)
  t.equal(await raw.exists(`${prefix}limits:user:u1:USD`), 0, 'a null answer is not cached')
  t.same(await cache.getManyOrLoad(entries, load), [{ status: 'ACTIVE' }, { card: 'c1' }, { none: true }, null])
  t.same(asked, [[1, 3], [3]], 'the filled card is a hit the second time')
  const stats = cache.stats()
  t.same(stats.byKind, { user: { hits: 2, misses: 0 }, card: { hits: 1, misses: 1 }, limits: { hits: 2, misses: 2 } })
  t.equal(stats.loads, 2)
  t.same(await cache.getManyOrLoad([], load), [], 'nothing asked, nothing read')
  t.same(asked.length, 2)
})

t.test('getManyOrLoad: a tombstone is a miss its fill cannot overwrite; the loader error propagates', async t => {
  const { cache, prefix } = await newCache(t)
  t.equal(await cache.invalidate('card', 'c1'), true)
  t.same(await cache.getManyOrLoad([{ kind: 'card', key: 'c1' }], async () => [{ status: 'ACTIVE' }]), [{ status: 'ACTIVE' }])
  await new Promise(resolve => setTimeout(resolve, 100))
  t.equal(await raw.get(`${prefix}card:c1`), '!invalidated', 'the tombstone stays')
  // several fills go as one command: each still NX, each with its kind's TTL
  t.same(await cache.getManyOrLoad([{ kind: 'user', key: 'u7' }, { kind: 'card', key: 'c1' }, { kind: 'limits', key: 'l7' }], async () => ['u', 'c', 'l']), ['u', 'c', 'l'])
  t.ok(await stored(`${prefix}limits:l7`), 'filled')
  t.equal(await raw.get(`${prefix}user:u7`), '"u"')
  t.equal(await raw.get(`${prefix}card:c1`), '!invalidated', 'the tombstone stays under a fill of several')
  const userTtl = await raw.ttl(`${prefix}user:u7`)
  const limitsTtl = await raw.ttl(`${prefix}limits:l7`)
  t.ok(userTtl > 3590 && userTtl <= 3600 && limitsTtl > 290 && limitsTtl <= 300, `TTLs per kind (${userTtl}, ${limitsTtl})`)
  const dbDown = new Error('connection refused by postgres')
  await t.rejects(cache.getManyOrLoad([{ kind: 'user', key: 'u9' }], async () => { throw dbDown }), dbDown)
  t.equal(cache.stats().errors, 0, 'a loader failure is not a cache error')
})

t.test('set and get round-trip JSON; unencodable values are dropped without throwing', async t => {
  const { cache, prefix } = await newCache(t)
  await cache.set('card', 'c1', { token: 'c1', tags: ['a'], nested: { x: null } })
  t.same(await cache.get('card', 'c1'), { token: 'c1', tags: ['a'], nested: { x: null } })
  await cache.set('card', 'c2', { amount: 10n })
  t.equal(await raw.exists(`${prefix}card:c2`), 0)
  t.equal(cache.stats().errors, 1, 'the encoding failure is counted')
  t.equal(await cache.getOrLoad('card', 'c3', async () => ({ amount: 5n })) !== null, true, 'the loader answer still returned')
})

t.test('a value not written by the cache is a miss and gets replaced', async t => {
  const { cache, prefix } = await newCache(t)
  await raw.set(`${prefix}user:u1`, '{not json')
  t.equal(await cache.getOrLoad('user', 'u1', async () => 'fresh'), 'fresh')
  t.ok(await eventually(async () => (await raw.get(`${prefix}user:u1`)) === '"fresh"', 2000), 'replaced by the fill')
  t.equal(await cache.getOrLoad('user', 'u1', async () => 'loaded again'), 'fresh')
  t.equal(cache.stats().errors, 1)
})

t.test('invalidate one key: the next read loads fresh data', async t => {
  const { cache, prefix } = await newCache(t, { tombstoneMs: 300 })
  await cache.set('user', 'u1', { status: 'ACTIVE' })
  await cache.set('user', 'u2', { status: 'ACTIVE' })
  t.equal(await cache.invalidate('user', 'u1'), true)
  t.equal(await cache.get('user', 'u1'), undefined)
  t.same(await cache.getOrLoad('user', 'u1', async () => ({ status: 'SUSPENDED' })), { status: 'SUSPENDED' })
  t.same(await cache.get('user', 'u2'), { status: 'ACTIVE' }, 'other keys untouched')
  t.equal(cache.stats().invalidations, 1)
  // Once the tombstone is gone, fills work again.
  await new Promise(resolve => setTimeout(resolve, 400))
  t.same(await cache.getOrLoad('user', 'u1', async () => ({ status: 'SUSPENDED' })), { status: 'SUSPENDED' })
  t.ok(await stored(`${prefix}user:u1`))
  t.same(await cache.get('user', 'u1'), { status: 'SUSPENDED' })
})

t.test('an invalidation during a load is not undone by that load', async t => {
  const { cache, prefix } = await newCache(t)
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  const stale = cache.getOrLoad('limits', 'u1', async () => {
    await gate
    return { daily: 100 } // read before the change
  })
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(await cache.invalidate('limits', 'u1'), true)
  // A caller after the invalidation does not join the stale load.
  const fresh = await cache.getOrLoad('limits', 'u1', async () => ({ daily: 50 }))
  t.same(fresh, { daily: 50 })
  release()
  t.same(await stale, { daily: 100 }, 'the racing caller gets its own answer')
  await new Promise(resolve => setTimeout(resolve, 100))
  t.equal(await raw.get(`${prefix}limits:u1`), '!invalidated', 'neither fill overwrote the tombstone')
  t.equal(await cache.get('limits', 'u1'), undefined)
  // An explicit set is trusted to be fresh and replaces the tombstone.
  await cache.set('limits', 'u1', { daily: 50 })
  t.same(await cache.get('limits', 'u1'), { daily: 50 })
})

t.test('invalidateKind removes only that kind, only under the prefix', async t => {
  // a write the 100 ms command timeout drops on a loaded machine would be missing from the count
  const { cache, prefix } = await newCache(t, { commandTimeoutMs: 5000 })
  const other = createTestRedisPrefix(t, 'other')
  const neighbour = createCache({ url: sharedRedisUrl, keyPrefix: other })
  t.teardown(() => neighbour.close())
  await neighbour.connect()
  for (let i = 0; i < 1200; i++) await cache.set('card', `c${i}`, i)
  await cache.set('user', 'u1', 'user')
  await cache.set('limits', 'l1', 'limits')
  await neighbour.set('card', 'c1', 'neighbour')
  await raw.set(`${prefix}cards:x`, 'a kind whose name starts like card')
  t.equal(await cache.invalidateKind('card'), 1200)
  t.equal(await cache.get('card', 'c1'), undefined)
  t.equal(await cache.get('user', 'u1'), 'user')
  t.equal(await cache.get('limits', 'l1'), 'limits')
  t.equal(await neighbour.get('card', 'c1'), 'neighbour', 'another prefix is untouched')
  t.equal(await raw.get(`${prefix}cards:x`), 'a kind whose name starts like card')
  t.equal(await cache.invalidateKind('card'), 0, 'nothing left')
  t.equal(cache.stats().invalidations, 2)
})

t.test('a prefix with glob characters is matched literally', async t => {
  const base = createTestRedisPrefix(t)
  const cache = createCache({ url: sharedRedisUrl, keyPrefix: `${base}[a]*` })
  const lookalike = createCache({ url: sharedRedisUrl, keyPrefix: `${base}a` })
  t.teardown(() => cache.close())
  t.teardown(() => lookalike.close())
  await cache.connect()
  await lookalike.connect()
  await cache.set('user', 'u', 1)
  await lookalike.set('user', 'u', 2)
  t.equal(await cache.invalidateKind('user'), 1)
  t.equal(await lookalike.get('user', 'u'), 2)
})

t.test('ping measures a round trip', async t => {
  const { cache } = await newCache(t)
  const ms = await cache.ping()
  t.type(ms, 'number')
  t.ok(ms !== null && ms >= 0 && ms < 1000)
})

t.test('programming errors throw; bad options are refused', async t => {
  const { cache } = await newCache(t)
  await t.rejects(cache.getOrLoad('velocity', 'x', async () => 1), TypeError, 'a kind without TTL')
  await t.rejects(cache.get('user', ''), TypeError, 'an empty key')
  await t.rejects(cache.set('user', '', 1), TypeError)
  t.throws(() => createCache({ url: sharedRedisUrl, ttlSeconds: { user: 0 } }), TypeError)
  t.throws(() => createCache({ url: sharedRedisUrl, ttlSeconds: { user: 1.5 } }), TypeError)
  t.throws(() => createCache({ url: sharedRedisUrl, ttlSeconds: { 'a:b': 5 } }), TypeError)
  t.throws(() => createCache({ url: sharedRedisUrl, commandTimeoutMs: 0 }), TypeError)
})

t.test('after close nothing reaches Redis and nothing throws', async t => {
  const { cache, prefix } = await newCache(t)
  await cache.close()
  t.equal(await cache.getOrLoad('user', 'u1', async () => 'loaded'), 'loaded')
  t.same(await cache.getManyOrLoad([{ kind: 'user', key: 'u1' }, { kind: 'card', key: 'c1' }], async missing => missing.map(i => `loaded ${i}`)), ['loaded 0', 'loaded 1'])
  await cache.set('user', 'u2', 'x')
  t.equal(await raw.exists(`${prefix}user:u2`), 0)
  t.equal(await cache.invalidate('user', 'u1'), false)
  await t.rejects(cache.invalidateKind('user'), CacheUnavailableError)
  t.equal(await cache.ping(), null)
  t.equal(cache.stats().connected, false)
  await cache.close()
})
