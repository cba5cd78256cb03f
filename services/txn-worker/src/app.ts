import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { apiDocs, opsRouteDocs, type RouteDoc } from '@jit/api-docs'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { parseBasicAuth, type TxnWorkerConfigT } from '@jit/config'
import { httpErrors, opsRoutes, requestIdEcho, requestIdOptions, type Connections } from '@jit/connections'
import type { Database } from '@jit/postgres'
import type { DocumentArchive } from '@jit/archive'
import { consolePlugin, type ConsoleOptions, type ConsoleSettings } from './console/plugin.js'
import { consoleApiRoutes } from './routes/console-api.js'
import { WWW_AUTHENTICATE, operatorRoutes } from './routes/operator.js'

/** What {@link buildApp} needs. */
export interface TxnWorkerAppDeps {
  config: Pick<TxnWorkerConfigT, 'OPERATOR_BASIC_AUTH'> & Partial<Omit<ConsoleSettings, 'OPERATOR_BASIC_AUTH'>>
  logger: Logger
  db: Database
  /** The app's own registry (the worker's metrics are on it); served on `/metrics`. */
  registry: Registry
  /** For `/ready`; absent in tests that build the app from bare clients. */
  connections?: Connections
  /** Extra readiness, e.g. false once the worker is stopping. */
  ready?: () => boolean
  /** Merchant names, webhooks and last-four search of the console; default: the connections' archive. */
  archive?: DocumentArchive
  /**
   * The operator console at `/console/`. Default: built from `config` and `connections` when both
   * are there (the server); `false` turns it off.
   */
  console?: Omit<ConsoleOptions, 'db'> | false
}

function operatorDoc (summary: string, description: string, missing: string): RouteDoc {
  return {
    summary,
    description,
    responses: {
      200: 'Found',
      400: 'A path or query parameter is invalid (`field` names it)',
      401: 'Missing or wrong operator credentials',
      404: `No ${missing} with this token`
    }
  }
}

const ROUTE_DOCS: Record<string, RouteDoc> = {
  'GET /v1/accounts/:token': operatorDoc('An account with its open holds',
    'Balance, held, available and credit line, each as integer minor units (`*_minor`) and as the exact decimal string; up to 100 open holds, oldest first.', 'account'),
  'GET /v1/accounts/:token/journal': operatorDoc('An account\'s journal entries', 'Newest first; `limit` 1..500, default 100.', 'account'),
  'GET /v1/holds/:token': operatorDoc('A hold with its history', 'The token is the purchase\'s original JIT funding token.', 'hold'),
  'GET /v1/decisions/:jitToken': operatorDoc('A JIT funding decision', 'The decision recorded for a JIT funding token, with the body sent to the processor.', 'decision'),
  'GET /v1/search': {
    summary: 'Find what a token names',
    description: 'A card, user, account, JIT decision, hold or network transaction token (`q`); or the cards whose archived transaction webhooks show `last_four` within `from`..`to` (at most 7 days). Primary-key, GIN and time-index lookups only.',
    responses: { 200: 'The matches (empty when nothing matches)', 400: 'Neither `q` nor `last_four`, or a bad window (`field` names it)', 401: 'Missing or wrong operator credentials' }
  },
  'GET /v1/cards/:token/decisions': operatorDoc('A card\'s latest decisions', 'Newest first, each with its decline reason, the memo sent to the processor, amount, merchant and MCC (from the archive). Paginated: pass `next_before` as `before`.', 'card'),
  'GET /v1/timeline': operatorDoc('A cardholder\'s timeline', 'Exactly one of `card_token`, `user_token`, `account_token`. Decisions, the webhooks that followed, hold changes and journal lines, newest first; each money change with the balance and available right after it. Paginated: pass `next_before` as `before`.', 'card, user or account'),
  'GET /v1/accounts/:token/holds': operatorDoc('An account\'s holds', 'Newest first, optionally of one `state`, with their age and what is captured or released so far. Paginated: pass `next_before` as `before`.', 'account'),
  'GET /v1/operator-actions': {
    summary: 'What operators did from the console',
    description: 'Dead-letter re-drives and hold releases, newest first, with who, what, when and the outcome. Paginated: pass `next_before_id` as `before_id`.',
    responses: { 200: 'A page of actions', 400: 'A query parameter is invalid (`field` names it)', 401: 'Missing or wrong operator credentials' }
  },
  ...opsRouteDocs({ up: 'Every required dependency answers', down: 'A required dependency is down, or the worker is stopping' })
}

/**
 * The txn-worker's HTTP app: the read-only operator API (Basic auth) and `/health`, `/ready`,
 * `/metrics`. Never listens (server.ts does), so tests build it and inject.
 */
export async function buildApp (deps: TxnWorkerAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // X-Forwarded-Proto / -For from nginx on the same host or network: a console cookie is Secure
    // when the operator's request came over TLS to the proxy
    trustProxy: 'loopback,linklocal,uniquelocal',
    // X-Request-Id from Nginx (or a fresh one) on every log line, echoed on the response
    ...requestIdOptions,
    return503OnClosing: true,
    // read-only API: no request bodies worth accepting
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })

  // {error, message, field?} for every error, as in the other services
  await app.register(httpErrors)

  await app.register(requestIdEcho)
  // Before any route, so every route is in the document (served on /openapi.json and written
  // to docs/openapi/txn-worker.json by `pnpm run docs`).
  await app.register(apiDocs, {
    title: 'txn-worker',
    description: 'The txn-worker\'s HTTP side: the read-only operator API over the ledger (accounts, holds, decisions, journals) and the ops routes.',
    apiTag: { name: 'operator', description: 'Read-only operator API (Basic auth)' },
    basicAuthDescription: '`OPERATOR_BASIC_AUTH`',
    wwwAuthenticate: WWW_AUTHENTICATE,
    routes: ROUTE_DOCS
  })

  const opsOptions: Parameters<typeof opsRoutes>[1] = { registry: deps.registry, service: 'txn-worker' }
  if (deps.connections !== undefined) opsOptions.connections = deps.connections
  if (deps.ready !== undefined) opsOptions.ready = deps.ready
  await app.register(opsRoutes, opsOptions)
  const credentials = [deps.config.OPERATOR_BASIC_AUTH, deps.config.OPERATOR_BASIC_AUTH_PREVIOUS]
    .filter((v): v is string => v !== undefined && v !== '').map(parseBasicAuth)
  const connections = deps.connections
  const archive = deps.archive ?? (connections?.uses.archive === true ? connections.archive : undefined)
  await app.register(operatorRoutes, { db: deps.db, credentials })
  await app.register(consoleApiRoutes, { db: deps.db, archive, credentials })

  const c = deps.config
  const consoleOptions: Omit<ConsoleOptions, 'db'> | undefined = deps.console === false
    ? undefined
    : deps.console ?? (connections === undefined || c.REDIS_URL === undefined || c.REDIS_KEY_PREFIX === undefined ||
      c.CONSOLE_SESSION_IDLE_S === undefined || c.CONSOLE_SESSION_ABSOLUTE_S === undefined || c.REDIS_RECONNECT_MAX_MS === undefined ||
      c.REDIS_CONNECT_TIMEOUT_MS === undefined
      ? undefined
      : {
          settings: { ...c, REDIS_URL: c.REDIS_URL, REDIS_KEY_PREFIX: c.REDIS_KEY_PREFIX, CONSOLE_SESSION_IDLE_S: c.CONSOLE_SESSION_IDLE_S, CONSOLE_SESSION_ABSOLUTE_S: c.CONSOLE_SESSION_ABSOLUTE_S, REDIS_RECONNECT_MAX_MS: c.REDIS_RECONNECT_MAX_MS, REDIS_CONNECT_TIMEOUT_MS: c.REDIS_CONNECT_TIMEOUT_MS },
          archive,
          ...(connections.uses.amqp ? { amqp: connections.amqp, publisher: connections.publisher } : {}),
          health: async () => await connections.health()
        })
  if (consoleOptions !== undefined) await app.register(consolePlugin, { ...consoleOptions, archive: consoleOptions.archive ?? archive, db: deps.db, prefix: '/console' })
  return app
}
