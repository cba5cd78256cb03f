import { randomUUID } from 'node:crypto'

/**
 * A client of the processor's Core API (Marqeta's `/v3`), for the calls a JIT program makes:
 * create its program gateway funding source, register its webhook endpoint, list transactions of
 * a period, re-send an event. Every call has a timeout and is retried on 429, 5xx and network
 * failures with exponential backoff (honouring `Retry-After`); creations carry a client-chosen
 * token, so a retried create that had in fact succeeded finds its resource instead of failing.
 */

export interface MarqetaClientOptions {
  /** e.g. `https://sandbox-api.marqeta.com/v3` or a local `jit-sim serve`. */
  baseUrl: string
  /** Basic auth user of the Core API. */
  applicationToken: string
  /** Basic auth password of the Core API. */
  accessToken: string
  /** Per attempt, ms. @default 10000 */
  timeoutMs?: number
  /** Retries after the first attempt. @default 3 */
  retries?: number
  /** First backoff, ms; doubles each retry (with jitter). @default 250 */
  backoffMs?: number
}

/** A call that failed for good: names the call, the HTTP status (null: no answer) and the processor's error. */
export class MarqetaApiError extends Error {
  constructor (
    readonly call: string,
    readonly status: number | null,
    readonly errorCode: string | null,
    readonly body: unknown,
    readonly attempts: number,
    detail: string
  ) {
    super(`${call} failed${status === null ? '' : ` with HTTP ${status}`} after ${attempts} attempt(s): ${detail}`)
    this.name = 'MarqetaApiError'
  }
}

export interface GatewayFundingSourceRequest {
  name: string
  /** The program's JIT endpoint, e.g. `https://jit.example.com/v1/jit-funding`. */
  url: string
  basicAuthUsername: string
  basicAuthPassword: string
  /** How long the processor waits for an answer, 1000..7000 ms. */
  timeoutMillis: number
  token?: string
  active?: boolean
}

export interface GatewayFundingSource {
  token: string
  name: string
  url: string
  active: boolean
  basic_auth_username: string
  timeout_millis: number
  [k: string]: unknown
}

export interface WebhookRequest {
  name: string
  url: string
  basicAuthUsername: string
  basicAuthPassword: string
  /** HMAC secret of `X-Marqeta-Signature`. */
  secret?: string
  /** e.g. `['transaction.*']` or `['*']`. */
  events: string[]
  token?: string
  active?: boolean
}

export interface Webhook {
  token: string
  name: string
  active: boolean
  events: string[]
  config: { url: string, basic_auth_username: string, [k: string]: unknown }
  [k: string]: unknown
}

/** A transaction as the processor lists it (swagger `transaction_model`), passed through. */
export type ProcessorTransaction = Record<string, unknown> & { token: string, type: string, state: string }

export interface ListTransactionsOptions {
  /** Inclusive, `YYYY-MM-DD` or an ISO date-time. */
  from: string
  /** Inclusive, `YYYY-MM-DD` or an ISO date-time. */
  to: string
  /** @default 100 */
  pageSize?: number
  cardToken?: string
  userToken?: string
}

export interface MarqetaClient {
  createGatewayFundingSource: (request: GatewayFundingSourceRequest) => Promise<GatewayFundingSource>
  getGatewayFundingSource: (token: string) => Promise<GatewayFundingSource>
  createWebhook: (request: WebhookRequest) => Promise<Webhook>
  getWebhook: (token: string) => Promise<Webhook>
  /** Every transaction of the period, all pages. */
  listTransactions: (options: ListTransactionsOptions) => Promise<ProcessorTransaction[]>
  /** Asks the processor to send one event again to a webhook endpoint. */
  resendEvent: (webhookToken: string, eventType: string, eventToken: string) => Promise<unknown>
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

function retryAfterMs (header: string | null): number | null {
  if (header === null) return null
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 30_000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? null : Math.min(Math.max(0, at - Date.now()), 30_000)
}

export function createMarqetaClient (options: MarqetaClientOptions): MarqetaClient {
  const base = options.baseUrl.replace(/\/+$/, '')
  const auth = 'Basic ' + Buffer.from(`${options.applicationToken}:${options.accessToken}`).toString('base64')
  const timeoutMs = options.timeoutMs ?? 10_000
  const retries = options.retries ?? 3
  const backoffMs = options.backoffMs ?? 250

  /** One call with its retries; resolves the parsed body of a 2xx (or a status listed in `accept`). */
  async function call (name: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, accept: number[] = []): Promise<{ status: number, body: unknown }> {
    let last: { status: number | null, body: unknown, detail: string } = { status: null, body: null, detail: 'not sent' }
    for (let attempt = 1; ; attempt++) {
      let wait: number | null = null
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: auth, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs)
        })
        const text = await res.text()
        let parsed: unknown = text
        try { parsed = text === '' ? null : JSON.parse(text) } catch {}
        if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return { status: res.status, body: parsed }
        const message = (parsed as { error_message?: unknown } | null)?.error_message
        last = { status: res.status, body: parsed, detail: typeof message === 'string' ? message : text.slice(0, 200) }
        if (res.status !== 429 && res.status < 500) throw new MarqetaApiError(name, res.status, errorCode(parsed), parsed, attempt, last.detail)
        wait = retryAfterMs(res.headers.get('retry-after'))
      } catch (err) {
        if (err instanceof MarqetaApiError) throw err
        const e = err as Error
        last = { status: null, body: null, detail: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause instanceof Error ? e.cause.message : e.message) }
      }
      if (attempt > retries) throw new MarqetaApiError(name, last.status, errorCode(last.body), last.body, attempt, last.detail)
      const exponential = backoffMs * 2 ** (attempt - 1)
      await sleep(wait ?? exponential / 2 + Math.random() * exponential / 2)
    }
  }

  function errorCode (body: unknown): string | null {
    const code = (body as { error_code?: unknown } | null)?.error_code
    return typeof code === 'string' ? code : null
  }

  /** A create that may have succeeded on an attempt whose answer was lost: 409 on its own token is a success. */
  async function create<T> (name: string, path: string, token: string, body: Record<string, unknown>, read: (token: string) => Promise<T>): Promise<T> {
    const res = await call(name, 'POST', path, { ...body, token }, [409])
    if (res.status !== 409) return res.body as T
    return await read(token)
  }

  const client: MarqetaClient = {
    async createGatewayFundingSource (r) {
      if (!Number.isInteger(r.timeoutMillis) || r.timeoutMillis < 1000 || r.timeoutMillis > 7000) {
        throw new RangeError(`createGatewayFundingSource: timeoutMillis must be 1000..7000, got ${r.timeoutMillis}`)
      }
      return await create<GatewayFundingSource>('createGatewayFundingSource', '/fundingsources/programgateway', r.token ?? randomUUID(), {
        name: r.name,
        url: r.url,
        basic_auth_username: r.basicAuthUsername,
        basic_auth_password: r.basicAuthPassword,
        timeout_millis: r.timeoutMillis,
        active: r.active ?? true
      }, client.getGatewayFundingSource)
    },
    async getGatewayFundingSource (token) {
      return (await call('getGatewayFundingSource', 'GET', `/fundingsources/programgateway/${encodeURIComponent(token)}`)).body as GatewayFundingSource
    },
    async createWebhook (r) {
      return await create<Webhook>('createWebhook', '/webhooks', r.token ?? randomUUID(), {
        name: r.name,
        active: r.active ?? true,
        events: r.events,
        config: { url: r.url, basic_auth_username: r.basicAuthUsername, basic_auth_password: r.basicAuthPassword, ...(r.secret === undefined ? {} : { secret: r.secret }) }
      }, client.getWebhook)
    },
    async getWebhook (token) {
      return (await call('getWebhook', 'GET', `/webhooks/${encodeURIComponent(token)}`)).body as Webhook
    },
    async listTransactions (o) {
      const pageSize = o.pageSize ?? 100
      const all: ProcessorTransaction[] = []
      for (let start = 0; ;) {
        const q = new URLSearchParams({ start_date: o.from, end_date: o.to, count: String(pageSize), start_index: String(start), sort_by: 'user_transaction_time' })
        if (o.cardToken !== undefined) q.set('card_token', o.cardToken)
        if (o.userToken !== undefined) q.set('user_token', o.userToken)
        const page = (await call('listTransactions', 'GET', `/transactions?${q.toString()}`)).body as { data?: ProcessorTransaction[], is_more?: boolean, count?: number }
        const data = page.data ?? []
        all.push(...data)
        if (page.is_more !== true || data.length === 0) return all
        start += data.length
      }
    },
    async resendEvent (webhookToken, eventType, eventToken) {
      const path = `/webhooks/${encodeURIComponent(webhookToken)}/${encodeURIComponent(eventType)}/${encodeURIComponent(eventToken)}`
      return (await call('resendEvent', 'POST', path)).body
    }
  }
  return client
}
