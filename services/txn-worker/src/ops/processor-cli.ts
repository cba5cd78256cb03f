import { JitAuthorizerConfig, MarqetaClientConfig, WebhookIngestConfig, ConfigError, loadConfig, parseBasicAuth, type Environment } from '@jit/config'
import { createMarqetaClient, MarqetaApiError, type MarqetaClient } from '@jit/marqeta-client'
import type { Database } from '@jit/postgres'
import { fundingSourceTimeout, setupProcessor } from './processor-setup.js'
import { compareWithLedger, readLedgerView } from './reconcile.js'

/** The two processor commands of jit-ops: `processor setup` and `reconcile`. */

type Values = Record<string, string | boolean | undefined>
interface Io { env: Environment, stdout: (text: string) => void, stderr: (text: string) => void }
const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const
const DATE = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$/

class UsageError extends Error {}

function requiredUrl (values: Values, name: string): string {
  const value = values[name]
  if (typeof value !== 'string') throw new UsageError(`--${name} is required`)
  try {
    const url = new URL(value)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)')
  } catch {
    throw new UsageError(`--${name} must be an http(s) URL, got '${value}'`)
  }
  return value
}

/**
 * The Core API client from `--base-url` and the first line of stdin (`application_token:access_token`,
 * never argv, which `ps` shows); its timeout and backoff from MARQETA_TIMEOUT_MS and MARQETA_BACKOFF_MS.
 */
async function clientFrom (values: Values, env: Environment, readLine: () => Promise<string>): Promise<MarqetaClient> {
  const baseUrl = requiredUrl(values, 'base-url')
  const settings = loadConfig(MarqetaClientConfig, env)
  const line = await readLine()
  const colon = line.indexOf(':')
  if (colon < 1 || colon === line.length - 1) throw new UsageError('the Core API credentials are read from stdin as application_token:access_token, e.g. `printf "%s\\n" "$MARQETA_CREDENTIALS" | jit-ops ...`')
  return createMarqetaClient({ baseUrl, applicationToken: line.slice(0, colon), accessToken: line.slice(colon + 1), timeoutMs: settings.MARQETA_TIMEOUT_MS, backoffMs: settings.MARQETA_BACKOFF_MS })
}

function failure (io: Io, err: unknown): number {
  if (err instanceof UsageError || err instanceof RangeError) {
    io.stderr(`jit-ops: ${err.message}\n`)
    return EXIT.usage
  }
  if (err instanceof ConfigError) {
    io.stderr(`jit-ops: ${err.message}\n`)
    return EXIT.config
  }
  io.stderr(`jit-ops: ${err instanceof MarqetaApiError || err instanceof Error ? err.message : String(err)}\n`)
  return EXIT.failed
}

/** `processor setup`: the program gateway funding source and the webhook endpoint, from our own configuration. */
export async function processorSetupCommand (values: Values, io: Io, readLine: () => Promise<string>): Promise<number> {
  try {
    const gatewayUrl = requiredUrl(values, 'gateway-url')
    const webhookUrl = requiredUrl(values, 'webhook-url')
    const jit = loadConfig(JitAuthorizerConfig, io.env)
    const hooks = loadConfig(WebhookIngestConfig, io.env)
    const requested = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms'])
    const timeoutMillis = fundingSourceTimeout(jit.JIT_DECISION_BUDGET_MS, requested)
    const client = await clientFrom(values, io.env, readLine)
    const { fundingSource, webhook } = await setupProcessor(client, {
      gatewayUrl,
      webhookUrl,
      jitCredentials: parseBasicAuth(jit.JIT_BASIC_AUTH),
      webhookCredentials: parseBasicAuth(hooks.WEBHOOK_BASIC_AUTH),
      webhookSecret: hooks.WEBHOOK_HMAC_SECRET ?? null,
      timeoutMillis,
      name: typeof values.name === 'string' ? values.name : 'jit-funding',
      events: typeof values.events === 'string' ? values.events.split(',') : ['transaction.*']
    })
    io.stdout(`funding source ${fundingSource.token}: ${fundingSource.url} (timeout_millis ${fundingSource.timeout_millis}, JIT_DECISION_BUDGET_MS ${jit.JIT_DECISION_BUDGET_MS})\n` +
      `webhook ${webhook.token}: ${webhook.config.url} for ${webhook.events.join(', ')}${hooks.WEBHOOK_HMAC_SECRET === undefined || hooks.WEBHOOK_HMAC_SECRET === '' ? ' (unsigned: WEBHOOK_HMAC_SECRET is empty)' : ' (signed)'}\n`)
    return EXIT.ok
  } catch (err) {
    return failure(io, err)
  }
}

/** `reconcile --from --to`: every difference between the processor's transactions and the ledger; exit 1 when any. */
export async function reconcileCommand (db: Database, values: Values, io: Io, readLine: () => Promise<string>): Promise<number> {
  try {
    const from = values.from
    const to = values.to
    if (typeof from !== 'string' || !DATE.test(from)) throw new UsageError('--from must be a date (YYYY-MM-DD or ISO 8601)')
    if (typeof to !== 'string' || !DATE.test(to)) throw new UsageError('--to must be a date (YYYY-MM-DD or ISO 8601)')
    if (Date.parse(from) > Date.parse(to)) throw new UsageError('--from must not be after --to')
    const client = await clientFrom(values, io.env, readLine)
    const transactions = await client.listTransactions({ from, to })
    const diffs = compareWithLedger(transactions, await readLedgerView(db, transactions))
    if (values.json === true) {
      io.stdout(JSON.stringify({ from, to, transactions: transactions.length, differences: diffs }, null, 2) + '\n')
    } else {
      io.stdout(`${transactions.length} processor transaction(s) from ${from} to ${to}; ${diffs.length} difference(s)\n`)
      for (const d of diffs) io.stdout(`${d.kind}\t${d.token}\t${d.type}\t${d.detail}\n`)
    }
    return diffs.length === 0 ? EXIT.ok : EXIT.failed
  } catch (err) {
    return failure(io, err)
  }
}
