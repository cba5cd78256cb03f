import { Connection } from 'rabbitmq-client'
import type { Logger } from 'pino'
import { startConsumer, type ConsumeOptions, type ConsumerHandle, type MessageHandler } from './consumer.js'
import { createConfirmedChannel, createExchangeCheck, createPublisherOn, type Publisher } from './publisher.js'
import {
  EVENTS_EXCHANGE,
  declareTopology,
  deadQueueName,
  resolveTopology,
  retryQueueName,
  type ResolvedTopology,
  type TopologyOptions
} from './topology.js'

/** Options of {@link createAmqp}. */
export interface AmqpOptions {
  /** `amqp://user:pass@host:5672/vhost`; the vhost selects the environment. */
  url: string
  logger: Logger
  /** @default the contract topology */
  topology?: TopologyOptions
  /** Shown in the management UI and `rabbitmqctl list_connections`. */
  connectionName?: string
  /**
   * Longest wait for the broker when opening a channel (a publish or declare while
   * disconnected waits this long before rejecting): AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS in the services,
   * WEBHOOK_BROKER_WAIT_MS in webhook-ingest.
   * @default 10000
   */
  acquireTimeoutMs?: number
  /** First wait before reconnecting after the connection drops, ms; doubles up to `reconnectMaxMs`. @default 200 */
  reconnectMinMs?: number
  /** Longest wait between reconnection attempts, ms (the client's own default tops out at 30 s). @default 5000 */
  reconnectMaxMs?: number
  /**
   * Pause before a consumed message is requeued because its retry or dead-letter copy could not be
   * published (AMQP_REQUEUE_PAUSE_MS): a broker refusing publishes must not become a hot loop.
   * @default 1000
   */
  requeuePauseMs?: number
}

/** Depths of one work queue and its failure path. */
export interface QueueStats {
  queue: string
  /** Ready messages in the work queue (unacked ones are not counted by the broker here). */
  messages: number
  consumers: number
  /** Messages waiting in all `<queue>.retry.N` queues. */
  retryMessages: number
  /** Messages in `<queue>.dead`. */
  deadMessages: number
}

/** A broker connection with the contract's topology, publishers and consumers. */
export interface Amqp {
  /** The underlying rabbitmq-client connection (reconnects by itself). */
  readonly connection: Connection
  readonly topology: ResolvedTopology
  /** Declares exchanges, queues, retry and dead-letter queues, bindings. Idempotent. */
  declareTopology: () => Promise<void>
  /** A confirm-mode publisher; closed by {@link Amqp.close} if not before. */
  createPublisher: () => Publisher
  /**
   * Consumes a topology queue. A handler that throws sends the message through the retry path
   * (`<queue>.retry.1..N`, back into the same queue), then to `<queue>.dead`.
   * @example
   * ```ts
   * amqp.consume('webhooks', async (msg) => { await apply(msg.messageId, msg.body) }, { concurrency: 8 })
   * ```
   */
  consume: (queue: string, handler: MessageHandler, options?: ConsumeOptions) => ConsumerHandle
  /** Depth, consumers, retry depth and dead depth of every topology queue. */
  queueStats: () => Promise<QueueStats[]>
  /** True when connected and the broker answers (a passive declare of `cards.events`). */
  ping: (timeoutMs?: number) => Promise<boolean>
  /** Closes publishers, then consumers (waiting for handlers), then the connection. */
  close: () => Promise<void>
}

/**
 * Opens a connection (in the background; it reconnects on loss) and returns the AMQP facade.
 * @example
 * ```ts
 * const amqp = createAmqp({ url: config.amqpUrl, logger })
 * await amqp.declareTopology()
 * const publisher = amqp.createPublisher()
 * await publisher.publish('jit.decision.approved', body)
 * await amqp.close()
 * ```
 */
export function createAmqp (options: AmqpOptions): Amqp {
  const logger = options.logger.child({ component: 'amqp' })
  const topology = resolveTopology(options.topology)
  const connection = new Connection({
    url: options.url,
    connectionName: options.connectionName,
    acquireTimeout: options.acquireTimeoutMs ?? 10_000,
    // Reconnect quickly after a broker restart (AMQP_RECONNECT_MIN_MS / _MAX_MS).
    retryLow: options.reconnectMinMs ?? 200,
    retryHigh: options.reconnectMaxMs ?? 5000
  })
  // An EventEmitter 'error' without a listener would crash the process; the client reconnects.
  connection.on('error', (err: unknown) => logger.warn({ err }, 'amqp connection error'))
  connection.on('connection', () => logger.info('amqp connected'))

  const checkExchange = createExchangeCheck(connection)
  const publishers = new Set<Publisher>()
  const consumers = new Set<ConsumerHandle>()
  // Moves failed messages to retry/dead queues; shared by all consumers, closed after them.
  let failureChannel: ReturnType<typeof createConfirmedChannel> | undefined
  let closed = false

  const queueDepth = async (queue: string): Promise<{ messageCount: number, consumerCount: number }> => {
    return await connection.queueDeclare({ queue, passive: true })
  }

  return {
    connection,
    topology,
    declareTopology: async () => { await declareTopology(connection, topology, { logger }) },
    createPublisher () {
      if (closed) throw new Error('amqp is closed')
      const publisher = createPublisherOn(createConfirmedChannel(connection, logger), checkExchange, () => publishers.delete(publisher))
      publishers.add(publisher)
      return publisher
    },
    consume (queue, handler, consumeOptions) {
      if (closed) throw new Error('amqp is closed')
      failureChannel ??= createConfirmedChannel(connection, logger)
      const inner = startConsumer({ connection, topology, failurePublisher: failureChannel, logger, reconnectMinMs: options.reconnectMinMs, reconnectMaxMs: options.reconnectMaxMs, requeuePauseMs: options.requeuePauseMs }, queue, handler, consumeOptions)
      const handle: ConsumerHandle = {
        queue,
        stats: inner.stats,
        ackStats: inner.ackStats,
        close: async () => {
          consumers.delete(handle)
          await inner.close()
        }
      }
      consumers.add(handle)
      return handle
    },
    async queueStats () {
      const result: QueueStats[] = []
      for (const q of topology.queues) {
        const main = await queueDepth(q.name)
        let retryMessages = 0
        for (let attempt = 1; attempt <= topology.retryDelaysMs.length; attempt++) {
          retryMessages += (await queueDepth(retryQueueName(q.name, attempt))).messageCount
        }
        const dead = await queueDepth(deadQueueName(q.name))
        result.push({
          queue: q.name,
          messages: main.messageCount,
          consumers: main.consumerCount,
          retryMessages,
          deadMessages: dead.messageCount
        })
      }
      return result
    },
    async ping (timeoutMs = 2000) {
      // Without a connection, a declare would wait acquireTimeout for one: answer at once.
      if (!connection.ready) return false
      let timer: NodeJS.Timeout | undefined
      try {
        return await Promise.race([
          connection.exchangeDeclare({ exchange: EVENTS_EXCHANGE, passive: true }).then(() => true),
          new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), timeoutMs) })
        ])
      } catch {
        return false
      } finally {
        clearTimeout(timer)
      }
    },
    async close () {
      if (closed) return
      closed = true
      await Promise.allSettled([...publishers].map(async p => { await p.close() }))
      await Promise.allSettled([...consumers].map(async c => { await c.close() }))
      if (failureChannel !== undefined) await failureChannel.close().catch(() => {})
      await connection.close()
    }
  }
}
