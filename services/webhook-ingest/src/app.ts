import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { apiDocs, opsRouteDocs, type RouteDoc } from '@jit/api-docs'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { MAX_WEBHOOK_BATCH, WEBHOOK_FAMILY_PATTERN } from '@jit/contracts'
import { createWebhookMetrics } from './metrics.js'
import { httpErrors, opsRoutes, requestIdEcho, requestIdOptions, type Connections } from '@jit/connections'
import { WWW_AUTHENTICATE, webhookRoutes, type WebhookPublisher, type WebhookRouteConfig } from './routes/webhooks.js'

export { parseWebhookBatch, type BatchEvent, type BatchProblem, type BatchResult, type ParsedBatch } from './webhook-batch.js'
export { webhookMessageId } from './message-id.js'
export { WEBHOOK_PATH, SIGNATURE_HEADER, type WebhookPublisher, type WebhookRouteConfig } from './routes/webhooks.js'
export type { AuthFailureKind, BatchOutcome } from './metrics.js'

/** Name in logs, metrics labels and health answers. */
export const SERVICE_NAME = 'webhook-ingest'

/**
 * What the app needs; server.ts passes the real ones, tests pass real ones on a test vhost.
 * The app owns none of them: whoever created them closes them after `app.close()`.
 */
export interface AppDeps {
  /** The webhook settings, publish timeout and Retry-After included (a loaded `WebhookIngestConfig` fits). */
  config: WebhookRouteConfig
  logger: Logger
  /** Resolves only once the broker confirmed the message; rejects otherwise. */
  publisher: WebhookPublisher
  /**
   * The process's connections (RabbitMQ only, here): `GET /ready` reports their health and
   * answers 503 while the broker is down, so a load balancer sends webhooks elsewhere.
   */
  connections?: Connections
  /** Extra readiness (e.g. false while shedding load); `GET /ready` answers 503 when false. */
  ready?: () => boolean
  /** The app's own Prometheus registry (`createMetricsRegistry` from @jit/profiler). */
  registry: Registry
}

/** Fastify server options server.ts may set (timeouts); the rest is fixed by the app. */
export type AppServerOptions = Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout' | 'pluginTimeout' | 'trustProxy'>

// What parseWebhookBatch accepts, as a schema for readers; the route checks the raw bytes itself
// (the signature covers them), so this is never used for validation.
const WebhookBatchDoc = {
  type: 'object',
  description: 'Exactly one property, the event family (e.g. `transactions`), holding the events. Every other field passes through untouched.',
  minProperties: 1,
  maxProperties: 1,
  propertyNames: { pattern: WEBHOOK_FAMILY_PATTERN },
  additionalProperties: {
    type: 'array',
    minItems: 1,
    maxItems: MAX_WEBHOOK_BATCH,
    items: { type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1 } }, additionalProperties: true }
  }
}

const ROUTE_DOCS: Record<string, RouteDoc> = {
  'POST /v1/webhooks/marqeta': {
    summary: 'Receive a batch of processor webhook events',
    body: WebhookBatchDoc,
    headers: {
      'x-marqeta-signature': 'Hex HMAC-SHA256 (64 digits) or HMAC-SHA1 (40 digits) of the raw body, optionally prefixed `sha256=` / `sha1=`; required when `WEBHOOK_HMAC_SECRET` is set'
    },
    responses: {
      200: 'Every event of the batch is durably accepted (or a ping was answered)',
      400: 'The body is not a valid batch: `error` is INVALID_JSON, INVALID_BODY, INVALID_FAMILY, EMPTY_BATCH, BATCH_TOO_LARGE or INVALID_EVENT',
      401: 'Basic credentials (UNAUTHORIZED) or the signature (INVALID_SIGNATURE) missing or wrong',
      413: 'The body is larger than `WEBHOOK_MAX_BODY_BYTES`',
      415: 'Unsupported media type',
      500: 'Internal error',
      503: 'The broker did not confirm every event: retry the whole batch later'
    }
  },
  ...opsRouteDocs({ up: 'RabbitMQ answers', down: 'RabbitMQ is down, or the service is not accepting work' })
}

/**
 * Builds the webhook-ingest app. It never listens (server.ts does), so tests build it and
 * `inject`. Stateless: every instance behind the load balancer is interchangeable.
 *
 * @example
 * const app = buildApp({ config, logger, publisher: connections.publisher, connections, registry })
 */
export function buildApp (deps: AppDeps, serverOptions: AppServerOptions = {}): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = deps.logger.child({ service: SERVICE_NAME })
  const app = Fastify({
    ...serverOptions,
    loggerInstance,
    // X-Request-Id from Nginx (or a fresh one) on every log line, echoed on the response
    ...requestIdOptions,
    // While closing, new requests get 503 at once (the processor retries them elsewhere) and
    // in-flight publishes finish.
    return503OnClosing: true,
    // A string where a number belongs is a 400, never a guess; nothing is silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })
  const metrics = createWebhookMetrics(deps.registry)

  // {error, message, field?} for every error, as in the other services; refusals are counted
  app.register(httpErrors, {
    payloadTooLargeMessage: `the body is larger than ${deps.config.WEBHOOK_MAX_BODY_BYTES} bytes`,
    onRefused: code => { metrics.invalid(code) }
  })

  // Node's server.close() reaps only idle keep-alive sockets; one that was busy when closing began
  // would hold the close until keepAliveTimeout. Answering in-flight requests with
  // `Connection: close` lets their sockets end with the response instead.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close')
    return payload
  })

  app.register(requestIdEcho)
  // Before any route, so every route is in the document (served on /openapi.json and written
  // to docs/openapi/webhook-ingest.json by `pnpm run docs`).
  app.register(apiDocs, {
    title: SERVICE_NAME,
    description: 'Accepts the processor\'s webhooks: authenticated, optionally signed batches, answered 200 only once every event is durably published to RabbitMQ.',
    apiTag: { name: 'webhooks', description: 'The processor-facing webhook endpoint (Basic auth; X-Marqeta-Signature when a secret is configured)' },
    basicAuthDescription: '`WEBHOOK_BASIC_AUTH`, or `WEBHOOK_BASIC_AUTH_PREVIOUS` during a rotation',
    wwwAuthenticate: WWW_AUTHENTICATE,
    routes: ROUTE_DOCS
  })

  // /health, /ready, /metrics: the shared ops routes, outside the webhook scope (no auth).
  app.register(opsRoutes, { service: SERVICE_NAME, registry: deps.registry, connections: deps.connections, ready: deps.ready })
  app.register(webhookRoutes, {
    config: deps.config,
    publisher: deps.publisher,
    metrics
  })
  return app
}
