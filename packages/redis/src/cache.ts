import { pino, type Logger } from 'pino'
import { createClient } from 'redis'
import { createFailureLog } from './failure-log.js'

/**
 * What a cached value is. The three seed kinds have default TTLs; any other kind needs its TTL in
 * {@link CacheOptions.ttlSeconds}. A kind is letters, digits, `_` or `-` (no `:`, so keys of two
 * kinds can never collide, and no glob characters, so `invalidateKind` matches exactly).
 */
export type CacheKind = 'user' | 'card' | 'limits' | (string & {})

/** Options of {@link createCache}. */
export interface CacheOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379` (a database index may follow: `/2`). */
  url: string
  /**
   * Prepended to every key: `${keyPrefix}${kind}:${key}`.
   * @default 'jit:'
   */
  keyPrefix?: string
  /**
   * TTL per kind, in whole seconds. Merged over the defaults; any other kind used must be listed.
   * @default { user: 3600, card: 900, limits: 300 }
   */
  ttlSeconds?: Partial<Record<CacheKind, number>>
  /**
   * The longest a read or write waits for Redis before the cache gives up and the caller goes to
   * the source of truth. This is the whole price of a slow Redis on the decision path.
   * @default 100
   */
  commandTimeoutMs?: number
  /** Longest wait between reconnection attempts, ms (REDIS_RECONNECT_MAX_MS). @default 2000 */
  reconnectMaxMs?: number
  /**
   * How long opening a socket waits for a server that neither answers nor refuses, ms; `connect()`
   * resolves after this plus 500 ms at most (REDIS_CONNECT_TIMEOUT_MS). @default 1000
   */
  connectTimeoutMs?: number
  /** How often an idle connection is pinged, ms (REDIS_PING_INTERVAL_MS); at most `socketTimeoutMs`. @default 1000 */
  pingIntervalMs?: number
  /**
   * A socket silent this long, ms, is a dead or hung server: it is dropped, its commands fail and
   * the client reconnects (REDIS_SOCKET_TIMEOUT_MS). @default 5000
   */
  socketTimeoutMs?: number
  /**
   * How long an `invalidate` tombstone lives. While it lives, a fill from a load that started
   * before the invalidation cannot write its (possibly old) value back. Keep it above the longest
   * load (the 3 s processor deadline bounds a decision's loads) (REDIS_TOMBSTONE_MS).
   * @default 5000
   */
  tombstoneMs?: number
  /**
   * Deadline of each command of `invalidate` and `invalidateKind`, ms; the longer of this and
   * `commandTimeoutMs` applies: invalidations are off the decision path and their callers would
   * rather wait than retry (REDIS_INVALIDATION_TIMEOUT_MS). @default 1000
   */
  invalidationTimeoutMs?: number
  /** Failures are logged here, at most once per few seconds. @default a silent logger */
  logger?: Logger
}

/** Counters since {@link createCache}; export them as metrics. */
export interface CacheStats {
  /** Reads answered from Redis. */
  hits: number
  /** Reads not answered from Redis: absent, invalidated, undecodable, or Redis failed. */
  misses: number
  /** Cache operations that failed or were skipped because Redis was down or slow. */
  errors: number
  /**
   * Loader calls made by `getOrLoad` (concurrent misses of one key share one call) and by
   * `getManyOrLoad` (one call for all the entries of one read that missed).
   */
  loads: number
  /** Successful `invalidate` and `invalidateKind` calls. */
  invalidations: number
  /** hits / (hits + misses), 0 before any read. */
  hitRate: number
  /** Whether the Redis connection is up right now. */
  connected: boolean
  /** Hits and misses per kind. */
  byKind: Record<string, { hits: number, misses: number }>
}

/**
 * A read-through JSON cache in front of PostgreSQL. Never the authority: every read may miss, and
 * whatever goes wrong with Redis, reads fall back to the loader and writes are dropped (counted
 * and logged), so a caller never fails because of the cache. Only programming errors (an unknown
 * kind, an empty key) throw.
 */
export interface Cache {
  /**
   * Starts connecting. Resolves once connected, or after the first failed attempt (at most about
   * a second), and never throws: while Redis is down the cache keeps reconnecting in the
   * background with backoff and every operation skips Redis at once.
   */
  connect: () => Promise<void>
  /**
   * The cached value of `kind`/`key`, else `load()`'s answer, which is then written back in the
   * background with the kind's TTL. A `null` answer is returned and not cached (a missing user or
   * card is not remembered, so one created a moment later is seen at once). The loader's own
   * error propagates unchanged: a database failure is never swallowed here. Concurrent misses of
   * one key in this process share a single `load()` call (and its answer or error).
   */
  getOrLoad: <T>(kind: CacheKind, key: string, load: () => Promise<T | null>) => Promise<T | null>
  /**
   * Several values of any kinds in one round trip (one MGET, one deadline), then one `load()` call
   * for the entries Redis did not answer (absent, invalidated, undecodable, or all of them when
   * Redis is down or slow): `load` gets their indexes in `entries` and resolves their values in
   * that order. Its non-null answers are written back in the background, as `getOrLoad` does
   * (NX, so a tombstone wins), and `null` is returned and not cached. Resolves the values in
   * `entries` order; the loader's own error propagates unchanged. Concurrent reads are not
   * merged here (the caller's in-process layer does that).
   */
  getManyOrLoad: <T>(entries: ReadonlyArray<CacheEntryKey>, load: (missing: number[]) => Promise<ReadonlyArray<T | null>>) => Promise<Array<T | null>>
  /** The cached value, or `undefined` on a miss or any cache failure. */
  get: <T>(kind: CacheKind, key: string) => Promise<T | undefined>
  /**
   * Writes a value with the kind's TTL, replacing whatever is there (tombstone included: the
   * caller asserts this is the fresh value). Never throws; a failure is counted and logged.
   */
  set: <T>(kind: CacheKind, key: string, value: T) => Promise<void>
  /**
   * Invalidates one key by replacing it with a short-lived tombstone (see
   * {@link CacheOptions.tombstoneMs}) that reads treat as a miss and background fills cannot
   * overwrite. Resolves `true` once Redis confirmed it, `false` when Redis was down or slow (the old
   * value may still be served until its TTL ends): never throws, so a command handler decides
   * itself whether to retry.
   */
  invalidate: (kind: CacheKind, key: string) => Promise<boolean>
  /**
   * Deletes every key of one kind under this cache's prefix (SCAN + UNLINK) and resolves the
   * number of keys removed. Rejects with {@link CacheUnavailableError} when Redis is down or slow,
   * since no count can say "nothing happened". Leaves no tombstones: a fill racing with it can
   * still write an old value back, which the ledger's own re-check catches.
   */
  invalidateKind: (kind: CacheKind) => Promise<number>
  /** Round trip of a PING in milliseconds, or `null` when Redis is down or slow. */
  ping: () => Promise<number | null>
  /** A snapshot of the counters. */
  stats: () => CacheStats
  /** Waits for background writes (bounded by the command timeout), then drops the connection. */
  close: () => Promise<void>
}

/** One entry of a {@link Cache.getManyOrLoad} read. */
export interface CacheEntryKey {
  kind: CacheKind
  key: string
}

/** Why a cache operation did not reach Redis: not connected, or too slow. */
export class CacheUnavailableError extends Error {
  override name = 'CacheUnavailableError'
}

const DEFAULT_TTL_SECONDS: Record<string, number> = { user: 3600, card: 900, limits: 300 }
/** JSON text never starts with `!`, so no cached value can be mistaken for a tombstone. */
const TOMBSTONE = '!invalidated'
const FAILURE_LOG_INTERVAL_MS = 5000
const SCAN_COUNT = 500
/** SET key value EX ttl NX for every key: ARGV holds value and TTL of each key in turn. */
const FILL_MANY_SCRIPT = "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2 * i - 1], 'EX', ARGV[2 * i], 'NX') end return #KEYS"
const KIND_PATTERN = /^[A-Za-z0-9_-]+$/

/**
 * Creates a cache (not yet connected: call `connect()`).
 *
 * @example
 * const cache = createCache({ url: config.redisUrl, logger })
 * await cache.connect()
 * const user = await cache.getOrLoad('user', userToken, () => users.find(userToken))
 */
export function createCache (opts: CacheOptions): Cache {
  const prefix = opts.keyPrefix ?? 'jit:'
  const commandTimeoutMs = opts.commandTimeoutMs ?? 100
  const reconnectMaxMs = opts.reconnectMaxMs ?? 2000
  const tombstoneMs = opts.tombstoneMs ?? 5000
  const connectTimeoutMs = opts.connectTimeoutMs ?? 1000
  // Pings keep a healthy idle socket busy, so a socket silent for socketTimeoutMs is a dead or hung server.
  const pingIntervalMs = opts.pingIntervalMs ?? 1000
  const socketTimeoutMs = opts.socketTimeoutMs ?? 5000
  const invalidationFloorMs = opts.invalidationTimeoutMs ?? 1000
  const invalidationTimeoutMs = Math.max(commandTimeoutMs, invalidationFloorMs)
  const ttl = new Map<string, number>(Object.entries(DEFAULT_TTL_SECONDS))
  for (const [kind, seconds] of Object.entries(opts.ttlSeconds ?? {})) {
    if (seconds === undefined) continue
    if (!KIND_PATTERN.test(kind)) throw new TypeError(`cache kind ${JSON.stringify(kind)} must match ${String(KIND_PATTERN)}`)
    if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new TypeError(`cache TTL of ${kind} must be a positive whole number of seconds`)
    ttl.set(kind, seconds)
  }
  if (!Number.isFinite(commandTimeoutMs) || commandTimeoutMs <= 0) throw new TypeError('commandTimeoutMs must be positive')
  for (const [name, value] of Object.entries({ tombstoneMs, connectTimeoutMs, pingIntervalMs, socketTimeoutMs, invalidationTimeoutMs: invalidationFloorMs })) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive whole number`)
  }
  if (pingIntervalMs > socketTimeoutMs) throw new TypeError('pingIntervalMs must not exceed socketTimeoutMs (a healthy idle socket would time out)')

  const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'redis-cache' })
  const logFailure = createFailureLog(log, FAILURE_LOG_INTERVAL_MS)

  const client = createClient({
    url: opts.url,
    // While disconnected a command fails at once instead of queueing until a reconnect that may
    // come after the processor's deadline.
    disableOfflineQueue: true,
    // A backstop: the stall gate below already stops sending once a command is late.
    commandsQueueMaxLength: 10_000,
    pingInterval: pingIntervalMs,
    socket: {
      connectTimeout: connectTimeoutMs,
      // A hung server (no reply at all) holds every later reply on this socket; after this much
      // silence the socket is dropped, its commands fail, and the client reconnects.
      socketTimeout: socketTimeoutMs,
      // Never give up (node-redis' default does on a socket timeout); back off up to reconnectMaxMs.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), reconnectMaxMs) + Math.floor(Math.random() * 100)
    }
  })

  let wasReady = false
  client.on('error', (err: unknown) => logFailure('connection', err))
  client.on('ready', () => {
    wasReady = true
    log.info('redis cache connected')
  })
  client.on('end', () => {
    if (wasReady) log.warn('redis cache connection closed')
    wasReady = false
  })

  const counters = { hits: 0, misses: 0, errors: 0, loads: 0, invalidations: 0 }
  const byKind = new Map<string, { hits: number, misses: number }>()
  /** Commands that passed their deadline and have not settled: Redis is slow, skip it. */
  let stalled = 0
  let started = false
  let closed = false
  const inflightLoads = new Map<string, Promise<unknown>>()
  const backgroundWrites = new Set<Promise<void>>()

  function keyOf (kind: CacheKind, key: string): string {
    if (!ttl.has(kind)) throw new TypeError(`cache kind ${JSON.stringify(kind)} has no TTL: add it to ttlSeconds`)
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('cache key must be a non-empty string')
    return `${prefix}${kind}:${key}`
  }

  function ttlOf (kind: CacheKind): number {
    return ttl.get(kind) as number
  }

  function record (kind: CacheKind, hit: boolean): void {
    let entry = byKind.get(kind)
    if (entry === undefined) {
      entry = { hits: 0, misses: 0 }
      byKind.set(kind, entry)
    }
    if (hit) {
      counters.hits++
      entry.hits++
    } else {
      counters.misses++
      entry.misses++
    }
  }

  function fail (op: string, err: unknown): void {
    counters.errors++
    logFailure(op, err)
  }

  function available (): boolean {
    return !closed && client.isReady && stalled === 0
  }

  /**
   * Sends one command with a deadline. node-redis' own `timeout` only covers the wait before the
   * command is written, not a server that is slow to answer, hence the race. A late command stays
   * counted in `stalled` until it settles, and nothing new is sent meanwhile: the replies on one
   * connection come in order, so anything sent behind it would be late too.
   */
  async function command<R> (send: () => Promise<R>, timeoutMs = commandTimeoutMs): Promise<R> {
    if (closed) throw new CacheUnavailableError('cache closed')
    if (!client.isReady) throw new CacheUnavailableError('redis not connected')
    if (stalled > 0) throw new CacheUnavailableError('redis slow: an earlier command is still unanswered')
    const pending = send()
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CacheUnavailableError(`redis did not answer within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      return await Promise.race([pending, deadline])
    } catch (err) {
      if (err instanceof CacheUnavailableError) {
        stalled++
        const settle = (): void => { stalled-- }
        pending.then(settle, settle)
      }
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  function decode (raw: string | null): { value: unknown } | undefined {
    if (raw === null || raw === TOMBSTONE) return undefined
    return { value: JSON.parse(raw) }
  }

  async function read (kind: CacheKind, fullKey: string): Promise<{ value: unknown } | undefined> {
    let raw: string | null
    try {
      raw = await command(async () => await client.get(fullKey))
    } catch (err) {
      fail('get', err)
      record(kind, false)
      return undefined
    }
    return found(kind, fullKey, raw)
  }

  /** What a reply holds for one key, counted as a hit or a miss. */
  function found (kind: CacheKind, fullKey: string, raw: string | null): { value: unknown } | undefined {
    let value: { value: unknown } | undefined
    try {
      value = decode(raw)
    } catch (err) {
      // Not written by us (or by an incompatible version): drop it so a fill can replace it.
      fail('decode', err)
      track(command(async () => { await client.unlink(fullKey) }).catch((err: unknown) => fail('unlink', err)))
      value = undefined
    }
    record(kind, value !== undefined)
    return value
  }

  /** Several keys in one MGET; every one a miss when Redis fails. */
  async function readMany (kinds: CacheKind[], fullKeys: string[]): Promise<Array<{ value: unknown } | undefined>> {
    let raws: Array<string | null>
    try {
      raws = await command(async () => await client.mGet(fullKeys))
    } catch (err) {
      fail('mget', err)
      for (const kind of kinds) record(kind, false)
      return fullKeys.map(() => undefined)
    }
    return fullKeys.map((fullKey, i) => found(kinds[i] as CacheKind, fullKey, raws[i] ?? null))
  }

  /** The JSON of a value, or undefined (counted and logged) when it has none, e.g. a cycle. */
  function encode (value: unknown): string | undefined {
    try {
      return JSON.stringify(value)
    } catch (err) {
      fail('encode', err)
      return undefined
    }
  }

  function track (write: Promise<void>): void {
    backgroundWrites.add(write)
    const forget = (): void => { backgroundWrites.delete(write) }
    write.then(forget, forget)
  }

  /**
   * Writes a loaded value back without making the caller wait. NX: a tombstone written by an
   * invalidation that happened while the value was being loaded wins, and so does a concurrent
   * fill. If Redis is already known to be unavailable the read counted the failure; skip quietly.
   */
  function fill (kind: CacheKind, fullKey: string, value: unknown): void {
    fillMany([{ kind, fullKey, value }])
  }

  /** Fills of one read: sent together (one write on the socket) under one deadline. */
  function fillMany (items: Array<{ kind: CacheKind, fullKey: string, value: unknown }>): void {
    if (!available()) return
    const writes: Array<{ fullKey: string, payload: string, ttl: number }> = []
    for (const item of items) {
      const payload = encode(item.value)
      if (payload !== undefined) writes.push({ fullKey: item.fullKey, payload, ttl: ttlOf(item.kind) })
    }
    if (writes.length === 0) return
    track(command(async () => {
      const [only] = writes
      if (writes.length === 1 && only !== undefined) {
        await client.set(only.fullKey, only.payload, { expiration: { type: 'EX', value: only.ttl }, condition: 'NX' })
        return
      }
      // one command for all of them (each a SET NX EX, as above), not one per key
      await client.eval(FILL_MANY_SCRIPT, { keys: writes.map(w => w.fullKey), arguments: writes.flatMap(w => [w.payload, String(w.ttl)]) })
    }).then(() => {}, (err: unknown) => fail('fill', err)))
  }

  async function loadAndFill<T> (kind: CacheKind, fullKey: string, load: () => Promise<T | null>): Promise<T | null> {
    counters.loads++
    const value = await load()
    if (value !== null && value !== undefined) fill(kind, fullKey, value)
    return value
  }

  return {
    async connect () {
      if (started || closed) return
      started = true
      await new Promise<void>(resolve => {
        const done = (): void => {
          clearTimeout(timer)
          client.off('ready', done)
          client.off('error', done)
          resolve()
        }
        const timer = setTimeout(done, connectTimeoutMs + 500)
        client.once('ready', done)
        client.once('error', done)
        // Not awaited: with Redis down it only settles once connected; it keeps retrying behind us.
        client.connect().catch((err: unknown) => {
          logFailure('connect', err)
          done()
        })
      })
    },

    async getOrLoad<T> (kind: CacheKind, key: string, load: () => Promise<T | null>): Promise<T | null> {
      const fullKey = keyOf(kind, key)
      const found = await read(kind, fullKey)
      if (found !== undefined) return found.value as T
      let loading = inflightLoads.get(fullKey) as Promise<T | null> | undefined
      if (loading === undefined) {
        const started = loadAndFill(kind, fullKey, load)
        loading = started
        inflightLoads.set(fullKey, started)
        const forget = (): void => {
          if (inflightLoads.get(fullKey) === started) inflightLoads.delete(fullKey)
        }
        started.then(forget, forget)
      }
      return await loading
    },

    async getManyOrLoad<T> (entries: ReadonlyArray<CacheEntryKey>, load: (missing: number[]) => Promise<ReadonlyArray<T | null>>): Promise<Array<T | null>> {
      const kinds = entries.map(e => e.kind)
      const fullKeys = entries.map(e => keyOf(e.kind, e.key))
      if (entries.length === 0) return []
      let read: Array<{ value: unknown } | undefined>
      if (available()) read = await readMany(kinds, fullKeys)
      else {
        // down or slow: skipped (one error, every entry a miss) without building the refusal
        counters.errors++
        for (const kind of kinds) record(kind, false)
        read = fullKeys.map(() => undefined)
      }
      const values = read.map(r => (r === undefined ? null : r.value as T))
      const missing: number[] = []
      read.forEach((r, i) => { if (r === undefined) missing.push(i) })
      if (missing.length === 0) return values
      counters.loads++
      const loaded = await load(missing)
      const fills: Array<{ kind: CacheKind, fullKey: string, value: unknown }> = []
      missing.forEach((i, j) => {
        const value = loaded[j] ?? null
        values[i] = value
        if (value !== null) fills.push({ kind: kinds[i] as CacheKind, fullKey: fullKeys[i] as string, value })
      })
      fillMany(fills)
      return values
    },

    async get<T> (kind: CacheKind, key: string): Promise<T | undefined> {
      const found = await read(kind, keyOf(kind, key))
      return found?.value as T | undefined
    },

    async set<T> (kind: CacheKind, key: string, value: T): Promise<void> {
      const fullKey = keyOf(kind, key)
      const payload = encode(value)
      if (payload === undefined) return
      try {
        await command(async () => {
          await client.set(fullKey, payload, { expiration: { type: 'EX', value: ttlOf(kind) } })
        })
      } catch (err) {
        fail('set', err)
      }
    },

    async invalidate (kind: CacheKind, key: string): Promise<boolean> {
      const fullKey = keyOf(kind, key)
      // Callers arriving from now on must not join a load that may have read the old row.
      inflightLoads.delete(fullKey)
      try {
        await command(async () => {
          await client.set(fullKey, TOMBSTONE, { expiration: { type: 'PX', value: tombstoneMs } })
        }, invalidationTimeoutMs)
      } catch (err) {
        fail('invalidate', err)
        return false
      }
      counters.invalidations++
      return true
    },

    async invalidateKind (kind: CacheKind): Promise<number> {
      const kindPrefix = keyOf(kind, '-').slice(0, -1)
      for (const fullKey of inflightLoads.keys()) {
        if (fullKey.startsWith(kindPrefix)) inflightLoads.delete(fullKey)
      }
      const match = kindPrefix.replace(/[*?[\]\\]/g, '\\$&') + '*'
      let removed = 0
      try {
        let cursor = '0'
        do {
          const reply = await command(async () => await client.scan(cursor, { MATCH: match, COUNT: SCAN_COUNT }), invalidationTimeoutMs)
          cursor = reply.cursor
          if (reply.keys.length > 0) {
            const keys = reply.keys
            removed += await command(async () => await client.unlink(keys), invalidationTimeoutMs)
          }
        } while (cursor !== '0')
      } catch (err) {
        fail('invalidateKind', err)
        throw new CacheUnavailableError(`invalidating kind ${kind} failed after ${removed} keys`, { cause: err })
      }
      counters.invalidations++
      return removed
    },

    async ping () {
      const startedAt = performance.now()
      try {
        await command(async () => await client.ping())
      } catch {
        // A health probe, not a cache operation: not counted as a cache error.
        return null
      }
      return performance.now() - startedAt
    },

    stats () {
      const reads = counters.hits + counters.misses
      return {
        ...counters,
        hitRate: reads === 0 ? 0 : counters.hits / reads,
        connected: !closed && client.isReady,
        byKind: Object.fromEntries([...byKind].map(([kind, entry]) => [kind, { ...entry }]))
      }
    },

    async close () {
      if (closed) return
      // Let background fills finish (each is bounded by the command timeout) before cutting off.
      await Promise.allSettled([...backgroundWrites])
      closed = true
      if (!client.isOpen) return
      try {
        client.destroy()
      } catch (err) {
        logFailure('close', err)
      }
    }
  }
}
