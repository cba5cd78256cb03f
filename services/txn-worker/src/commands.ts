import type { Logger } from 'pino'
import type postgres from 'postgres'
import { PermanentError, TransientError, type ConsumedMessage, type MessageHandler } from '@jit/amqp'
import {
  COMMAND_SCHEMAS, COMMAND_TYPES, EVENT_ROUTING_KEYS, MoneyError, compileValidator, isCommandType, isUnstorableText, parseAmount,
  toStorableJson,
  type CommandBodies, type CommandType, type ValidationIssue, type Validator
} from '@jit/contracts'
import {
  RESERVED_ACCOUNT_RULE, creditAccount, debitAccount, isReservedAccountName, limitsCacheKey, setLimits, upsertCard, upsertUser,
  type ReleaseHoldResult, type UpsertResult
} from '@jit/ledger'
import { writeOutboxEvent } from '@jit/outbox'
import type { Database } from '@jit/postgres'
import type { Cache, CacheKind } from '@jit/redis'
import type { LedgerLifecycle } from './ledger-lifecycle.js'
import type { WorkerMetrics } from './metrics.js'

/** A cache entry a command changed: `[kind, key]` as the jit-authorizer reads it. */
export type Invalidation = [CacheKind, string]

type AnswerKey = typeof EVENT_ROUTING_KEYS.commandApplied | typeof EVENT_ROUTING_KEYS.commandRejected
type Outcome = 'applied' | 'stale' | 'duplicate' | 'rejected'

/** What a command decided, before it is stored and answered. */
interface CommandDecision {
  routingKey: AnswerKey
  outcome: Outcome
  answer: Record<string, unknown>
  invalidations: Invalidation[]
}

interface StoredCommand {
  answer_routing_key: AnswerKey
  answer_message_id: string
  answer: Record<string, unknown>
  invalidations: Invalidation[]
}

/** Options of {@link createCommandHandler}. */
export interface CommandHandlerDeps {
  db: Database
  cache: Cache
  ledger: LedgerLifecycle
  metrics: WorkerMetrics
  logger: Logger
  /**
   * Attempts at one cache invalidation outside the command's transaction (after its commit, and
   * when a redelivery answers a command recorded while Redis was down) before the message is
   * requeued (`COMMAND_INVALIDATION_ATTEMPTS`); inside the transaction there is one attempt, so
   * a Redis outage never holds the command's row locks for long.
   */
  invalidationAttempts: number
  /** Wait before the next attempt, ms, times the attempt number (`COMMAND_INVALIDATION_RETRY_MS`). */
  invalidationRetryMs: number
}

/** Expected failures of a command: answered by command.rejected, never retried. */
class CommandRejection extends Error {
  readonly reason: string
  readonly errors: ValidationIssue[] | undefined
  constructor (reason: string, message: string, errors?: ValidationIssue[]) {
    super(message)
    this.reason = reason
    this.errors = errors
  }
}

const QUEUE = 'commands'

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The token a command is about, for the answer (read loosely: the body may be invalid). */
function entityToken (type: string, body: unknown): string | undefined {
  if (!isRecord(body)) return undefined
  const field = ({
    'user.upsert': 'user_token',
    'card.upsert': 'card_token',
    'account.credit': typeof body.account_token === 'string' ? 'account_token' : 'user_token',
    'account.debit': typeof body.account_token === 'string' ? 'account_token' : 'user_token',
    'limits.set': 'token',
    'hold.release': 'jit_token'
  } as Record<string, string>)[type]
  const value = field === undefined ? undefined : body[field]
  return typeof value === 'string' && value !== '' && value.length <= 200 ? value : undefined
}

function minorUnits (value: string, currency: string, allowZero: boolean): number {
  try {
    return parseAmount(value, currency, { allowZero })
  } catch (err) {
    if (err instanceof MoneyError) {
      throw new CommandRejection(err.code === 'UNKNOWN_CURRENCY' ? 'UNKNOWN_CURRENCY' : 'INVALID_AMOUNT', err.message)
    }
    throw err
  }
}

function optionalMinor (value: string | undefined, currency: string): number | null {
  return value === undefined ? null : minorUnits(value, currency, true)
}

/**
 * The `commands` queue: validates a command, applies it, records its id and answer and writes the
 * answer (`command.applied` / `command.rejected`, correlation_id = the command's message_id) to
 * the outbox, all in one PostgreSQL transaction; the outbox relay publishes it after the commit.
 * Nothing is published while a lock is held, and no answer leaves for a change that rolled back.
 *
 * The answer must not reach a subscriber while the jit-authorizer may still serve the cache entry
 * the command replaced (a caller that suspends a card expects the next decision to see it). So
 * the command's cache entries are invalidated twice:
 * - inside the transaction, after every write and before the answer is written: the tombstone
 *   stops every fill for `tombstoneMs` (5 s; fills are NX and nothing else writes these keys), so
 *   a load that read the old row before the commit cannot bring it back while the few statements
 *   left (the outbox row, its NOTIFY, the commit) finish. From the commit on, loads read the new
 *   row. When that invalidation fails (Redis down) the change still commits, unanswered, and the
 *   message is requeued: the answer is written only by a delivery whose invalidation succeeds.
 * - after the commit, against a commit slower than the tombstone (a load that read the old row
 *   could then refill it). A failure here requeues the message, and the redelivery invalidates
 *   again before it is acknowledged.
 * jit_decide re-checks the revision of every row taken from the cache, so even an entry that
 * outlived both costs a retry of the decision, never a wrong one.
 *
 * A redelivery of a command already answered is acknowledged (after invalidating again); one
 * recorded but not answered (Redis was down) invalidates and writes the stored answer, under the
 * same answer message id.
 */
export function createCommandHandler (deps: CommandHandlerDeps): MessageHandler {
  const { db, cache, ledger, metrics } = deps
  const logger = deps.logger.child({ component: 'commands' })
  const { invalidationAttempts, invalidationRetryMs } = deps
  const validators = Object.fromEntries(
    COMMAND_TYPES.map(type => [type, compileValidator(COMMAND_SCHEMAS[type], { maxErrors: 10 })])
  ) as Record<CommandType, Validator<unknown>>

  function answerOf (type: string, messageId: string, body: unknown, fields: Record<string, unknown>): Record<string, unknown> {
    const answer: Record<string, unknown> = { command_type: type, command_message_id: messageId, ...fields }
    const token = entityToken(type, body)
    if (token !== undefined) answer.entity_token = token
    answer.occurred_at = new Date().toISOString()
    return answer
  }

  function entityOutcome (type: CommandType, messageId: string, body: { version?: number }, result: UpsertResult, invalidation: Invalidation): CommandDecision {
    const answer = answerOf(type, messageId, body, { outcome: result.stale ? 'stale' : 'applied' })
    if (body.version !== undefined) answer.version = body.version
    return {
      routingKey: EVENT_ROUTING_KEYS.commandApplied,
      outcome: result.stale ? 'stale' : 'applied',
      answer,
      // a stale command changed nothing, so there is nothing to invalidate
      invalidations: result.stale ? [] : [invalidation]
    }
  }

  function moved (type: CommandType, messageId: string, body: unknown, result: { applied: boolean, rejected?: string }): CommandDecision {
    if (result.rejected !== undefined) {
      const reason = result.rejected === 'NO_ACCOUNT' ? 'UNKNOWN_ACCOUNT' : result.rejected
      throw new CommandRejection(reason, {
        UNKNOWN_ACCOUNT: 'the account does not exist',
        INSUFFICIENT_FUNDS: 'the debit exceeds the available amount (use force to overdraw)',
        CURRENCY_MISMATCH: 'the account is held in another currency',
        RESERVED_ACCOUNT: `the account token is reserved: ${RESERVED_ACCOUNT_RULE}`
      }[reason] ?? reason)
    }
    // Not applied and not refused: this effect key (the command's message_id) was applied before.
    const outcome = result.applied ? 'applied' : 'duplicate'
    return { routingKey: EVENT_ROUTING_KEYS.commandApplied, outcome, answer: answerOf(type, messageId, body, { outcome }), invalidations: [] }
  }

  async function apply (tx: postgres.TransactionSql, type: CommandType, body: unknown, messageId: string): Promise<CommandDecision> {
    switch (type) {
      case 'user.upsert': {
        const c = body as CommandBodies['user.upsert']
        const result = await upsertUser(tx, { user_token: c.user_token, status: c.status, version: c.version ?? null })
        return entityOutcome(type, messageId, c, result, ['user', c.user_token])
      }
      case 'card.upsert': {
        const c = body as CommandBodies['card.upsert']
        const result = await upsertCard(tx, {
          card_token: c.card_token,
          user_token: c.user_token,
          status: c.status,
          expiration: c.expiration,
          account_token: c.account_token ?? null,
          version: c.version ?? null
        })
        return entityOutcome(type, messageId, c, result, ['card', c.card_token])
      }
      case 'limits.set': {
        const c = body as CommandBodies['limits.set']
        const result = await setLimits(tx, {
          scope: c.scope,
          token: c.token,
          currency: c.currency,
          per_transaction: optionalMinor(c.per_transaction, c.currency),
          daily: optionalMinor(c.daily, c.currency),
          monthly: optionalMinor(c.monthly, c.currency),
          daily_count: c.daily_count ?? null,
          blocked_mccs: c.blocked_mccs ?? [],
          version: c.version ?? null
        })
        return entityOutcome(type, messageId, c, result, ['limits', limitsCacheKey(c.scope, c.token, c.currency)])
      }
      case 'account.credit':
      case 'account.debit': {
        const c = body as CommandBodies['account.credit'] | CommandBodies['account.debit']
        const movement = {
          // A user's own account carries the user's token (docs/ledger.md "Model").
          accountToken: 'account_token' in c ? c.account_token : c.user_token,
          currency: c.currency,
          amount: minorUnits(c.amount, c.currency, false),
          // the command's message_id is the effect key: a redelivery moves nothing
          effectKind: `command.${type}`,
          effectKey: messageId,
          counter: 'program_funding' as const,
          description: `${type} command`,
          correlationId: messageId
        }
        const result = type === 'account.credit'
          ? await creditAccount(tx, movement)
          : await debitAccount(tx, { ...movement, force: (c as CommandBodies['account.debit']).force === true })
        return moved(type, messageId, c, result)
      }
      case 'hold.release': {
        const c = body as CommandBodies['hold.release']
        const result = await ledger.releaseHold(tx, { jitToken: c.jit_token, reason: c.reason, operator: c.operator, messageId })
        return holdReleased(messageId, c, result)
      }
    }
  }

  function holdReleased (messageId: string, body: unknown, result: ReleaseHoldResult): CommandDecision {
    switch (result.outcome) {
      case 'applied':
      case 'duplicate':
        return {
          routingKey: EVENT_ROUTING_KEYS.commandApplied,
          outcome: result.outcome,
          answer: answerOf('hold.release', messageId, body, { outcome: result.outcome }),
          invalidations: []
        }
      case 'not_found':
        throw new CommandRejection('UNKNOWN_HOLD', 'no hold with this JIT token')
      default:
        throw new CommandRejection('HOLD_NOT_OPEN', `the hold is ${result.state ?? 'not open'}; only an OPEN hold can be released`)
    }
  }

  // A user's token is its own account's token, and a card names the account it spends from: a
  // counter-account name in either would post the journal's own lines to a funding account.
  function rejectReservedNames (type: CommandType, body: unknown): void {
    if (typeof body !== 'object' || body === null) return
    for (const field of ['account_token', 'user_token'] as const) {
      const value = (body as Record<string, unknown>)[field]
      if (typeof value === 'string' && isReservedAccountName(value)) {
        throw new CommandRejection('RESERVED_ACCOUNT', `${type}: ${field} ${JSON.stringify(value)} is reserved: ${RESERVED_ACCOUNT_RULE}`)
      }
    }
  }

  async function decide (tx: postgres.TransactionSql, type: string, body: unknown, messageId: string): Promise<CommandDecision> {
    try {
      if (!isCommandType(type)) {
        throw new CommandRejection('UNKNOWN_COMMAND', `'${type}' is not a command type (one of ${COMMAND_TYPES.join(', ')})`)
      }
      // A token or text PostgreSQL cannot store (NUL, lone surrogate) would fail the command's
      // writes forever; refused as invalid instead (replacing it would change a token).
      if (toStorableJson(body) !== body) {
        throw new CommandRejection('INVALID', `invalid ${type} command: a string holds a NUL character or a lone surrogate`)
      }
      const checked = validators[type](body)
      if (!checked.ok) {
        throw new CommandRejection('INVALID', `invalid ${type} command`, checked.errors)
      }
      rejectReservedNames(type, checked.value)
      // A savepoint, so a rejection decided half-way (an amount refused after a write) leaves
      // nothing of the command behind while its record is still written.
      return await tx.savepoint(async sp => await apply(sp as postgres.TransactionSql, type, checked.value, messageId))
    } catch (err) {
      if (!(err instanceof CommandRejection)) throw err
      const fields: Record<string, unknown> = { outcome: 'rejected', reason: err.reason, message: err.message }
      if (err.errors !== undefined) {
        // a union's alternatives can report the same problem twice
        const unique = new Map(err.errors.map(e => [`${e.path}\u0000${e.message}`, { path: e.path, message: e.message }]))
        fields.errors = [...unique.values()]
      }
      return { routingKey: EVENT_ROUTING_KEYS.commandRejected, outcome: 'rejected', answer: answerOf(type, messageId, body, fields), invalidations: [] }
    }
  }

  /** Invalidates every key, each tried up to `attempts` times; false when one still failed. */
  async function invalidated (keys: Invalidation[], attempts: number): Promise<boolean> {
    for (const [kind, key] of keys) {
      let done = false
      for (let attempt = 1; attempt <= attempts && !done; attempt++) {
        done = await cache.invalidate(kind, key)
        if (!done && attempt < attempts) await new Promise(resolve => setTimeout(resolve, invalidationRetryMs * attempt))
      }
      if (!done) return false
    }
    return true
  }

  async function invalidate (keys: Invalidation[]): Promise<void> {
    // Redis down is a dependency failure: the command is requeued (uncounted, after a pause)
    // until it is back, never dead-lettered; the redelivery finds the stored record and comes
    // back here.
    if (!await invalidated(keys, invalidationAttempts)) {
      throw new TransientError(`cache invalidation of ${keys.map(([kind, key]) => `${kind} ${key}`).join(', ')} failed; waiting for Redis`)
    }
  }

  async function writeAnswer (tx: postgres.TransactionSql, messageId: string, answer: StoredCommand): Promise<void> {
    await writeOutboxEvent(tx, {
      routingKey: answer.answer_routing_key,
      payload: answer.answer as postgres.JSONValue,
      messageId: answer.answer_message_id,
      correlationId: messageId
    })
    await tx`update worker_commands set answered_at = now() where message_id = ${messageId}`
  }

  return async function handleCommand (msg: ConsumedMessage): Promise<void> {
    const messageId = msg.messageId
    // the record is keyed by it: one PostgreSQL cannot store could never be recorded
    if (isUnstorableText(messageId)) throw new PermanentError('the command\'s message_id holds a NUL character or a lone surrogate')
    // only stored and echoed (a type that is not a command is rejected by name)
    const type = toStorableJson(msg.routingKey)

    // 1. Decide, record and (once the cache entries are invalidated) answer, once per message_id.
    const applied = await db.transaction('commands.apply', async tx => {
      // Two deliveries of one message_id at once (a duplicate publish) queue here; the second
      // finds the first one's record instead of applying the command again.
      await tx`select pg_advisory_xact_lock(hashtextextended(${'command:' + messageId}, 0))`
      const [existing] = await tx<Array<{ outcome: Outcome, answered: boolean, invalidations: Invalidation[] }>>`
        select outcome, answered_at is not null as answered, invalidations from worker_commands where message_id = ${messageId}`
      if (existing !== undefined) return { fresh: false, ...existing }
      const decision = await decide(tx, type, msg.body, messageId)
      const [stored] = await tx<StoredCommand[]>`
        insert into worker_commands (message_id, command_type, outcome, answer_routing_key, answer, invalidations)
        values (${messageId}, ${type.slice(0, 200)}, ${decision.outcome}, ${decision.routingKey},
          ${tx.json(toStorableJson(decision.answer) as postgres.JSONValue)}, ${tx.json(decision.invalidations)})
        returning answer_routing_key, answer_message_id::text as answer_message_id, answer, invalidations`
      // Last before the answer and the commit (see above); one attempt, so an outage does not
      // hold this transaction's row locks: a failure commits the change unanswered.
      const answered = await invalidated(decision.invalidations, 1)
      if (answered) await writeAnswer(tx, messageId, stored as StoredCommand)
      return { fresh: true, outcome: decision.outcome, answered, invalidations: decision.invalidations, reason: decision.answer.reason }
    })

    if (applied.answered) {
      // After the commit: against a commit that outlived the tombstone; a redelivery of an
      // answered command does it again (it may be the requeue of a failure here).
      await invalidate(applied.invalidations)
      if (!applied.fresh) {
        metrics.duplicates.inc({ queue: QUEUE })
        logger.debug({ messageId, type }, 'command already answered')
        return
      }
    }

    // 2. Recorded but not answered (Redis was down): invalidate, then write the stored answer,
    // under the record's row lock, so of several deliveries racing here one writes it and the
    // others find answered_at set (READ COMMITTED re-checks it after the lock). The lock is held
    // for the invalidation and one insert, never for a publish.
    let answered = applied.answered
    if (!answered) {
      const late = await db.transaction('commands.answer', async tx => {
        const [row] = await tx<StoredCommand[]>`
          select answer_routing_key, answer_message_id::text as answer_message_id, answer, invalidations
          from worker_commands where message_id = ${messageId} and answered_at is null
          for update`
        if (row === undefined) return null
        await invalidate(row.invalidations)
        await writeAnswer(tx, messageId, row)
        return row.invalidations
      })
      if (late !== null) {
        answered = true
        // after this commit too, as in the first transaction
        await invalidate(late)
      }
    }

    if (!applied.fresh || !answered) {
      metrics.duplicates.inc({ queue: QUEUE })
    } else if (applied.outcome === 'rejected') {
      const reason = typeof applied.reason === 'string' ? applied.reason : 'UNKNOWN'
      metrics.commandsRejected.inc({ reason })
      logger.info({ messageId, type, reason }, 'command rejected')
    } else if (applied.outcome === 'duplicate') {
      metrics.duplicates.inc({ queue: QUEUE })
    } else {
      metrics.applied.inc({ queue: QUEUE })
    }
  }
}
