import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { SlidingCounts, type OutcomeCounts } from './sliding-counts.js'
import { SlidingHistogram, type WindowSummary } from './sliding-histogram.js'

/** How a request ended, as the processor sees it (docs/processor-protocol.md): an approval, a decline, or an informative answer. */
export type Outcome = 'approved' | 'declined' | 'answered'

/** Severity of a latency threshold breach. */
export type BreachLevel = 'warning' | 'critical'

/** Latency thresholds of one stage (or of the whole request, under the key `total`). */
export interface StageThresholds {
  /** Durations strictly above this are warnings. */
  warnMs?: number
  /** Durations strictly above this are critical (and not also counted as warnings). */
  criticalMs?: number
}

/** Options of {@link createProfiler}. */
export interface ProfilerOptions<S extends string = string> {
  /**
   * Metric name prefix and the `profiler` field of its log lines.
   * @default 'jit'
   */
  name?: string
  /** The stages a request goes through, in order; recording any other name throws. `total` is reserved. */
  stages: readonly S[]
  /**
   * Default warning threshold for every stage and the total.
   * @default 50
   */
  warnMs?: number
  /**
   * Default critical threshold for every stage and the total.
   * @default 100
   */
  criticalMs?: number
  /** Per-stage overrides of the thresholds; the key `total` is the whole request. */
  thresholds?: Partial<Record<S | 'total', StageThresholds>>
  /**
   * Length of the sliding window of the percentiles and of the breach log suppression.
   * @default 60000
   */
  windowMs?: number
  /**
   * Number of sub-histograms the window is split into (it slides by `windowMs / windowSlices`).
   * @default 6
   */
  windowSlices?: number
  /**
   * HDR histogram precision in significant decimal digits (3 = 0.1 %).
   * @default 3
   */
  significantDigits?: 1 | 2 | 3 | 4 | 5
  /**
   * Upper bounds (seconds) of the Prometheus histogram buckets.
   * @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 1.5, 3]
   */
  buckets?: readonly number[]
  /** Where breach logs go (warning at `warn`, critical at `error`); silent when absent. */
  logger?: Logger
  /** Registry the metrics are registered on; a fresh one (without default metrics) when absent. */
  registry?: Registry
  /**
   * Monotonic clock in milliseconds; inject a fake one in tests.
   * @default performance.now
   */
  now?: () => number
}

/** One stage's (or the total's) figures: windowed latency in ms, cumulative breach counts. */
export interface StageSnapshot extends WindowSummary {
  /** Warning breaches since the profiler was created. */
  warnings: number
  /** Critical breaches since the profiler was created. */
  criticals: number
  warnMs: number
  criticalMs: number
}

/** Decision counts; `rate` is approved / (approved + declined), `null` before the first decision. */
export interface ApprovalSnapshot extends OutcomeCounts {
  rate: number | null
  /** Declines by reason since the profiler was created (`none` when no reason was given). */
  reasons: Record<string, number>
  /** The same counts over the sliding window only. */
  window: OutcomeCounts & { rate: number | null }
}

/** JSON-serialisable state of a profiler, e.g. for a benchmark report or a debug endpoint. */
export interface ProfilerSnapshot<S extends string = string> {
  name: string
  windowMs: number
  stages: Record<S, StageSnapshot>
  total: StageSnapshot
  approvals: ApprovalSnapshot
}

/** Times one request. Create one per request with {@link Profiler.start}; not shared between requests. */
export interface RequestTimer<S extends string = string> {
  /**
   * Runs `fn` as stage `name` and records its duration, also when it throws (the error is rethrown).
   * The next {@link RequestTimer.mark} measures from the end of this stage.
   */
  stage<T>(name: S, fn: () => T | Promise<T>): Promise<T>
  /** Ends stage `name`, which began at the previous mark, the end of the previous `stage()`, or the start. */
  mark(name: S): void
  /** Milliseconds since the timer started, e.g. to check the remaining deadline budget. */
  elapsedMs(): number
  /**
   * Records the request's total duration (and its outcome, when given) and returns it in ms.
   * Only the first call records; later calls return the same total.
   */
  end(outcome?: Outcome, reason?: string): number
  /**
   * This request's stage durations in ms (a stage run twice, e.g. a decision retried on fresh
   * data, is summed), and `total` once {@link RequestTimer.end} ran: for the request's log line.
   */
  timings(): Partial<Record<S | 'total', number>>
}

/** Stage latency profiler with windowed HDR percentiles, breach thresholds and Prometheus export. */
export interface Profiler<S extends string = string> {
  readonly name: string
  readonly stages: readonly S[]
  /** The registry holding this profiler's metrics. */
  readonly registry: Registry
  /** Starts timing a request. */
  start(): RequestTimer<S>
  /** Records a stage duration measured elsewhere. Throws on an unknown stage or a negative or non-finite duration. */
  recordStage(stage: S, ms: number): void
  /** Records a whole-request duration measured elsewhere. */
  recordTotal(ms: number): void
  /** Counts a decision; `reason` is the decline reason (bounded set, e.g. INSUFFICIENT_FUNDS). */
  recordOutcome(outcome: Outcome, reason?: string): void
  /** Current windowed percentiles, breach counts and approvals. */
  snapshot(): ProfilerSnapshot<S>
  /** The registry's metrics in Prometheus text format (serve with `registry.contentType`). */
  metrics(): Promise<string>
}

// Seconds; 0.05 and 0.1 are the default warning and critical thresholds, 1.5 the decision budget
// and 3 the processor's deadline, so quantiles near them are read exactly.
const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 1.5, 3]
const TOTAL = 'total'
// Decline reasons come from a fixed vocabulary, but a label fed by a bug must not grow without
// bound: past this many distinct reasons, new ones are counted as `other`.
const MAX_REASONS = 64
const OUTCOMES: readonly Outcome[] = ['approved', 'declined', 'answered']

interface StageState {
  readonly name: string
  readonly labels: { stage: string }
  readonly window: SlidingHistogram
  readonly warnMs: number
  readonly criticalMs: number
  warnings: number
  criticals: number
  lastWarningLogAt: number
  lastCriticalLogAt: number
  warningsSinceLog: number
  criticalsSinceLog: number
}

function positive (value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${what} must be a positive number, got ${String(value)}`)
  return value
}

/**
 * Creates a stage latency profiler.
 *
 * Each stage (and the total) keeps an HDR histogram over a sliding window for p50/p95/p99/max,
 * a Prometheus histogram for long-term aggregation, and warning/critical thresholds whose
 * breaches are all counted but logged at most once per window per stage and level, so a slow
 * database cannot turn into a log storm.
 *
 * @example
 * ```ts
 * const profiler = createProfiler({ stages: ['user', 'card', 'limits', 'decision'], registry, logger })
 * const timer = profiler.start()
 * const user = await timer.stage('user', () => users.get(token))
 * // ...
 * timer.end('declined', 'INSUFFICIENT_FUNDS')
 * ```
 */
export function createProfiler<const S extends string> (options: ProfilerOptions<S>): Profiler<S> {
  const name = options.name ?? 'jit'
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`profiler name must be a valid metric prefix, got ${JSON.stringify(name)}`)
  const stages = [...options.stages]
  if (stages.length === 0) throw new TypeError('profiler needs at least one stage')
  if (new Set(stages).size !== stages.length) throw new TypeError('profiler stage names must be unique')
  if (stages.includes(TOTAL as S)) throw new TypeError('"total" is reserved for the whole request')
  const windowMs = positive(options.windowMs ?? 60_000, 'windowMs')
  const slices = options.windowSlices ?? 6
  if (!Number.isInteger(slices) || slices < 1) throw new RangeError(`windowSlices must be a positive integer, got ${String(slices)}`)
  const significantDigits = options.significantDigits ?? 3
  const defaultWarnMs = positive(options.warnMs ?? 50, 'warnMs')
  const defaultCriticalMs = positive(options.criticalMs ?? 100, 'criticalMs')
  const now = options.now ?? (() => performance.now())
  const registry = options.registry ?? new Registry()
  const logger = options.logger?.child({ profiler: name })

  function stateFor (stage: string): StageState {
    const override = options.thresholds?.[stage as S | 'total']
    const warnMs = positive(override?.warnMs ?? defaultWarnMs, `${stage} warnMs`)
    const criticalMs = positive(override?.criticalMs ?? defaultCriticalMs, `${stage} criticalMs`)
    if (criticalMs < warnMs) throw new RangeError(`${stage}: criticalMs (${criticalMs}) is below warnMs (${warnMs})`)
    return {
      name: stage,
      labels: { stage },
      window: new SlidingHistogram(windowMs, slices, significantDigits),
      warnMs,
      criticalMs,
      warnings: 0,
      criticals: 0,
      lastWarningLogAt: -Infinity,
      lastCriticalLogAt: -Infinity,
      warningsSinceLog: 0,
      criticalsSinceLog: 0
    }
  }

  const stageStates = new Map<string, StageState>(stages.map((stage) => [stage, stateFor(stage)]))
  const totalState = stateFor(TOTAL)

  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)]
  if (buckets.some(b => !Number.isFinite(b) || b <= 0)) throw new RangeError('buckets must be positive numbers of seconds')
  // Prometheus conventions: durations in seconds, histograms for latency (PromQL computes any
  // quantile over any range with histogram_quantile), counters for outcomes (PromQL computes
  // rates and ratios). Windowed quantile gauges or a rate since start would not aggregate
  // across instances, so they are only in snapshot() (benchmarks, debugging), never exported.
  const stageHistogram = new Histogram({
    name: `${name}_stage_duration_seconds`,
    help: 'Duration of each request stage in seconds',
    labelNames: ['stage'],
    buckets,
    registers: [registry]
  })
  const totalHistogram = new Histogram({
    name: `${name}_request_duration_seconds`,
    help: 'Duration of whole requests in seconds',
    buckets,
    registers: [registry]
  })
  const breachCounter = new Counter({
    name: `${name}_latency_breaches_total`,
    help: 'Stage (or total, stage="total") durations above the warning or critical threshold',
    labelNames: ['stage', 'level'],
    registers: [registry]
  })
  const decisionCounter = new Counter({
    name: `${name}_decisions_total`,
    help: 'Decisions by outcome and decline reason',
    labelNames: ['outcome', 'reason'],
    registers: [registry]
  })
  // The configured thresholds, so a dashboard draws them and an alert compares against the
  // value the service actually uses.
  const thresholdGauge = new Gauge({
    name: `${name}_latency_threshold_seconds`,
    help: 'Configured warning and critical latency thresholds of each stage (and of the whole request, stage="total")',
    labelNames: ['stage', 'level'],
    registers: [registry]
  })

  // Zero series up front, so dashboards and alerts see 0 rather than "no data" before the first breach.
  for (const state of [...stageStates.values(), totalState]) {
    if (state !== totalState) stageHistogram.zero(state.labels)
    breachCounter.inc({ stage: state.name, level: 'warning' }, 0)
    breachCounter.inc({ stage: state.name, level: 'critical' }, 0)
    thresholdGauge.set({ stage: state.name, level: 'warning' }, state.warnMs / 1000)
    thresholdGauge.set({ stage: state.name, level: 'critical' }, state.criticalMs / 1000)
  }
  for (const outcome of OUTCOMES) if (outcome !== 'declined') decisionCounter.inc({ outcome, reason: 'none' }, 0)

  const totals: OutcomeCounts = { approved: 0, declined: 0, answered: 0 }
  const reasons = new Map<string, number>()
  const windowCounts = new SlidingCounts(windowMs, slices)

  function checkThresholds (state: StageState, ms: number, at: number): void {
    if (ms <= state.warnMs) return
    const critical = ms > state.criticalMs
    const level: BreachLevel = critical ? 'critical' : 'warning'
    breachCounter.inc({ stage: state.name, level })
    if (critical) {
      state.criticals++
      state.criticalsSinceLog++
      if (at - state.lastCriticalLogAt < windowMs) return
      logger?.error({ stage: state.name, ms, thresholdMs: state.criticalMs, breaches: state.criticalsSinceLog, windowMs },
        'latency above critical threshold')
      state.lastCriticalLogAt = at
      state.criticalsSinceLog = 0
    } else {
      state.warnings++
      state.warningsSinceLog++
      if (at - state.lastWarningLogAt < windowMs) return
      logger?.warn({ stage: state.name, ms, thresholdMs: state.warnMs, breaches: state.warningsSinceLog, windowMs },
        'latency above warning threshold')
      state.lastWarningLogAt = at
      state.warningsSinceLog = 0
    }
  }

  function lookup (stage: string): StageState {
    const state = stageStates.get(stage)
    if (state === undefined) throw new TypeError(`unknown profiler stage ${JSON.stringify(stage)}; known: ${stages.join(', ')}`)
    return state
  }

  function recordStageAt (state: StageState, ms: number, at: number): void {
    state.window.record(ms, at)
    stageHistogram.observe(state.labels, ms / 1000)
    checkThresholds(state, ms, at)
  }

  function recordTotalAt (ms: number, at: number): void {
    totalState.window.record(ms, at)
    totalHistogram.observe(ms / 1000)
    checkThresholds(totalState, ms, at)
  }

  function checkDuration (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`duration must be a finite number >= 0, got ${String(ms)}`)
  }

  function recordOutcome (outcome: Outcome, reason?: string): void {
    if (!OUTCOMES.includes(outcome)) throw new TypeError(`unknown outcome ${JSON.stringify(outcome)}`)
    let label = reason === undefined || reason === '' ? 'none' : reason
    if (outcome === 'declined') {
      if (!reasons.has(label) && reasons.size >= MAX_REASONS) label = 'other'
      reasons.set(label, (reasons.get(label) ?? 0) + 1)
    }
    totals[outcome]++
    windowCounts.add(outcome, now())
    decisionCounter.inc({ outcome, reason: label })
  }

  function summarise (state: StageState, at: number): StageSnapshot {
    return { ...state.window.summary(at), warnings: state.warnings, criticals: state.criticals, warnMs: state.warnMs, criticalMs: state.criticalMs }
  }

  const profiler: Profiler<S> = {
    name,
    stages,
    registry,
    start () {
      return createTimer(now, lookup, recordStageAt, recordTotalAt, recordOutcome)
    },
    recordStage (stage, ms) {
      const state = lookup(stage)
      checkDuration(ms)
      recordStageAt(state, ms, now())
    },
    recordTotal (ms) {
      checkDuration(ms)
      recordTotalAt(ms, now())
    },
    recordOutcome,
    snapshot () {
      const at = now()
      const stageSnapshots = {} as Record<S, StageSnapshot>
      for (const stage of stages) stageSnapshots[stage] = summarise(lookup(stage), at)
      const windowed = windowCounts.sum(at)
      return {
        name,
        windowMs,
        stages: stageSnapshots,
        total: summarise(totalState, at),
        approvals: {
          ...totals,
          rate: rateOf(totals),
          reasons: Object.fromEntries(reasons),
          window: { ...windowed, rate: rateOf(windowed) }
        }
      }
    },
    metrics () {
      return registry.metrics()
    }
  }
  return profiler
}

function rateOf (counts: OutcomeCounts): number | null {
  const decided = counts.approved + counts.declined
  return decided === 0 ? null : counts.approved / decided
}

function createTimer<S extends string> (
  now: () => number,
  lookup: (stage: string) => StageState,
  recordStageAt: (state: StageState, ms: number, at: number) => void,
  recordTotalAt: (ms: number, at: number) => void,
  recordOutcome: (outcome: Outcome, reason?: string) => void
): RequestTimer<S> {
  const startedAt = now()
  let lastMark = startedAt
  let totalMs: number | null = null
  const spent: Partial<Record<S | 'total', number>> = {}
  function recordHere (state: StageState, ms: number, at: number): void {
    recordStageAt(state, ms, at)
    const key = state.name as S
    spent[key] = (spent[key] ?? 0) + ms
  }
  return {
    async stage (stage, fn) {
      // Looked up before fn runs, so a typo fails before any side effect.
      const state = lookup(stage)
      const begin = now()
      try {
        return await fn()
      } finally {
        const at = now()
        recordHere(state, Math.max(0, at - begin), at)
        lastMark = at
      }
    },
    mark (stage) {
      const state = lookup(stage)
      const at = now()
      recordHere(state, Math.max(0, at - lastMark), at)
      lastMark = at
    },
    elapsedMs () {
      return now() - startedAt
    },
    end (outcome, reason) {
      if (totalMs !== null) return totalMs
      const at = now()
      totalMs = Math.max(0, at - startedAt)
      recordTotalAt(totalMs, at)
      if (outcome !== undefined) recordOutcome(outcome, reason)
      return totalMs
    },
    timings () {
      const out: Partial<Record<S | 'total', number>> = {}
      // rounded to µs: a log line, not a measurement store
      for (const [stage, ms] of Object.entries(spent) as Array<[S, number]>) out[stage] = Math.round(ms * 1000) / 1000
      if (totalMs !== null) out.total = Math.round(totalMs * 1000) / 1000
      return out
    }
  }
}
