import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client'
import type { Logger } from 'pino'

/** What to do with a delivery once its handler is done. */
export type Settlement = 'ack' | 'requeue' | 'drop'

/** Counters of a consumer's settlements, over all its channels. */
export interface AckCounters {
  /** `basic.ack` frames sent (one per batch when settlements come in order). */
  ackFrames: number
  /** Settlements of deliveries whose channel had closed: dropped (the broker redelivers them). */
  droppedSettlements: number
}

/**
 * The settlement of one channel's deliveries. Acknowledgements are gathered and sent at the next
 * turn of the event loop: those below every delivery still unsettled on the channel as ONE
 * `basic.ack` with `multiple` (it acknowledges every unacknowledged delivery up to its tag, so it
 * is only sent when all of them are settled), those above one still in flight singly, at once, as
 * before (an ack is never held back behind a slow delivery, so the prefetch window never shrinks
 * because of one). Nacks (requeue, dead-letter) go out singly at once. Delivery tags are the
 * channel's own (they restart on a new channel): a settlement reaching a closed channel is dropped,
 * never sent on another one; the broker redelivers those messages.
 * @internal
 */
export class ChannelAcks {
  /** Delivered and not settled yet, in delivery (= tag) order. */
  private readonly unsettled = new Set<number>()
  /** Settled as acks, not sent yet. */
  private pending: number[] = []
  private scheduled = false

  constructor (readonly channel: Channel, private readonly counters: AckCounters, private readonly logger: Logger) {
    channel.once('close', () => {
      counters.droppedSettlements += this.pending.length
      this.pending = []
    })
  }

  get open (): boolean {
    return this.channel.active
  }

  delivered (deliveryTag: number): void {
    this.unsettled.add(deliveryTag)
  }

  settle (deliveryTag: number, how: Settlement): void {
    if (!this.unsettled.delete(deliveryTag)) return
    if (!this.open) {
      this.counters.droppedSettlements++
      return
    }
    if (how === 'ack') {
      this.pending.push(deliveryTag)
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.flush() })
      }
      return
    }
    try {
      this.channel.basicNack({ deliveryTag, requeue: how === 'requeue' })
    } catch (err) {
      // closed between the check and the write: the broker redelivers it
      this.counters.droppedSettlements++
      this.logger.debug({ err, deliveryTag }, 'nack on a closed channel dropped')
    }
  }

  /** Sends the gathered acks now. */
  flush (): void {
    this.scheduled = false
    if (this.pending.length === 0) return
    const tags = this.pending
    this.pending = []
    if (!this.open) {
      this.counters.droppedSettlements += tags.length
      return
    }
    // the lowest delivery still in flight (tags only grow, and a Set iterates in insertion order)
    const floor = this.unsettled.values().next().value ?? Infinity
    let covered = 0
    let highest = 0
    try {
      for (const tag of tags) {
        if (tag < floor) {
          covered++
          if (tag > highest) highest = tag
        } else {
          this.channel.basicAck({ deliveryTag: tag })
          this.counters.ackFrames++
        }
      }
      if (covered > 0) {
        this.channel.basicAck({ deliveryTag: highest, multiple: covered > 1 })
        this.counters.ackFrames++
      }
    } catch (err) {
      this.counters.droppedSettlements += tags.length
      this.logger.debug({ err }, 'acks on a closed channel dropped')
    }
  }
}

/** Options of {@link startChannelConsumer}. */
export interface ChannelConsumerOptions {
  queue: string
  /** Declared (non-passively) before consuming, so a deleted queue is recreated identically. */
  queueArguments: Record<string, unknown>
  prefetch: number
  concurrency: number
  /** First and longest wait before setting up again after the channel closed, ms. */
  retryLowMs: number
  retryHighMs: number
  logger: Logger
}

/** @internal */
export interface ChannelConsumer {
  /** Cancels the consumer, waits for the handlers in flight, sends their acks, closes the channel. */
  close: () => Promise<void>
  ackStats: () => AckCounters
}

interface Delivery {
  msg: AsyncMessage
  acks: ChannelAcks
}

/**
 * A consumer on rabbitmq-client's channel API (its `createConsumer` acknowledges every message
 * with a `basic.ack` of its own): a channel, the queue declared, `basic.qos`, `basic.consume`;
 * `concurrency` handlers at once, the other prefetched messages waiting in memory; the
 * settlements through {@link ChannelAcks}. When the channel or connection is lost, the waiting
 * messages are forgotten (the broker redelivers every unacknowledged one), the handlers in
 * flight finish (their settlements dropped), and the setup runs again on a new channel with the
 * connection's backoff. A handler that rejects has its message requeued.
 * @internal
 */
export function startChannelConsumer (connection: Connection, opts: ChannelConsumerOptions, handle: (msg: AsyncMessage) => Promise<Settlement>): ChannelConsumer {
  const { queue, logger } = opts
  let acks: ChannelAcks | undefined
  let consumerTag = ''
  let waiting: Delivery[] = []
  const processing = new Set<Promise<void>>()
  let closing = false
  let pendingSetup: Promise<void> | undefined
  let retryTimer: NodeJS.Timeout | undefined
  let retryCount = 1
  const counters: AckCounters = { ackFrames: 0, droppedSettlements: 0 }

  function run (d: Delivery): void {
    const p = handle(d.msg)
      .catch((err: unknown) => {
        logger.error({ err, deliveryTag: d.msg.deliveryTag }, 'consumer handler rejected; requeueing')
        return 'requeue' as const
      })
      .then(how => { d.acks.settle(d.msg.deliveryTag, how) })
      .finally(() => {
        processing.delete(p)
        const next = waiting.shift()
        if (next !== undefined) run(next)
      })
    processing.add(p)
  }

  function onDeliver (a: ChannelAcks, msg: AsyncMessage): void {
    a.delivered(msg.deliveryTag)
    if (closing) {
      // sent before the broker saw our basic.cancel: hand it back
      a.settle(msg.deliveryTag, 'requeue')
      return
    }
    const d = { msg, acks: a }
    if (waiting.length > 0 || processing.size >= opts.concurrency) waiting.push(d)
    else run(d)
  }

  async function setup (): Promise<void> {
    // the messages of a lost channel still in flight finish first (as rabbitmq-client's Consumer)
    await Promise.allSettled([...processing])
    if (closing) return
    if (acks === undefined || !acks.open) {
      const ch = await connection.acquire({ emitErrorsFromChannel: true })
      const a = new ChannelAcks(ch, counters, logger)
      acks = a
      ch.on('error', (err: unknown) => logger.warn({ err }, 'amqp consumer channel error'))
      ch.once('close', () => {
        // unacknowledged, so redelivered; they cannot be acknowledged on another channel
        waiting = waiting.filter(d => d.acks !== a)
        if (!closing) reconnect()
      })
    }
    const a = acks
    const ch = a.channel
    await ch.queueDeclare({ queue, durable: true, arguments: opts.queueArguments })
    await ch.basicQos({ prefetchCount: opts.prefetch })
    const consumed = await ch.basicConsume({ queue }, msg => { onDeliver(a, msg) })
    consumerTag = consumed.consumerTag
    // the queue was deleted: the channel stays usable (acks of what is in flight), consume again
    ch.once('basic.cancel', () => {
      consumerTag = ''
      if (!closing) reconnect()
    })
    retryCount = 1
  }

  function connect (): void {
    retryTimer = undefined
    pendingSetup = setup().finally(() => { pendingSetup = undefined }).catch((err: unknown) => {
      if (closing) return
      if (retryCount <= 1) logger.warn({ err }, 'amqp consumer setup failed; retrying')
      reconnect()
    })
  }

  function reconnect (): void {
    consumerTag = ''
    if (closing || retryTimer !== undefined || pendingSetup !== undefined) return
    // rabbitmq-client's own backoff: a random wait between low and low x 2^attempts, at most high
    const low = Math.max(1, opts.retryLowMs)
    const max = Math.min(Math.ceil(Math.min(opts.retryHighMs / low, 2 ** retryCount++)) * low, opts.retryHighMs)
    const delay = Math.floor(Math.random() * Math.max(0, max - low) + low)
    retryTimer = setTimeout(connect, delay)
  }

  connect()

  return {
    close: async () => {
      if (closing) return
      closing = true
      if (retryTimer !== undefined) clearTimeout(retryTimer)
      retryTimer = undefined
      await pendingSetup
      const a = acks
      if (a?.open === true && consumerTag !== '') {
        const tag = consumerTag
        consumerTag = ''
        await a.channel.basicCancel({ consumerTag: tag }).catch(() => {})
      }
      // not started: redelivered once the channel closes
      waiting = []
      await Promise.allSettled([...processing])
      if (a !== undefined) {
        a.flush()
        await a.channel.close().catch(() => {})
      }
    },
    ackStats: () => ({ ...counters })
  }
}
