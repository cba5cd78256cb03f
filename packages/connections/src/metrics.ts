import { Counter, Gauge, type Registry } from 'prom-client'
import { readOutboxBacklog, type OutboxBacklog } from '@jit/outbox'
import type { Connections, HealthReport } from './connections.js'

/** Options of {@link registerConnectionMetrics}. */
export interface ConnectionMetricsOptions {
  /**
   * Metric name prefix.
   * @default 'jit'
   */
  prefix?: string
  /**
   * A health report (and an outbox backlog reading) younger than this is reused: one scrape
   * reads many metrics, and a scrape must not run one probe round per metric.
   * @default 1000
   */
  healthCacheMs?: number
  /**
   * Export the outbox backlog (`jit_outbox_pending_messages`, `jit_outbox_oldest_pending_age_seconds`).
   * @default true when the process uses PostgreSQL (every such process applies the outbox migration)
   */
  outbox?: boolean
}

/**
 * Registers, on `registry`, metrics read from `connections` at scrape time (collect callbacks, so
 * nothing polls between scrapes). Prometheus conventions: seconds, `_total` counters, capacity
 * and usage as separate series (PromQL divides them), no ratio since start (PromQL takes rates):
 * - `jit_dependency_up{dependency, required}` (1/0), `jit_dependency_probe_duration_seconds{dependency}`
 * - `jit_db_pool_connections{state=in_use|idle}`, `jit_db_pool_waiting_calls`,
 *   `jit_db_pool_max_connections`, `jit_db_pool_min_connections`,
 *   `jit_db_queries_total`, `jit_db_slow_queries_total`, `jit_db_query_errors_total`
 * - `jit_cache_connected`, `jit_cache_hits_total`, `jit_cache_misses_total`, `jit_cache_errors_total`
 * - `jit_amqp_queue_messages{queue, state=ready|retry|dead}`, `jit_amqp_queue_consumers{queue}`
 * - `jit_outbox_pending_messages`, `jit_outbox_oldest_pending_age_seconds`
 *
 * Registering twice on one registry throws (duplicate names): one registry per app.
 */
export function registerConnectionMetrics (registry: Registry, connections: Connections, opts: ConnectionMetricsOptions = {}): void {
  const prefix = opts.prefix ?? 'jit'
  const healthCacheMs = opts.healthCacheMs ?? 1000
  const registers = [registry]
  const report = cached(healthCacheMs, async () => await connections.health())

  gauge(`${prefix}_dependency_up`, 'Whether a dependency answered its last health probe (1) or not (0); required="true" ones make the service unready', ['dependency', 'required'], async function () {
    for (const [dependency, h] of Object.entries((await report()).dependencies)) this.set({ dependency, required: String(h.required) }, h.up ? 1 : 0)
  })
  gauge(`${prefix}_dependency_probe_duration_seconds`, 'Round trip of the last health probe of a dependency, seconds (absent when it failed)', ['dependency'], async function () {
    for (const [dependency, h] of Object.entries((await report()).dependencies)) {
      if (h.latencyMs !== null) this.set({ dependency }, h.latencyMs / 1000)
    }
  })

  if (connections.uses.postgres) {
    const db = connections.db
    gauge(`${prefix}_db_pool_connections`, 'PostgreSQL pool connections in use (calls in flight, up to max) and idle', ['state'], function () {
      const s = db.stats()
      this.set({ state: 'in_use' }, s.inUse)
      this.set({ state: 'idle' }, s.idle)
    })
    gauge(`${prefix}_db_pool_waiting_calls`, 'PostgreSQL calls waiting behind a busy pool (in flight beyond max)', [], function () { this.set(db.stats().waiting) })
    gauge(`${prefix}_db_pool_max_connections`, 'Configured PostgreSQL pool maximum (capacity)', [], function () { this.set(db.stats().max) })
    gauge(`${prefix}_db_pool_min_connections`, 'Configured PostgreSQL pool minimum', [], function () { this.set(db.stats().min) })
    totalCounter(`${prefix}_db_queries_total`, 'PostgreSQL queries and transactions completed', () => db.stats().queries)
    totalCounter(`${prefix}_db_slow_queries_total`, 'PostgreSQL queries and transactions at or above the slow-query threshold', () => db.stats().slowQueries)
    totalCounter(`${prefix}_db_query_errors_total`, 'PostgreSQL queries and transactions that failed', () => db.stats().errors)

    if (opts.outbox ?? true) {
      const backlog = cached<OutboxBacklog | null>(healthCacheMs, async () => {
        // Unreadable (PostgreSQL down): no sample rather than a misleading 0; dependency_up says why.
        try { return await readOutboxBacklog(db.sql) } catch { return null }
      })
      gauge(`${prefix}_outbox_pending_messages`, 'Outbox rows written but not yet published to RabbitMQ', [], async function () {
        const b = await backlog()
        if (b !== null) this.set(b.pending)
      })
      gauge(`${prefix}_outbox_oldest_pending_age_seconds`, 'Age of the oldest unpublished outbox row, seconds (0 when none)', [], async function () {
        const b = await backlog()
        if (b !== null) this.set(b.oldestAgeSeconds)
      })
    }
  }

  if (connections.uses.cache) {
    const cache = connections.cache
    gauge(`${prefix}_cache_connected`, 'Whether the Redis cache is connected (1) or not (0)', [], function () { this.set(cache.stats().connected ? 1 : 0) })
    totalCounter(`${prefix}_cache_hits_total`, 'Reads answered from Redis', () => cache.stats().hits)
    totalCounter(`${prefix}_cache_misses_total`, 'Reads not answered from Redis', () => cache.stats().misses)
    totalCounter(`${prefix}_cache_errors_total`, 'Cache operations that failed or skipped Redis', () => cache.stats().errors)
  }

  if (connections.uses.amqp) {
    gauge(`${prefix}_amqp_queue_messages`, 'Messages waiting in a work queue (ready), its retry queues (retry) and its dead-letter queue (dead)', ['queue', 'state'], async function () {
      for (const q of queuesOf(await report())) {
        this.set({ queue: q.queue, state: 'ready' }, q.messages)
        this.set({ queue: q.queue, state: 'retry' }, q.retryMessages)
        this.set({ queue: q.queue, state: 'dead' }, q.deadMessages)
      }
    })
    gauge(`${prefix}_amqp_queue_consumers`, 'Consumers of a work queue', ['queue'], async function () {
      for (const q of queuesOf(await report())) this.set({ queue: q.queue }, q.consumers)
    })
  }

  // A gauge read at scrape time. Reset first: a series the source no longer reports (a queue gone,
  // a failed probe's latency, an unreadable outbox) is not exported with its last value.
  function gauge<L extends string> (name: string, help: string, labelNames: L[], read: (this: Gauge<L>) => void | Promise<void>): void {
    // eslint-disable-next-line no-new -- prom-client metrics register themselves; the object is not needed.
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect () {
        this.reset()
        await read.call(this)
      }
    })
  }

  // Counters read from a monotonic source: reset and re-add, so the exported value is the source's.
  function totalCounter (name: string, help: string, read: () => number): void {
    // eslint-disable-next-line no-new
    new Counter({
      name,
      help,
      registers,
      collect () {
        this.reset()
        this.inc(read())
      }
    })
  }
}

/** Reuses a result younger than `ttlMs`; a failed one is not served to the next callers. */
function cached<T> (ttlMs: number, load: () => Promise<T>): () => Promise<T> {
  let last: { at: number, value: Promise<T> } | undefined
  return async () => {
    const now = Date.now()
    if (last === undefined || now - last.at > ttlMs) {
      const pending = load()
      last = { at: now, value: pending }
      pending.catch(() => { if (last?.value === pending) last = undefined })
    }
    return await last.value
  }
}

interface QueueDepth { queue: string, messages: number, consumers: number, retryMessages: number, deadMessages: number }

function queuesOf (report: HealthReport): QueueDepth[] {
  const queues = report.dependencies.rabbitmq?.detail?.queues
  return Array.isArray(queues) ? queues as QueueDepth[] : []
}
