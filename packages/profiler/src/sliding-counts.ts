/** Decision counts inside a window. */
export interface OutcomeCounts {
  approved: number
  declined: number
  answered: number
}

interface Slice extends OutcomeCounts {
  epoch: number
}

/**
 * Outcome counters over a sliding window, the same ring-of-slices scheme as the latency
 * histograms, so a sudden drop in the approval rate shows up within one window instead of being
 * diluted by everything since the process started.
 */
export class SlidingCounts {
  readonly #slices: Slice[]
  readonly #sliceMs: number

  constructor (windowMs: number, slices: number) {
    this.#sliceMs = windowMs / slices
    this.#slices = Array.from({ length: slices }, () => ({ epoch: -Infinity, approved: 0, declined: 0, answered: 0 }))
  }

  add (outcome: keyof OutcomeCounts, nowMs: number): void {
    const epoch = Math.floor(nowMs / this.#sliceMs)
    const slice = this.#slices[epoch % this.#slices.length] as Slice
    if (slice.epoch !== epoch) {
      slice.epoch = epoch
      slice.approved = 0
      slice.declined = 0
      slice.answered = 0
    }
    slice[outcome]++
  }

  sum (nowMs: number): OutcomeCounts {
    const epoch = Math.floor(nowMs / this.#sliceMs)
    const oldest = epoch - this.#slices.length + 1
    const total = { approved: 0, declined: 0, answered: 0 }
    for (const slice of this.#slices) {
      if (slice.epoch >= oldest && slice.epoch <= epoch) {
        total.approved += slice.approved
        total.declined += slice.declined
        total.answered += slice.answered
      }
    }
    return total
  }
}
