import type { ConsumedMessage, MessageHandler } from './consumer.js'

/**
 * Handles the messages of one batch together. Resolves to one entry per message, in order:
 * `undefined` when that message succeeded, an error (thrown from its handler, so
 * PermanentError / TransientError keep their meaning) when it alone failed. Rejecting fails
 * every message of the batch with that error.
 */
export type BatchHandler = (messages: ConsumedMessage[]) => Promise<Array<unknown>>

/** Options of {@link batchingHandler}. */
export interface BatchingOptions {
  /** Most messages in one batch. @default 100 */
  maxBatch?: number
  /** Batches handled at once. @default 1 */
  maxInFlight?: number
}

interface Waiting {
  msg: ConsumedMessage
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * A per-message handler (for `amqp.consume`) that hands the messages delivered together to
 * `handleBatch` in batches, without waiting for a batch to fill: a message arriving while no
 * batch is in flight starts one at the next turn of the event loop (so what the broker delivered
 * in the same read joins it); messages arriving while batches are in flight form the next one,
 * started when one finishes. Each message's handler call resolves (the consumer acks) only once
 * its batch has completed, and throws its own error, so the retry and dead-letter path stays per
 * message. Consume with `concurrency` at least `prefetch` (every prefetched message must be
 * able to wait in a batch) and `prefetch` above `maxBatch` (the next batch can then be delivered
 * while one is in flight, since a batch's messages are acknowledged only after it completes).
 */
export function batchingHandler (handleBatch: BatchHandler, opts: BatchingOptions = {}): MessageHandler {
  const maxBatch = opts.maxBatch ?? 100
  const maxInFlight = opts.maxInFlight ?? 1
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new TypeError('maxBatch must be a positive integer')
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new TypeError('maxInFlight must be a positive integer')
  const waiting: Waiting[] = []
  let inFlight = 0
  let scheduled = false

  async function run (batch: Waiting[]): Promise<void> {
    let results: unknown[]
    try {
      results = await handleBatch(batch.map(w => w.msg))
      if (!Array.isArray(results) || results.length !== batch.length) {
        throw new TypeError(`the batch handler returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} messages`)
      }
    } catch (err) {
      for (const w of batch) w.reject(err)
      return
    }
    batch.forEach((w, i) => {
      const failure = results[i]
      if (failure === undefined) w.resolve()
      else w.reject(failure)
    })
  }

  function flush (): void {
    scheduled = false
    while (inFlight < maxInFlight && waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch)
      inFlight++
      // run() settles every member itself and never rejects
      run(batch).finally(() => {
        inFlight--
        schedule()
      }).catch(() => {})
    }
  }

  function schedule (): void {
    if (scheduled || waiting.length === 0 || inFlight >= maxInFlight) return
    scheduled = true
    setImmediate(flush)
  }

  return async function handleInBatch (msg: ConsumedMessage): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      waiting.push({ msg, resolve, reject })
      schedule()
    })
  }
}
