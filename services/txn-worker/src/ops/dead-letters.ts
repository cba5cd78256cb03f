import {
  HEADER_FAILURE_REASON, HEADER_FIRST_FAILED_AT, HEADER_ORIGINAL_QUEUE, HEADER_ORIGINAL_ROUTING_KEY, HEADER_RETRY_COUNT,
  deadQueueName, type Amqp
} from '@jit/amqp'

/** One message of a dead-letter queue, as `dead-letters list` shows it. */
export interface DeadLetter {
  /** The dead-letter queue it sits in, e.g. `transactions.dead`. */
  deadQueue: string
  /** The work queue whose handler gave up on it. */
  originalQueue: string
  messageId: string | null
  /** The routing key it was first published with. */
  routingKey: string | null
  reason: string | null
  retryCount: number
  firstFailedAt: string | null
  /** Publish time, epoch seconds. */
  timestamp: number | null
  body: unknown
}

/** What {@link redriveDeadLetters} moved. */
export interface RedriveResult {
  deadQueue: string
  redriven: number
  /** Messages moved per target queue. */
  byQueue: Record<string, number>
  /** Messages left in the dead queue because their target queue does not exist, per target. */
  unroutable: Record<string, number>
  /** Messages left in the dead queue because their body could not be re-encoded. */
  unencodable: number
}

/** A dead queue's name from either `transactions` or `transactions.dead`. */
export function deadQueueOf (queue: string): string {
  return queue.endsWith('.dead') ? queue : deadQueueName(queue)
}

function workQueueOf (deadQueue: string): string {
  return deadQueue.replace(/\.dead$/, '')
}

function headerString (headers: Record<string, unknown> | undefined, name: string): string | null {
  const value = headers?.[name]
  if (typeof value === 'string') return value
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  return null
}

function headerInt (headers: Record<string, unknown> | undefined, name: string): number {
  const value = Number(headers?.[name])
  return Number.isSafeInteger(value) && value >= 0 ? value : 0
}

type Channel = Awaited<ReturnType<Amqp['connection']['acquire']>>
type Message = NonNullable<Awaited<ReturnType<Channel['basicGet']>>>

function describe (deadQueue: string, msg: Message): DeadLetter {
  const headers = msg.headers
  return {
    deadQueue,
    originalQueue: headerString(headers, HEADER_ORIGINAL_QUEUE) ?? workQueueOf(deadQueue),
    messageId: msg.messageId ?? null,
    routingKey: headerString(headers, HEADER_ORIGINAL_ROUTING_KEY) ?? (typeof msg.type === 'string' ? msg.type : null),
    // A message the consumer could not even copy was rejected as it arrived: the broker's own
    // header says so (the cause is in the worker's log).
    reason: headerString(headers, HEADER_FAILURE_REASON) ??
      (headerString(headers, 'x-first-death-reason') === 'rejected' ? 'rejected by the consumer as it arrived (see the worker log)' : null),
    retryCount: headerInt(headers, HEADER_RETRY_COUNT),
    firstFailedAt: headerString(headers, HEADER_FIRST_FAILED_AT),
    timestamp: msg.timestamp ?? null,
    body: Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : msg.body
  }
}

async function withChannel<T> (amqp: Amqp, run: (ch: Channel) => Promise<T>): Promise<T> {
  const ch = await amqp.connection.acquire()
  try {
    return await run(ch)
  } finally {
    await ch.close().catch(() => {})
  }
}

/**
 * Reads up to `limit` messages of each dead-letter queue without losing them: they are fetched
 * unacknowledged on one channel (so none is read twice), then all handed back with
 * `basic.nack(requeue)`, which returns them to their original positions.
 * @param opts.queue - one queue (`transactions` or `transactions.dead`); all topology queues when absent
 * @param opts.limit - per queue @default 100
 */
export async function listDeadLetters (amqp: Amqp, opts: { queue?: string, limit?: number } = {}): Promise<DeadLetter[]> {
  const limit = opts.limit ?? 100
  const queues = opts.queue !== undefined ? [deadQueueOf(opts.queue)] : amqp.topology.queues.map(q => deadQueueName(q.name))
  const out: DeadLetter[] = []
  for (const deadQueue of queues) {
    await withChannel(amqp, async ch => {
      let last: number | undefined
      try {
        for (let i = 0; i < limit; i++) {
          const msg = await ch.basicGet({ queue: deadQueue })
          if (msg === undefined) break
          last = msg.deliveryTag
          out.push(describe(deadQueue, msg))
        }
      } finally {
        if (last !== undefined) ch.basicNack({ deliveryTag: last, multiple: true, requeue: true })
      }
    })
  }
  return out
}

// Headers of the failed attempt; the redriven message starts a fresh retry path.
const RESET_HEADERS = [HEADER_RETRY_COUNT, HEADER_FAILURE_REASON, HEADER_FIRST_FAILED_AT, 'x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason']

/**
 * Moves messages of a dead-letter queue back into the work queue they failed in (straight to
 * that queue through the default exchange, never through `cards.events`, which would fan them
 * out to every subscriber again), each one published `mandatory` with confirms before it is
 * acknowledged here: a crash in between gives a duplicate (the handlers are idempotent), never a
 * loss. A message whose target queue does not exist (the broker returns it) or whose body cannot
 * be re-encoded stays in the dead queue (counted in `unroutable` / `unencodable`). The retry count
 * starts again; the last failure reason is kept as `x-redriven-reason`.
 * @param opts.limit - at most this many @default the queue's depth when the redrive starts
 * @param opts.messageId - only the message with this `message_id` (the others stay where they are)
 */
export async function redriveDeadLetters (amqp: Amqp, opts: { queue: string, limit?: number, messageId?: string }): Promise<RedriveResult> {
  const deadQueue = deadQueueOf(opts.queue)
  const result: RedriveResult = { deadQueue, redriven: 0, byQueue: {}, unroutable: {}, unencodable: 0 }
  const { messageCount } = await amqp.connection.queueDeclare({ queue: deadQueue, passive: true })
  // bounded by the depth at the start: a message failing again at once cannot keep this running
  const limit = Math.min(opts.limit ?? messageCount, messageCount)
  await withChannel(amqp, async ch => {
    await ch.confirmSelect()
    // The broker sends basic.return before the basic.ack of the same message; rabbitmq-client
    // emits it from a setImmediate, so one setImmediate after the confirm it has been seen.
    let returned = false
    ch.on('basic.return', () => { returned = true })
    // Kept unacknowledged until the end, so basicGet does not hand them out again; then put back.
    const kept: number[] = []
    try {
      for (let i = 0; i < limit; i++) {
        const msg = await ch.basicGet({ queue: deadQueue })
        if (msg === undefined) break
        if (opts.messageId !== undefined && msg.messageId !== opts.messageId) {
          kept.push(msg.deliveryTag)
          continue
        }
        const headers: Record<string, unknown> = { ...msg.headers }
        const reason = headerString(headers, HEADER_FAILURE_REASON)
        for (const h of RESET_HEADERS) Reflect.deleteProperty(headers, h)
        if (reason !== null) headers['x-redriven-reason'] = reason
        headers['x-redriven-at'] = new Date().toISOString()
        const target = headerString(msg.headers, HEADER_ORIGINAL_QUEUE) ?? workQueueOf(deadQueue)
        const json = msg.contentType === 'application/json' && !Buffer.isBuffer(msg.body)
        let body: Buffer
        try {
          body = Buffer.isBuffer(msg.body)
            ? msg.body
            : Buffer.from(json ? JSON.stringify(msg.body) : String(msg.body), 'utf8')
        } catch {
          // e.g. nested too deep to serialize again: it stays where it is
          kept.push(msg.deliveryTag)
          result.unencodable++
          continue
        }
        returned = false
        try {
          await ch.basicPublish({
            exchange: '',
            routingKey: target,
            mandatory: true,
            contentType: msg.contentType,
            messageId: msg.messageId,
            type: msg.type,
            timestamp: msg.timestamp,
            correlationId: msg.correlationId,
            headers,
            durable: true
          }, body)
          await new Promise(resolve => setImmediate(resolve))
        } catch (err) {
          ch.basicNack({ deliveryTag: msg.deliveryTag, requeue: true })
          throw err
        }
        if (returned) {
          // No such queue: acknowledging would drop the message.
          kept.push(msg.deliveryTag)
          result.unroutable[target] = (result.unroutable[target] ?? 0) + 1
          continue
        }
        ch.basicAck({ deliveryTag: msg.deliveryTag })
        result.redriven++
        result.byQueue[target] = (result.byQueue[target] ?? 0) + 1
        if (opts.messageId !== undefined) break
      }
    } finally {
      for (const deliveryTag of kept) ch.basicNack({ deliveryTag, requeue: true })
    }
  })
  return result
}
