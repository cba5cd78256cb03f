import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { parseDelays, type CommonConfigT } from '@jit/config'
import { createDatabase, runMigrations, type Database, type MigrationSet, type PostgresOptions } from '@jit/postgres'
import { createCache, type Cache, type CacheOptions } from '@jit/redis'
import { createAmqp, type Amqp, type AmqpOptions, type Publisher } from '@jit/amqp'
import { createMongo, type Mongo } from '@jit/mongodb'
import { archiveMigrations, createMongoArchive, createPostgresArchive, type DocumentArchive } from '@jit/archive'
import { ConnectionsStartError, type DependencyFailure, type DependencyName } from './errors.js'
import { errorMessage, redactUrl, withTimeout } from './util.js'

/** Which dependencies a process uses. Every one defaults to `true` (see each for exceptions). */
export interface ConnectionsUse {
  /**
   * PostgreSQL (the ledger, outbox, parked messages; the archive without MongoDB).
   * webhook-ingest sets it to `false`: it only publishes.
   * @default true
   */
  postgres?: boolean
  /** The Redis cache. Never required for readiness: a dead Redis costs speed, not correctness. @default true */
  cache?: boolean
  /** RabbitMQ: topology, the confirmed publisher, consumers. @default true */
  amqp?: boolean
  /**
   * The document archive: MongoDB when `MONGO_URL` is set, else PostgreSQL JSONB.
   * @default true when PostgreSQL is used or `MONGO_URL` is set, else false
   */
  archive?: boolean
}

/** Options of {@link createConnections}. */
export interface ConnectionsOptions {
  /** The service's validated configuration (URLs, pool sizes, timeouts, cache TTLs, shutdown budget). */
  config: CommonConfigT
  logger: Logger
  /** Service name: the PostgreSQL `application_name`, the RabbitMQ connection name, Mongo's appName. */
  name: string
  use?: ConnectionsUse
  /** Overrides of the pool options built from config, e.g. `{ statementTimeoutMs: decisionBudgetMs }`. */
  postgres?: Partial<PostgresOptions>
  /** Overrides of the cache options built from config (extra kinds' TTLs, a tighter timeout). */
  cache?: Partial<CacheOptions>
  /** Overrides of the AMQP options built from config (a test topology with short retry delays). */
  amqp?: Partial<AmqpOptions>
  /**
   * Apply {@link ConnectionsOptions.migrations} at start, under the runner's advisory lock
   * (several processes starting at once serialize; the later ones find nothing to do).
   * @default true (when PostgreSQL is used)
   */
  migrate?: boolean
  /**
   * The migration sets this process needs, in order: the service passes its own (e.g.
   * `ledgerMigrationSets` of @jit/ledger, then its own tables), so this package depends on no
   * package's tables. The PostgreSQL archive's set is added when this process uses that archive.
   * @default []
   */
  migrations?: readonly MigrationSet[]
  /** Declare the contract's exchanges and queues at start (idempotent). @default true (when AMQP is used) */
  declareTopology?: boolean
  /**
   * How long start() waits for RabbitMQ and MongoDB to accept a connection before it fails
   * (PostgreSQL uses `DATABASE_CONNECT_TIMEOUT_MS` per connection attempt).
   * @default config.DATABASE_CONNECT_TIMEOUT_MS
   */
  connectTimeoutMs?: number
  /** Longest a single dependency probe of {@link Connections.health} may take before it counts as down. @default config.HEALTH_PROBE_TIMEOUT_MS */
  healthTimeoutMs?: number
  /**
   * Whether RabbitMQ is required: start() fails without it and `/ready` is 503 while it is down.
   * The authorizer sets false: it decides through PostgreSQL and writes its events to the outbox,
   * so it starts and stays ready while RabbitMQ is down (reported as degraded, `required: false`);
   * the client keeps reconnecting, the topology is declared once RabbitMQ is back and the outbox
   * relay catches up.
   * @default true
   */
  amqpRequired?: boolean
}

/** One dependency in a health report. */
export interface DependencyHealth {
  up: boolean
  /** Round trip of the probe in milliseconds; null when it failed. */
  latencyMs: number | null
  /** Whether `ok` depends on it (false for the cache). */
  required: boolean
  error?: string
  /** Pool statistics (postgres), cache counters (redis), queue depths (rabbitmq), backend (archive). */
  detail?: Record<string, unknown>
}

/** What {@link Connections.health} reports. */
export interface HealthReport {
  /** Every required dependency is up. */
  ok: boolean
  dependencies: Record<string, DependencyHealth>
}

/** When a shutdown hook runs; see {@link Connections.onShutdown}. */
export type ShutdownStage = 'intake' | 'drain'

/** The live connections of one process, with start, health and ordered shutdown. */
export interface Connections {
  /** The service name given at creation. */
  readonly name: string
  /** Which dependencies this process uses, defaults resolved. */
  readonly uses: Readonly<Required<ConnectionsUse>>
  /** The PostgreSQL pool (created at once; connected by start()). Throws when PostgreSQL is not used. */
  readonly db: Database
  /** The Redis cache (created at once; connected by start()). Throws when the cache is not used. */
  readonly cache: Cache
  /** The RabbitMQ connection. Throws before start() and when AMQP is not used. */
  readonly amqp: Amqp
  /** One confirm-mode publisher, created by start(). Throws before start() and when AMQP is not used. */
  readonly publisher: Publisher
  /** The document archive: MongoDB when `MONGO_URL` is set, else PostgreSQL JSONB. Throws when not used. */
  readonly archive: DocumentArchive
  /**
   * Connects everything at once, then applies migrations, declares the topology, creates the
   * publisher and initialises the archive. Safe when several processes start at once. Calling it
   * again returns the same promise. On failure, whatever was opened is closed and the promise
   * rejects with a {@link ConnectionsStartError} naming each failed dependency; create a new
   * instance to try again. A Redis that is down does not fail it (the cache reconnects by itself).
   */
  start: () => Promise<void>
  /**
   * Probes every dependency in parallel, each bounded by `healthTimeoutMs`. `ok` is true when every
   * required dependency (all but the cache) is up. Before start() and after close() everything is
   * reported down.
   */
  health: () => Promise<HealthReport>
  /**
   * Registers work for close(): every `intake` hook (stop consumers, relays and pollers from taking
   * new work) runs before every `drain` hook (finish in-flight publishes and relay batches), and
   * both before any connection closes. Hooks of one stage run concurrently.
   */
  onShutdown: (stage: ShutdownStage, fn: () => Promise<void>) => void
  /**
   * Closes in order: intake hooks, drain hooks, the publisher, the AMQP connection, the cache, the
   * archive (and MongoDB), the PostgreSQL pool. The whole sequence shares `SHUTDOWN_TIMEOUT_MS`;
   * a step that fails or overruns is logged and the next one still runs. Idempotent.
   */
  close: () => Promise<void>
  /**
   * Starts a graceful stop: from now on `draining` is true (the ops routes' `/ready` answers 503,
   * so the orchestrator takes the instance out) while everything keeps serving; resolves after
   * `ms`, when the caller closes its listener and then calls close().
   */
  drain: (ms: number) => Promise<void>
  /** True once drain() was called. */
  readonly draining: boolean
}

/** A step that hangs still leaves the later ones this long, so pools are always told to close. */
const MIN_STEP_MS = 250

type State = 'new' | 'starting' | 'started' | 'closing' | 'closed'

/**
 * Creates the connections of one process from its configuration. No I/O happens until
 * {@link Connections.start}.
 *
 * @example
 * ```ts
 * const connections = createConnections({ config, logger, name: 'txn-worker', migrations: txnWorkerMigrationSets })
 * await connections.start()
 * const relay = createServiceOutboxRelay({ config, sql: connections.db.sql, publisher: connections.publisher, logger })
 * relay.start()
 * connections.onShutdown('drain', async () => { await relay.stop() })
 * // on SIGTERM
 * await connections.close()
 * ```
 */
export function createConnections (opts: ConnectionsOptions): Connections {
  const { config, name } = opts
  const log = opts.logger.child({ component: 'connections' })
  const mongoUrl = config.MONGO_URL !== undefined && config.MONGO_URL !== '' ? config.MONGO_URL : undefined
  const usePostgres = opts.use?.postgres ?? true
  const archiveAvailable = usePostgres || mongoUrl !== undefined
  if (opts.use?.archive === true && !archiveAvailable) {
    throw new TypeError(`${name}: use.archive needs PostgreSQL or MONGO_URL`)
  }
  const uses = Object.freeze({
    postgres: usePostgres,
    cache: opts.use?.cache ?? true,
    amqp: opts.use?.amqp ?? true,
    archive: opts.use?.archive ?? archiveAvailable
  })
  const migrate = usePostgres && (opts.migrate ?? true)
  const declareTopology = uses.amqp && (opts.declareTopology ?? true)
  const connectTimeoutMs = opts.connectTimeoutMs ?? config.DATABASE_CONNECT_TIMEOUT_MS
  const healthTimeoutMs = opts.healthTimeoutMs ?? config.HEALTH_PROBE_TIMEOUT_MS
  // Queue statistics cost one passive declare per queue: a reading is reused this long, so /ready
  // and /metrics stay cheap however often they are probed (depths are for dashboards, not decisions).
  const queueStatsCacheMs = config.AMQP_QUEUE_STATS_CACHE_MS
  const amqpRequired = opts.amqpRequired ?? true

  // Every factory below is I/O free, so route factories may capture these before start().
  const db: Database | undefined = usePostgres
    ? createDatabase({
      url: config.DATABASE_URL,
      poolMin: config.DATABASE_POOL_MIN,
      poolMax: config.DATABASE_POOL_MAX,
      connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      slowQueryMs: config.DATABASE_SLOW_QUERY_MS,
      applicationName: name,
      logger: opts.logger,
      ...opts.postgres
    })
    : undefined

  const cache: Cache | undefined = uses.cache
    ? createCache({
      url: config.REDIS_URL,
      keyPrefix: config.REDIS_KEY_PREFIX,
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      reconnectMaxMs: config.REDIS_RECONNECT_MAX_MS,
      connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
      pingIntervalMs: config.REDIS_PING_INTERVAL_MS,
      socketTimeoutMs: config.REDIS_SOCKET_TIMEOUT_MS,
      tombstoneMs: config.REDIS_TOMBSTONE_MS,
      invalidationTimeoutMs: config.REDIS_INVALIDATION_TIMEOUT_MS,
      logger: opts.logger,
      ...opts.cache,
      ttlSeconds: {
        user: config.CACHE_TTL_USER_S,
        card: config.CACHE_TTL_CARD_S,
        limits: config.CACHE_TTL_LIMITS_S,
        ...opts.cache?.ttlSeconds
      }
    })
    : undefined

  const mongo: Mongo | undefined = uses.archive && mongoUrl !== undefined
    ? createMongo({
      url: mongoUrl,
      poolMin: config.MONGO_POOL_MIN,
      poolMax: config.MONGO_POOL_MAX,
      serverSelectionTimeoutMs: config.MONGO_SERVER_SELECTION_TIMEOUT_MS ?? connectTimeoutMs,
      appName: name,
      logger: opts.logger
    })
    : undefined

  let archive: DocumentArchive | undefined
  if (uses.archive) {
    archive = mongo !== undefined
      ? createMongoArchive({ db: mongo.db(), retentionDays: config.ARCHIVE_RETENTION_DAYS })
      : createPostgresArchive({ sql: (db as Database).sql, retentionDays: config.ARCHIVE_RETENTION_DAYS })
  }

  // The AMQP client connects as soon as it is constructed, so it is created by start().
  let amqp: Amqp | undefined
  let publisher: Publisher | undefined

  let state: State = 'new'
  let startPromise: Promise<void> | undefined
  let closePromise: Promise<void> | undefined
  let startFailed = false
  let draining = false
  const hooks: Record<ShutdownStage, Array<() => Promise<void>>> = { intake: [], drain: [] }

  function notUsed (what: string, flag: string): Error {
    return new Error(`${name}: ${what} is not used by this process (use.${flag} is false)`)
  }

  const amqpUrl = redactUrl(opts.amqp?.url ?? config.AMQP_URL)
  const databaseUrl = redactUrl(opts.postgres?.url ?? config.DATABASE_URL)

  async function startPostgres (): Promise<void> {
    if (db === undefined) return
    try {
      await db.connect()
    } catch (err) {
      throw new Error(`PostgreSQL (${databaseUrl}) unreachable: ${errorMessage(err)}`, { cause: err })
    }
    if (!migrate) return
    try {
      const sets = [...(opts.migrations ?? []), ...(archive !== undefined && mongo === undefined ? [archiveMigrations] : [])]
      const { applied } = await runMigrations(db.sql, sets, { logger: opts.logger })
      log.info({ applied: applied.length }, 'migrations up to date')
    } catch (err) {
      throw new Error(`PostgreSQL migrations failed: ${errorMessage(err)}`, { cause: err })
    }
  }

  async function startAmqp (): Promise<void> {
    if (!uses.amqp) return
    amqp = createAmqp({
      url: config.AMQP_URL,
      logger: opts.logger,
      connectionName: name,
      reconnectMinMs: config.AMQP_RECONNECT_MIN_MS,
      reconnectMaxMs: config.AMQP_RECONNECT_MAX_MS,
      requeuePauseMs: config.AMQP_REQUEUE_PAUSE_MS,
      acquireTimeoutMs: config.AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS,
      topology: { retryDelaysMs: parseDelays(config.AMQP_RETRY_DELAYS_MS) },
      ...opts.amqp
    })
    try {
      // Without this bound the client would retry forever in the background and start() would
      // hang; disableAutoClose because close() owns closing it.
      await amqp.connection.onConnect(connectTimeoutMs, true)
    } catch (err) {
      if (amqpRequired) throw new Error(`RabbitMQ (${amqpUrl}) unreachable within ${connectTimeoutMs} ms: ${errorMessage(err)}`, { cause: err })
      log.warn({ err: errorMessage(err), amqpUrl }, 'RabbitMQ unreachable: starting without it (degraded); events wait in the outbox')
      declareWhenBack(amqp)
      // publishes wait for the connection (and fail after AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS): the
      // outbox relay retries them
      publisher = amqp.createPublisher()
      return
    }
    if (declareTopology) {
      try {
        await amqp.declareTopology()
      } catch (err) {
        throw new Error(`RabbitMQ topology declaration failed: ${errorMessage(err)}`, { cause: err })
      }
    }
    publisher = amqp.createPublisher()
  }

  /** Declares the topology once RabbitMQ is reachable after a degraded start (retried until it succeeds). */
  function declareWhenBack (handle: Amqp): void {
    if (!declareTopology) return
    let declared = false
    const attempt = (): void => {
      if (declared || state === 'closing' || state === 'closed') return
      handle.declareTopology().then(() => {
        declared = true
        log.info('RabbitMQ is back: topology declared')
      }, (err: unknown) => {
        // e.g. a publisher's passive check of a not yet declared exchange closed the shared channel
        log.warn({ err: errorMessage(err) }, 'topology declaration failed; trying again')
        setTimeout(() => { if (handle.connection.ready) attempt() }, config.AMQP_TOPOLOGY_RETRY_MS).unref()
      })
    }
    handle.connection.on('connection', attempt)
    // it may have connected between the timeout and here
    if (handle.connection.ready) attempt()
  }

  async function startArchive (postgresReady: Promise<void>): Promise<void> {
    if (archive === undefined) return
    if (mongo !== undefined) {
      try {
        await mongo.connect()
      } catch (err) {
        throw new Error(`MongoDB (${redactUrl(mongoUrl as string)}) unreachable: ${errorMessage(err)}`, { cause: err })
      }
    } else {
      // The JSONB archive's table comes from the migrations.
      await postgresReady
    }
    try {
      await archive.init()
    } catch (err) {
      throw new Error(`${mongo !== undefined ? 'MongoDB' : 'PostgreSQL'} archive initialisation failed: ${errorMessage(err)}`, { cause: err })
    }
  }

  async function doStart (): Promise<void> {
    state = 'starting'
    const startedAt = performance.now()
    const postgresReady = startPostgres()
    const steps: Array<[DependencyName, Promise<void>]> = [
      ['postgres', postgresReady],
      ['rabbitmq', startAmqp()],
      // If PostgreSQL failed its own entry reports it; the archive must not report it twice.
      ['archive', startArchive(postgresReady.catch(() => { throw new Error('skipped: PostgreSQL did not start') }))],
      // Never rejects: a Redis that is down only slows reads until it comes back.
      ['redis', cache?.connect() ?? Promise.resolve()]
    ]
    const results = await Promise.allSettled(steps.map(async ([, step]) => { await step }))
    const failures: DependencyFailure[] = []
    results.forEach((result, i) => {
      const dependency = (steps[i] as [DependencyName, Promise<void>])[0]
      if (result.status === 'rejected') {
        const message = errorMessage(result.reason)
        if (dependency === 'archive' && message.startsWith('skipped:')) return
        failures.push({ dependency, message, cause: result.reason })
      }
    })
    if (failures.length > 0) {
      const error = new ConnectionsStartError(name, failures)
      log.error({ failures: failures.map(f => ({ dependency: f.dependency, message: f.message })) }, 'start failed; closing what was opened')
      // Not 'starting' any more, or close() would wait for this very start to settle.
      state = 'closing'
      startFailed = true
      await close()
      throw error
    }
    if (state === 'starting') state = 'started'
    log.info({ uses, durationMs: Math.round(performance.now() - startedAt), cacheConnected: cache?.stats().connected ?? null }, 'connections started')
  }

  async function probe (required: boolean, ping: () => Promise<number | null>, detail: () => Promise<Record<string, unknown>> | Record<string, unknown>): Promise<DependencyHealth> {
    if (state !== 'started') {
      return { up: false, latencyMs: null, required, error: state === 'closing' || state === 'closed' ? 'closed' : 'not started' }
    }
    let latencyMs: number | null = null
    let error: string | undefined
    try {
      latencyMs = await withTimeout(ping(), healthTimeoutMs, 'probe')
      if (latencyMs === null) error = 'unavailable'
    } catch (err) {
      error = errorMessage(err)
    }
    let info: Record<string, unknown> | undefined
    try {
      info = await detail()
    } catch (err) {
      info = { error: errorMessage(err) }
    }
    const up = latencyMs !== null
    return {
      up,
      latencyMs: latencyMs === null ? null : Math.round(latencyMs * 100) / 100,
      required,
      ...(error === undefined ? {} : { error }),
      detail: info
    }
  }

  async function amqpProbe (handle: Amqp): Promise<number | null> {
    const started = performance.now()
    return await handle.ping(healthTimeoutMs) ? performance.now() - started : null
  }

  let queueStats: { at: number, value: ReturnType<Amqp['queueStats']> } | undefined
  async function cachedQueueStats (handle: Amqp): ReturnType<Amqp['queueStats']> {
    const now = performance.now()
    if (queueStats === undefined || now - queueStats.at > queueStatsCacheMs) {
      const pending = withTimeout(handle.queueStats(), healthTimeoutMs, 'queue statistics')
      queueStats = { at: now, value: pending }
      // a failed reading is not reused
      pending.catch(() => { if (queueStats?.value === pending) queueStats = undefined })
    }
    return await queueStats.value
  }

  async function amqpDetail (handle: Amqp): Promise<Record<string, unknown>> {
    const connected = handle.connection.ready
    if (!connected) return { connected }
    try {
      return { connected, queues: await cachedQueueStats(handle) }
    } catch (err) {
      return { connected, queuesError: errorMessage(err) }
    }
  }

  async function health (): Promise<HealthReport> {
    const checks: Array<[DependencyName, Promise<DependencyHealth>]> = []
    if (db !== undefined) {
      checks.push(['postgres', probe(true, async () => await db.ping(), () => ({ pool: db.stats() }))])
    }
    if (cache !== undefined) {
      checks.push(['redis', probe(false, async () => await cache.ping(), () => ({ ...cache.stats() }))])
    }
    if (uses.amqp) {
      checks.push(['rabbitmq', probe(amqpRequired,
        async () => amqp === undefined ? null : await amqpProbe(amqp),
        async () => amqp === undefined ? {} : await amqpDetail(amqp))])
    }
    if (archive !== undefined) {
      const backend = mongo !== undefined ? 'mongodb' : 'postgres'
      checks.push(['archive', probe(true, async () => await (archive as DocumentArchive).ping(), () => ({ backend }))])
    }
    const entries = await Promise.all(checks.map(async ([dependency, check]) => [dependency, await check] as const))
    const dependencies = Object.fromEntries(entries)
    const ok = entries.every(([, h]) => h.up || !h.required)
    return { ok, dependencies }
  }

  async function closeStep (step: string, deadline: number, run: (budgetMs: number) => Promise<void>): Promise<void> {
    const budgetMs = Math.max(MIN_STEP_MS, deadline - performance.now())
    try {
      await withTimeout(run(budgetMs), budgetMs, `shutdown step ${step}`)
    } catch (err) {
      log.error({ step, err: errorMessage(err) }, 'shutdown step failed')
    }
  }

  async function runHooks (stage: ShutdownStage, deadline: number): Promise<void> {
    const fns = hooks[stage].splice(0)
    if (fns.length === 0) return
    await closeStep(`${stage} hooks`, deadline, async () => {
      const results = await Promise.allSettled(fns.map(async fn => { await fn() }))
      for (const result of results) {
        if (result.status === 'rejected') log.error({ stage, err: errorMessage(result.reason) }, 'shutdown hook failed')
      }
    })
  }

  async function doClose (): Promise<void> {
    const startedAt = performance.now()
    const deadline = startedAt + config.SHUTDOWN_TIMEOUT_MS
    if (state === 'starting' && startPromise !== undefined) {
      // Closing half-started clients would race their connects; wait (bounded) for start to settle.
      await withTimeout(startPromise, Math.max(MIN_STEP_MS, deadline - performance.now()), 'start').catch(() => {})
    }
    state = 'closing'
    await runHooks('intake', deadline)
    await runHooks('drain', deadline)
    if (publisher !== undefined) {
      const p = publisher
      await closeStep('publisher', deadline, async () => { await p.close() })
    }
    if (amqp !== undefined) {
      const a = amqp
      await closeStep('amqp', deadline, async () => { await a.close() })
    }
    if (cache !== undefined) await closeStep('cache', deadline, async () => { await cache.close() })
    if (archive !== undefined) {
      const archiveToClose = archive
      await closeStep('archive', deadline, async () => { await archiveToClose.close() })
    }
    if (mongo !== undefined) await closeStep('mongodb', deadline, async () => { await mongo.close() })
    if (db !== undefined) {
      await closeStep('postgres', deadline, async (budgetMs) => {
        // porsager waits this long for running queries, then cancels them and ends the sockets.
        await db.close(Math.max(0.1, (budgetMs - 50) / 1000))
      })
    }
    state = 'closed'
    log.info({ durationMs: Math.round(performance.now() - startedAt) }, 'connections closed')
  }

  function close (): Promise<void> {
    closePromise ??= doClose()
    return closePromise
  }

  return {
    name,
    uses,
    get db () {
      if (db === undefined) throw notUsed('PostgreSQL', 'postgres')
      return db
    },
    get cache () {
      if (cache === undefined) throw notUsed('the Redis cache', 'cache')
      return cache
    },
    get amqp () {
      if (!uses.amqp) throw notUsed('RabbitMQ', 'amqp')
      if (amqp === undefined) throw new Error(`${name}: RabbitMQ is not connected yet; await connections.start() first`)
      return amqp
    },
    get publisher () {
      if (!uses.amqp) throw notUsed('RabbitMQ', 'amqp')
      if (publisher === undefined) throw new Error(`${name}: the publisher is created by start(); await connections.start() first`)
      return publisher
    },
    get archive () {
      if (archive === undefined) throw notUsed('the document archive', 'archive')
      return archive
    },
    start () {
      // A failed start closed everything itself: repeating its error says more than "closed".
      if (closePromise !== undefined && !startFailed) {
        return Promise.reject(new Error(`${name}: connections are closed; create new ones`))
      }
      startPromise ??= doStart()
      return startPromise
    },
    health,
    get draining () { return draining },
    async drain (ms) {
      if (!draining) {
        draining = true
        log.info({ drainMs: ms }, 'draining: /ready answers 503, still serving')
      }
      if (ms > 0) await new Promise(resolve => setTimeout(resolve, ms))
    },
    onShutdown (stage, fn) {
      if (stage !== 'intake' && stage !== 'drain') throw new TypeError(`unknown shutdown stage ${String(stage)}`)
      if (closePromise !== undefined) {
        log.warn({ stage }, 'shutdown hook registered after close(); it will not run')
        return
      }
      hooks[stage].push(fn)
    },
    close
  }
}
