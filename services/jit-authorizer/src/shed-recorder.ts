import type { Logger } from 'pino'
import { decideJitFunding, isMemberError, type JitDecisionRequest, type Sql } from '@jit/ledger'

export interface ShedRecorderOptions {
  sql: Sql
  logger: Logger
  /** How often the queued sheds are written, ms (JIT_SHED_FLUSH_MS). @default 250 */
  flushMs?: number
  /** Most sheds in one statement. @default 64 */
  maxBatch?: number
  /** Most sheds waiting; beyond, the oldest are dropped (counted, logged) (JIT_SHED_QUEUE_MAX). @default 10000 */
  maxQueued?: number
  /**
   * How long a shed that PostgreSQL keeps refusing is retried (at every flush) before it is
   * dropped, ms (JIT_SHED_RETRY_MS): the processor repeats a token within seconds; past this, a
   * repeat is decided afresh. @default 60000
   */
  retryMs?: number
  /** A recorded shed waits this long at most for a lock (its token claimed by a concurrent repeat), ms (JIT_SHED_RECORD_BUDGET_MS). @default 1000 */
  recordBudgetMs?: number
  /** How long closing waits for the sheds still queued to be written, ms (JIT_SHED_CLOSE_WAIT_MS). @default 2000 */
  closeWaitMs?: number
  /** Called with the number of sheds recorded (`recorded`) or given up (`dropped`). */
  onRecorded?: (count: number, result: 'recorded' | 'dropped' | 'superseded') => void
}

export interface ShedRecorder {
  /** Queues the TIMEOUT decline a shed was answered, to be recorded under its token. */
  record: (request: JitDecisionRequest) => void
  /**
   * The request of a TIMEOUT decline answered and not yet written for this token: a repeat is
   * answered the same decline from it, not decided afresh (the record stands in for the ledger's
   * until it is written).
   */
  pending: (jitToken: string) => JitDecisionRequest | undefined
  queued: () => number
  /** Stops the timer and writes what is queued (bounded by one statement per batch). */
  close: () => Promise<void>
}

/**
 * Overload sheds are answered at once, without touching the database (that is the point of
 * shedding), and recorded afterwards in bulk, off the hot path: one statement per
 * `maxBatch` sheds every `flushMs`, so a repeat of the token gets the same decline. Each is
 * recorded as exactly what was answered, a TIMEOUT decline (jit_decide's stored body); a token
 * decided meanwhile (a repeat that arrived first) keeps that decision. Until a shed is written,
 * a repeat of its token is answered the same decline from here (`pending`), never decided
 * afresh. While PostgreSQL fails, sheds are retried at every flush for `retryMs`, then dropped
 * (counted and logged); a repeat after that is decided afresh, as any answer given while the
 * database is unreachable.
 */
export function createShedRecorder (opts: ShedRecorderOptions): ShedRecorder {
  const maxBatch = opts.maxBatch ?? 64
  const maxQueued = opts.maxQueued ?? 10_000
  const retryMs = opts.retryMs ?? 60_000
  const recordBudgetMs = opts.recordBudgetMs ?? 1000
  const closeWaitMs = opts.closeWaitMs ?? 2000
  interface Shed { request: JitDecisionRequest, since: number }
  const queue: Shed[] = []
  // by JIT token, what is queued (a token shed twice is written once, answered the same)
  const unwritten = new Map<string, JitDecisionRequest>()

  function forget (sheds: Shed[]): void {
    for (const s of sheds) if (unwritten.get(s.request.jitToken) === s.request) unwritten.delete(s.request.jitToken)
  }

  let flushing: Promise<void> | null = null

  /** Writes sheds in one statement; one that cannot be written at all (its own data) alone is dropped. */
  async function write (sheds: Shed[]): Promise<void> {
    const batch = sheds.map(s => ({ ...s.request, declineReason: 'TIMEOUT', expect: null, deadlineMs: Date.now() + recordBudgetMs }))
    let results
    try {
      results = await decideJitFunding(opts.sql, batch)
    } catch (err) {
      if (!isMemberError(err)) throw err
      if (sheds.length === 1) {
        forget(sheds)
        opts.onRecorded?.(1, 'dropped')
        opts.logger.error({ err, jit_token: sheds[0]?.request.jitToken }, 'a TIMEOUT decline answered cannot be recorded (its own data): dropped')
        return
      }
      // one member's data failed the statement: the others are written apart from it
      for (const s of sheds) await write([s])
      return
    }
    forget(sheds)
    const superseded = results.filter(r => !(r.outcome === 'declined' && r.decline_reason === 'TIMEOUT')).length
    opts.onRecorded?.(sheds.length - superseded, 'recorded')
    if (superseded > 0) {
      // the token was decided before its record came (another instance, a webhook's claim): the
      // ledger keeps that decision, which differs from the decline answered here
      opts.onRecorded?.(superseded, 'superseded')
      opts.logger.warn({ count: superseded, jit_tokens: sheds.filter((_s, i) => results[i]?.decline_reason !== 'TIMEOUT').map(s => s.request.jitToken) }, 'TIMEOUT declines answered found their tokens decided otherwise in the ledger')
    }
  }

  async function flush (): Promise<void> {
    while (queue.length > 0) {
      const sheds = queue.splice(0, maxBatch)
      try {
        await write(sheds)
      } catch (err) {
        // kept for the next flush while young enough: PostgreSQL slow or away for a moment
        const now = Date.now()
        const old = sheds.filter(s => now - s.since > retryMs)
        queue.unshift(...sheds.filter(s => now - s.since <= retryMs))
        forget(old)
        if (old.length > 0) opts.onRecorded?.(old.length, 'dropped')
        opts.logger.warn({ err, count: sheds.length, dropped: old.length }, `TIMEOUT declines answered could not be recorded: retried at the next flush (dropped after ${retryMs} ms; a repeat is then decided afresh)`)
        return
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
      if (unwritten.has(request.jitToken)) return
      unwritten.set(request.jitToken, request)
      queue.push({ request, since: Date.now() })
      if (queue.length > maxQueued) {
        const dropped = queue.splice(0, queue.length - maxQueued)
        forget(dropped)
        opts.onRecorded?.(dropped.length, 'dropped')
        opts.logger.warn({ count: dropped.length }, 'overload shed queue full: oldest sheds dropped unrecorded')
      }
    },
    pending: jitToken => unwritten.get(jitToken),
    queued: () => queue.length,
    async close () {
      clearInterval(timer)
      // bounded: a PostgreSQL that stopped answering must not hold the shutdown (what is left
      // unwritten is logged)
      let bound: NodeJS.Timeout | undefined
      const waited = new Promise<void>(resolve => { bound = setTimeout(resolve, closeWaitMs) })
      await Promise.race([(async () => { await flushing; await flush() })(), waited])
      clearTimeout(bound)
      if (queue.length > 0) opts.logger.warn({ count: queue.length }, 'shutting down with TIMEOUT declines answered and not recorded (a repeat is decided afresh)')
    }
  }
}
