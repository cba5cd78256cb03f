import { pino, type Logger } from 'pino'

/** A pino logger whose JSON lines land in `lines`, for asserting what was (not) logged. */
export function captureLogger (): { logger: Logger, lines: Array<Record<string, unknown>>, raw: string[] } {
  const lines: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const logger = pino({ level: 'debug' }, {
    write (chunk: string) {
      raw.push(chunk)
      lines.push(JSON.parse(chunk) as Record<string, unknown>)
    }
  })
  return { logger, lines, raw }
}
