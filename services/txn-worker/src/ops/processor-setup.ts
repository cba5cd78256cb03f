import type { MarqetaClient, GatewayFundingSource, Webhook } from '@jit/marqeta-client'

/** What `jit-ops processor setup` registers at the processor. */
export interface ProcessorSetup {
  /** Public URL of jit-authorizer's `POST /v1/jit-funding`. */
  gatewayUrl: string
  /** Public URL of webhook-ingest's `POST /v1/webhooks/marqeta`. */
  webhookUrl: string
  jitCredentials: { username: string, password: string }
  webhookCredentials: { username: string, password: string }
  webhookSecret: string | null
  /** The processor's wait for our JIT answer. */
  timeoutMillis: number
  name: string
  events: string[]
}

/** Headroom between our decision budget and the processor's timeout: the answer must travel back. */
export const TIMEOUT_HEADROOM_MS = 500

/**
 * The processor's `timeout_millis` for a decision budget: its default 3000 when that leaves the
 * headroom, else the budget plus the headroom; within the funding source's 1000..7000.
 * @throws RangeError when a requested timeout leaves the budget no headroom or is out of range
 */
export function fundingSourceTimeout (budgetMs: number, requested?: number): number {
  const timeout = requested ?? Math.max(3000, budgetMs + TIMEOUT_HEADROOM_MS)
  if (!Number.isInteger(timeout) || timeout < 1000 || timeout > 7000) throw new RangeError(`--timeout-ms must be 1000..7000 (the funding source's range), got ${timeout}`)
  if (timeout < budgetMs + TIMEOUT_HEADROOM_MS) {
    throw new RangeError(`--timeout-ms ${timeout} leaves no room for JIT_DECISION_BUDGET_MS ${budgetMs}: the processor would give up before we answer (at least ${budgetMs + TIMEOUT_HEADROOM_MS})`)
  }
  return timeout
}

/** Creates the program gateway funding source, then the webhook endpoint with its secret. */
export async function setupProcessor (client: MarqetaClient, s: ProcessorSetup): Promise<{ fundingSource: GatewayFundingSource, webhook: Webhook }> {
  const fundingSource = await client.createGatewayFundingSource({
    name: s.name,
    url: s.gatewayUrl,
    basicAuthUsername: s.jitCredentials.username,
    basicAuthPassword: s.jitCredentials.password,
    timeoutMillis: s.timeoutMillis
  })
  const webhook = await client.createWebhook({
    name: s.name,
    url: s.webhookUrl,
    basicAuthUsername: s.webhookCredentials.username,
    basicAuthPassword: s.webhookCredentials.password,
    ...(s.webhookSecret === null || s.webhookSecret === '' ? {} : { secret: s.webhookSecret }),
    events: s.events
  })
  return { fundingSource, webhook }
}
