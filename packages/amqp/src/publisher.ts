import { randomUUID } from 'node:crypto'
import type { Connection, ReturnedMessage } from 'rabbitmq-client'
import type { Logger } from 'pino'
import { EVENTS_EXCHANGE } from './topology.js'

/** Per-message options of {@link Publisher.publish}. */
export interface PublishOptions {
  /** @default 'cards.events' */
  exchange?: string
  /** Unique id consumers deduplicate on. @default a random UUID */
  messageId?: string
  /** The `message_id` of the command this message answers. */
  correlationId?: string
  /** Extra AMQP headers. */
  headers?: Record<string, unknown>
  /**
   * Reject with {@link UnroutableError} when no queue is bound for the routing key (AMQP
   * `mandatory`). Off by default: events nobody subscribes to yet (ledger changes) are fine to
   * drop.
   * @default false
   */
  mandatory?: boolean
}

/** A publisher whose sends resolve only once the broker has durably accepted the message. */
export interface Publisher {
  /**
   * Publishes `body` as JSON with `routingKey` (also its `type`), persistent, with a
   * `message_id`, `timestamp` and optional `correlation_id`. Resolves once the broker confirms;
   * rejects on a nack, a missing exchange, a lost connection, or (with `mandatory`) no route.
   * Resolves with the message id.
   * @example
   * ```ts
   * await publisher.publish('jit.decision.approved', { token }, { correlationId })
   * ```
   */
  publish: (routingKey: string, body: unknown, options?: PublishOptions) => Promise<string>
  /** Waits for pending confirms, then closes the channel. */
  close: () => Promise<void>
}

/** A `mandatory` message the broker could not route to any queue. */
export class UnroutableError extends Error {
  readonly exchange: string
  readonly routingKey: string
  constructor (exchange: string, routingKey: string, replyText: string) {
    super(`message to exchange '${exchange}' with routing key '${routingKey}' was not routed: ${replyText}`)
    this.name = 'UnroutableError'
    this.exchange = exchange
    this.routingKey = routingKey
  }
}

/** The low-level send the publisher and the retry path share. */
export interface RawPublishInput {
  exchange: string
  routingKey: string
  /** Already-serialized JSON body. */
  body: Buffer
  /** @default 'application/json' */
  contentType?: string | undefined
  messageId: string
  type: string
  timestamp: number
  correlationId?: string | undefined
  headers: Record<string, unknown>
  mandatory: boolean
}

/** @internal */
export interface ConfirmedChannel {
  send: (input: RawPublishInput) => Promise<void>
  close: () => Promise<void>
}

/**
 * A confirm-mode channel (rabbitmq-client Publisher) without retries: a connection lost before
 * the confirm rejects the send rather than republishing behind the caller's back, so "resolved"
 * always means "confirmed".
 * @internal
 */
export function createConfirmedChannel (connection: Connection, logger: Logger): ConfirmedChannel {
  const pub = connection.createPublisher({ confirm: true, maxAttempts: 1 })
  // The broker sends basic.return before the basic.ack of the same message, on the same channel.
  // rabbitmq-client emits the return from a setImmediate queued while reading that frame, so one
  // setImmediate after the confirm resolves, the return (if any) has been recorded here.
  const returned = new Map<string, ReturnedMessage>()
  pub.on('basic.return', (msg: ReturnedMessage) => {
    // a mandatory message no queue took: the send rejects; say where it was going
    logger.warn({ exchange: msg.exchange, routingKey: msg.routingKey, messageId: msg.messageId, replyText: msg.replyText }, 'message returned unroutable')
    if (typeof msg.messageId === 'string') returned.set(msg.messageId, msg)
  })

  return {
    async send (input) {
      await pub.send({
        exchange: input.exchange,
        routingKey: input.routingKey,
        mandatory: input.mandatory,
        contentType: input.contentType ?? 'application/json',
        messageId: input.messageId,
        type: input.type,
        timestamp: input.timestamp,
        correlationId: input.correlationId,
        headers: input.headers,
        durable: true
      }, input.body)
      if (input.mandatory) {
        await new Promise(resolve => setImmediate(resolve))
        const ret = returned.get(input.messageId)
        if (ret !== undefined) {
          returned.delete(input.messageId)
          throw new UnroutableError(input.exchange, input.routingKey, ret.replyText ?? 'NO_ROUTE')
        }
      }
    },
    close: async () => { await pub.close() }
  }
}

/**
 * A body that is already JSON text, published byte for byte (the outbox relay uses it so that
 * numbers in a jsonb payload never pass through a JavaScript double).
 */
export class RawJson {
  readonly text: string
  constructor (text: string) {
    this.text = text
  }
}

/** @internal */
export function serializeBody (body: unknown): Buffer {
  if (body instanceof RawJson) return Buffer.from(body.text, 'utf8')
  const text = JSON.stringify(body)
  // JSON.stringify(undefined) is undefined: a message must carry a JSON document.
  if (text === undefined) throw new TypeError('message body is not JSON-serializable')
  return Buffer.from(text, 'utf8')
}

/**
 * Publishing to a missing exchange makes the broker close the whole channel, failing every other
 * publish awaiting its confirm there (one bad outbox row would sink its batch, every round). So
 * an exchange is checked once with a passive declare on the connection's own channel before the
 * first publish to it, and only a known exchange reaches the shared confirm channel.
 * @internal
 */
export function createExchangeCheck (connection: Connection): (exchange: string) => Promise<void> {
  const known = new Map<string, Promise<void>>([['', Promise.resolve()]])
  return async (exchange) => {
    let check = known.get(exchange)
    if (check === undefined) {
      check = connection.exchangeDeclare({ exchange, passive: true })
      known.set(exchange, check)
      // Only a confirmed exchange stays cached: a missing one may be declared later.
      check.catch(() => known.delete(exchange))
    }
    await check
  }
}

/** @internal */
export function createPublisherOn (channel: ConfirmedChannel, checkExchange: (exchange: string) => Promise<void>, onClose: () => void): Publisher {
  let closed = false
  return {
    async publish (routingKey, body, options = {}) {
      if (closed) throw new Error('publisher is closed')
      if (routingKey === '') throw new TypeError('routing key is required')
      const messageId = options.messageId ?? randomUUID()
      const exchange = options.exchange ?? EVENTS_EXCHANGE
      await checkExchange(exchange)
      await channel.send({
        exchange,
        routingKey,
        body: serializeBody(body),
        messageId,
        type: routingKey,
        timestamp: Math.floor(Date.now() / 1000),
        correlationId: options.correlationId,
        headers: { ...options.headers },
        mandatory: options.mandatory ?? false
      })
      return messageId
    },
    async close () {
      if (closed) return
      closed = true
      try {
        await channel.close()
      } finally {
        onClose()
      }
    }
  }
}
