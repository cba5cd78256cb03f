import type { Connection } from 'rabbitmq-client'
import type { Logger } from 'pino'
import { EXCHANGES, QUEUES } from '@jit/contracts'

// The names are the contract's (@jit/contracts); these aliases keep this package's API readable.
/** Topic exchange of everything that happened (contract). */
export const EVENTS_EXCHANGE = EXCHANGES.events
/** Topic exchange of what internal services ask for (contract). */
export const COMMANDS_EXCHANGE = EXCHANGES.commands
/** Direct exchange that carries retries (`<queue>.retry.N`) and dead letters (`<queue>.dead`). */
export const DLX_EXCHANGE = EXCHANGES.dlx

/** Seed queue names (contract). */
export const QUEUE_JIT_FUNDING = QUEUES.jitFunding
export const QUEUE_TRANSACTIONS = QUEUES.transactions
export const QUEUE_WEBHOOKS = QUEUES.webhooks
export const QUEUE_COMMANDS = QUEUES.commands

/** One binding of a queue to an exchange. */
export interface QueueBinding {
  exchange: string
  /** Topic pattern; routing keys contain dots, so use `#`, e.g. `webhook.#`. */
  routingKey: string
  /**
   * Topic patterns left out of `routingKey`: a message matching one of them does not reach this
   * queue. A topic binding cannot exclude, so the queue is bound through exchanges of its own
   * ({@link filterExchangeNames}): `<queue>.filter` (topic) takes `routingKey` from `exchange`
   * and sends what matches an excluded pattern to `<queue>.excluded`, which has no binding (the
   * message is dropped there); what matches none goes to its alternate exchange `<queue>.rest`,
   * bound to the queue.
   */
  except?: string[]
}

/** A work queue and its bindings; its retry and dead-letter queues are derived from the name. */
export interface QueueDefinition {
  name: string
  bindings: QueueBinding[]
}

/**
 * What to declare. Every field defaults to the contract, so `{}` is the production topology;
 * tests shorten the delays.
 */
export interface TopologyOptions {
  /**
   * The work queues.
   * @default the contract's `jit-funding`, `transactions`, `webhooks`, `commands`
   */
  queues?: QueueDefinition[]
  /**
   * Delay before each retry, in milliseconds; its length is the number of retries (after the
   * last one the message goes to `<queue>.dead`). The delays are queue arguments
   * (`x-message-ttl`): RabbitMQ refuses to redeclare a queue with other arguments, so a change
   * replaces each `<queue>.retry.N` the way an old classic one is migrated (once empty).
   * @default [1000, 5000, 25000]
   */
  retryDelaysMs?: number[]
}

/** A topology with every default filled in. */
export interface ResolvedTopology {
  queues: QueueDefinition[]
  retryDelaysMs: number[]
}

/** What the transactions queue takes from `cards.events`: the webhook families that move money. */
const TRANSACTION_WEBHOOK_KEYS = ['webhook.transactions.#', 'webhook.chargebacktransitions.#']

/** The contract's queues and bindings. */
export const DEFAULT_QUEUES: readonly QueueDefinition[] = Object.freeze([
  { name: QUEUE_JIT_FUNDING, bindings: [{ exchange: EVENTS_EXCHANGE, routingKey: 'jit.#' }] },
  {
    name: QUEUE_TRANSACTIONS,
    bindings: TRANSACTION_WEBHOOK_KEYS.map(routingKey => ({ exchange: EVENTS_EXCHANGE, routingKey }))
  },
  // Every webhook event except the ones the transactions queue takes: those are archived by the
  // transactions handler from its own delivery, so the broker stores and delivers each money
  // event once, not twice.
  {
    name: QUEUE_WEBHOOKS,
    bindings: [{ exchange: EVENTS_EXCHANGE, routingKey: 'webhook.#', except: TRANSACTION_WEBHOOK_KEYS }]
  },
  { name: QUEUE_COMMANDS, bindings: [{ exchange: COMMANDS_EXCHANGE, routingKey: '#' }] }
])

/** The contract's retry delays: 1 s, 5 s, 25 s. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([1000, 5000, 25000])

/** Fills in the defaults and checks the values. */
export function resolveTopology (options: TopologyOptions = {}): ResolvedTopology {
  const queues = (options.queues ?? DEFAULT_QUEUES).map(q => ({
    name: q.name,
    bindings: q.bindings.map(b => b.except === undefined ? { ...b } : { ...b, except: [...b.except] })
  }))
  const retryDelaysMs = [...(options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)]
  for (const delay of retryDelaysMs) {
    if (!Number.isSafeInteger(delay) || delay < 0) throw new TypeError(`retry delay must be a non-negative integer of milliseconds, got ${delay}`)
  }
  const names = new Set<string>()
  for (const q of queues) {
    if (q.name === '' || names.has(q.name)) throw new TypeError(`queue names must be unique and non-empty: '${q.name}'`)
    names.add(q.name)
    // the filter exchanges are named after the queue, so one such binding per queue
    if (q.bindings.filter(b => b.except !== undefined).length > 1) throw new TypeError(`queue '${q.name}' may have at most one binding with exclusions`)
  }
  return { queues, retryDelaysMs }
}

/** Name of retry queue `attempt` (1-based) of `queue`; also its routing key on `cards.dlx`. */
export function retryQueueName (queue: string, attempt: number): string {
  return `${queue}.retry.${attempt}`
}

/** Name of the dead-letter queue of `queue`; also its routing key on `cards.dlx`. */
export function deadQueueName (queue: string): string {
  return `${queue}.dead`
}

/** The exchanges through which a binding with exclusions ({@link QueueBinding.except}) reaches `queue`. */
export function filterExchangeNames (queue: string): { filter: string, excluded: string, rest: string } {
  return { filter: `${queue}.filter`, excluded: `${queue}.excluded`, rest: `${queue}.rest` }
}

/**
 * Declares the exchanges of a binding with exclusions and binds `queue` through them (see
 * {@link QueueBinding.except}). The plain binding an older release declared (every message of
 * `routingKey`) is removed: unbinding is idempotent.
 */
async function declareFilteredBinding (connection: Connection, queue: string, binding: QueueBinding & { except: string[] }): Promise<void> {
  const { filter, excluded, rest } = filterExchangeNames(queue)
  await connection.exchangeDeclare({ exchange: rest, type: 'fanout', durable: true, internal: true })
  await connection.exchangeDeclare({ exchange: excluded, type: 'fanout', durable: true, internal: true })
  await connection.exchangeDeclare({ exchange: filter, type: 'topic', durable: true, internal: true, arguments: { 'alternate-exchange': rest } })
  await connection.queueBind({ queue, exchange: rest, routingKey: '' })
  for (const key of binding.except) await connection.exchangeBind({ destination: excluded, source: filter, routingKey: key })
  await connection.exchangeBind({ destination: filter, source: binding.exchange, routingKey: binding.routingKey })
  await connection.queueUnbind({ queue, exchange: binding.exchange, routingKey: binding.routingKey })
}

/**
 * Arguments of a work queue: a message nacked without requeue (by any client, not only ours)
 * lands in its own dead-letter queue rather than vanishing.
 */
export function workQueueArguments (queue: string): Record<string, unknown> {
  return {
    'x-dead-letter-exchange': DLX_EXCHANGE,
    'x-dead-letter-routing-key': deadQueueName(queue)
  }
}

/**
 * Arguments of retry queue `<queue>.retry.N`: a quorum queue (RabbitMQ >= 3.10) with
 * at-least-once dead-lettering, so a message whose delay is over moves back to `<queue>` only once
 * `<queue>` has it: a broker crash between the two cannot drop it (a classic queue's
 * dead-lettering is at-most-once). At-least-once needs `reject-publish` overflow.
 */
export function retryQueueArguments (queue: string, delayMs: number): Record<string, unknown> {
  return {
    'x-queue-type': 'quorum',
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': queue
  }
}

/** Options of {@link declareTopology}. */
export interface DeclareOptions {
  /**
   * How long, beyond its delay, an old classic retry queue may take to empty itself before the
   * migration gives up with {@link RetryQueueMigrationError}.
   * @default 5000
   */
  migrationGraceMs?: number
  logger?: Logger
}

const MIGRATION_GRACE_MS = 5000

/**
 * An old classic retry queue (from a release before the quorum retry queues) still held messages
 * after its delay plus the grace: they should have expired back into the work queue by then.
 */
export class RetryQueueMigrationError extends Error {
  readonly queue: string
  readonly messages: number
  constructor (queue: string, messages: number) {
    super(`${queue} is a classic queue of an older release and still holds ${messages} messages after its delay, ` +
      'so it cannot be replaced by the quorum retry queue yet: stop the workers (their retries refill it), wait until ' +
      `\`rabbitmqctl list_queues name messages\` shows ${queue} empty, then start again (docs/operations.md, "Retry queues")`)
    this.name = 'RetryQueueMigrationError'
    this.queue = queue
    this.messages = messages
  }
}

function isPreconditionFailed (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'PRECONDITION_FAILED'
}

/**
 * Declares a retry queue; when the broker already has it with other arguments (the classic
 * declaration of an older release), migrates it: the old queue empties itself (each message
 * expires back into its work queue within the delay), is deleted once empty and declared again
 * as a quorum queue. Several processes may do it at once: deleting is `if-empty` and idempotent.
 */
async function declareRetryQueue (connection: Connection, queue: string, args: Record<string, unknown>, waitMs: number, logger?: Logger): Promise<void> {
  try {
    await connection.queueDeclare({ queue, durable: true, arguments: args })
    return
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err
  }
  logger?.warn({ queue }, 'retry queue declared by an older release: replacing it with a quorum queue once empty')
  const deadline = Date.now() + waitMs
  for (;;) {
    const { messageCount } = await connection.queueDeclare({ queue, passive: true })
    if (messageCount === 0) {
      try {
        await connection.queueDelete({ queue, ifEmpty: true })
        break
      } catch (err) {
        // a message arrived between the count and the delete: wait for it too
        if (!isPreconditionFailed(err)) throw err
      }
    }
    if (Date.now() > deadline) throw new RetryQueueMigrationError(queue, messageCount)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  await connection.queueDeclare({ queue, durable: true, arguments: args })
  logger?.info({ queue }, 'retry queue migrated to a quorum queue')
}

/**
 * Declares exchanges, queues and bindings. Idempotent, and safe when several processes run it at
 * once (the broker treats an identical redeclaration as a no-op).
 *
 * Retry path per queue: the consumer publishes a failed message to `cards.dlx` with routing key
 * `<queue>.retry.N`; that queue holds it for its `x-message-ttl`, then dead-letters it through the
 * default exchange (`''`) with routing key `<queue>`, i.e. straight back into the queue it came
 * from and to no other subscriber.
 */
export async function declareTopology (connection: Connection, topology: ResolvedTopology, options: DeclareOptions = {}): Promise<void> {
  await connection.exchangeDeclare({ exchange: EVENTS_EXCHANGE, type: 'topic', durable: true })
  await connection.exchangeDeclare({ exchange: COMMANDS_EXCHANGE, type: 'topic', durable: true })
  await connection.exchangeDeclare({ exchange: DLX_EXCHANGE, type: 'direct', durable: true })
  for (const q of topology.queues) {
    const dead = deadQueueName(q.name)
    await connection.queueDeclare({ queue: dead, durable: true })
    await connection.queueBind({ queue: dead, exchange: DLX_EXCHANGE, routingKey: dead })
    await connection.queueDeclare({ queue: q.name, durable: true, arguments: workQueueArguments(q.name) })
    for (const [index, delay] of topology.retryDelaysMs.entries()) {
      const retry = retryQueueName(q.name, index + 1)
      await declareRetryQueue(connection, retry, retryQueueArguments(q.name, delay), delay + (options.migrationGraceMs ?? MIGRATION_GRACE_MS), options.logger)
      await connection.queueBind({ queue: retry, exchange: DLX_EXCHANGE, routingKey: retry })
    }
    for (const b of q.bindings) {
      if (b.except !== undefined) await declareFilteredBinding(connection, q.name, { ...b, except: b.except })
      else await connection.queueBind({ queue: q.name, exchange: b.exchange, routingKey: b.routingKey })
    }
  }
}
