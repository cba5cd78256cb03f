import { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import postgres from 'postgres'
import { pino, type Logger } from 'pino'
import { pgTypes } from './pg-types.js'

/** Options of {@link createDatabase}. */
export interface PostgresOptions {
  /** Connection URL, e.g. `postgres://user:pass@host:5432/db`. */
  url: string
  /**
   * Connections opened eagerly by `connect()` and kept open while the pool is otherwise idle
   * (restored within half an idle timeout when the idle timeout closes them). Capped at `poolMax`.
   * @default 5
   */
  poolMin?: number
  /** Most connections the pool opens. @default 20 */
  poolMax?: number
  /** Time allowed to open a connection (TCP, TLS, startup, authentication). @default 5000 */
  connectTimeoutMs?: number
  /**
   * Server-side `statement_timeout`, sent as a connection parameter so it covers every statement,
   * including raw `sql` use. `0` disables it. Transactions may lower or raise it locally.
   * @default 5000
   */
  statementTimeoutMs?: number
  /** Seconds an unused connection stays open before it is closed (down to `poolMin`). @default 30 */
  idleTimeoutS?: number
  /** `query()` / `transaction()` calls at or above this duration are logged (by name) and counted. @default 200 */
  slowQueryMs?: number
  /** `application_name` shown in `pg_stat_activity`. @default 'jit' */
  applicationName?: string
  /** Where slow queries and notices are logged. @default a silent logger */
  logger?: Logger
}

/**
 * A snapshot of the pool. porsager exposes no pool internals, so the numbers come from this
 * package's own bookkeeping:
 * - `open`: TCP connections to the server this client holds right now (counted from the sockets
 *   it creates, so it includes connections still authenticating and, briefly, the extra
 *   connection PostgreSQL's protocol needs to cancel a query).
 * - `inUse`: `query()` / `transaction()` calls in flight, up to `max`. Raw `db.sql` use outside
 *   those helpers is not counted.
 * - `waiting`: calls in flight beyond `max`; porsager queues or pipelines them behind busy
 *   connections.
 * - `idle`: `open - inUse` (never below 0).
 * - `queries`, `slowQueries`, `errors`: completed `query()` / `transaction()` calls since
 *   creation, those at or above `slowQueryMs`, and those that threw.
 * - `utilisation`: `inUse / max`, 0..1.
 */
export interface PoolStats {
  max: number
  min: number
  open: number
  inUse: number
  idle: number
  waiting: number
  queries: number
  slowQueries: number
  errors: number
  utilisation: number
}

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /** `SET LOCAL statement_timeout` for this transaction only. */
  statementTimeoutMs?: number
  /** `SET LOCAL lock_timeout`: a blocked row or table lock fails with `55P03` after this long. */
  lockTimeoutMs?: number
  /** Isolation level; the server default (read committed) when absent. */
  isolation?: 'read committed' | 'repeatable read' | 'serializable'
}

/** A PostgreSQL pool with timing, statistics and a transaction helper. */
export interface Database {
  /** The raw porsager client, for tagged templates. Use through `query()` to be timed and counted. */
  sql: postgres.Sql
  /** Opens `poolMin` connections and checks the server answers; rejects when it cannot. */
  connect: () => Promise<void>
  /**
   * Runs `run` timed and counted under `name`. A slow call is logged with its name and duration,
   * never its SQL text or parameters.
   * @example const rows = await db.query('accounts.byToken', sql => sql`select * from accounts where token = ${token}`)
   */
  query: <T>(name: string, run: (sql: postgres.Sql) => Promise<T>) => Promise<T>
  /**
   * Runs `run` in a transaction (porsager `sql.begin`): commits when it resolves, rolls back and
   * rethrows when it throws. Timed and counted like `query()`.
   */
  transaction: <T>(name: string, run: (tx: postgres.TransactionSql) => Promise<T>, opts?: TransactionOptions) => Promise<T>
  /** Round-trip time of `select 1` in milliseconds (not counted in the query statistics). */
  ping: () => Promise<number>
  /** Current pool statistics; see {@link PoolStats} for what each number means. */
  stats: () => PoolStats
  /** Stops the pool: waits up to `timeoutS` seconds for running queries, then closes connections. @default 5 */
  close: (timeoutS?: number) => Promise<void>
}

const ISOLATION_LEVELS = new Set(['read committed', 'repeatable read', 'serializable'])

function positiveInteger (name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const result = value ?? fallback
  if (!Number.isInteger(result) || result < 0 || (result === 0 && !allowZero)) {
    throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`)
  }
  return result
}

/**
 * Creates a pool; nothing is opened until `connect()` (or the first query).
 * int8 columns come back as safe-integer numbers (a value beyond 2^53 - 1 rejects the query);
 * `numeric` stays a string.
 */
export function createDatabase (opts: PostgresOptions): Database {
  const max = positiveInteger('poolMax', opts.poolMax, 20)
  const min = Math.min(positiveInteger('poolMin', opts.poolMin, 5, true), max)
  const connectTimeoutMs = positiveInteger('connectTimeoutMs', opts.connectTimeoutMs, 5000)
  const statementTimeoutMs = positiveInteger('statementTimeoutMs', opts.statementTimeoutMs, 5000, true)
  const idleTimeoutS = positiveInteger('idleTimeoutS', opts.idleTimeoutS, 30)
  const slowQueryMs = positiveInteger('slowQueryMs', opts.slowQueryMs, 200, true)
  const logger = opts.logger ?? pino({ level: 'silent' })

  let open = 0
  let inFlight = 0
  let queries = 0
  let slowQueries = 0
  let errors = 0
  let closing = false
  let warmTimer: NodeJS.Timeout | undefined
  let hostIndex = 0

  // porsager has no connection events; handing it our own sockets is the documented hook
  // (`socket` option) that lets us count open connections exactly. The socket is returned still
  // connecting: porsager starts its connect timer first and Node buffers the startup message.
  const socket = (o: { host: string[], port: number[], path: string | false }): Socket => {
    const s = new Socket()
    // With a custom socket porsager no longer picks among several hosts itself: multi-host
    // URLs are tried round-robin, one host per new connection.
    const host = o.host[hostIndex % o.host.length] ?? 'localhost'
    const port = o.port[hostIndex % o.port.length] ?? 5432
    hostIndex++
    let counted = false
    s.once('connect', () => { counted = true; open++ })
    s.once('close', () => { if (counted) open-- })
    // porsager reads host/port off the socket for TLS server names and error messages.
    Object.assign(s, { host, port })
    if (typeof o.path === 'string') s.connect(o.path)
    else s.connect(port, host)
    return s
  }

  const options = {
    max,
    connect_timeout: connectTimeoutMs / 1000,
    idle_timeout: idleTimeoutS,
    types: pgTypes,
    connection: {
      application_name: opts.applicationName ?? 'jit',
      statement_timeout: statementTimeoutMs
    },
    // porsager prints notices with console.log by default; they belong in the log at debug.
    onnotice: (notice: postgres.Notice) => logger.debug({ notice: notice.message, code: notice.code }, 'postgres notice'),
    socket
  }
  // The `bigint` type is registered for parsing; callers see the plain `postgres.Sql` type.
  const sql = postgres(opts.url, options) as unknown as postgres.Sql

  async function timed<T> (name: string, run: () => Promise<T>): Promise<T> {
    inFlight++
    const started = performance.now()
    let failure: unknown
    try {
      return await run()
    } catch (err) {
      failure = err ?? new Error('rejected')
      throw err
    } finally {
      inFlight--
      queries++
      const durationMs = performance.now() - started
      if (failure !== undefined) errors++
      if (durationMs >= slowQueryMs) {
        slowQueries++
        // The name and the SQLSTATE only: SQL text, parameters and server messages can carry
        // card, user or amount data.
        const code = (failure as { code?: unknown } | undefined)?.code
        logger.warn({ query: name, durationMs: Math.round(durationMs), slowQueryMs, failed: failure !== undefined, code }, 'slow query')
      }
    }
  }

  // One `select 1` per wanted connection, all at once: porsager gives each concurrent query an
  // idle connection, else opens a new one, so this both opens missing connections and resets
  // the idle timer of the ones that exist.
  async function warm (): Promise<void> {
    await Promise.all(Array.from({ length: min }, async () => await sql`select 1`))
  }

  function keepWarm (): void {
    if (warmTimer !== undefined || min === 0) return
    // Only when the pool has shrunk to min: touching more would keep every connection ever
    // opened alive, since the oldest idle connection is the one porsager hands out first.
    warmTimer = setInterval(() => {
      if (closing || open > min) return
      warm().catch((err: unknown) => logger.warn({ err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'postgres pool warm-up failed'))
    }, Math.max(250, Math.min(5000, idleTimeoutS * 500)))
    warmTimer.unref()
  }

  return {
    sql,

    async connect () {
      await sql`select 1`
      await warm()
      keepWarm()
    },

    async query (name, run) {
      return await timed(name, async () => await run(sql))
    },

    async transaction<T> (name: string, run: (tx: postgres.TransactionSql) => Promise<T>, txOpts: TransactionOptions = {}): Promise<T> {
      const { isolation, statementTimeoutMs: txStatementMs, lockTimeoutMs } = txOpts
      if (isolation !== undefined && !ISOLATION_LEVELS.has(isolation)) throw new RangeError(`unknown isolation level ${String(isolation)}`)
      const txStatement = txStatementMs === undefined ? null : String(positiveInteger('statementTimeoutMs', txStatementMs, 0, true))
      const txLock = lockTimeoutMs === undefined ? null : String(positiveInteger('lockTimeoutMs', lockTimeoutMs, 0, true))
      const mode = isolation === undefined ? '' : `isolation level ${isolation}`
      return await timed(name, async () => await (sql.begin(mode, async (tx) => {
        if (txStatement !== null || txLock !== null) {
          // One round trip for both; set_config(..., true) is SET LOCAL with bind parameters.
          await tx`select set_config('statement_timeout', coalesce(${txStatement}::text, current_setting('statement_timeout')), true),
                          set_config('lock_timeout', coalesce(${txLock}::text, current_setting('lock_timeout')), true)`
        }
        return await run(tx)
      }) as Promise<T>))
    },

    async ping () {
      const started = performance.now()
      await sql`select 1`
      return performance.now() - started
    },

    stats () {
      const inUse = Math.min(inFlight, max)
      return {
        max,
        min,
        open,
        inUse,
        idle: Math.max(0, open - inUse),
        waiting: Math.max(0, inFlight - max),
        queries,
        slowQueries,
        errors,
        utilisation: inUse / max
      }
    },

    async close (timeoutS = 5) {
      closing = true
      if (warmTimer !== undefined) clearInterval(warmTimer)
      warmTimer = undefined
      await sql.end({ timeout: timeoutS })
    }
  }
}
