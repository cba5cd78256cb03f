import t, { type Test } from 'tap'
import { eventually, type PrivateRedis, startPrivateRedis } from '@jit/test-support'
import { createCache, CacheUnavailableError, type Cache, type CacheOptions } from '../src/index.js'
import { capturingLogger, rawClient, timed } from './helpers.js'

// Every test here stops or pauses Redis, so each gets a private server of its own.

async function setup (t: Test, options: Partial<CacheOptions> = {}): Promise<{ cache: Cache, redis: PrivateRedis }> {
  const redis = await startPrivateRedis(t)
  const cache = createCache({ url: redis.url, keyPrefix: 'faults:', ...options })
  t.teardown(() => cache.close())
  await cache.connect()
  return { cache, redis }
}

/** Reads until the fill of a miss is visible as a hit (the fill runs in the background). */
async function hitsAgain (cache: Cache, kind: string, key: string): Promise<boolean> {
  const before = cache.stats().hits
  return await eventually(async () => {
    await cache.getOrLoad(kind, key, async () => 'reloaded')
    return cache.stats().hits > before
  })
}

t.test('Redis stopped: loader answers, fast, errors counted, then reconnects and hits again', async t => {
  const { logger, lines } = capturingLogger()
  const { cache, redis } = await setup(t, { logger })
  t.equal(await cache.getOrLoad('user', 'u1', async () => 'v1'), 'v1')
  t.ok(await hitsAgain(cache, 'user', 'u1'), 'hits while up')

  await redis.stop()
  const errorsBefore = cache.stats().errors
  const calls = 50
  let slowest = 0
  for (let i = 0; i < calls; i++) {
    const { ms, result } = await timed(async () => await cache.getOrLoad('user', 'u1', async () => 'from-postgres'))
    t.equal(result, 'from-postgres')
    slowest = Math.max(slowest, ms)
  }
  t.ok(slowest < 1000, `every call returned fast (slowest ${slowest.toFixed(1)} ms)`)
  t.equal(cache.stats().errors - errorsBefore, calls, 'every failed read counted')
  t.equal(cache.stats().connected, false)
  const many = await timed(async () => await cache.getManyOrLoad([{ kind: 'user', key: 'u1' }, { kind: 'card', key: 'c1' }], async missing => missing.map(i => `from-postgres ${i}`)))
  t.same(many.result, ['from-postgres 0', 'from-postgres 1'], 'several entries: every one from the loader')
  t.ok(many.ms < 1000, `fast (${many.ms.toFixed(1)} ms)`)
  t.equal(cache.stats().errors - errorsBefore, calls + 1, 'the skipped read counted once')
  t.equal(await cache.get('user', 'u1'), undefined)
  await cache.set('user', 'u1', 'x') // must not throw
  t.equal(await cache.invalidate('user', 'u1'), false, 'the caller learns the invalidation did not happen')
  await t.rejects(cache.invalidateKind('user'), CacheUnavailableError)
  t.equal(await cache.ping(), null)
  const failureLines = lines.filter(line => line.msg === 'redis cache unavailable, falling back to the source of truth')
  t.ok(failureLines.length >= 1 && failureLines.length <= 3, `failures logged a few times, not ${calls} (${failureLines.length})`)

  await redis.start()
  t.ok(await eventually(() => cache.stats().connected), 'reconnected in the background')
  t.ok(await hitsAgain(cache, 'user', 'u1'), 'hits again after the restart')
  t.ok(typeof await cache.ping() === 'number')
  t.equal(await cache.invalidate('user', 'u1'), true)
})

t.test('Redis slow: the loader answer comes within the command timeout', async t => {
  const { cache, redis } = await setup(t, { commandTimeoutMs: 100 })
  await cache.set('card', 'c1', 'cached')
  t.equal(await cache.get('card', 'c1'), 'cached')
  const admin = await rawClient(t, redis.url)
  // Every client's commands wait 1.5 s: a slow Redis, but not a disconnected one.
  await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL'])
  const first = await timed(async () => await cache.getOrLoad('card', 'c1', async () => 'from-postgres'))
  t.equal(first.result, 'from-postgres')
  t.ok(first.ms < 1000, `answered after ${first.ms.toFixed(1)} ms, not after the pause`)
  t.equal(cache.stats().connected, true, 'still connected, just slow')
  // While the late command is unanswered, Redis is skipped without waiting at all.
  const next = await timed(async () => await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await cache.getOrLoad('card', `c${i}`, async () => `db${i}`))))
  t.same(next.result, Array.from({ length: 20 }, (_, i) => `db${i}`))
  t.ok(next.ms < 1000, `skipped quickly (${next.ms.toFixed(1)} ms)`)
  t.equal(cache.stats().errors, 21)
  t.equal(await cache.ping(), null, 'ping says down while slow')
  t.ok(await eventually(async () => (await cache.get('card', 'c1')) === 'cached'), 'back to hits once Redis answers again')
})

t.test('Redis slow: an invalidation waits up to invalidationTimeoutMs (REDIS_INVALIDATION_TIMEOUT_MS), not the default 1 s', async t => {
  const { cache, redis } = await setup(t, { commandTimeoutMs: 100, invalidationTimeoutMs: 4000 })
  await cache.set('user', 'u1', 'cached')
  const admin = await rawClient(t, redis.url)
  await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL'])
  const { ms, result } = await timed(async () => await cache.invalidate('user', 'u1'))
  t.equal(result, true, `the invalidation waited through the 1.5 s pause (${ms.toFixed(0)} ms)`)
  t.ok(ms >= 1000, `longer than the default 1 s (${ms.toFixed(0)} ms)`)
  t.equal(await cache.get('user', 'u1'), undefined, 'invalidated')
})

t.test('connect() with Redis down from the start resolves, and connects when Redis comes', async t => {
  const redis = await startPrivateRedis(t)
  await redis.stop()
  const cache = createCache({ url: redis.url })
  t.teardown(() => cache.close())
  const { ms } = await timed(async () => await cache.connect())
  t.ok(ms < 3000, `connect resolved in ${ms.toFixed(1)} ms`)
  t.equal(cache.stats().connected, false)
  const answer = await timed(async () => await cache.getOrLoad('limits', 'u1', async () => ({ daily: 5 })))
  t.same(answer.result, { daily: 5 })
  t.ok(answer.ms < 1000)
  t.equal(cache.stats().errors, 1)
  await redis.start()
  t.ok(await eventually(() => cache.stats().connected), 'connected in the background')
  t.ok(await hitsAgain(cache, 'limits', 'u1'))
})

t.test('close() while Redis is down does not hang', async t => {
  const { cache, redis } = await setup(t)
  await redis.stop()
  await cache.getOrLoad('user', 'u', async () => 1)
  const { ms } = await timed(async () => await cache.close())
  t.ok(ms < 1000, `closed in ${ms.toFixed(1)} ms`)
  t.equal(cache.stats().connected, false)
})

t.test('Redis hung (process stopped): calls stay fast, the dead socket is dropped, then recovers', async t => {
  const { cache, redis } = await setup(t)
  const admin = await rawClient(t, redis.url)
  const info = await admin.info('server')
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
  t.ok(pid > 0, 'found the server pid')
  admin.destroy()
  await cache.set('user', 'u1', 'cached')
  process.kill(pid, 'SIGSTOP')
  let slowest = 0
  let sawDisconnect = false
  try {
    // Longer than the socket timeout (5 s): a server that never answers must not wedge the cache.
    const until = Date.now() + 6500
    while (Date.now() < until) {
      const { ms, result } = await timed(async () => await cache.getOrLoad('user', 'u1', async () => 'from-postgres'))
      if (result !== 'from-postgres') t.fail(`unexpected answer ${String(result)}`)
      slowest = Math.max(slowest, ms)
      if (!cache.stats().connected) sawDisconnect = true
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  } finally {
    process.kill(pid, 'SIGCONT')
  }
  t.ok(slowest < 1000, `every call returned fast while hung (slowest ${slowest.toFixed(1)} ms)`)
  t.ok(cache.stats().errors > 10, 'failures counted')
  t.ok(sawDisconnect, 'the silent socket was dropped (socket timeout) rather than waited on forever')
  t.ok(await eventually(() => cache.stats().connected, 15_000), 'connected again')
  t.ok(await hitsAgain(cache, 'user', 'u1'), 'hits again')
})

t.test('socketTimeoutMs: a hung server\'s socket is dropped after the configured silence, not the default 5 s', async t => {
  const { cache, redis } = await setup(t, { socketTimeoutMs: 1500, pingIntervalMs: 500 })
  const admin = await rawClient(t, redis.url)
  const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1])
  admin.destroy()
  process.kill(pid, 'SIGSTOP')
  let droppedAfter: number | undefined
  try {
    const started = Date.now()
    while (Date.now() - started < 6000 && droppedAfter === undefined) {
      if (!cache.stats().connected) droppedAfter = Date.now() - started
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  } finally {
    process.kill(pid, 'SIGCONT')
  }
  t.ok(droppedAfter !== undefined && droppedAfter < 4000, `dropped after ${String(droppedAfter)} ms`)
  t.ok(await eventually(() => cache.stats().connected, 15_000), 'connected again')
})

t.test('timeouts that are not positive whole numbers, or a ping interval above the socket timeout, are refused', async t => {
  for (const name of ['connectTimeoutMs', 'pingIntervalMs', 'socketTimeoutMs']) {
    t.throws(() => createCache({ url: 'redis://127.0.0.1:1', [name]: 0 }), new RegExp(name))
  }
  t.throws(() => createCache({ url: 'redis://127.0.0.1:1', pingIntervalMs: 6000 }), /pingIntervalMs must not exceed socketTimeoutMs/)
})
