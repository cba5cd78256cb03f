import type { Connection } from 'rabbitmq-client'
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
   * (`x-message-ttl`), so changing them for an existing vhost means deleting the
   * `<queue>.retry.N` queues first (RabbitMQ refuses to redeclare a queue with other arguments).
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
 * Declares exchanges, queues and bindings. Idempotent, and safe when several processes run it at
 * once (the broker treats an identical redeclaration as a no-op).
 *
 * Retry path per queue: the consumer publishes a failed message to `cards.dlx` with routing key
 * `<queue>.retry.N`; that queue holds it for its `x-message-ttl`, then dead-letters it through the
 * default exchange (`''`) with routing key `<queue>`, i.e. straight back into the queue it came
 * from and to no other subscriber.
 */
export async function declareTopology (connection: Connection, topology: ResolvedTopology): Promise<void> {
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
      await connection.queueDeclare({
        queue: retry,
        durable: true,
        arguments: {
          'x-message-ttl': delay,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': q.name
        }
      })
      await connection.queueBind({ queue: retry, exchange: DLX_EXCHANGE, routingKey: retry })
    }
    for (const b of q.bindings) {
      await connection.queueBind({ queue: q.name, exchange: b.exchange, routingKey: b.routingKey })
    }
  }
}
