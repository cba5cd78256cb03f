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

/** The contract's queues and bindings. */
export const DEFAULT_QUEUES: readonly QueueDefinition[] = Object.freeze([
  { name: QUEUE_JIT_FUNDING, bindings: [{ exchange: EVENTS_EXCHANGE, routingKey: 'jit.#' }] },
  {
    name: QUEUE_TRANSACTIONS,
    bindings: [
      { exchange: EVENTS_EXCHANGE, routingKey: 'webhook.transactions.#' },
      { exchange: EVENTS_EXCHANGE, routingKey: 'webhook.chargebacktransitions.#' }
    ]
  },
  { name: QUEUE_WEBHOOKS, bindings: [{ exchange: EVENTS_EXCHANGE, routingKey: 'webhook.#' }] },
  { name: QUEUE_COMMANDS, bindings: [{ exchange: COMMANDS_EXCHANGE, routingKey: '#' }] }
])

/** The contract's retry delays: 1 s, 5 s, 25 s. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([1000, 5000, 25000])

/** Fills in the defaults and checks the values. */
export function resolveTopology (options: TopologyOptions = {}): ResolvedTopology {
  const queues = (options.queues ?? DEFAULT_QUEUES).map(q => ({
    name: q.name,
    bindings: q.bindings.map(b => ({ ...b }))
  }))
  const retryDelaysMs = [...(options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)]
  for (const delay of retryDelaysMs) {
    if (!Number.isSafeInteger(delay) || delay < 0) throw new TypeError(`retry delay must be a non-negative integer of milliseconds, got ${delay}`)
  }
  const names = new Set<string>()
  for (const q of queues) {
    if (q.name === '' || names.has(q.name)) throw new TypeError(`queue names must be unique and non-empty: '${q.name}'`)
    names.add(q.name)
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
      await connection.queueBind({ queue: q.name, exchange: b.exchange, routingKey: b.routingKey })
    }
  }
}
