import type { Logger } from 'pino'
import { decideJitFunding, type JitDecisionRequest, type Sql } from '@jit/ledger'

export interface ShedRecorderOptions {
  sql: Sql
  logger: Logger
  /** How often the queued sheds are written, ms. @default 250 */
  flushMs?: number
  /** Most sheds in one statement. @default 64 */
  maxBatch?: number
  /** Most sheds waiting; beyond, the oldest are dropped (counted, logged). @default 10000 */
  maxQueued?: number
  /** Called with the number of sheds recorded (`recorded`) or given up (`dropped`). */
  onRecorded?: (count: number, result: 'recorded' | 'dropped') => void
}

export interface ShedRecorder {
  /** Queues the TIMEOUT decline a shed was answered, to be recorded under its token. */
  record: (request: JitDecisionRequest) => void
  queued: () => number
  /** Stops the timer and writes what is queued (bounded by one statement per batch). */
  close: () => Promise<void>
}

/** A recorded shed waits this long at most for a lock (its token claimed by a concurrent repeat). */
const SHED_RECORD_BUDGET_MS = 1000

/**
 * Overload sheds are answered at once, without touching the database (that is the point of
 * shedding), and recorded afterwards in bulk, off the hot path: one statement per
 * `maxBatch` sheds every `flushMs`, so a repeat of the token gets the same decline. Each is
 * recorded as exactly what was answered, a TIMEOUT decline (jit_decide's stored body); a token
 * decided meanwhile (a repeat that arrived first) keeps that decision. While PostgreSQL fails,
 * sheds cannot be recorded: they are dropped after one attempt, counted and logged, and a repeat
 * is decided afresh, as any answer given while the database is unreachable.
 */
export function createShedRecorder (opts: ShedRecorderOptions): ShedRecorder {
  const maxBatch = opts.maxBatch ?? 64
  const maxQueued = opts.maxQueued ?? 10_000
  const queue: JitDecisionRequest[] = []
  let flushing: Promise<void> | null = null

  async function flush (): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch).map(r => ({ ...r, declineReason: 'TIMEOUT', expect: null, deadlineMs: Date.now() + SHED_RECORD_BUDGET_MS }))
      try {
        await decideJitFunding(opts.sql, batch)
        opts.onRecorded?.(batch.length, 'recorded')
      } catch (err) {
        opts.onRecorded?.(batch.length, 'dropped')
        opts.logger.warn({ err, count: batch.length }, 'overload sheds could not be recorded: dropped (a repeat is decided afresh)')
      }
    }
  }

  function tick (): void {
    if (flushing !== null || queue.length === 0) return
    flushing = flush().finally(() => { flushing = null })
  }

  const timer = setInterval(tick, opts.flushMs ?? 250)
  timer.unref()

  return {
    record (request) {
      queue.push(request)
      if (queue.length > maxQueued) {
        const dropped = queue.splice(0, queue.length - maxQueued).length
        opts.onRecorded?.(dropped, 'dropped')
        opts.logger.warn({ count: dropped }, 'overload shed queue full: oldest sheds dropped unrecorded')
      }
    },
    queued: () => queue.length,
    async close () {
      clearInterval(timer)
      await flushing
      await flush()
    }
  }
}
