import type { Logger } from 'pino'
import {
  startDecisionBatch, isDecided, isQueryCancelledError, decideJitFunding,
  type BatchMemberResult, type JitDecisionRequest, type JitDecisionResult, type Sql
} from '@jit/ledger'

/** What the ledger did with one request. */
export type MemberOutcome =
  | { kind: 'decided', result: JitDecisionResult }
  /** Its cached revisions were stale: nothing was written; screen it again on fresh data. */
  | { kind: 'stale' }

/** No outcome could be learned by the deadline plus grace (the database is unreachable or stuck). */
export class DecisionUnknownError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'DecisionUnknownError'
  }
}

export interface DecisionBatcherOptions {
  sql: Sql
  logger: Logger
  /** Most decisions in one statement. */
  maxBatch: number
  /** Batches in flight at once; requests arriving meanwhile form the next batch. */
  maxConcurrent: number
  /** After the deadline, how long to wait for the outcome of a cancelled batch. */
  graceMs: number
  /** Called with each batch's size (metrics). */
  onBatch?: (size: number) => void
  /** Called when a batch reached its deadline and was cancelled. */
  onCancelled?: (size: number) => void
}

/** Below this much budget left, a member is decided as a TIMEOUT decline. */
const MIN_BUDGET_MS = 5

interface Member {
  request: JitDecisionRequest
  /** Epoch ms (this process's clock: the only one deadlines are compared on). */
  deadlineMs: number
  resolve: (outcome: MemberOutcome) => void
  reject: (err: unknown) => void
}

/**
 * Batching without waiting: a request goes to PostgreSQL at once when fewer than
 * `maxConcurrent` batches are in flight; otherwise it joins the next batch, which leaves as soon
 * as a batch finishes. No timer, so a lone request never waits, and under load one round trip
 * and one commit carry up to `maxBatch` decisions.
 *
 * What a member is answered is what the transaction did: a batch is bounded by its earliest
 * deadline (every lock wait inside ends by then); if it is still running at that deadline it is
 * cancelled and, once the rollback is known, its members are recorded as TIMEOUT declines and
 * answered that (a repeat of the token gets the same). If it committed after all, the committed
 * decisions are the answers.
 */
export function createDecisionBatcher (opts: DecisionBatcherOptions): { decide: (request: JitDecisionRequest, deadlineMs: number) => Promise<MemberOutcome>, inFlight: () => number } {
  const queue: Member[] = []
  let inFlight = 0

  function pump (): void {
    while (inFlight < opts.maxConcurrent && queue.length > 0) {
      const batch = queue.splice(0, opts.maxBatch)
      inFlight++
      run(batch).catch(err => { for (const m of batch) m.reject(err) }).finally(() => {
        inFlight--
        pump()
      })
    }
  }

  async function run (batch: Member[]): Promise<void> {
    opts.onBatch?.(batch.length)
    const now = Date.now()
    // A member already at its deadline does not shrink the others' budget: it is sent as a
    // TIMEOUT decline (recorded, moving nothing) and the batch is bounded by the live ones.
    let earliest = Infinity
    const requests = batch.map(m => {
      if (m.deadlineMs - now < MIN_BUDGET_MS) return { ...m.request, declineReason: 'TIMEOUT', expect: null }
      earliest = Math.min(earliest, m.deadlineMs)
      return m.request
    })
    if (earliest === Infinity) earliest = now + opts.graceMs
    const started = startDecisionBatch(opts.sql, requests, earliest - now)
    let cancelled = false
    const cancelTimer = setTimeout(() => { cancelled = true; started.cancel() }, earliest - now)
    let giveUp: NodeJS.Timeout | undefined
    const unknown = new Promise<never>((_resolve, reject) => {
      giveUp = setTimeout(() => reject(new DecisionUnknownError('no outcome from PostgreSQL by the deadline plus grace')), earliest + opts.graceMs - now)
    })
    unknown.catch(() => {})
    let results: BatchMemberResult[]
    try {
      results = await Promise.race([started.results, unknown])
    } catch (err) {
      if (!(cancelled && isQueryCancelledError(err))) throw err
      // rolled back at the deadline: record what we answer, then answer what is recorded
      opts.onCancelled?.(batch.length)
      opts.logger.warn({ size: batch.length }, 'decision batch reached its deadline: cancelled, recording TIMEOUT declines')
      await Promise.race([recordTimeouts(batch), unknown])
      return
    } finally {
      clearTimeout(cancelTimer)
    }
    clearTimeout(giveUp)
    const unclaimed: Member[] = []
    batch.forEach((m, i) => {
      const r = results[i]
      if (r === undefined) m.reject(new Error('the ledger returned no result for a batch member'))
      else if (isDecided(r)) m.resolve({ kind: 'decided', result: r })
      else if (r.stale === true) m.resolve({ kind: 'stale' })
      else unclaimed.push(m)
    })
    // a token another transaction held past the deadline: its decision, once recorded, is ours
    if (unclaimed.length > 0) await recordTimeouts(unclaimed)
  }

  async function recordTimeouts (members: Member[]): Promise<void> {
    try {
      // one statement; a token decided meanwhile returns that decision instead
      const recorded = await decideJitFunding(opts.sql, members.map(m => {
        const { deadlineMs: _deadline, ...request } = m.request
        return { ...request, declineReason: 'TIMEOUT', expect: null }
      }))
      members.forEach((m, i) => {
        const r = recorded[i]
        if (r === undefined) m.reject(new Error('the ledger returned no result for a TIMEOUT record'))
        else m.resolve({ kind: 'decided', result: r })
      })
    } catch (err) {
      for (const m of members) m.reject(err)
    }
  }

  return {
    decide: async (request, deadlineMs) => await new Promise<MemberOutcome>((resolve, reject) => {
      queue.push({ request, deadlineMs, resolve, reject })
      pump()
    }),
    inFlight: () => inFlight
  }
}
