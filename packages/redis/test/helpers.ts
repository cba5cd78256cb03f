import { pino, type Logger } from 'pino'
import { createClient } from 'redis'
import type { Teardownable } from '@jit/test-support'

/** A plain client for looking behind the cache's back; closed at teardown. */
export async function rawClient (t: Teardownable, url: string): Promise<ReturnType<typeof createClient>> {
  const client = createClient({ url, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => {
    if (client.isOpen) client.destroy()
  })
  return client
}

/** A logger that keeps its lines, to assert what (and how often) the cache logs. */
export function capturingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { logger, lines }
}

/** Milliseconds `fn` took, with its result. */
export async function timed<R> (fn: () => Promise<R>): Promise<{ ms: number, result: R }> {
  const started = performance.now()
  const result = await fn()
  return { ms: performance.now() - started, result }
}
