import type { Logger } from 'pino'
import {
  startDecisionBatch, isDecided, isQueryCancelledError, isConnectionLost, decideJitFunding, TIMEOUT_DECLINE,
  type BatchMemberResult, type JitDecisionRequest, type JitDecisionResult, type Sql
} from '@jit/ledger'

/** What the ledger did with one request. */
export type MemberOutcome =
  /**
   * `recorded: false`: a member sent only to record its TIMEOUT decline whose statement had no
   * outcome by the member's deadline plus grace; the answer is that decline, the only decision
   * the statement can still commit for it.
   */
  | { kind: 'decided', result: JitDecisionResult, recorded: boolean }
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
  /**
   * Records, off the hot path, the TIMEOUT decline a member still queued at its deadline plus
   * grace was answered (it was never sent, so that decline is the only decision its token can
   * get from this request). Without it such a member is answered an unrecorded failure.
   */
  recordLater?: (request: JitDecisionRequest) => void
  /**
   * Called when a batch answered as undecided (no outcome by its deadline plus grace) later
   * turns out to have committed: `approved` of its members were approved though we answered a
   * decline (the processor's DECLINED webhook for them releases the hold).
   */
  onLateCommit?: (decided: number, approved: number) => void
}

/** Below this much budget left, a member is decided as a TIMEOUT decline. */
const MIN_BUDGET_MS = 5

/**
 * A give-up timer's action, run after the event loop's next I/O poll. A starved process (a
 * loaded machine) finds its timers and the socket data that arrived meanwhile ready together,
 * and timers run first: without this, a batch whose outcome had already arrived was answered
 * "no outcome", then found committed.
 */
function afterPendingIo (fn: () => void): () => void {
  return () => { setImmediate(fn) }
}

/**
 * Where a member is: waiting for a batch slot; sent to be decided (its batch is bounded by its
 * deadline); sent only to record a TIMEOUT decline (its deadline had passed when its batch left,
 * its token was held by another transaction, or its statement failed alone); or answered.
 */
type MemberState = 'queued' | 'live' | 'timeout' | 'answered'

interface Member {
  request: JitDecisionRequest
  /** Epoch ms (this process's clock: the only one deadlines are compared on). */
  deadlineMs: number
  state: MemberState
  /** The member's own give-up at its deadline plus grace (see `giveUp`). */
  timer?: NodeJS.Timeout
  resolve: (outcome: MemberOutcome) => void
  reject: (err: unknown) => void
}

function settle (m: Member, answer: () => void): void {
  if (m.state === 'answered') return
  m.state = 'answered'
  clearTimeout(m.timer)
  answer()
}
const resolveMember = (m: Member, outcome: MemberOutcome): void => { settle(m, () => m.resolve(outcome)) }
const rejectMember = (m: Member, err: unknown): void => { settle(m, () => m.reject(err)) }

/** The TIMEOUT decline exactly as jit_decide records it (`decline_memos`' TIMEOUT row). */
export function timeoutDecline (request: JitDecisionRequest): JitDecisionResult {
  return {
    status: 402,
    response: { jit_funding: { ...request.echo, ...TIMEOUT_DECLINE } },
    outcome: 'declined',
    decline_reason: 'TIMEOUT',
    replay: false,
    duplicate: false
  }
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
 *
 * Every member is answered by its own deadline plus grace, whatever the batches ahead of it do
 * (PostgreSQL unreachable: each batch waits out its own give-up, and a member queued behind
 * them would otherwise start its batch only then). At that moment a member still queued is
 * withdrawn, never sent, and answered the TIMEOUT decline, recorded off the hot path
 * (`recordLater`; nothing else of it can be committed later); a member sent only to record its
 * TIMEOUT decline is answered that decline, the one decision its statement can still commit; a
 * member sent to be decided needs nothing, as its batch is bounded by the earliest deadline in
 * it and gives up no later.
 */
export function createDecisionBatcher (opts: DecisionBatcherOptions): { decide: (request: JitDecisionRequest, deadlineMs: number) => Promise<MemberOutcome>, inFlight: () => number, queued: () => number } {
  const queue: Member[] = []
  let inFlight = 0

  function pump (): void {
    while (inFlight < opts.maxConcurrent && queue.length > 0) {
      const batch = queue.splice(0, opts.maxBatch)
      inFlight++
      run(batch).catch(err => { for (const m of batch) rejectMember(m, err) }).finally(() => {
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
      if (m.deadlineMs - now < MIN_BUDGET_MS) {
        m.state = 'timeout'
        return { ...m.request, declineReason: 'TIMEOUT', expect: null }
      }
      m.state = 'live'
      earliest = Math.min(earliest, m.deadlineMs)
      return m.request
    })
    if (earliest === Infinity) earliest = now + opts.graceMs
    // an approval still uncommitted halfway through the grace rolls back inside PostgreSQL: the
    // give-up below answers undecided at the grace's end, and must not find it committed later
    const started = startDecisionBatch(opts.sql, requests, earliest - now, { commitByMs: earliest - now + opts.graceMs / 2 })
    const cancelTimer = setTimeout(() => { started.cancel() }, earliest - now)
    let giveUp: NodeJS.Timeout | undefined
    const unknown = new Promise<never>((_resolve, reject) => {
      giveUp = setTimeout(afterPendingIo(() => reject(new DecisionUnknownError('no outcome from PostgreSQL by the deadline plus grace'))), earliest + opts.graceMs - now)
    })
    unknown.catch(() => {})
    let results: BatchMemberResult[]
    try {
      results = await Promise.race([started.results, unknown])
    } catch (err) {
      if (err instanceof DecisionUnknownError) {
        watchLateOutcome(batch, started.results)
        // the halves that committed before the give-up (a statement decided apart) are known
        answerCommitted(batch, started.committed())
        throw err
      }
      // Rolled back: our cancel at the deadline, or PostgreSQL's own statement_timeout (the same
      // 57014; it fires first when this process is too busy to run its timer on time). Or its
      // connection was lost: committed or rolled back, which the TIMEOUT records say (a token
      // that committed returns its decision). Record what we answer, then answer what is recorded.
      const lost = isConnectionLost(err)
      if (!isQueryCancelledError(err) && !lost) throw err
      if (lost) opts.logger.warn({ err, size: batch.length }, 'decision batch lost its connection: recording TIMEOUT declines (a committed decision is returned instead)')
      else {
        opts.onCancelled?.(batch.length)
        opts.logger.warn({ size: batch.length }, 'decision batch reached its deadline: cancelled, recording TIMEOUT declines')
      }
      // the halves that committed before the one cancelled (a statement decided apart) stand
      answerCommitted(batch, started.committed())
      for (const m of batch) if (m.state === 'live') m.state = 'timeout'
      // Nothing of the batch stands but what committed before it: a record that has not
      // answered by the give-up leaves its members the TIMEOUT decline, the only decision it can
      // commit for them (recorded later if it fails). The batch slot is freed then either way.
      try {
        await Promise.race([recordTimeouts(batch.filter(m => m.state === 'timeout')), unknown])
      } catch {
        for (const m of batch) if (m.state === 'timeout') answerTimeout(m)
      }
      return
    } finally {
      clearTimeout(cancelTimer)
    }
    clearTimeout(giveUp)
    const unclaimed: Member[] = []
    const failed: Member[] = []
    batch.forEach((m, i) => {
      const r = results[i]
      if (r === undefined) rejectMember(m, new Error('the ledger returned no result for a batch member'))
      else if (isDecided(r)) resolveMember(m, { kind: 'decided', result: r, recorded: true })
      else if (r.stale === true) resolveMember(m, { kind: 'stale' })
      else if (r.failed !== undefined) failed.push(m)
      else unclaimed.push(m)
    })
    // a token another transaction held past the deadline: its decision, once recorded, is ours;
    // bounded by each member's own give-up (it can only record a TIMEOUT decline now). A member
    // whose statement failed alone (the ledger decided the others apart) is recorded the same
    // way, each in its own statement, so a record that fails again fails only its member.
    for (const m of [...unclaimed, ...failed]) if (m.state === 'live') m.state = 'timeout'
    await Promise.all([...(unclaimed.length > 0 ? [unclaimed] : []), ...failed.map(m => [m])].map(recordTimeouts))
  }

  /**
   * The outcome of a batch its members were answered undecided for: a commit after all is
   * counted and logged (the processor, answered a decline, sends a DECLINED webhook that releases
   * any hold it left).
   */
  function watchLateOutcome (batch: Member[], results: Promise<BatchMemberResult[]>): void {
    results.then(rs => {
      const decided = rs.filter(isDecided)
      if (decided.length === 0) return
      const approved = decided.filter(r => r.outcome === 'approved').length
      opts.onLateCommit?.(decided.length, approved)
      opts.logger.error({ size: batch.length, decided: decided.length, approved, jit_tokens: batch.map(m => m.request.jitToken) }, 'decision batch committed after its members were answered undecided')
    }, () => {})
  }

  /** Members whose half of a statement decided apart committed before the give-up: what it committed. */
  function answerCommitted (batch: Member[], committed: ReadonlyArray<BatchMemberResult | undefined>): void {
    batch.forEach((m, i) => {
      const r = committed[i]
      if (r === undefined || m.state === 'answered') return
      if (isDecided(r)) resolveMember(m, { kind: 'decided', result: r, recorded: true })
      else if (r.stale === true) resolveMember(m, { kind: 'stale' })
    })
  }

  /**
   * The TIMEOUT decline for a member that can commit nothing else now (its batch rolled back, or
   * it was never sent), handed to `recordLater` so it is recorded even if the record in flight
   * fails; without `recordLater`, the unrecorded failure (nothing recorded).
   */
  function answerTimeout (m: Member): void {
    if (opts.recordLater === undefined) {
      rejectMember(m, new DecisionUnknownError('no TIMEOUT record by the deadline plus grace'))
      return
    }
    opts.recordLater(m.request)
    resolveMember(m, { kind: 'decided', result: timeoutDecline(m.request), recorded: false })
  }

  async function recordTimeouts (members: Member[]): Promise<void> {
    if (members.length === 0) return
    try {
      // one statement; a token decided meanwhile returns that decision instead
      const recorded = await decideJitFunding(opts.sql, members.map(m => {
        const { deadlineMs: _deadline, ...request } = m.request
        return { ...request, declineReason: 'TIMEOUT', expect: null }
      }))
      members.forEach((m, i) => {
        const r = recorded[i]
        if (r === undefined) rejectMember(m, new Error('the ledger returned no result for a TIMEOUT record'))
        else resolveMember(m, { kind: 'decided', result: r, recorded: true })
      })
    } catch (err) {
      opts.logger.warn({ err, count: members.length }, 'TIMEOUT records failed: answered the TIMEOUT decline, recorded later')
      for (const m of members) answerTimeout(m)
    }
  }

  /** A member's deadline plus grace has come (see the function's comment). */
  function giveUp (m: Member): void {
    if (m.state === 'queued') {
      // never sent: withdrawn, and answered the TIMEOUT decline, recorded like an overload shed
      queue.splice(queue.indexOf(m), 1)
      answerTimeout(m)
    } else if (m.state === 'timeout') {
      opts.logger.warn({ jit_token: m.request.jitToken }, 'TIMEOUT record without an outcome by the deadline plus grace: answered the decline it records')
      answerTimeout(m)
    }
  }

  return {
    decide: async (request, deadlineMs) => await new Promise<MemberOutcome>((resolve, reject) => {
      const m: Member = { request, deadlineMs, state: 'queued', resolve, reject }
      m.timer = setTimeout(afterPendingIo(() => { giveUp(m) }), Math.max(0, deadlineMs + opts.graceMs - Date.now()))
      queue.push(m)
      pump()
    }),
    inFlight: () => inFlight,
    queued: () => queue.length
  }
}
