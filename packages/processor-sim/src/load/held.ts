import type { LoadResult } from './generator.js'

/** When an open-loop phase counts as held. */
export interface HeldCriteria {
  /** @default 50 */
  p99Ms?: number
  /** Errors plus unsent requests over scheduled requests, at most. @default 0.001 */
  maxFailureRatio?: number
}

/**
 * Whether an open-loop phase held its rate: p99 within the limit, and errors plus unsent
 * requests (both are failures the processor would see) below the ratio.
 */
export function isHeld (result: LoadResult, criteria: HeldCriteria = {}): boolean {
  const p99Ms = criteria.p99Ms ?? 50
  const maxFailureRatio = criteria.maxFailureRatio ?? 0.001
  if (result.scheduled === 0) return false
  const failures = result.errors + result.unsent
  return result.latencyMs.p99 <= p99Ms && failures / result.scheduled < maxFailureRatio
}

/** The highest target rate among the held open-loop phases, or 0 when none held. */
export function highestHeldRate (results: LoadResult[], criteria: HeldCriteria = {}): number {
  let best = 0
  for (const r of results) {
    if (r.mode === 'open' && r.targetRate !== null && r.targetRate > best && isHeld(r, criteria)) best = r.targetRate
  }
  return best
}
