import { build, type Histogram } from 'hdr-histogram-js'

/** Latency summary of one window, in milliseconds; `null` when nothing was recorded. */
export interface WindowSummary {
  count: number
  p50: number | null
  p95: number | null
  p99: number | null
  max: number | null
  mean: number | null
}

/**
 * Values are kept as integer microseconds: HDR histograms count integers, and a microsecond keeps
 * sub-millisecond stages (a cache hit) distinguishable. The range caps at ten minutes; anything
 * longer is clamped rather than thrown, because a profiler must never fail the request it measures.
 */
const MICROS_PER_MS = 1000
const HIGHEST_TRACKABLE_MICROS = 600_000_000

interface Slice {
  epoch: number
  histogram: Histogram
}

function newHistogram (significantDigits: 1 | 2 | 3 | 4 | 5): Histogram {
  return build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_MICROS,
    numberOfSignificantValueDigits: significantDigits
  })
}

/**
 * An HDR histogram over a sliding window: a ring of `slices` sub-histograms, each covering
 * `windowMs / slices`. Recording goes to the slice of the current time (reset when its turn comes
 * round again); reading merges the slices still inside the window. The window therefore covers
 * between `(slices - 1) / slices` and all of `windowMs`, which is the usual price of a ring and
 * keeps recording O(1) with no timers.
 */
export class SlidingHistogram {
  readonly #slices: Slice[]
  readonly #sliceMs: number
  readonly #merged: Histogram

  constructor (windowMs: number, slices: number, significantDigits: 1 | 2 | 3 | 4 | 5) {
    this.#sliceMs = windowMs / slices
    this.#slices = Array.from({ length: slices }, () => ({ epoch: -Infinity, histogram: newHistogram(significantDigits) }))
    // One scratch histogram reused for every read, so reads allocate nothing large.
    this.#merged = newHistogram(significantDigits)
  }

  /** Records `ms` at clock time `nowMs`. */
  record (ms: number, nowMs: number): void {
    const epoch = Math.floor(nowMs / this.#sliceMs)
    const slice = this.#slices[epoch % this.#slices.length] as Slice
    if (slice.epoch !== epoch) {
      slice.histogram.reset()
      slice.epoch = epoch
    }
    let micros = Math.round(ms * MICROS_PER_MS)
    if (micros > HIGHEST_TRACKABLE_MICROS) micros = HIGHEST_TRACKABLE_MICROS
    else if (micros < 0) micros = 0
    slice.histogram.recordValue(micros)
  }

  /** Summarises the values recorded inside the window ending at clock time `nowMs`. */
  summary (nowMs: number): WindowSummary {
    const epoch = Math.floor(nowMs / this.#sliceMs)
    const oldest = epoch - this.#slices.length + 1
    const merged = this.#merged
    merged.reset()
    for (const slice of this.#slices) {
      if (slice.epoch >= oldest && slice.epoch <= epoch && slice.histogram.totalCount > 0) {
        merged.add(slice.histogram)
      }
    }
    const count = merged.totalCount
    if (count === 0) return { count, p50: null, p95: null, p99: null, max: null, mean: null }
    return {
      count,
      p50: toMs(merged.getValueAtPercentile(50)),
      p95: toMs(merged.getValueAtPercentile(95)),
      p99: toMs(merged.getValueAtPercentile(99)),
      max: toMs(merged.maxValue),
      mean: toMs(merged.mean)
    }
  }
}

function toMs (micros: number): number {
  // Three decimals: microsecond resolution is all the histogram holds.
  return Math.round(micros) / MICROS_PER_MS
}
