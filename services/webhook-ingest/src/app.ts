import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Static } from '@sinclair/typebox'
import type { HttpErrorBody } from '@jit/contracts'
import { createWebhookMetrics } from './metrics.js'
import { opsRoutes, type Connections } from '@jit/connections'
import { webhookRoutes, type WebhookPublisher, type WebhookRouteConfig } from './routes/webhooks.js'

export { parseWebhookBatch, type BatchEvent, type BatchProblem, type BatchResult, type ParsedBatch } from './webhook-batch.js'
export { webhookMessageId } from './message-id.js'
export { WEBHOOK_PATH, SIGNATURE_HEADER, RETRY_AFTER_SECONDS, type WebhookPublisher, type WebhookRouteConfig } from './routes/webhooks.js'
export type { AuthFailureKind, BatchOutcome } from './metrics.js'

/** Name in logs, metrics labels and health answers. */
export const SERVICE_NAME = 'webhook-ingest'

/** Default longest wait for a batch's broker confirms before answering 503. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000

/**
 * What the app needs; server.ts passes the real ones, tests pass real ones on a test vhost.
 * The app owns none of them: whoever created them closes them after `app.close()`.
 */
export interface AppDeps {
  /** The webhook settings (a loaded `WebhookIngestConfig` fits). */
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
  /** @default DEFAULT_PUBLISH_TIMEOUT_MS */
  publishTimeoutMs?: number
}

/** Fastify server options server.ts may set (timeouts); the rest is fixed by the app. */
export type AppServerOptions = Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout' | 'pluginTimeout' | 'trustProxy'>

function errorCode (err: FastifyError, status: number): string {
  if (status === 413) return 'PAYLOAD_TOO_LARGE'
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE'
  if (err.validation !== undefined) return 'INVALID_REQUEST'
  return 'BAD_REQUEST'
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
    // While closing, new requests get 503 at once (the processor retries them elsewhere) and
    // in-flight publishes finish.
    return503OnClosing: true,
    // A string where a number belongs is a 400, never a guess; nothing is silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })
  const metrics = createWebhookMetrics(deps.registry)

  app.setErrorHandler<FastifyError>(async (err, request, reply) => {
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500
    if (status >= 400 && status < 500) {
      const body: Static<typeof HttpErrorBody> = {
        error: errorCode(err, status),
        message: status === 413 ? `the body is larger than ${deps.config.WEBHOOK_MAX_BODY_BYTES} bytes` : err.message
      }
      if (err.validation !== undefined) {
        body.errors = err.validation.map(v => ({ path: v.instancePath, message: v.message ?? 'invalid' }))
      }
      metrics.invalid(body.error)
      request.log.info({ err, status }, 'request refused')
      return await reply.code(status).send(body)
    }
    request.log.error({ err }, 'request failed')
    return await reply.code(500).send({ error: 'INTERNAL_ERROR', message: 'internal error' })
  })

  app.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` })
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

  // /health, /ready, /metrics: the shared ops routes, outside the webhook scope (no auth).
  app.register(opsRoutes, { service: SERVICE_NAME, registry: deps.registry, connections: deps.connections, ready: deps.ready })
  app.register(webhookRoutes, {
    config: deps.config,
    publisher: deps.publisher,
    metrics,
    publishTimeoutMs: deps.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS
  })
  return app
}
