import type { Logger } from 'pino'
import type { Cache } from '@jit/redis'
import type { Database } from '@jit/postgres'
import type { Profiler } from '@jit/profiler'
import {
  classifyJitMethod, formatAmount, isKnownCurrency, isUnstorableText, parseAmount, MoneyError,
  type InboundJitFundingT as InboundJitFunding, type JitFundingRequestT as JitFundingRequest, type JitFundingSource
} from '@jit/contracts'
import {
  jitRequestFingerprint, limitsCacheKey,
  type JitDecisionRequest, type JitDecisionResult, type JitEcho, type UserRecord, type CardRecord, type LimitsRecord
} from '@jit/ledger'
import { createDecisionBatcher, timeoutDecline, type MemberOutcome } from './batcher.js'
import { createShedRecorder, type ShedRecorderOptions } from './shed-recorder.js'
import { createLocalCache } from './local-cache.js'
import { createScreeningReader, type ScreeningRows } from './snapshot.js'

/**
 * The decision stages, each timed by the profiler: `lookups` (the request read, and the user,
 * card and limits from memory, Redis or PostgreSQL) and `decision` (the ledger statement).
 */
export const DECISION_STAGES = ['lookups', 'decision'] as const
export type DecisionStage = typeof DECISION_STAGES[number]

export interface JitDeciderDeps {
  db: Database
  cache: Cache
  profiler: Profiler<DecisionStage>
  logger: Logger
  /** IANA zone of the program's days and months (period limits, card expiry). */
  timezone: string
  /** The decision budget, ms (JIT_DECISION_BUDGET_MS), counted from the request's arrival. */
  budgetMs: number
  /**
   * After the deadline, how long to wait for a cancelled batch's outcome (its rollback, or its
   * commit after all) before answering an unrecorded decline (JIT_DECISION_GRACE_MS). @default 500
   */
  graceMs?: number
  /** Most decisions in one statement (JIT_BATCH_MAX). @default 64 */
  maxBatch?: number
  /** Batches in flight at once (JIT_BATCH_CONCURRENCY). @default 2 */
  maxConcurrentBatches?: number
  /**
   * How long users, cards and limits are served from process memory, ms. The statement compares
   * every revision read here, so a stale entry costs one retry, never an answer; a longer time
   * saves Redis reads of repeat visitors, but 60 s kept about 7 MiB more heap in the hostile-input
   * suite (tests/reliability), so it stays short until expired entries are swept
   * (JIT_LOCAL_CACHE_TTL_MS).
   * @default 5000
   */
  localCacheTtlMs?: number
  /** Counts decisions that ran out of their budget. */
  onBudgetExceeded?: () => void
  /** Called with the size of every batch sent (metrics). */
  onBatch?: (size: number) => void
  /** The recording of TIMEOUT declines answered without the database (JIT_SHED_*; see shed-recorder.ts). */
  shedRecorder?: Pick<ShedRecorderOptions, 'retryMs' | 'recordBudgetMs' | 'closeWaitMs' | 'flushMs' | 'maxQueued'>
  /** Called with the number of overload sheds recorded or dropped unrecorded (metrics). */
  onShedRecorded?: (count: number, result: 'recorded' | 'dropped' | 'superseded') => void
  /** Called when a batch answered undecided committed after all, with how many it approved (metrics). */
  onLateCommit?: (decided: number, approved: number) => void
}

export interface JitAnswer {
  status: 200 | 402
  body: { jit_funding: Record<string, unknown> }
  outcome: 'approved' | 'declined' | 'answered'
  declineReason: string | null
  /** Stage durations of this decision in ms (and `total`), for the request's log line (built only when asked). */
  timingsMs?: () => Record<string, number>
}

/** Methods whose decision looks at the card and the cardholder. */
const CHECKS_CARD = new Set(['authorization', 'incremental', 'immediate_debit', 'account_verification', 'refund_authorization', 'balance_inquiry'])
/** Methods that move money now and therefore check spending limits. */
const MOVES_MONEY = new Set(['authorization', 'incremental', 'immediate_debit'])
/** Methods whose amount may be zero. */
const ZERO_ALLOWED = new Set(['account_verification', 'balance_inquiry', 'informative', 'unknown', 'refund_authorization'])

/** The echo of a response: what the processor sent, the amount as an exact JSON number. */
export function echoOf (jf: InboundJitFunding | Record<string, unknown>, amount: number): JitEcho {
  const echo: JitEcho = {
    token: String(jf.token),
    method: String(jf.method),
    user_token: String(jf.user_token),
    amount
  }
  const acting = validActingUser(jf.acting_user_token)
  if (acting !== null) echo.acting_user_token = acting
  return echo
}

/** acting_user_token when it can be echoed (swagger: at most 36 characters) and stored. */
function validActingUser (value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 36 && !isUnstorableText(value) ? value : null
}

/** The amount to echo when it could not be parsed exactly: the number sent if it is one, else 0. */
export function fallbackEchoAmount (raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN
  return Number.isFinite(n) && n >= 0 ? n : 0
}

/** The program's current month (YYYY-MM): one formatter, and the answer kept for a second. */
function monthClock (timezone: string): () => string {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit' })
  let month = ''
  let until = 0
  return () => {
    const now = Date.now()
    if (now >= until) {
      const parts = format.formatToParts(now)
      month = `${parts.find(p => p.type === 'year')?.value ?? '0000'}-${parts.find(p => p.type === 'month')?.value ?? '00'}`
      until = now + 1000
    }
    return month
  }
}

/** A promise's value, or `undefined` once `deadlineMs` (epoch ms) has passed. */
async function by<T> (promise: Promise<T>, deadlineMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), Math.max(0, deadlineMs - Date.now())) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The ledger request of a parsed JIT funding request, before screening: the same fingerprint
 * and echo whether it is then decided or only recorded (an overload shed), so a repeat of the
 * token replays it.
 */
export function decisionRequest (body: JitFundingRequest, jf: InboundJitFunding, source: JitFundingSource, timezone: string, deadlineMs: number): JitDecisionRequest {
  const kind = classifyJitMethod(String(jf.method))
  const userToken = String(jf.user_token)
  const cardToken = typeof body.card_token === 'string' && body.card_token.length > 0 ? body.card_token : null
  const rawCurrency = typeof body.currency_code === 'string' ? body.currency_code : 'USD'
  const currency = isKnownCurrency(rawCurrency) ? rawCurrency : 'USD'
  const originalJitToken = typeof jf.original_jit_funding_token === 'string' ? jf.original_jit_funding_token : null
  const mcc = typeof body.card_acceptor?.mcc === 'string' ? body.card_acceptor.mcc : null

  let amount = 0
  let declineReason: string | null = null
  let echoAmount: number
  try {
    if (!isKnownCurrency(rawCurrency)) throw new MoneyError('UNKNOWN_CURRENCY', `unknown currency ${rawCurrency}`)
    amount = parseAmount(jf.amount, currency, { allowZero: ZERO_ALLOWED.has(kind) })
    // the echo is exact: formatted from the minor units that were decided on
    echoAmount = formatAmount(amount, currency)
  } catch (err) {
    if (!(err instanceof MoneyError)) throw err
    declineReason = 'INVALID_AMOUNT'
    echoAmount = fallbackEchoAmount(jf.amount)
  }

  return {
    jitToken: String(jf.token),
    fingerprint: jitRequestFingerprint({
      method: String(jf.method),
      userToken,
      actingUserToken: typeof jf.acting_user_token === 'string' ? jf.acting_user_token : null,
      cardToken,
      amount: declineReason === null ? String(amount) : JSON.stringify(jf.amount ?? null),
      currency: rawCurrency,
      originalJitToken
    }),
    method: String(jf.method),
    kind,
    userToken,
    cardToken,
    accountToken: null,
    amount,
    currency,
    mcc,
    originalJitToken,
    transactionToken: typeof body.token === 'string' ? body.token : null,
    declineReason,
    expect: null,
    echo: echoOf(jf, echoAmount),
    timezone,
    source,
    actingUserToken: validActingUser(jf.acting_user_token),
    deadlineMs
  }
}

/** The ledger request of a body whose token, method and user token parse but something else does not. */
export function invalidRequest (identity: Record<string, unknown>, reason: 'INVALID_AMOUNT' | 'TRANSACTION_NOT_PERMITTED', timezone: string, deadlineMs: number): JitDecisionRequest {
  return {
    jitToken: String(identity.token),
    fingerprint: jitRequestFingerprint({
      method: String(identity.method),
      userToken: String(identity.user_token),
      actingUserToken: null,
      cardToken: null,
      amount: JSON.stringify(identity.amount ?? null),
      currency: 'invalid',
      originalJitToken: null
    }),
    method: String(identity.method),
    kind: classifyJitMethod(String(identity.method)),
    userToken: String(identity.user_token),
    cardToken: null,
    accountToken: null,
    amount: 0,
    currency: 'USD',
    mcc: null,
    originalJitToken: null,
    transactionToken: null,
    declineReason: reason,
    expect: null,
    echo: echoOf(identity, fallbackEchoAmount(identity.amount)),
    timezone,
    deadlineMs
  }
}

/** Screening attempts on (re)loaded data before a stale cache counts as exhausted. */
const MAX_STALE_ATTEMPTS = 3

/** The cached marker of a scope without limits. */
interface NoLimits { none: true, revision: 0 }

type Snapshot = ScreeningRows

/** What the caches hold under one key of a snapshot. */
type CachedRow = UserRecord | CardRecord | LimitsRecord | NoLimits
type SnapshotPart = keyof Snapshot
interface SnapshotKey { kind: 'user' | 'card' | 'limits', key: string, part: SnapshotPart }

/** The cache keys of a decision's rows (the keys every service invalidates), the card's only with a card. */
function snapshotKeys (userToken: string, cardToken: string | null, currency: string): SnapshotKey[] {
  const keys: SnapshotKey[] = [
    { kind: 'user', key: userToken, part: 'user' },
    { kind: 'limits', key: limitsCacheKey('user', userToken, currency), part: 'userLimits' }
  ]
  if (cardToken !== null) {
    keys.push({ kind: 'card', key: cardToken, part: 'card' }, { kind: 'limits', key: limitsCacheKey('card', cardToken, currency), part: 'cardLimits' })
  }
  return keys
}

/** Answers remembered by JIT token (about 1 KiB each). */
const REMEMBERED_ANSWERS = 20_000

/**
 * The answers this process got from the ledger, by JIT token: a repeat of the same request is
 * answered what the ledger holds for it (a decision row never changes) without a statement, also
 * while PostgreSQL is slow or away, when deciding it again could only time out. Another request
 * under the token (another fingerprint) still goes to the ledger, which refuses it as a
 * duplicate. The oldest are forgotten first.
 */
function rememberedAnswers (max: number): { remember: (request: JitDecisionRequest, result: JitDecisionResult) => void, replay: (request: JitDecisionRequest) => JitDecisionResult | undefined } {
  const byToken = new Map<string, { fingerprint: string, result: JitDecisionResult }>()
  return {
    remember (request, result) {
      if (result.duplicate || byToken.has(request.jitToken)) return
      byToken.set(request.jitToken, { fingerprint: request.fingerprint, result })
      if (byToken.size > max) byToken.delete(byToken.keys().next().value as string)
    },
    replay (request) {
      const known = byToken.get(request.jitToken)
      return known === undefined || known.fingerprint !== request.fingerprint ? undefined : { ...known.result, replay: true }
    }
  }
}

/** The value cached for one key: a missing user or card is not cached (null), missing limits are the marker. */
function cachedRow (rows: Snapshot, key: SnapshotKey): CachedRow | null {
  const row = rows[key.part]
  return row === null && key.kind === 'limits' ? { none: true, revision: 0 } : row
}

/** The snapshot of the values of {@link snapshotKeys}, in their order. */
function snapshotOf (values: Array<CachedRow | null>): Snapshot {
  const limits = (v: CachedRow | null | undefined): LimitsRecord | null => v === null || v === undefined || 'none' in v ? null : v as LimitsRecord
  return {
    user: (values[0] ?? null) as UserRecord | null,
    userLimits: limits(values[1]),
    card: (values[2] ?? null) as CardRecord | null,
    cardLimits: limits(values[3])
  }
}

/**
 * Decides JIT funding requests: the user, card and limits checks on cached data (process memory
 * in front of Redis), then the ledger's batch statement, which re-validates every cached revision
 * and moves money atomically. A stale cache is refreshed and the decision retried, so the cache
 * changes speed, never answers; every answer is what the ledger recorded (see batcher.ts).
 */
export function createJitDecider (deps: JitDeciderDeps): {
  decide: (request: JitFundingRequest, jitFunding: InboundJitFunding, source: JitFundingSource, deadlineMs?: number) => Promise<JitAnswer>
  declineInvalid: (identity: Record<string, unknown>, reason: 'INVALID_AMOUNT' | 'TRANSACTION_NOT_PERMITTED', deadlineMs?: number) => Promise<JitAnswer>
  shed: (request: JitDecisionRequest) => JitAnswer
  close: () => Promise<void>
} {
  const { db, profiler, logger, timezone } = deps
  const cache = createLocalCache(deps.cache, { ttlMs: deps.localCacheTtlMs ?? 5000, maxEntries: 200_000 })
  const currentMonth = monthClock(timezone)
  const answered = rememberedAnswers(REMEMBERED_ANSWERS)
  const deciding = new Map<string, { fingerprint: string, outcome: Promise<MemberOutcome> }>()
  const sheds = createShedRecorder({ sql: db.sql, logger, ...deps.shedRecorder, ...(deps.onShedRecorded === undefined ? {} : { onRecorded: deps.onShedRecorded }) })
  const batcher = createDecisionBatcher({
    sql: db.sql,
    logger,
    maxBatch: deps.maxBatch ?? 64,
    maxConcurrent: deps.maxConcurrentBatches ?? 2,
    graceMs: deps.graceMs ?? 500,
    onBatch: deps.onBatch,
    onLateCommit: deps.onLateCommit,
    // a decision still queued at its deadline plus grace is answered and recorded as a shed
    recordLater: request => { sheds.record(request) }
  })
  const readRows = createScreeningReader({ sql: db.sql })

  /**
   * The user, card and limits of a decision: from process memory when fresh there (no round
   * trip at all), else in one Redis read and, for what Redis lacks, one PostgreSQL statement
   * (snapshot.ts, batched across decisions) for all four. "No limits" (the common case) is cached too, as a
   * revision-0 marker, so a decision without limits does not query PostgreSQL for them; limits
   * set later invalidate the entry, and the ledger statement compares every revision anyway.
   */
  function cachedSnapshot (userToken: string, cardToken: string | null, currency: string): Snapshot | Promise<Snapshot> {
    const keys = snapshotKeys(userToken, cardToken, currency)
    const values = cache.getMany<CachedRow>(keys, async missing => {
      const rows = await readRows({ userToken, cardToken, currency })
      return missing.map(i => cachedRow(rows, keys[i] as SnapshotKey))
    })
    return Array.isArray(values) ? snapshotOf(values) : values.then(snapshotOf)
  }

  /**
   * After a stale-cache refusal: the rows read from PostgreSQL (one statement), served from
   * this process's memory from now on, and the Redis entries dropped in the background (the
   * decision does not wait for Redis).
   */
  async function freshSnapshot (userToken: string, cardToken: string | null, currency: string): Promise<Snapshot> {
    const rows = await readRows({ userToken, cardToken, currency })
    const keys = snapshotKeys(userToken, cardToken, currency)
    Promise.all(keys.map(async k => await cache.invalidate(k.kind, k.key))).catch(() => {})
    for (const k of keys) {
      const value = cachedRow(rows, k)
      if (value !== null) cache.put(k.kind, k.key, value)
    }
    return rows
  }

  /** The ledger's answer: decided in the next batch, or `stale` (nothing written). */
  async function runLedger (request: JitDecisionRequest, deadlineMs: number): Promise<JitDecisionResult | 'stale'> {
    const known = knownAnswer(request)
    if (known !== undefined) return known
    // the same request already being decided here: its answer (two copies in flight would race
    // for the token's claim, and the loser could only time out beside the winner's approval)
    const same = deciding.get(request.jitToken)
    if (same !== undefined && same.fingerprint === request.fingerprint) {
      const shared = await same.outcome
      return shared.kind === 'stale' ? 'stale' : { ...shared.result, replay: true }
    }
    const pending = batcher.decide(request, deadlineMs)
    deciding.set(request.jitToken, { fingerprint: request.fingerprint, outcome: pending })
    let outcome: MemberOutcome
    try {
      outcome = await pending
    } finally {
      if (deciding.get(request.jitToken)?.outcome === pending) deciding.delete(request.jitToken)
    }
    if (outcome.kind === 'stale') return 'stale'
    const result = outcome.result
    if (outcome.recorded) answered.remember(request, result)
    if (result.decline_reason === 'TIMEOUT' && !result.replay) {
      deps.onBudgetExceeded?.()
      logger.warn({ jit_token: request.jitToken, recorded: outcome.recorded }, outcome.recorded
        ? 'decision budget exceeded: declined (recorded)'
        : 'decision budget exceeded: declined (the TIMEOUT record had no outcome yet; it is the only decision it can commit)')
    }
    return result
  }

  async function decide (body: JitFundingRequest, jf: InboundJitFunding, source: JitFundingSource, deadlineMs = Date.now() + deps.budgetMs): Promise<JitAnswer> {
    const timer = profiler.start()
    const base = decisionRequest(body, jf, source, timezone, deadlineMs)
    const { kind, userToken, cardToken, currency } = base

    let result: JitDecisionResult | undefined
    for (let attempt = 0; result === undefined; attempt++) {
      const request = { ...base }
      if (request.declineReason === null && CHECKS_CARD.has(kind)) {
        if (attempt >= MAX_STALE_ATTEMPTS) {
          // the cache kept changing under us: a recorded decline, never an unrecorded failure
          request.declineReason = 'TRANSACTION_NOT_PERMITTED'
          logger.warn({ jit_token: request.jitToken, attempt }, 'cached data stale on every attempt: declined (recorded)')
        } else {
          // after a stale-cache refusal the rows are read from PostgreSQL directly
          const read = attempt > 0 ? freshSnapshot(userToken, cardToken, currency) : cachedSnapshot(userToken, cardToken, currency)
          // the lookups are bounded by the deadline too: past it, the decision is a recorded
          // TIMEOUT (rows already in memory need no bound: nothing is awaited)
          const snap = read instanceof Promise ? await by(read, deadlineMs) : read
          timer.mark('lookups')
          if (snap === undefined) request.declineReason = 'TIMEOUT'
          else {
            screen(request, snap)
            request.expect = {
              user: snap.user?.revision ?? 0,
              ...(cardToken === null ? {} : { card: snap.card?.revision ?? 0, card_limits: snap.cardLimits?.revision ?? 0 }),
              user_limits: snap.userLimits?.revision ?? 0
            }
          }
        }
      }
      let decided: JitDecisionResult | 'stale'
      try {
        decided = await runLedger(request, deadlineMs)
      } finally {
        // from the end of the lookups (or of the previous attempt): the ledger's part
        timer.mark('decision')
      }
      if (decided === 'stale') {
        logger.debug({ jit_token: request.jitToken, attempt }, 'cached data was stale: deciding again on fresh data')
        continue
      }
      result = decided
    }
    timer.end(result.outcome, result.decline_reason ?? undefined)
    return { status: result.status, body: result.response, outcome: result.outcome, declineReason: result.decline_reason, timingsMs: timer.timings }

    /** The checks on (cached) user, card and limits; sets the request's decline and account. */
    function screen (request: JitDecisionRequest, snap: Snapshot): Snapshot {
      request.declineReason = screenDecline(snap, request)
      request.accountToken = snap.card?.account_token ?? snap.card?.user_token ?? userToken
      return snap
    }
  }

  function screenDecline (snap: Snapshot, request: JitDecisionRequest): string | null {
    const { user, card } = snap
    if (user === null || user.status !== 'ACTIVE') return 'CARDHOLDER_NOT_ACTIVE'
    if (card === null) return 'INVALID_CARD'
    const acting = request.echo.acting_user_token
    if (card.user_token !== request.userToken && card.user_token !== acting) return 'INVALID_CARD'
    if (card.status !== 'ACTIVE') return 'CARD_NOT_ACTIVE'
    if (card.expiration < currentMonth()) return 'EXPIRED_CARD'
    if (!MOVES_MONEY.has(request.kind)) return null
    for (const limits of [snap.cardLimits, snap.userLimits]) {
      if (limits === null) continue
      if (request.mcc !== null && limits.blocked_mccs.includes(request.mcc)) return 'INVALID_MERCHANT'
      // an incremental's per-transaction limit applies to the purchase total: the ledger checks it
      if (request.kind !== 'incremental' && limits.per_transaction !== null && request.amount > limits.per_transaction) return 'AMOUNT_LIMIT_EXCEEDED'
    }
    return null
  }

  /** A request whose token, method and user token parse but something else does not: a recorded 402. */
  async function declineInvalid (identity: Record<string, unknown>, reason: 'INVALID_AMOUNT' | 'TRANSACTION_NOT_PERMITTED', deadlineMs = Date.now() + deps.budgetMs): Promise<JitAnswer> {
    const request = invalidRequest(identity, reason, timezone, deadlineMs)
    const result = await runLedger(request, deadlineMs)
    if (result === 'stale') throw new Error('a decision without cached revisions cannot be stale')
    profiler.recordOutcome(result.outcome, result.decline_reason ?? undefined)
    return { status: result.status, body: result.response, outcome: result.outcome, declineReason: result.decline_reason }
  }

  /**
   * An overload shed (built by {@link decisionRequest} or {@link invalidRequest}): answered the
   * TIMEOUT decline at once, without the database, and recorded as exactly that off the hot path
   * (shed-recorder.ts), so a repeat of the token gets the same answer.
   */
  function shed (request: JitDecisionRequest): JitAnswer {
    // a repeat of a token decided here, or shed before, gets that answer again, shedding or not
    const known = knownAnswer(request)
    if (known === undefined) sheds.record(request)
    const answer = known ?? timeoutDecline(request)
    profiler.recordOutcome(answer.outcome, answer.decline_reason ?? undefined)
    return { status: answer.status, body: answer.response, outcome: answer.outcome, declineReason: answer.decline_reason }
  }

  /**
   * What this process already answered for the request's token, without a statement: a TIMEOUT
   * decline not yet written (the shed recorder's), else a decision the ledger returned here.
   */
  function knownAnswer (request: JitDecisionRequest): JitDecisionResult | undefined {
    const unwritten = sheds.pending(request.jitToken)
    return unwritten === undefined ? answered.replay(request) : { ...timeoutDecline(unwritten), replay: true }
  }

  return { decide, declineInvalid, shed, close: sheds.close }
}
