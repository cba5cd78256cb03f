import { Counter, Gauge, type Registry } from 'prom-client'
import type { Connections, HealthReport } from './connections.js'

/** Options of {@link registerConnectionMetrics}. */
export interface ConnectionMetricsOptions {
  /**
   * Metric name prefix.
   * @default 'jit'
   */
  prefix?: string
  /**
   * A health report younger than this is reused: one scrape reads many metrics, and a scrape
   * must not run one probe round per metric.
   * @default 1000
   */
  healthCacheMs?: number
}

/**
 * Registers, on `registry`, metrics read from `connections` at scrape time (collect callbacks, so
 * nothing polls between scrapes):
 * - `jit_dependency_up{dependency}` (1/0) and `jit_dependency_latency_ms{dependency}`
 * - `jit_db_pool_connections{state=open|in_use|idle|waiting|min|max}`, `jit_db_pool_utilisation`,
 *   `jit_db_queries_total`, `jit_db_slow_queries_total`, `jit_db_query_errors_total`
 * - `jit_cache_hit_rate`, `jit_cache_connected`, `jit_cache_hits_total`, `jit_cache_misses_total`,
 *   `jit_cache_errors_total`
 * - `jit_amqp_queue_messages{queue, state=ready|retry|dead}`, `jit_amqp_queue_consumers{queue}`
 *
 * Registering twice on one registry throws (duplicate names): one registry per app.
 */
export function registerConnectionMetrics (registry: Registry, connections: Connections, opts: ConnectionMetricsOptions = {}): void {
  const prefix = opts.prefix ?? 'jit'
  const healthCacheMs = opts.healthCacheMs ?? 1000
  const registers = [registry]
  let last: { at: number, report: Promise<HealthReport> } | undefined

  async function report (): Promise<HealthReport> {
    const now = Date.now()
    if (last === undefined || now - last.at > healthCacheMs) {
      const pending = connections.health()
      last = { at: now, report: pending }
      // A failed report must not be served to the next scrapes.
      pending.catch(() => { if (last?.report === pending) last = undefined })
    }
    return await last.report
  }

  /* eslint-disable no-new -- prom-client metrics register themselves; the object is not needed. */
  new Gauge({
    name: `${prefix}_dependency_up`,
    help: 'Whether a dependency answered its last health probe (1) or not (0)',
    labelNames: ['dependency'],
    registers,
    async collect () {
      this.reset()
      for (const [dependency, h] of Object.entries((await report()).dependencies)) this.set({ dependency }, h.up ? 1 : 0)
    }
  })
  new Gauge({
    name: `${prefix}_dependency_latency_ms`,
    help: 'Round trip of the last health probe of a dependency, ms (absent when it failed)',
    labelNames: ['dependency'],
    registers,
    async collect () {
      this.reset()
      for (const [dependency, h] of Object.entries((await report()).dependencies)) {
        if (h.latencyMs !== null) this.set({ dependency }, h.latencyMs)
      }
    }
  })

  if (connections.uses.postgres) {
    const db = connections.db
    new Gauge({
      name: `${prefix}_db_pool_connections`,
      help: 'PostgreSQL pool connections by state (open, in_use, idle, waiting calls, configured min and max)',
      labelNames: ['state'],
      registers,
      collect () {
        const s = db.stats()
        this.set({ state: 'open' }, s.open)
        this.set({ state: 'in_use' }, s.inUse)
        this.set({ state: 'idle' }, s.idle)
        this.set({ state: 'waiting' }, s.waiting)
        this.set({ state: 'min' }, s.min)
        this.set({ state: 'max' }, s.max)
      }
    })
    new Gauge({
      name: `${prefix}_db_pool_utilisation`,
      help: 'PostgreSQL pool calls in flight / max, 0..1',
      registers,
      collect () { this.set(db.stats().utilisation) }
    })
    totalCounter(`${prefix}_db_queries_total`, 'PostgreSQL queries and transactions completed', () => db.stats().queries)
    totalCounter(`${prefix}_db_slow_queries_total`, 'PostgreSQL queries and transactions at or above the slow-query threshold', () => db.stats().slowQueries)
    totalCounter(`${prefix}_db_query_errors_total`, 'PostgreSQL queries and transactions that failed', () => db.stats().errors)
  }

  if (connections.uses.cache) {
    const cache = connections.cache
    new Gauge({
      name: `${prefix}_cache_hit_rate`,
      help: 'Redis cache hits / reads since start, 0..1',
      registers,
      collect () { this.set(cache.stats().hitRate) }
    })
    new Gauge({
      name: `${prefix}_cache_connected`,
      help: 'Whether the Redis cache is connected (1) or not (0)',
      registers,
      collect () { this.set(cache.stats().connected ? 1 : 0) }
    })
    totalCounter(`${prefix}_cache_hits_total`, 'Reads answered from Redis', () => cache.stats().hits)
    totalCounter(`${prefix}_cache_misses_total`, 'Reads not answered from Redis', () => cache.stats().misses)
    totalCounter(`${prefix}_cache_errors_total`, 'Cache operations that failed or skipped Redis', () => cache.stats().errors)
  }

  if (connections.uses.amqp) {
    new Gauge({
      name: `${prefix}_amqp_queue_messages`,
      help: 'Messages waiting in a work queue (ready), its retry queues (retry) and its dead-letter queue (dead)',
      labelNames: ['queue', 'state'],
      registers,
      async collect () {
        this.reset()
        for (const q of queuesOf(await report())) {
          this.set({ queue: q.queue, state: 'ready' }, q.messages)
          this.set({ queue: q.queue, state: 'retry' }, q.retryMessages)
          this.set({ queue: q.queue, state: 'dead' }, q.deadMessages)
        }
      }
    })
    new Gauge({
      name: `${prefix}_amqp_queue_consumers`,
      help: 'Consumers of a work queue',
      labelNames: ['queue'],
      registers,
      async collect () {
        this.reset()
        for (const q of queuesOf(await report())) this.set({ queue: q.queue }, q.consumers)
      }
    })
  }
  /* eslint-enable no-new */

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

interface QueueDepth { queue: string, messages: number, consumers: number, retryMessages: number, deadMessages: number }

function queuesOf (report: HealthReport): QueueDepth[] {
  const queues = report.dependencies.rabbitmq?.detail?.queues
  return Array.isArray(queues) ? queues as QueueDepth[] : []
}
