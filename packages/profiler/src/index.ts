export {
  createProfiler,
  type Profiler,
  type ProfilerOptions,
  type ProfilerSnapshot,
  type RequestTimer,
  type StageSnapshot,
  type StageThresholds,
  type ApprovalSnapshot,
  type Outcome,
  type BreachLevel
} from './profiler.js'
export type { WindowSummary } from './sliding-histogram.js'
export type { OutcomeCounts } from './sliding-counts.js'
export { createMetricsRegistry } from './metrics-registry.js'
