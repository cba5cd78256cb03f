import { setTimeout as delay } from 'node:timers/promises'
import { ConsumerStatus, type AsyncMessage, type Connection } from 'rabbitmq-client'
import type { Logger } from 'pino'
import { startChannelConsumer, type AckCounters, type Settlement } from './channel-consumer.js'
import { serializeBody, type ConfirmedChannel, type RawPublishInput } from './publisher.js'
import {
  DLX_EXCHANGE,
  deadQueueName,
  retryQueueName,
  workQueueArguments,
  type ResolvedTopology
} from './topology.js'

/** Header names the retry path keeps on a message. */
export const HEADER_FAILURE_REASON = 'x-failure-reason'
export const HEADER_RETRY_COUNT = 'x-retry-count'
export const HEADER_FIRST_FAILED_AT = 'x-first-failed-at'
export const HEADER_ORIGINAL_ROUTING_KEY = 'x-original-routing-key'
/** Which queue's handler failed (a dead message may be replayed by an operator from it). */
export const HEADER_ORIGINAL_QUEUE = 'x-original-queue'

/**
 * Throw from a handler when retrying cannot help (malformed message, unknown entity that will
 * never exist): the message goes straight to `<queue>.dead`, with the reason.
 */
export class PermanentError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PermanentError'
  }
}

/**
 * Throw from a handler when the failure is in the world, not in the message (a database or cache
 * that is down): the message goes back to its queue after a backoff, without counting a retry and
 * without ever being dead-lettered, however long the outage lasts. Always recognised, whatever
 * {@link ConsumeOptions.isTransient} says.
 */
export class TransientError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TransientError'
  }
}

/** What a handler receives. */
export interface ConsumedMessage {
  /** The parsed JSON body. */
  body: unknown
  /** The routing key it was first published with (kept across retries). */
  routingKey: string
  messageId: string
  headers: Record<string, unknown>
  correlationId?: string
  /** The broker delivered it before (the previous consumer died or its ack was lost). */
  redelivered: boolean
  /** How many times the retry path has already returned it to this queue (0 on first delivery). */
  retryCount: number
  /** When it was published, in epoch milliseconds (second precision), where set. */
  publishedAt?: number
}

/**
 * Handles one message. Resolve to acknowledge; throw to retry (after the configured delays, then
 * `<queue>.dead`); throw {@link PermanentError} to dead-letter at once; throw a transient error
 * ({@link TransientError}, or one {@link ConsumeOptions.isTransient} recognises) to have it
 * requeued after a backoff, uncounted. Delivery is at least
 * once: deduplicate on `messageId`.
 */
export type MessageHandler = (msg: ConsumedMessage) => Promise<void>

/** Options of `consume`. */
export interface ConsumeOptions {
  /** Handlers running at once. @default 4 */
  concurrency?: number
  /** Messages the broker sends ahead. @default 2 x concurrency */
  prefetch?: number
  /**
   * Recognises a failure of a dependency rather than of the message (e.g. PostgreSQL unreachable).
   * Such a message is requeued after a backoff without counting a retry, so an outage longer
   * than the retry delays never dead-letters every message consumed during it. A
   * {@link TransientError} is transient whatever this says; a {@link PermanentError} never is.
   * Be strict: a message that fails "transiently" forever is requeued forever (slowly).
   * @default only TransientError
   */
  isTransient?: (err: unknown) => boolean
  /** First pause before requeueing after a transient failure, ms; doubles while failures last. @default 250 */
  transientDelayMs?: number
  /** Longest pause before requeueing after a transient failure, ms. @default 5000 */
  transientMaxDelayMs?: number
}

/** Counters of a consumer since it started. */
export interface ConsumerStats {
  /** Handled successfully and acknowledged. */
  acked: number
  /** Sent to a retry queue. */
  retried: number
  /** Sent to the dead-letter queue. */
  dead: number
  /** Returned to the queue because the retry/dead publish itself failed. */
  requeued: number
  /** Returned to the queue after a transient failure (not counted as a retry). */
  transient: number
}

/** A running consumer. */
export interface ConsumerHandle {
  readonly queue: string
  /** Stops taking messages and waits for the handlers in flight. */
  close: () => Promise<void>
  stats: () => ConsumerStats
  /**
   * `basic.ack` frames sent (the acks of messages settled together, a batch, go out as one
   * `multiple` ack when nothing delivered before them is still in flight), and settlements
   * dropped because the channel they were delivered on had closed (the broker redelivers those).
   */
  ackStats: () => AckCounters
}

interface ConsumerDeps {
  connection: Connection
  topology: ResolvedTopology
  failurePublisher: ConfirmedChannel
  logger: Logger
  /** Backoff of the consumer's setup after its channel closed, ms (the connection's). */
  reconnectMinMs?: number
  reconnectMaxMs?: number
  /**
   * After a failed retry or dead-letter publish the message is requeued after this pause, ms, so
   * a broker that refuses publishes does not turn the consumer into a hot loop (the connection's
   * `requeuePauseMs`). @default 1000
   */
  requeuePauseMs?: number
}

// Headers the broker owns or that our retry path rewrites; never copied onto a republished message
// (x-death holds AMQP timestamps and arrays that do not survive a decode/encode round trip).
const DROPPED_HEADERS = new Set(['x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason'])

const SETTLEMENT: Record<ConsumerStatus, Settlement> = {
  [ConsumerStatus.ACK]: 'ack',
  [ConsumerStatus.REQUEUE]: 'requeue',
  [ConsumerStatus.DROP]: 'drop'
}

function errorText (err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}

function headerInt (value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN
  return Number.isSafeInteger(n) && n >= 0 ? n : 0
}

function nonNegativeMs (name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer of milliseconds`)
  return value
}

// The bytes to republish: rabbitmq-client parsed JSON (and decoded text/plain) bodies; anything
// that was not valid JSON is kept byte for byte so the dead-letter queue shows what arrived.
function rawBody (msg: AsyncMessage): Buffer {
  if (Buffer.isBuffer(msg.body)) return msg.body
  if (typeof msg.body === 'string' && msg.contentType !== 'application/json') return Buffer.from(msg.body, 'utf8')
  return serializeBody(msg.body)
}

/** @internal */
export function startConsumer (deps: ConsumerDeps, queue: string, handler: MessageHandler, options: ConsumeOptions = {}): ConsumerHandle {
  const { connection, topology, failurePublisher } = deps
  if (!topology.queues.some(q => q.name === queue)) {
    throw new TypeError(`queue '${queue}' is not part of the topology, so it has no retry path`)
  }
  const concurrency = options.concurrency ?? 4
  const prefetch = options.prefetch ?? concurrency * 2
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new TypeError('concurrency must be a positive integer')
  if (!Number.isSafeInteger(prefetch) || prefetch < 1) throw new TypeError('prefetch must be a positive integer')
  const logger = deps.logger.child({ queue })
  const maxRetries = topology.retryDelaysMs.length
  const isTransient = options.isTransient ?? (() => false)
  const transientDelayMs = nonNegativeMs('transientDelayMs', options.transientDelayMs ?? 250)
  const transientMaxDelayMs = Math.max(transientDelayMs, nonNegativeMs('transientMaxDelayMs', options.transientMaxDelayMs ?? 5000))
  const requeuePauseMs = nonNegativeMs('requeuePauseMs', deps.requeuePauseMs ?? 1000)
  const counters: ConsumerStats = { acked: 0, retried: 0, dead: 0, requeued: 0, transient: 0 }
  const inFlight = new Set<Promise<ConsumerStatus>>()
  let closing = false
  // Wakes the handlers pausing before a requeue, so close() never waits out a backoff.
  const closed = new AbortController()
  // Transient failures in a row, across all messages: an outage hits every message, so the
  // backoff is the consumer's, and the first success resets it.
  let transientStreak = 0

  async function pause (ms: number): Promise<void> {
    if (closed.signal.aborted) return
    await delay(ms, undefined, { signal: closed.signal }).catch(() => {})
  }

  function transient (err: unknown): boolean {
    if (err instanceof PermanentError) return false
    if (err instanceof TransientError) return true
    try {
      return isTransient(err)
    } catch {
      return false
    }
  }

  async function requeueAfterTransient (messageId: string, err: unknown, retryCount: number): Promise<ConsumerStatus> {
    transientStreak++
    const base = Math.min(transientMaxDelayMs, transientDelayMs * 2 ** Math.min(transientStreak - 1, 20))
    // +-20% so the consumers of several workers do not hammer a recovering server in step
    const wait = Math.round(base * (0.8 + Math.random() * 0.4))
    counters.transient++
    logger.warn({ messageId, reason: errorText(err), retryCount, pauseMs: wait }, 'transient failure; requeueing without counting a retry')
    await pause(wait)
    return ConsumerStatus.REQUEUE
  }

  async function sendToFailurePath (msg: AsyncMessage, messageId: string, err: unknown, permanent: boolean): Promise<ConsumerStatus> {
    const reason = errorText(err)
    let copy: RawPublishInput
    let toDead: boolean
    let retryCount: number
    try {
      const headers: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(msg.headers ?? {})) {
        if (!DROPPED_HEADERS.has(k)) headers[k] = v
      }
      retryCount = headerInt(headers[HEADER_RETRY_COUNT])
      toDead = permanent || retryCount >= maxRetries
      headers[HEADER_FAILURE_REASON] = reason
      headers[HEADER_ORIGINAL_QUEUE] = queue
      headers[HEADER_FIRST_FAILED_AT] ??= new Date().toISOString()
      headers[HEADER_ORIGINAL_ROUTING_KEY] ??= msg.routingKey
      if (!toDead) headers[HEADER_RETRY_COUNT] = retryCount + 1
      copy = {
        exchange: DLX_EXCHANGE,
        routingKey: toDead ? deadQueueName(queue) : retryQueueName(queue, retryCount + 1),
        body: rawBody(msg),
        contentType: msg.contentType,
        messageId,
        type: typeof msg.type === 'string' ? msg.type : String(headers[HEADER_ORIGINAL_ROUTING_KEY]),
        timestamp: msg.timestamp ?? Math.floor(Date.now() / 1000),
        correlationId: msg.correlationId,
        headers,
        // Unroutable would mean the retry queue is missing: requeue rather than lose it.
        mandatory: true
      }
    } catch (buildErr) {
      // The copy cannot be built (e.g. re-serializing a body nested thousands of levels deep
      // overflows the stack): that will not change on a redelivery, so requeueing would loop
      // forever. Rejected without requeue, the broker moves the original bytes to
      // <queue>.dead through the queue's x-dead-letter arguments (workQueueArguments).
      return rejectToDead(messageId, `${reason}; and the failure copy could not be built: ${errorText(buildErr)}`)
    }
    try {
      await failurePublisher.send(copy)
    } catch (publishErr) {
      // Not acked: the original stays ours until the failure copy is confirmed, so a crash here
      // gives at most a duplicate, never a loss.
      logger.error({ err: publishErr, messageId, target: copy.routingKey }, 'could not move failed message; requeueing')
      counters.requeued++
      await pause(requeuePauseMs)
      return ConsumerStatus.REQUEUE
    }
    if (toDead) {
      counters.dead++
      logger.warn({ messageId, reason, retryCount, permanent }, 'message dead-lettered')
    } else {
      counters.retried++
      logger.info({ messageId, reason, retry: retryCount + 1 }, 'message scheduled for retry')
    }
    return ConsumerStatus.ACK
  }

  // The broker dead-letters a rejected message as it arrived, without our headers: the reason is
  // only in the log (the dead letter carries the broker's x-death, reason "rejected").
  function rejectToDead (messageId: string, reason: string): ConsumerStatus {
    counters.dead++
    logger.error({ messageId, reason, deadQueue: deadQueueName(queue) }, 'message rejected to the dead-letter queue as it arrived')
    return ConsumerStatus.DROP
  }

  const consumer = startChannelConsumer(connection, {
    queue,
    // Same arguments as declareTopology, so a consumer that starts (or reconnects) after the
    // queue was deleted recreates it identically instead of failing on a mismatch.
    queueArguments: workQueueArguments(queue),
    prefetch,
    concurrency,
    retryLowMs: deps.reconnectMinMs ?? 200,
    retryHighMs: deps.reconnectMaxMs ?? 5000,
    logger
  }, async (msg: AsyncMessage): Promise<Settlement> => {
    // A message delivered while close() awaits basic.cancel-ok goes back to the queue.
    if (closing) return 'requeue'
    // Whatever goes wrong outside the handler's own failure path must not reach the channel
    // consumer, which would requeue the message and deliver it again at once, forever.
    const run = handle(msg).catch((err: unknown) => rejectToDead(
      typeof msg.messageId === 'string' ? msg.messageId : `delivery-${msg.deliveryTag}`,
      `unexpected consumer failure: ${errorText(err)}`))
    inFlight.add(run)
    try {
      return SETTLEMENT[await run]
    } finally {
      inFlight.delete(run)
    }
  })

  async function handle (msg: AsyncMessage): Promise<ConsumerStatus> {
    const headers = { ...(msg.headers ?? {}) }
    const messageId = typeof msg.messageId === 'string' && msg.messageId !== '' ? msg.messageId : undefined
    if (messageId === undefined) {
      return await sendToFailurePath(msg, `missing-${msg.deliveryTag}-${Date.now()}`, new PermanentError('message has no message_id, so it cannot be deduplicated'), true)
    }
    if (msg.contentType !== 'application/json' || Buffer.isBuffer(msg.body)) {
      return await sendToFailurePath(msg, messageId, new PermanentError(`body is not JSON (content type ${msg.contentType ?? 'none'})`), true)
    }
    const original = headers[HEADER_ORIGINAL_ROUTING_KEY]
    const consumed: ConsumedMessage = {
      body: msg.body,
      routingKey: typeof original === 'string' ? original : msg.routingKey,
      messageId,
      headers,
      redelivered: msg.redelivered,
      retryCount: headerInt(headers[HEADER_RETRY_COUNT])
    }
    if (typeof msg.correlationId === 'string') consumed.correlationId = msg.correlationId
    if (typeof msg.timestamp === 'number') consumed.publishedAt = msg.timestamp * 1000
    try {
      await handler(consumed)
    } catch (err) {
      if (transient(err)) return await requeueAfterTransient(messageId, err, consumed.retryCount)
      transientStreak = 0
      return await sendToFailurePath(msg, messageId, err, err instanceof PermanentError)
    }
    transientStreak = 0
    counters.acked++
    return ConsumerStatus.ACK
  }

  return {
    queue,
    close: async () => {
      closing = true
      closed.abort()
      await consumer.close()
      await Promise.allSettled([...inFlight])
    },
    stats: () => ({ ...counters }),
    ackStats: consumer.ackStats
  }
}
