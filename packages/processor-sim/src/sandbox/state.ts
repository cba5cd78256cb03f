import { randomUUID } from 'node:crypto'
import type { SimCard, SimPurchase } from '../messages.js'

/** A program gateway funding source as the Core API keeps it. */
export interface FundingSource {
  token: string
  name: string
  url: string
  basic_auth_username: string
  basic_auth_password: string
  timeout_millis: number
  active: boolean
  use_mtls: boolean
  custom_header: Record<string, string>
  account: string
  version: string
  created_time: string
  last_modified_time: string
}

/** A webhook endpoint registration. */
export interface WebhookEndpoint {
  token: string
  name: string
  active: boolean
  events: string[]
  config: { url: string, secret?: string, basic_auth_username: string, basic_auth_password: string, custom_header?: Record<string, string>, use_mtls?: boolean }
  created_time: string
  last_modified_time: string
}

/** A transaction the sandbox produced: the webhook event it sent, and the purchase it belongs to. */
export interface SandboxTransaction {
  event: Record<string, unknown>
  card: SimCard
  purchase: SimPurchase
  createdAt: Date
}

/** A failure the sandbox answers instead of the real thing, to exercise a client's retries. */
export interface InjectedFault { status: number, remaining: number, path?: string, delayMs?: number }

/** Everything the sandbox remembers, in memory (like the sandbox, it is not a system of record). */
export class SandboxState {
  readonly cards = new Map<string, SimCard>()
  readonly fundingSources = new Map<string, FundingSource>()
  readonly webhooks = new Map<string, WebhookEndpoint>()
  readonly transactions = new Map<string, SandboxTransaction>()
  /** In creation order, for listing. */
  readonly order: string[] = []
  readonly faults: InjectedFault[] = []

  addCards (cards: SimCard[]): void {
    for (const c of cards) this.cards.set(c.card, c)
  }

  record (t: SandboxTransaction): void {
    const token = String(t.event.token)
    if (!this.transactions.has(token)) this.order.push(token)
    this.transactions.set(token, t)
  }

  /** The active funding source the JIT requests go to (the latest created), if any. */
  activeFundingSource (): FundingSource | undefined {
    return [...this.fundingSources.values()].filter(f => f.active).at(-1)
  }

  /** The active webhook endpoint subscribed to `family` events (or `*`), if any. */
  webhookFor (family: string): WebhookEndpoint | undefined {
    // subscriptions name event types in the singular (`transaction.*`), batches the family (`transactions`)
    const singular = family.replace(/s$/, '')
    const matches = (e: string): boolean => e === '*' || [family, singular].some(f => e === f || e.startsWith(`${f}.`))
    return [...this.webhooks.values()].filter(w => w.active && w.events.some(matches)).at(-1)
  }

  takeFault (path: string): InjectedFault | undefined {
    const fault = this.faults.find(f => f.remaining > 0 && (f.path === undefined || path.startsWith(f.path)))
    if (fault !== undefined) fault.remaining--
    return fault
  }
}

export function newToken (): string {
  return randomUUID()
}
