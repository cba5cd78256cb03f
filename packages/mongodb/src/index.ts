import { performance } from 'node:perf_hooks'
import { MongoClient, type Db } from 'mongodb'
import type { Logger } from 'pino'

/** Options of {@link createMongo}. */
export interface MongoOptions {
  /** A `mongodb://` or `mongodb+srv://` connection string (the service's `MONGO_URL`). */
  url: string
  /**
   * Connections the driver keeps open even when idle.
   * @default 2
   */
  poolMin?: number
  /**
   * Upper bound of open connections; further operations wait for a free one.
   * @default 10
   */
  poolMax?: number
  /**
   * How long an operation (and {@link Mongo.connect}) waits for a usable server before it
   * rejects. Kept short so a missing server fails readiness checks fast instead of hanging
   * requests for the driver's default 30 s. The services set MONGO_SERVER_SELECTION_TIMEOUT_MS
   * (empty: DATABASE_CONNECT_TIMEOUT_MS).
   * @default 2000
   */
  serverSelectionTimeoutMs?: number
  /** Reported to the server (visible in `currentOp` and server logs). */
  appName?: string
  /** Receives connection lifecycle messages; the URL is logged without credentials. */
  logger?: Logger
}

/** A MongoDB client with a bounded pool, owned by whoever created it (call {@link Mongo.close}). */
export interface Mongo {
  /** The underlying driver client, for anything this wrapper does not cover. */
  client: MongoClient
  /**
   * A database handle (cheap, no I/O).
   * @param name - database name; the one in the URL (or the driver's default `test`) when omitted
   */
  db: (name?: string) => Db
  /** Connects eagerly; rejects once the server selection timeout passes with no usable server. */
  connect: () => Promise<void>
  /**
   * Round trip of a `ping` command in milliseconds (including reconnecting when needed); rejects
   * when the server is unreachable. After a failed connection the driver fails every operation
   * with `MongoTopologyClosedError` until a `connect()` or `ping()` succeeds, so call this from the
   * readiness probe.
   */
  ping: () => Promise<number>
  /** Closes every pooled connection; safe to call more than once. */
  close: () => Promise<void>
}

/** `url` with any password replaced, so it can be logged. */
function redactUrl (url: string): string {
  return url.replace(/^(mongodb(?:\+srv)?:\/\/[^:/@]+:)[^@]*@/, '$1***@')
}

function checkCount (name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`)
  }
  return value
}

/**
 * Creates a MongoDB client with a bounded connection pool. No I/O happens until
 * {@link Mongo.connect} or a first operation.
 *
 * @example
 * ```ts
 * const mongo = createMongo({ url: config.mongoUrl, logger })
 * await mongo.connect()
 * const archive = createMongoArchive({ db: mongo.db() })
 * // ... on shutdown
 * await mongo.close()
 * ```
 */
export function createMongo (options: MongoOptions): Mongo {
  const poolMin = checkCount('poolMin', options.poolMin ?? 2, 0)
  const poolMax = checkCount('poolMax', options.poolMax ?? 10, 1)
  if (poolMin > poolMax) throw new RangeError(`poolMin (${poolMin}) must not exceed poolMax (${poolMax})`)
  const serverSelectionTimeoutMs = checkCount('serverSelectionTimeoutMs', options.serverSelectionTimeoutMs ?? 2000, 1)
  const logger = options.logger?.child({ component: 'mongodb' })
  const safeUrl = redactUrl(options.url)

  // The driver validates the URL here and throws synchronously on a malformed one: fail at boot.
  const client = new MongoClient(options.url, {
    minPoolSize: poolMin,
    maxPoolSize: poolMax,
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    // Without this a dead host can hold a socket open far longer than the selection timeout.
    connectTimeoutMS: serverSelectionTimeoutMs,
    ...(options.appName !== undefined ? { appName: options.appName } : {})
  })
  let closed = false
  // The driver would silently reconnect after close(); a closed client is a bug at the caller.
  const assertOpen = (): void => {
    if (closed) throw new Error('mongodb client is closed')
  }

  return {
    client,
    db: (name?: string) => client.db(name),
    async connect () {
      assertOpen()
      try {
        await client.connect()
        logger?.info({ url: safeUrl, poolMin, poolMax }, 'mongodb connected')
      } catch (err) {
        logger?.error({ err, url: safeUrl }, 'mongodb connection failed')
        throw err
      }
    },
    async ping () {
      assertOpen()
      const started = performance.now()
      // After a failed connection attempt the driver closes its topology, and every later
      // operation fails with MongoTopologyClosedError until connect() is called again. Connecting
      // here (a no-op when connected) lets a readiness probe bring the client back once the
      // server is reachable instead of reporting it down forever.
      await client.connect()
      await client.db('admin').command({ ping: 1 })
      return performance.now() - started
    },
    async close () {
      if (closed) return
      closed = true
      await client.close()
      logger?.info({ url: safeUrl }, 'mongodb closed')
    }
  }
}
