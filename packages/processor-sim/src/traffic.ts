import { basicAuthHeader } from '@jit/http-auth'
import { runOpenLoop, type LoadResult } from './load/index.js'
import { jitFundingRequest, simToken, type SimCard } from './messages.js'
import { createRandom, spendAmount, transactionFields } from './random.js'
import type { Credentials } from './processor.js'

export interface JitLoadOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:3001`. */
  gatewayUrl: string
  credentials: Credentials
  cards: SimCard[]
  /** Requests per second (open loop: sent on schedule whatever the answers). */
  rate: number
  seconds: number
  /** @default 1 */
  seed?: number
  /** Requests in flight at most; a request due while all are busy is counted as unsent. @default 256 */
  maxInFlight?: number
  /** The processor's deadline: an answer later than this counts as a timeout. @default 3000 */
  deadlineMs?: number
}

/**
 * Authorizations from the seeded program's cards at a fixed rate through the project's one
 * open-loop generator: latency from each request's scheduled time, unsent requests counted.
 * Amounts and merchants come from the seed, so two runs send the same traffic.
 */
export async function runJitLoad (options: JitLoadOptions): Promise<LoadResult> {
  if (options.cards.length === 0) throw new Error('no cards to send load for: seed a program first (jit-sim seed)')
  const random = createRandom(options.seed ?? 1)
  const auth = basicAuthHeader(options.credentials.username, options.credentials.password)
  const run = simToken('load')
  return await runOpenLoop({
    origin: options.gatewayUrl,
    rate: options.rate,
    durationMs: options.seconds * 1000,
    maxInFlight: options.maxInFlight ?? 256,
    timeoutMs: options.deadlineMs ?? 3000,
    // a decline is an answer the processor accepts; anything but 200 or 402 is an error
    check: (status) => status === 200 || status === 402,
    request: (seq) => {
      const card = options.cards[seq % options.cards.length] as SimCard
      const body = jitFundingRequest(card, { token: `${run}-${seq}`, amount: spendAmount(random, 5_000), fields: transactionFields(random) })
      return { path: '/v1/jit-funding', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) }
    }
  })
}
