import { deadQueueName, type Amqp } from '@jit/amqp'
import { readOutboxBacklog } from '@jit/outbox'
import type { HealthReport } from '@jit/connections'
import { decisionStats, type DecisionStats } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import { html, type Html } from './html.js'

/** The health view's figures. */
export interface ConsoleHealth {
  since: Date
  decisions: DecisionStats & { total: number, approved: number, declined: number, approvalRate: number | null }
  queues: Array<{ queue: string, depth: number | null, dead: number | null }>
  outbox: { pending: number, oldestAgeSeconds: number }
  dependencies: HealthReport | null
  /** JIT stage p99 over the last hour from Prometheus, ms per stage; null when not configured. */
  jitStages: { p99Ms: Record<string, number>, error: string | null } | null
}

/** What {@link readHealth} reads. */
export interface HealthDeps {
  db: Database
  amqp?: Amqp | undefined
  health?: (() => Promise<HealthReport>) | undefined
  /** `CONSOLE_PROMETHEUS_URL`. */
  prometheusUrl?: string | undefined
  /** `CONSOLE_PROMETHEUS_TIMEOUT_MS`. @default 2000 */
  prometheusTimeoutMs?: number | undefined
}

/** The PromQL of the JIT stage p99 (jit-authorizer's `jit_stage_duration_seconds` histogram). */
export const JIT_STAGE_P99_QUERY = 'histogram_quantile(0.99, sum by (le, stage) (rate(jit_stage_duration_seconds_bucket[1h])))'

/**
 * The JIT stage p99 from Prometheus, in ms per stage: jit-authorizer measures the stages and the
 * worker never calls another service, so Prometheus (which scrapes both) is where it is read.
 * Bounded by `timeoutMs` (CONSOLE_PROMETHEUS_TIMEOUT_MS); a failure is reported, never thrown.
 */
export async function readJitStageP99 (prometheusUrl: string, timeoutMs = 2000): Promise<{ p99Ms: Record<string, number>, error: string | null }> {
  try {
    const url = new URL('api/v1/query', prometheusUrl.endsWith('/') ? prometheusUrl : `${prometheusUrl}/`)
    url.searchParams.set('query', JIT_STAGE_P99_QUERY)
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    if (!res.ok) return { p99Ms: {}, error: `Prometheus answered ${res.status}` }
    const body = await res.json() as { status?: string, data?: { result?: Array<{ metric?: Record<string, string>, value?: [number, string] }> } }
    const p99Ms: Record<string, number> = {}
    for (const r of body.data?.result ?? []) {
      const stage = r.metric?.stage
      const value = Number(r.value?.[1])
      if (stage !== undefined && Number.isFinite(value)) p99Ms[stage] = value * 1000
    }
    return { p99Ms, error: null }
  } catch (err) {
    return { p99Ms: {}, error: `Prometheus unreachable: ${err instanceof Error ? err.message : String(err)}` }
  }
}

async function depth (amqp: Amqp, queue: string): Promise<number | null> {
  try {
    return (await amqp.connection.queueDeclare({ queue, passive: true })).messageCount
  } catch {
    return null
  }
}

/** Last hour's decisions, queue depths, outbox lag and each dependency's readiness. */
export async function readHealth (deps: HealthDeps, now = new Date()): Promise<ConsoleHealth> {
  const since = new Date(now.getTime() - 3600_000)
  const amqp = deps.amqp
  const [stats, queues, outbox, dependencies, jitStages] = await Promise.all([
    decisionStats(deps.db.sql, since),
    amqp === undefined
      ? Promise.resolve([])
      : Promise.all(amqp.topology.queues.map(async q => ({ queue: q.name, depth: await depth(amqp, q.name), dead: await depth(amqp, deadQueueName(q.name)) }))),
    readOutboxBacklog(deps.db.sql),
    deps.health === undefined ? Promise.resolve(null) : deps.health().catch(() => null),
    deps.prometheusUrl === undefined || deps.prometheusUrl === '' ? Promise.resolve(null) : readJitStageP99(deps.prometheusUrl, deps.prometheusTimeoutMs)
  ])
  const count = (outcome: string): number => stats.byOutcome.filter(r => r.outcome === outcome).reduce((a, r) => a + r.count, 0)
  const approved = count('approved')
  const declined = count('declined')
  return {
    since,
    decisions: { ...stats, total: approved + declined + count('answered') + count('pending'), approved, declined, approvalRate: approved + declined === 0 ? null : approved / (approved + declined) },
    queues,
    outbox,
    dependencies,
    jitStages
  }
}

/**
 * Approved and declined decisions per minute over the hour as stacked bars: an SVG with a
 * title and description for screen readers (the same figures are in the table beside it).
 */
export function decisionsChart (perMinute: DecisionStats['perMinute'], since: Date): Html {
  const W = 600
  const H = 140
  const PAD = 24
  const minutes = 60
  const byMinute = new Map(perMinute.map(m => [Math.floor((m.minute.getTime() - since.getTime()) / 60000), m]))
  const max = Math.max(1, ...perMinute.map(m => m.approved + m.declined))
  const bw = (W - PAD) / minutes
  const bars: Html[] = []
  for (let i = 0; i < minutes; i++) {
    const m = byMinute.get(i)
    if (m === undefined) continue
    const x = PAD + i * bw
    const ha = ((H - PAD) * m.approved) / max
    const hd = ((H - PAD) * m.declined) / max
    bars.push(html`<rect x="${x.toFixed(1)}" y="${(H - PAD - ha).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${ha.toFixed(1)}" fill="#146c2e"><title>${m.minute.toISOString().slice(11, 16)}: ${m.approved} approved</title></rect>`)
    bars.push(html`<rect x="${x.toFixed(1)}" y="${(H - PAD - ha - hd).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${hd.toFixed(1)}" fill="#b3261e"><title>${m.minute.toISOString().slice(11, 16)}: ${m.declined} declined</title></rect>`)
  }
  const total = perMinute.reduce((a, m) => a + m.approved + m.declined, 0)
  return html`<svg role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 ${W} ${H}" class="chart">
<title id="chart-title">Decisions per minute, last hour</title>
<desc id="chart-desc">${total} decisions; green approved, red declined; at most ${max} in one minute.</desc>
<line x1="${PAD}" y1="${H - PAD}" x2="${W}" y2="${H - PAD}" stroke="#767676"/>
<text x="0" y="12">${max}</text><text x="0" y="${H - PAD}">0</text>
<text x="${PAD}" y="${H - 6}">-60 min</text><text x="${W - 40}" y="${H - 6}">now</text>
${bars}</svg>`
}
