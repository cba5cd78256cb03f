/**
 * The project's load generator: open loop at fixed arrival rates (latency from the scheduled
 * send time, unsent requests counted) and closed loop at a fixed number of connections, both
 * recording latency into an HDR histogram.
 */
export {
  runOpenLoop, runClosedLoop, summarizeLatency, decodeLatencyHistogram,
  type LoadRequest, type LoadRequestFactory, type LoadResponseCheck, type OpenLoopOptions,
  type ClosedLoopOptions, type LoadResult, type LatencySummary
} from './generator.js'
export { isHeld, highestHeldRate, type HeldCriteria } from './held.js'
