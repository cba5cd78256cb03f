import { signBody, basicAuthHeader } from '@jit/http-auth'

/**
 * The processor's side of the two HTTP contracts: it POSTs JIT funding requests to the program's
 * gateway and waits at most its deadline, and it POSTs webhooks in batches, retrying every answer
 * but 200 on its backoff schedule.
 */

/** `user:password` split at the first colon, as the services' configuration writes it. */
export interface Credentials { username: string, password: string }

export function parseCredentials (value: string): Credentials {
  const at = value.indexOf(':')
  if (at < 1) throw new Error('credentials must be user:password')
  return { username: value.slice(0, at), password: value.slice(at + 1) }
}

/**
 * The processor's webhook retry delays: after a failure it retries 10 times, each wait four
 * times the previous one, from 4 s (about 12 days in all). Tests compress it with `scale`.
 */
export function processorBackoff (scale = 1, retries = 10): number[] {
  return Array.from({ length: retries }, (_, i) => Math.round(4000 * 4 ** i * scale))
}

export interface ProcessorOptions {
  /** The program gateway's JIT funding URL, e.g. `http://127.0.0.1:3001/v1/jit-funding`. */
  jitUrl: string
  jitCredentials: Credentials
  /** The webhook endpoint, e.g. `http://127.0.0.1:3002/v1/webhooks/marqeta`. */
  webhookUrl: string
  webhookCredentials: Credentials
  /** HMAC secret of `X-Marqeta-Signature`; null or empty: webhooks are not signed. */
  webhookSecret?: string | null
  /** @default 'sha256' */
  signatureAlgorithm?: 'sha256' | 'sha1'
  /** How long the processor waits for a JIT answer (the funding source's `timeout_millis`). @default 3000 */
  deadlineMs?: number
  /** Waits between webhook attempts; its length is the number of retries. @default processorBackoff() */
  retryDelaysMs?: number[]
  /** Events per webhook POST, at most 10 (the processor's limit). @default 10 */
  batchSize?: number
}

/** What the processor made of one JIT funding request. */
export interface JitOutcome {
  /** The HTTP status, or null when nothing came back in time (or the call failed). */
  status: number | null
  body: unknown
  /** No answer by the deadline: the processor declined to the network on its own. */
  timedOut: boolean
  /** Approved by the gateway within the deadline (HTTP 200). */
  approved: boolean
  declineReason: string | null
  /** From the send to the answer (or to the deadline), ms. */
  latencyMs: number
  /** The network error when the call failed before the deadline. */
  error?: string
}

/** One webhook POST's fate after all its attempts. */
export interface WebhookDelivery {
  events: number
  attempts: number
  delivered: boolean
  /** Status of each attempt (null: no answer). */
  statuses: Array<number | null>
  /** From the first attempt to the 200, ms. */
  latencyMs: number
}

export interface Processor {
  readonly deadlineMs: number
  readonly options: Readonly<ProcessorOptions>
  /** The same processor with some options changed (another gateway URL, deadline...). */
  with: (over: Partial<ProcessorOptions>) => Processor
  /** POSTs a JIT funding request and waits at most the deadline for the answer. */
  requestFunding: (body: unknown, options?: { deadlineMs?: number }) => Promise<JitOutcome>
  /** POSTs events in batches of at most `batchSize` of one family, each retried until 200. */
  deliverWebhooks: (family: string, events: unknown[]) => Promise<WebhookDelivery[]>
  /** The processor's health check of the webhook endpoint. */
  ping: () => Promise<WebhookDelivery>
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

export function createProcessor (options: ProcessorOptions): Processor {
  const deadlineMs = options.deadlineMs ?? 3000
  const retryDelays = options.retryDelaysMs ?? processorBackoff()
  const batchSize = Math.min(10, Math.max(1, options.batchSize ?? 10))
  const jitAuth = basicAuthHeader(options.jitCredentials.username, options.jitCredentials.password)
  const hookAuth = basicAuthHeader(options.webhookCredentials.username, options.webhookCredentials.password)
  const secret = options.webhookSecret ?? ''

  async function requestFunding (body: unknown, call: { deadlineMs?: number } = {}): Promise<JitOutcome> {
    const limit = call.deadlineMs ?? deadlineMs
    const started = performance.now()
    const signal = AbortSignal.timeout(limit)
    try {
      const res = await fetch(options.jitUrl, {
        method: 'POST',
        headers: { authorization: jitAuth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal
      })
      const text = await res.text()
      const latencyMs = performance.now() - started
      let parsed: unknown = text
      try { parsed = JSON.parse(text) } catch {}
      const jit = (parsed as { jit_funding?: { decline_reason?: unknown } } | null)?.jit_funding
      // a 402 is a decline; anything else but 200 is an application error the processor treats
      // as a decline too (its stand-in mode aside)
      return {
        status: res.status,
        body: parsed,
        timedOut: false,
        approved: res.status === 200,
        declineReason: res.status === 200 ? null : typeof jit?.decline_reason === 'string' ? jit.decline_reason : `HTTP_${res.status}`,
        latencyMs
      }
    } catch (err) {
      const latencyMs = performance.now() - started
      const timedOut = signal.aborted
      return {
        status: null,
        body: null,
        timedOut,
        approved: false,
        declineReason: timedOut ? 'TIMEOUT' : 'GATEWAY_UNREACHABLE',
        latencyMs,
        ...(timedOut ? {} : { error: (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message })
      }
    }
  }

  async function post (raw: string, events: number): Promise<WebhookDelivery> {
    const headers: Record<string, string> = { authorization: hookAuth, 'content-type': 'application/json' }
    if (secret !== '') headers['x-marqeta-signature'] = signBody(raw, secret, options.signatureAlgorithm ?? 'sha256')
    const statuses: Array<number | null> = []
    const started = performance.now()
    for (let attempt = 0; ; attempt++) {
      let status: number | null = null
      try {
        const res = await fetch(options.webhookUrl, { method: 'POST', headers, body: raw, signal: AbortSignal.timeout(10_000) })
        await res.arrayBuffer()
        status = res.status
      } catch {}
      statuses.push(status)
      if (status === 200) return { events, attempts: attempt + 1, delivered: true, statuses, latencyMs: performance.now() - started }
      const wait = retryDelays[attempt]
      if (wait === undefined) return { events, attempts: attempt + 1, delivered: false, statuses, latencyMs: performance.now() - started }
      await sleep(wait)
    }
  }

  return {
    deadlineMs,
    options,
    with: (over) => createProcessor({ ...options, ...over }),
    requestFunding,
    async deliverWebhooks (family, events) {
      const deliveries: WebhookDelivery[] = []
      for (let i = 0; i < events.length; i += batchSize) {
        const batch = events.slice(i, i + batchSize)
        deliveries.push(await post(JSON.stringify({ [family]: batch }), batch.length))
      }
      return deliveries
    },
    async ping () {
      return await post(JSON.stringify({ pings: [{ token: 'marqeta', payload: 'healthcheck' }] }), 1)
    }
  }
}
