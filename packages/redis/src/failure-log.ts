import type { Logger } from 'pino'

/**
 * Logs cache failures at most once per `intervalMs`, with the number of failures it kept quiet
 * about since the last line. When Redis is down every request fails the same way; one line every
 * few seconds says so without flooding the log (and the disk) on the decision path.
 */
export function createFailureLog (log: Logger, intervalMs: number): (op: string, err: unknown) => void {
  let lastLoggedAt = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return (op, err) => {
    const now = performance.now()
    if (now - lastLoggedAt < intervalMs) {
      suppressed++
      return
    }
    lastLoggedAt = now
    log.warn({ err, op, suppressed }, 'redis cache unavailable, falling back to the source of truth')
    suppressed = 0
  }
}
