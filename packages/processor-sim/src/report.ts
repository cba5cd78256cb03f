/**
 * The demo's report, read from what the services export (their `/metrics` and `/ready`), so it
 * shows what an operator's dashboard would: approval rate and decline reasons, latency
 * percentiles per decision stage and end to end, webhook-to-ledger lag, cache hit rate and
 * dead letters; the caller adds the invariant check.
 */

/** One Prometheus sample. */
export interface Sample { name: string, labels: Record<string, string>, value: number }

/** Parses the Prometheus text exposition format (comments skipped). */
export function parsePrometheus (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1')
    const value = m[3] === '+Inf' ? Infinity : Number(m[3])
    samples.push({ name: m[1] as string, labels, value })
  }
  return samples
}

/**
 * A quantile of a Prometheus histogram (its `_bucket` samples matching `match`), interpolated
 * linearly inside the bucket as PromQL's histogram_quantile does; null without observations.
 */
export function histogramQuantile (samples: Sample[], name: string, q: number, match: Record<string, string> = {}): number | null {
  const buckets = new Map<number, number>()
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)
    buckets.set(le, (buckets.get(le) ?? 0) + s.value)
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0])
  const total = sorted.at(-1)?.[1] ?? 0
  if (total === 0) return null
  const rank = q * total
  let prevLe = 0
  let prevCount = 0
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe
      const inBucket = count - prevCount
      return inBucket === 0 ? le : prevLe + (le - prevLe) * ((rank - prevCount) / inBucket)
    }
    prevLe = le
    prevCount = count
  }
  return prevLe
}

function sum (samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter(s => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
}

export interface Percentiles { p50: number | null, p95: number | null, p99: number | null }

export interface DemoReport {
  decisions: number
  approvalRate: number | null
  declineReasons: Record<string, number>
  /** Milliseconds, per decision stage and end to end (the authorizer's own measurement). */
  stages: Record<string, Percentiles>
  endToEnd: Percentiles
  /** Seconds from a webhook's publish to its ledger effect (the worker's measurement). */
  webhookToLedger: Percentiles & { count: number }
  cacheHitRate: number | null
  deadLetters: number
}

function percentiles (samples: Sample[], name: string, scale: number, match: Record<string, string> = {}): Percentiles {
  const at = (q: number): number | null => {
    const v = histogramQuantile(samples, name, q, match)
    return v === null ? null : v * scale
  }
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) }
}

/** Builds the report from the authorizer's and the worker's metrics and the worker's `/ready`. */
export function buildReport (authorizerMetrics: string, workerMetrics: string, workerReady: unknown): DemoReport {
  const a = parsePrometheus(authorizerMetrics)
  const w = parsePrometheus(workerMetrics)
  const decisions = a.filter(s => s.name === 'jit_decisions_total')
  const total = decisions.reduce((x, s) => x + s.value, 0)
  const approved = decisions.filter(s => s.labels.outcome === 'approved').reduce((x, s) => x + s.value, 0)
  const declined = decisions.filter(s => s.labels.outcome === 'declined').reduce((x, s) => x + s.value, 0)
  const declineReasons: Record<string, number> = {}
  for (const s of decisions) {
    if (s.labels.outcome !== 'declined' || s.value === 0) continue
    const reason = s.labels.reason ?? s.labels.decline_reason ?? 'unknown'
    declineReasons[reason] = (declineReasons[reason] ?? 0) + s.value
  }
  const stages: Record<string, Percentiles> = {}
  const stageNames = new Set(a.filter(s => s.name === 'jit_stage_duration_seconds_bucket').map(s => s.labels.stage ?? ''))
  for (const stage of stageNames) stages[stage] = percentiles(a, 'jit_stage_duration_seconds', 1000, { stage })
  const hits = sum(a, 'jit_cache_hits_total')
  const misses = sum(a, 'jit_cache_misses_total')
  const queues = ((workerReady as { dependencies?: { rabbitmq?: { detail?: { queues?: Array<{ deadMessages?: number }> } } } })?.dependencies?.rabbitmq?.detail?.queues) ?? []
  return {
    decisions: total,
    // informative answers and inquiries are neither: the rate is of the decisions that could decline
    approvalRate: approved + declined === 0 ? null : approved / (approved + declined),
    declineReasons,
    stages,
    endToEnd: percentiles(a, 'jit_request_duration_seconds', 1000),
    webhookToLedger: { ...percentiles(w, 'txn_worker_webhook_to_ledger_lag_seconds', 1), count: sum(w, 'txn_worker_webhook_to_ledger_lag_seconds_count') },
    cacheHitRate: hits + misses === 0 ? null : hits / (hits + misses),
    deadLetters: queues.reduce((x, q) => x + (q.deadMessages ?? 0), 0)
  }
}

/** The report as text. */
export function formatReport (r: DemoReport): string {
  const ms = (v: number | null): string => v === null ? '-' : `${v.toFixed(1)} ms`
  const s = (v: number | null): string => v === null ? '-' : `${(v * 1000).toFixed(0)} ms`
  const pct = (v: number | null): string => v === null ? '-' : `${(v * 100).toFixed(1)}%`
  const lines = [
    `decisions            ${r.decisions}`,
    `approval rate        ${pct(r.approvalRate)}`,
    `decline reasons      ${Object.keys(r.declineReasons).length === 0 ? 'none' : Object.entries(r.declineReasons).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    'latency (authorizer)  p50        p95        p99',
    ...Object.entries(r.stages).map(([name, p]) => `  ${name.padEnd(19)} ${ms(p.p50).padEnd(10)} ${ms(p.p95).padEnd(10)} ${ms(p.p99)}`),
    `  ${'end to end'.padEnd(19)} ${ms(r.endToEnd.p50).padEnd(10)} ${ms(r.endToEnd.p95).padEnd(10)} ${ms(r.endToEnd.p99)}`,
    `webhook-to-ledger    p50 ${s(r.webhookToLedger.p50)}, p95 ${s(r.webhookToLedger.p95)}, p99 ${s(r.webhookToLedger.p99)} (${r.webhookToLedger.count} events)`,
    `cache hit rate       ${pct(r.cacheHitRate)}`,
    `dead letters         ${r.deadLetters}`
  ]
  return lines.join('\n') + '\n'
}
