import { createHash } from 'node:crypto'
import type postgres from 'postgres'
import type { JitDecisionRequest, JitDecisionResult, Sql } from './types.js'
import type { DecisionRequest } from './sql-boundary.js'
import { errorCodeOf, hasSqlState } from './errors.js'

/**
 * Decides a batch of JIT funding requests in one statement (one round trip, one transaction):
 * records each decision under its token, re-validates cached revisions, checks and moves money
 * and period limits atomically, opens or grows holds and writes the outbox. Results are in input
 * order. A stale cache raises JT001 (see isStaleCacheError) and changes nothing.
 */
export async function decideJitFunding (sql: Sql, requests: JitDecisionRequest[]): Promise<JitDecisionResult[]> {
  if (requests.length === 0) return []
  const order = lockOrder(requests)
  const payload = order.map(i => toSqlRequest(requests[i] as JitDecisionRequest))
  const rows = await sql<Array<{ result: JitDecisionResult }>>`
    select jit_decide_batch(${sql.json(payload as never)}::jsonb) as result
  `
  return inCallerOrder(order, rows.map(row => row.result))
}

/**
 * The order a batch's members are sent in: by funding account (then JIT token), stable, so two
 * batches running at once take their account row locks in the same order and cannot deadlock on
 * them. Members of one account keep their arrival order (an incremental stays after its original).
 */
function lockOrder (requests: JitDecisionRequest[]): number[] {
  const key = (r: JitDecisionRequest): string => r.accountToken ?? ''
  return requests.map((_, i) => i).sort((a, b) => {
    const ka = key(requests[a] as JitDecisionRequest)
    const kb = key(requests[b] as JitDecisionRequest)
    return ka < kb ? -1 : ka > kb ? 1 : a - b
  })
}

/** Results of a batch sent in `order`, put back in the callers' order. */
function inCallerOrder<T> (order: number[], results: T[]): T[] {
  const out = new Array<T>(results.length)
  order.forEach((original, sent) => { out[original] = results[sent] as T })
  return out
}

/**
 * A batch member that was not decided: stale cached revisions, or its token held by another
 * transaction past the deadline; or, alone in its statement, it failed (`failed`: the error, e.g.
 * a token too long to index) while the other members were decided. Nothing was written for it.
 */
export interface UndecidedMember { stale?: true, unclaimed?: true, failed?: unknown }
export type BatchMemberResult = JitDecisionResult | UndecidedMember

/** Whether a batch member was decided (else retry it, see {@link UndecidedMember}). */
export function isDecided (r: BatchMemberResult): r is JitDecisionResult {
  const u = r as UndecidedMember
  return u.stale !== true && u.unclaimed !== true && u.failed === undefined
}

export interface DecisionBatch {
  /**
   * One result per request, in order, once every statement committed; rejects when the batch
   * failed as a whole (cancelled, the connection lost) and then nothing of it was committed (see
   * {@link isQueryCancelledError}).
   */
  results: Promise<BatchMemberResult[]>
  /**
   * The results known so far, in request order: those of the halves that already committed when
   * the statement was decided apart (see below), `undefined` for the rest. A caller that gives up
   * before `results` settles answers these members what they committed.
   */
  committed: () => ReadonlyArray<BatchMemberResult | undefined>
  /** Asks PostgreSQL to cancel the statement(s) in flight; `results` still tells what actually happened. */
  cancel: () => void
}

export interface DecisionBatchOptions {
  /**
   * Past this many ms from now, a batch that approved anything rolls back instead of committing
   * (57014, like a cancel): the caller has answered its members undecided by then. Declines
   * still commit late. Without it, only the budget's lock waits and a cancel bound the batch.
   */
  commitByMs?: number
}

/**
 * Sends a batch of decisions as one statement (one round trip, one commit) without waiting for
 * it. Every member gets the batch's budget (`budgetMs` left now, normally the earliest deadline
 * of the batch), so the whole transaction's lock waits end by then; a member with a stale cache
 * comes back `{stale: true}` and does not fail the others.
 *
 * One bad member never fails the others (issue #9): when the statement fails for a reason a
 * member can carry (see {@link isMemberError}), it rolled back whole, and its members are decided
 * again in halves, each half with the budget left, down to the culprit alone, which comes back
 * `{failed: error}`. A cancel stops every statement in flight and fails the batch (57014).
 */
export function startDecisionBatch (sql: Sql, requests: JitDecisionRequest[], budgetMs: number, opts: DecisionBatchOptions = {}): DecisionBatch {
  const started = Date.now()
  const inFlight = new Set<{ cancel: () => void }>()
  const committed: Array<BatchMemberResult | undefined> = new Array(requests.length)
  let cancelled = false
  let onCancel = (): void => {}
  // `first`: the index in `requests` of members[0] (the halves are contiguous)
  const send = async (conn: Sql, members: JitDecisionRequest[], first: number): Promise<BatchMemberResult[]> => {
    const order = lockOrder(members)
    // the budget and commit-by left now, as the statement starts on an idle connection
    const elapsed = Date.now() - started
    const budget = Math.floor(budgetMs - elapsed)
    const commitBy = opts.commitByMs === undefined ? {} : { commit_by_ms: Math.floor(opts.commitByMs - elapsed) }
    const payload = order.map(i => ({ ...toSqlRequest(members[i] as JitDecisionRequest), budget_ms: budget, ...commitBy, report_stale: true }))
    const query = conn<Array<{ result: BatchMemberResult }>>`select jit_decide_batch(${conn.json(payload as never)}::jsonb) as result`
    inFlight.add(query)
    try {
      const out = inCallerOrder(order, (await query.execute()).map(row => row.result))
      out.forEach((r, i) => { committed[first + i] = r })
      return out
    } catch (err) {
      if (cancelled || !isMemberError(err)) throw err
      if (members.length === 1) {
        committed[first] = { failed: err }
        return [{ failed: err }]
      }
      const half = Math.ceil(members.length / 2)
      return [...await send(conn, members.slice(0, half), first), ...await send(conn, members.slice(half), first + half)]
    } finally {
      inFlight.delete(query)
    }
  }
  const results = (async () => {
    // A connection of its own, idle: on the pool, a statement sent while every connection is busy
    // is pipelined behind another one's, and starts (and counts its budget) only when that ends;
    // a batch could then still commit approvals after its members were answered undecided.
    const reserve = (sql as { reserve?: () => Promise<postgres.ReservedSql> }).reserve
    if (typeof reserve !== 'function') return await send(sql, requests, 0)
    const reserving = reserve.call(sql)
    // cancelled while waiting for the connection: rolled back, nothing was sent (the connection,
    // when it comes, goes straight back)
    const conn = await new Promise<postgres.ReservedSql>((resolve, reject) => {
      let settled = false
      reserving.then(c => {
        if (settled) c.release()
        else { settled = true; resolve(c) }
      }, err => {
        if (!settled) { settled = true; reject(err) }
      })
      onCancel = () => {
        if (!settled) { settled = true; reject(cancelledBeforeSent()) }
      }
    })
    let lost = false
    try {
      if (cancelled) throw cancelledBeforeSent()
      return await send(conn as unknown as Sql, requests, 0)
    } catch (err) {
      lost = isConnectionLost(err)
      throw err
    } finally {
      // A connection that died under the batch is not handed back: postgres.js 3.4.9 would put
      // it among the open ones (its release does not look), and later batches would fail on it;
      // left alone, the pool reconnects it.
      if (!lost) conn.release()
    }
  })()
  results.catch(() => {}) // the caller awaits it; never unhandled while it decides whether to cancel
  return {
    results,
    committed: () => committed,
    cancel: () => {
      cancelled = true
      onCancel()
      for (const q of inFlight) q.cancel()
    }
  }
}

/**
 * The connection to PostgreSQL was lost under a statement (the server terminated the backend,
 * the socket closed or reset): its transaction either committed or rolled back, and which is
 * for the ledger to say (recording a TIMEOUT decline for its tokens returns what committed).
 */
export function isConnectionLost (err: unknown): boolean {
  const code = errorCodeOf(err)
  if (code === undefined) return false
  return code.startsWith('57P') || code.startsWith('08') || code.startsWith('CONNECTION_') || code === 'ECONNRESET' || code === 'EPIPE'
}

/** A batch cancelled while it waited for a connection: nothing was sent (57014, as a cancel). */
function cancelledBeforeSent (): Error {
  return Object.assign(new Error('canceling statement due to user request (the decision batch was cancelled before it was sent)'), { code: '57014' })
}

/**
 * An error one member's data can cause, so deciding the members apart finds the culprit: data
 * (22) and key (23) errors, a deadlock or serialization failure (40, its rival has finished by
 * then), a size limit such as an over-long token in an index (54), an error of our own (JT),
 * except JT004 (the session's synchronous_commit, every statement's). Not a cancel (57014), a
 * lost connection or server trouble: those fail every member alike.
 */
export function isMemberError (err: unknown): boolean {
  const code = errorCodeOf(err)
  return code !== undefined && code !== 'JT004' && ['22', '23', '40', '54', 'JT'].includes(code.slice(0, 2))
}

/** The statement was cancelled (57014): it rolled back. */
export function isQueryCancelledError (err: unknown): boolean {
  return hasSqlState(err, '57014')
}

/**
 * Records a "declined: timeout" decision for a request whose decision ran out of budget
 * (rolled back inside PostgreSQL). A repeat of the token then gets the same decline; if the
 * token was decided meanwhile, that decision is returned instead.
 */
export async function recordTimeoutDecline (sql: Sql, request: JitDecisionRequest): Promise<JitDecisionResult> {
  const [result] = await decideJitFunding(sql, [{ ...request, declineReason: 'TIMEOUT', expect: null }])
  if (result === undefined) throw new Error('no decision returned')
  return result
}

/**
 * What a decline for a spent budget says (the `TIMEOUT` row of decline_memos): an answer the
 * caller gives at its deadline without waiting for the ledger is identical to the one recorded.
 */
export const TIMEOUT_DECLINE = Object.freeze({
  decline_reason: 'TRANSACTION_NOT_PERMITTED',
  memo: 'Declined: the decision did not complete within the time budget.'
})

/** The digest of the fields a decision depends on; a token reused with another digest is a duplicate. */
export function jitRequestFingerprint (fields: {
  method: string
  userToken: string
  actingUserToken: string | null
  cardToken: string | null
  amount: string
  currency: string
  originalJitToken: string | null
}): string {
  const canonical = JSON.stringify([
    fields.method, fields.userToken, fields.actingUserToken, fields.cardToken,
    fields.amount, fields.currency, fields.originalJitToken
  ])
  return createHash('sha256').update(canonical).digest('hex')
}

/** The request as jit_decide reads it (its schema: {@link DecisionRequest}). */
export function toSqlRequest (r: JitDecisionRequest): DecisionRequest {
  if (!Number.isSafeInteger(r.amount) || r.amount < 0) throw new RangeError(`amount must be a non-negative safe integer, got ${r.amount}`)
  return {
    jit_token: r.jitToken,
    fingerprint: r.fingerprint,
    method: r.method,
    kind: r.kind,
    user_token: r.userToken,
    card_token: r.cardToken,
    account_token: r.accountToken,
    amount: r.amount,
    currency: r.currency,
    mcc: r.mcc,
    original_jit_token: r.originalJitToken,
    transaction_token: r.transactionToken,
    decline_reason: r.declineReason,
    expect: r.expect,
    echo: r.echo,
    timezone: r.timezone,
    source: r.source ?? 'gpa_order',
    // one clock: the deadline becomes the time left, measured here, when the request is sent
    ...(r.deadlineMs === undefined ? {} : { budget_ms: r.deadlineMs - Date.now() }),
    acting_user_token: r.actingUserToken ?? null
  }
}
