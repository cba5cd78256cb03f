import type { Logger } from 'pino'
import { PermanentError, TransientError, batchingHandler, type ConsumedMessage, type MessageHandler } from '@jit/amqp'
import type { ArchiveDocument, DocumentArchive } from '@jit/archive'
import { toStorableJson } from '@jit/contracts'
import { setCardStatus, setUserStatus, type CardStatus, type UserStatus } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import type { Cache } from '@jit/redis'
import type { WorkerMetrics } from './metrics.js'
import { isTransientFailure } from './transient.js'

/** Options of {@link createWebhookHandler} and {@link createDecisionArchiveHandler}. */
export interface ArchiveHandlerDeps {
  db: Database
  cache: Cache
  archive: DocumentArchive
  metrics: WorkerMetrics
  logger: Logger
}

const CARD_STATUSES: ReadonlySet<string> = new Set<CardStatus>(['ACTIVE', 'SUSPENDED', 'TERMINATED', 'UNACTIVATED'])
const USER_STATUSES: ReadonlySet<string> = new Set<UserStatus>(['ACTIVE', 'SUSPENDED', 'CLOSED', 'UNVERIFIED', 'LIMITED'])

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function text (value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}

/** When the event happened at the processor: its own time, else when it was published, else now. */
export function occurredAt (body: Record<string, unknown>, msg: ConsumedMessage, ...fields: string[]): Date {
  for (const field of fields) {
    const value = body[field]
    if (typeof value === 'string') {
      const at = new Date(value)
      if (!Number.isNaN(at.getTime())) return at
    }
  }
  return new Date(msg.publishedAt ?? Date.now())
}

/** `webhook.<family>.<type with dots>` split into family and type. */
function splitWebhookKey (routingKey: string): { family: string, type: string | null } {
  const [, family, ...rest] = routingKey.split('.')
  return { family: family ?? 'unknown', type: rest.length > 0 ? rest.join('.') : null }
}

/**
 * The `webhooks` queue (every webhook event): card and user transitions update the status in
 * PostgreSQL and invalidate the cache before the message is acknowledged, then every event is
 * archived (card numbers masked by the archive; characters PostgreSQL cannot store replaced by
 * U+FFFD). A transition changes the status only when it is strictly newer than the newest one
 * applied for the same card or user (webhooks arrive late and out of order). A redelivery of the
 * applied transition (same event token) never sets the status again, since a command may have
 * changed it since (a card.upsert suspending the card for fraud must not be undone by the
 * processor re-sending an old ACTIVE transition); it only invalidates the cache again, so an
 * invalidation that failed the first time is finished by the redelivery.
 */
export function createWebhookHandler (deps: ArchiveHandlerDeps): MessageHandler {
  const { archive, metrics } = deps
  const transitionThenDocument = webhookTransitions(deps)
  return async function handleWebhook (msg: ConsumedMessage): Promise<void> {
    const { inserted } = await archive.store(await transitionThenDocument(msg))
    if (inserted) metrics.applied.inc({ queue: 'webhooks' })
    else metrics.duplicates.inc({ queue: 'webhooks' })
  }
}

/**
 * The `webhooks` queue, batched: each message's transition is applied as in
 * {@link createWebhookHandler}, one after the other in delivery order, then the documents of the
 * batch are archived with one multi-row insert ({@link storeDocuments}). Each message is still
 * acknowledged only after its own document is stored, and fails alone.
 */
export function createWebhookBatchHandler (deps: ArchiveHandlerDeps & { maxBatch: number }): MessageHandler {
  return archiveBatchHandler(deps, 'webhooks', webhookTransitions(deps))
}

/**
 * A batched archiving handler of `queue`: each message's document is made in delivery order (a
 * message whose document cannot be made fails alone), then the batch's documents are stored
 * with one insert ({@link storeDocuments}).
 */
function archiveBatchHandler (deps: ArchiveHandlerDeps & { maxBatch: number }, queue: 'webhooks' | 'jit-funding', documentOf: (msg: ConsumedMessage) => ArchiveDocument | Promise<ArchiveDocument>): MessageHandler {
  return batchingHandler(async msgs => {
    deps.metrics.batchSize.observe({ queue }, msgs.length)
    const failures: unknown[] = new Array(msgs.length).fill(undefined)
    const docs: Array<{ slot: number, doc: ArchiveDocument }> = []
    for (const [slot, msg] of msgs.entries()) {
      try {
        docs.push({ slot, doc: await documentOf(msg) })
      } catch (err) {
        failures[slot] = err
      }
    }
    await storeDocuments(deps, queue, docs, failures)
    return failures
  }, { maxBatch: deps.maxBatch })
}

/**
 * Archives the documents of a batch in one `storeMany` and records each message's failure in
 * `failures[slot]`. A refusal of the whole call that is not a dependency failure (one document
 * the archive cannot take) is retried document by document, so that document alone fails; a
 * dependency failure (archive unreachable) fails them all, to be requeued.
 */
export async function storeDocuments (deps: Pick<ArchiveHandlerDeps, 'archive' | 'metrics' | 'logger'>, queue: 'webhooks' | 'jit-funding' | 'transactions', docs: Array<{ slot: number, doc: ArchiveDocument }>, failures: unknown[]): Promise<void> {
  const { archive, metrics } = deps
  if (docs.length === 0) return
  // The transactions queue counts its events by their ledger outcome; its documents apart.
  const count = (stored: number, repeats: number): void => {
    if (queue === 'transactions') {
      if (stored > 0) metrics.transactionsArchived.inc({ outcome: 'stored' }, stored)
      if (repeats > 0) metrics.transactionsArchived.inc({ outcome: 'duplicate' }, repeats)
      return
    }
    if (stored > 0) metrics.applied.inc({ queue }, stored)
    if (repeats > 0) metrics.duplicates.inc({ queue }, repeats)
  }
  try {
    const { inserted } = await archive.storeMany(docs.map(d => d.doc))
    // storeMany skips what is already stored and the repeats inside the batch
    count(inserted, docs.length - inserted)
    return
  } catch (err) {
    if (isTransientFailure(err)) {
      for (const { slot } of docs) failures[slot] = err
      return
    }
    deps.logger.warn({ err, queue, documents: docs.length }, 'archive refused a batch; storing its documents one by one')
  }
  for (const { slot, doc } of docs) {
    try {
      const { inserted } = await archive.store(doc)
      count(inserted ? 1 : 0, inserted ? 0 : 1)
    } catch (err) {
      failures[slot] = err
    }
  }
}

function webhookTransitions (deps: ArchiveHandlerDeps): (msg: ConsumedMessage) => Promise<ArchiveDocument> {
  const { db, cache } = deps
  const logger = deps.logger.child({ component: 'webhooks' })

  async function transition (entity: 'card' | 'user', token: string, status: string, eventToken: string, at: Date): Promise<void> {
    const outcome = await db.transaction('webhooks.transition', async tx => {
      const newest = await tx`
        insert into worker_status_transitions (entity, token, status, event_token, occurred_at)
        values (${entity}, ${token}, ${status}, ${eventToken}, ${at})
        on conflict (entity, token) do update set status = excluded.status, event_token = excluded.event_token,
          occurred_at = excluded.occurred_at, applied_at = now()
        where worker_status_transitions.occurred_at < excluded.occurred_at
          and worker_status_transitions.event_token <> excluded.event_token
        returning 1`
      if (newest.length === 0) {
        const [stored] = await tx<Array<{ event_token: string }>>`
          select event_token from worker_status_transitions where entity = ${entity} and token = ${token}`
        return stored?.event_token === eventToken ? 'repeat' : 'older'
      }
      const changed = entity === 'card'
        ? await setCardStatus(tx, token, status as CardStatus)
        : await setUserStatus(tx, token, status as UserStatus)
      return changed ? 'changed' : 'unknown'
    })
    if (outcome === 'older' || outcome === 'unknown') {
      logger.debug({ entity, token, status, eventToken, outcome }, 'transition skipped (not newer than the applied one, or unknown entity)')
      return
    }
    // Before the ack: a decision made after this message is acknowledged must not read the old
    // status. Redis down is a dependency failure: requeued until it is back, never dead-lettered.
    if (!await cache.invalidate(entity, token)) {
      throw new TransientError(`cache invalidation of ${entity} ${token} failed`)
    }
    if (outcome === 'changed') logger.info({ entity, token, status }, 'status changed by transition webhook')
    else logger.debug({ entity, token, eventToken }, 'redelivered transition: status left as it is, cache invalidated again')
  }

  /** Applies a card or user transition (before the ack) and returns the document to archive. */
  return async function transitionThenDocument (msg: ConsumedMessage): Promise<ArchiveDocument> {
    const doc = webhookDocument(msg)
    const { family, token, occurred_at: at } = doc
    const body = doc.body as Record<string, unknown>

    if (family === 'cardtransitions') {
      const card = text(body.card_token)
      const state = text(body.state)
      if (card !== null && state !== null && CARD_STATUSES.has(state)) await transition('card', card, state, token, at)
      else if (card !== null) logger.warn({ card, state, token }, 'card transition with a state the ledger does not model: archived only')
    } else if (family === 'usertransitions') {
      const user = text(body.user_token)
      const status = text(body.status) ?? text(body.state)
      if (user !== null && status !== null && USER_STATUSES.has(status)) await transition('user', user, status, token, at)
      else if (user !== null) logger.warn({ user, status, token }, 'user transition with a status the ledger does not model: archived only')
    }
    return doc
  }
}

/**
 * The archive document of a webhook event (PermanentError when it is not a JSON object): family
 * and type from its routing key, its own token, when it happened. `storable` is the body with
 * the characters PostgreSQL cannot store already replaced (`toStorableJson`), when the caller
 * has it (the transactions handler applies that same copy).
 */
export function webhookDocument (msg: ConsumedMessage, storable?: Record<string, unknown>): ArchiveDocument {
  if (storable === undefined && !isRecord(msg.body)) throw new PermanentError('webhook event is not a JSON object')
  // jsonb and text refuse NUL and lone surrogates: replaced (tokens included) before anything is stored
  const body = storable ?? toStorableJson(msg.body as Record<string, unknown>)
  const { family, type } = splitWebhookKey(msg.routingKey)
  const token = text(body.token) ?? toStorableJson(msg.messageId)
  const at = occurredAt(body, msg, 'created_time', 'created_at')
  return { token, kind: 'webhook', family, type, user_token: text(body.user_token), card_token: text(body.card_token), occurred_at: at, body }
}

/** The document of a JIT decision event (PermanentError when it is not a JSON object). */
function decisionDocument (msg: ConsumedMessage): ArchiveDocument {
  if (!isRecord(msg.body)) throw new PermanentError('decision event is not a JSON object')
  const body = toStorableJson(msg.body)
  return {
    token: text(body.jit_token) ?? toStorableJson(msg.messageId),
    kind: 'decision',
    family: null,
    type: text(body.decision) ?? toStorableJson(msg.routingKey.split('.').slice(2).join('.')),
    user_token: text(body.user_token),
    card_token: text(body.card_token),
    occurred_at: occurredAt(body, msg, 'occurred_at'),
    body
  }
}

/** The `jit-funding` queue: every JIT decision event is archived as a document. */
export function createDecisionArchiveHandler (deps: ArchiveHandlerDeps): MessageHandler {
  const { archive, metrics } = deps
  return async function handleDecision (msg: ConsumedMessage): Promise<void> {
    const { inserted } = await archive.store(decisionDocument(msg))
    if (inserted) metrics.applied.inc({ queue: 'jit-funding' })
    else metrics.duplicates.inc({ queue: 'jit-funding' })
  }
}

/** The `jit-funding` queue, batched: the decision documents of a batch archived in one insert ({@link storeDocuments}). */
export function createDecisionArchiveBatchHandler (deps: ArchiveHandlerDeps & { maxBatch: number }): MessageHandler {
  return archiveBatchHandler(deps, 'jit-funding', decisionDocument)
}
