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

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function eventually (check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(50)
  }
  return await check()
}
