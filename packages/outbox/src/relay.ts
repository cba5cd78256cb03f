import { performance } from 'node:perf_hooks'
import type postgres from 'postgres'
import type { Logger } from 'pino'
import { RawJson, type Publisher } from '@jit/amqp'

/** Options of {@link createOutboxRelay}. */
export interface OutboxRelayOptions {
  sql: postgres.Sql
  publisher: Publisher
  logger?: Logger
  /** Rows per batch (one transaction). @default 100 */
  batchSize?: number
  /** Pause after a batch that was not full. @default 200 */
  intervalMs?: number
  /**
   * Also wake on `NOTIFY <channel>` (for example from the transaction that wrote the rows), for
   * lower latency than the polling interval. @default undefined (poll only)
   */
  listenChannel?: string
  /** Called once per published row with the delay from its insert to the broker's confirm. */
  onPublished?: (delayMs: number) => void
}

/** Counters of one relay since it was created. */
export interface OutboxRelayStats {
  batches: number
  published: number
  /** Publish attempts that failed (the row stays for the next round). */
  failed: number
  lastDelayMs: number | null
  maxDelayMs: number | null
  meanDelayMs: number | null
  lastError: string | null
  running: boolean
}

/** Publishes outbox rows to the broker. */
export interface OutboxRelay {
  /** Starts the polling loop. */
  start: () => void
  /** Stops the loop, finishing the batch in flight. */
  stop: () => Promise<void>
  /** Runs one batch now; resolves with the number of rows published. */
  drainOnce: () => Promise<number>
  stats: () => OutboxRelayStats
}

interface OutboxRow {
  id: string
  message_id: string
  exchange: string
  routing_key: string
  correlation_id: string | null
  payload: string
  age_ms: number
}

function errorText (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * Relays rows of the `outbox` table (written in the same transaction as the change they
 * describe) to the broker with publisher confirms, and marks them published.
 *
 * One batch is one transaction: lock up to `batchSize` unpublished rows with
 * `FOR UPDATE SKIP LOCKED` (so relays running at once take disjoint rows), publish them all,
 * mark the confirmed ones, count an attempt and the error on the others, commit. A crash after
 * publishing but before the commit unlocks the rows unmarked: they are published again (a
 * duplicate consumers deduplicate on `message_id`), never lost.
 * @example
 * ```ts
 * const relay = createOutboxRelay({ sql, publisher: amqp.createPublisher(), onPublished: ms => profiler.record('outbox', ms) })
 * relay.start()
 * // on shutdown
 * await relay.stop()
 * ```
 */
export function createOutboxRelay (options: OutboxRelayOptions): OutboxRelay {
  const { sql, publisher, onPublished } = options
  const logger = options.logger?.child({ component: 'outbox-relay' })
  const batchSize = options.batchSize ?? 100
  const intervalMs = options.intervalMs ?? 200
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be a positive integer')
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new TypeError('intervalMs must be a non-negative number')

  const counters = { batches: 0, published: 0, failed: 0, delayCount: 0, delaySum: 0 }
  let lastDelayMs: number | null = null
  let maxDelayMs: number | null = null
  let lastError: string | null = null
  let running = false
  let loop: Promise<void> | undefined
  let wake: (() => void) | undefined
  let listener: { unlisten: () => Promise<void> } | undefined

  function recordDelay (delayMs: number): void {
    lastDelayMs = delayMs
    maxDelayMs = maxDelayMs === null ? delayMs : Math.max(maxDelayMs, delayMs)
    counters.delayCount++
    counters.delaySum += delayMs
    if (onPublished !== undefined) {
      try {
        onPublished(delayMs)
      } catch (err) {
        logger?.warn({ err }, 'onPublished callback failed')
      }
    }
  }

  async function drainOnce (): Promise<number> {
    const published = await sql.begin(async tx => {
      // age_ms comes from the database clock and is extended by the local monotonic clock, so the
      // delay is right even when this host's wall clock differs from the database's.
      const rows = await tx<OutboxRow[]>`
        SELECT id, message_id, exchange, routing_key, correlation_id, payload::text AS payload,
               (extract(epoch FROM clock_timestamp() - created_at) * 1000)::float8 AS age_ms
        FROM outbox
        WHERE published_at IS NULL
        ORDER BY id
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED`
      if (rows.length === 0) return 0
      const selectedAt = performance.now()
      const results = await Promise.allSettled(rows.map(async row => {
        const publishOptions: { exchange: string, messageId: string, correlationId?: string } = {
          exchange: row.exchange,
          messageId: row.message_id
        }
        if (row.correlation_id !== null) publishOptions.correlationId = row.correlation_id
        await publisher.publish(row.routing_key, new RawJson(row.payload), publishOptions)
        recordDelay(row.age_ms + (performance.now() - selectedAt))
      }))
      const done: string[] = []
      for (const [i, result] of results.entries()) {
        const row = rows[i] as OutboxRow
        if (result.status === 'fulfilled') {
          done.push(row.id)
        } else {
          const reason = errorText(result.reason)
          lastError = reason
          counters.failed++
          logger?.warn({ id: row.id, messageId: row.message_id, err: result.reason }, 'outbox publish failed')
          await tx`UPDATE outbox SET attempts = attempts + 1, last_error = ${reason} WHERE id = ${row.id}`
        }
      }
      if (done.length > 0) {
        await tx`UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL WHERE id IN ${tx(done)}`
      }
      return done.length
    })
    counters.batches++
    counters.published += published
    return published
  }

  async function sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(done, ms)
      function done (): void {
        clearTimeout(timer)
        wake = undefined
        resolve()
      }
      wake = done
    })
  }

  async function run (): Promise<void> {
    // `running` is flipped by stop() while this loop awaits.
    // eslint-disable-next-line no-unmodified-loop-condition
    while (running) {
      let full = false
      try {
        full = (await drainOnce()) >= batchSize
      } catch (err) {
        lastError = errorText(err)
        logger?.error({ err }, 'outbox batch failed')
      }
      // A full batch means more rows are probably waiting: go again at once.
      if (running && !full) await sleep(intervalMs)
    }
  }

  return {
    start () {
      if (running) return
      running = true
      if (options.listenChannel !== undefined && listener === undefined) {
        sql.listen(options.listenChannel, () => wake?.())
          .then(l => {
            if (running) listener = l
            else l.unlisten().catch(() => {})
          })
          .catch((err: unknown) => logger?.warn({ err }, 'outbox LISTEN failed; polling only'))
      }
      loop = run()
    },
    async stop () {
      running = false
      wake?.()
      await loop
      loop = undefined
      const l = listener
      listener = undefined
      if (l !== undefined) await l.unlisten().catch(() => {})
    },
    drainOnce,
    stats: () => ({
      batches: counters.batches,
      published: counters.published,
      failed: counters.failed,
      lastDelayMs,
      maxDelayMs,
      meanDelayMs: counters.delayCount === 0 ? null : counters.delaySum / counters.delayCount,
      lastError,
      running
    })
  }
}
