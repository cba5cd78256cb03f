import { basicAuthHeader } from '@jit/http-auth'
import type { Credentials } from './processor.js'

/** The balances the worker's operator API shows for an account (minor units). */
export interface AccountBalances {
  account_token: string
  currency: string
  balance_minor: number
  available_minor: number
  held_minor: number
  [k: string]: unknown
}

/** A read-only client of txn-worker's operator API. */
export interface OperatorClient {
  /** The account, or null when it does not exist. */
  account: (token: string) => Promise<AccountBalances | null>
  /** A JIT decision as recorded, or null when none was recorded. */
  decision: (jitToken: string) => Promise<Record<string, unknown> | null>
}

export function createOperatorClient (options: { baseUrl: string, credentials: Credentials, timeoutMs?: number }): OperatorClient {
  const auth = basicAuthHeader(options.credentials.username, options.credentials.password)
  async function get (path: string, what: string): Promise<Record<string, unknown> | null> {
    let res: Response
    try {
      res = await fetch(new URL(path, options.baseUrl), { headers: { authorization: auth }, signal: AbortSignal.timeout(options.timeoutMs ?? 5000) })
    } catch (err) {
      throw new Error(`operator API ${what}: ${options.baseUrl} not reachable (${(err as Error).message})`)
    }
    if (res.status === 404) { await res.arrayBuffer(); return null }
    if (res.status !== 200) throw new Error(`operator API ${what}: HTTP ${res.status} ${await res.text()}`)
    return await res.json() as Record<string, unknown>
  }
  return {
    async account (token) {
      const body = await get(`/v1/accounts/${encodeURIComponent(token)}`, `account ${token}`)
      return body === null ? null : body.account as AccountBalances
    },
    async decision (jitToken) {
      const body = await get(`/v1/decisions/${encodeURIComponent(jitToken)}`, `decision ${jitToken}`)
      return body === null ? null : body.decision as Record<string, unknown>
    }
  }
}
