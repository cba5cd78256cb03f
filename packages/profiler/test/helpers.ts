import { pino, type Logger } from 'pino'

/** A settable clock for the profiler's `now` option. */
export interface FakeClock {
  now: () => number
  set: (ms: number) => void
  advance: (ms: number) => void
}

export function fakeClock (start = 1_000_000): FakeClock {
  let current = start
  return {
    now: () => current,
    set: (ms) => { current = ms },
    advance: (ms) => { current += ms }
  }
}

export interface LogLine {
  level: number
  msg: string
  profiler?: string
  stage?: string
  ms?: number
  thresholdMs?: number
  breaches?: number
}

/** A real pino logger whose lines land in an array, so tests can count them. */
export function capturedLogger (): { logger: Logger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => { lines.push(JSON.parse(line) as LogLine) } })
  return { logger, lines }
}
