import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { parseBasicAuth, type WebhookIngestConfigT } from '@jit/config'
import { createBasicAuthVerifier, createSignatureVerifier } from '@jit/http-auth'
import { httpError, webhookRoutingKey } from '@jit/contracts'
import { RawJson } from '@jit/amqp'
import { parseWebhookBatch } from '../webhook-batch.js'
import { webhookMessageId } from '../message-id.js'
import type { AuthFailureKind, WebhookMetrics } from '../metrics.js'
import { ErrorReply, WebhookAccepted } from './schemas.js'

/**
 * The settings this route reads: credentials, body limit, the longest wait for a batch's confirms
 * before the 503 (WEBHOOK_PUBLISH_TIMEOUT_MS) and that 503's Retry-After (WEBHOOK_RETRY_AFTER_S).
 */
export type WebhookRouteConfig = Pick<WebhookIngestConfigT,
'WEBHOOK_BASIC_AUTH' | 'WEBHOOK_BASIC_AUTH_PREVIOUS' | 'WEBHOOK_HMAC_SECRET' | 'WEBHOOK_HMAC_SECRET_PREVIOUS' | 'WEBHOOK_MAX_BODY_BYTES' |
'WEBHOOK_PUBLISH_TIMEOUT_MS' | 'WEBHOOK_RETRY_AFTER_S'>

/** Publishes one message and resolves only once the broker confirmed it (e.g. @jit/amqp's Publisher). */
export interface WebhookPublisher {
  publish: (routingKey: string, body: unknown, options: { messageId: string, headers: Record<string, unknown> }) => Promise<unknown>
}

export interface WebhookRoutesOptions {
  config: WebhookRouteConfig
  publisher: WebhookPublisher
  metrics: WebhookMetrics
}

/** Path of the contract's webhook endpoint. */
export const WEBHOOK_PATH = '/v1/webhooks/marqeta'
/** Header carrying the HMAC of the raw body. */
export const SIGNATURE_HEADER = 'x-marqeta-signature'
/** The 401's challenge (the OpenAPI document shows it too). */
export const WWW_AUTHENTICATE = 'Basic realm="webhooks"'

class PublishTimeoutError extends Error {
  constructor (ms: number) {
    super(`broker did not confirm the batch within ${ms} ms`)
    this.name = 'PublishTimeoutError'
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new PublishTimeoutError(ms)), ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `POST /v1/webhooks/marqeta`. Registered without fastify-plugin, so its raw-body parser and
 * its auth hooks stay inside this scope and never touch /health, /ready or /metrics.
 */
export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, opts) => {
  const { config, publisher, metrics } = opts
  const verifyBasic = createBasicAuthVerifier([
    parseBasicAuth(config.WEBHOOK_BASIC_AUTH),
    config.WEBHOOK_BASIC_AUTH_PREVIOUS === undefined ? null : parseBasicAuth(config.WEBHOOK_BASIC_AUTH_PREVIOUS)
  ])
  // An empty WEBHOOK_HMAC_SECRET (loadConfig treats it as absent) means no signature is required.
  const verifySignature = config.WEBHOOK_HMAC_SECRET === undefined
    ? null
    : createSignatureVerifier([config.WEBHOOK_HMAC_SECRET, config.WEBHOOK_HMAC_SECRET_PREVIOUS])

  async function unauthorized (reply: FastifyReply, kind: AuthFailureKind): Promise<FastifyReply> {
    metrics.authFailure(kind)
    metrics.batch(null, 'unauthorized')
    const body = kind.startsWith('basic')
      ? httpError('UNAUTHORIZED', 'missing or wrong Basic credentials')
      : httpError('INVALID_SIGNATURE', `missing or wrong ${SIGNATURE_HEADER} (hex HMAC-SHA256 or HMAC-SHA1 of the raw body)`)
    return await reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(body)
  }

  // The signature covers the bytes as sent, so the body is kept as a Buffer here and parsed only
  // after the signature matched. Any content type is read: the processor's is application/json,
  // and refusing a mislabelled but signed batch would only make it retry for days.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.WEBHOOK_MAX_BODY_BYTES }, (_request, body, done) => {
    done(null, body)
  })

  // Basic auth before the body is read: an unauthenticated sender costs us no body buffering.
  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization
    if (header === undefined || header === '') return await unauthorized(reply, 'basic_missing')
    if (!verifyBasic(header)) return await unauthorized(reply, 'basic_invalid')
  })

  if (verifySignature !== null) {
    app.addHook('preValidation', async (request, reply) => {
      const given = request.headers[SIGNATURE_HEADER]
      const signature = Array.isArray(given) ? given[0] : given
      if (signature === undefined || signature === '') return await unauthorized(reply, 'signature_missing')
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      if (!verifySignature(raw, signature)) return await unauthorized(reply, 'signature_invalid')
    })
  }

  app.post(WEBHOOK_PATH, {
    bodyLimit: config.WEBHOOK_MAX_BODY_BYTES,
    schema: {
      summary: 'Receive a batch of processor webhook events',
      description: 'Basic auth; X-Marqeta-Signature when a secret is configured. 200 only once every event is confirmed by the broker.',
      headers: {
        type: 'object',
        properties: {
          authorization: { type: 'string' },
          [SIGNATURE_HEADER]: { type: 'string' }
        }
      },
      response: {
        200: WebhookAccepted,
        400: ErrorReply,
        401: ErrorReply,
        413: ErrorReply,
        415: ErrorReply,
        500: ErrorReply,
        503: ErrorReply
      }
    }
  }, async (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const result = parseWebhookBatch(raw)
    if (!result.ok) {
      metrics.invalid(result.problem.error)
      metrics.batch(null, 'invalid')
      return await reply.code(400).send(result.problem)
    }
    const { family, events } = result.batch

    // Pings are the processor's health check of this endpoint: answering them proves auth and
    // parsing work; there is nothing to record downstream.
    if (family === 'pings') {
      metrics.batch(family, 'ping')
      return { family, events: events.length, published: 0 }
    }

    const done = metrics.timePublish()
    // Wait for every publish to settle (up to the timeout) even after one failed, so a 503 is
    // answered once the broker has had its say on the whole batch. Events confirmed before a
    // failure are published again on the retry with the same message ids: consumers dedupe.
    const settled: Array<PromiseSettledResult<unknown>> = await withTimeout(Promise.allSettled(events.map(async (e) => await publisher.publish(
      webhookRoutingKey(family, e.event),
      new RawJson(e.raw),
      { messageId: webhookMessageId(family, e.token), headers: { family } }
    ))), config.WEBHOOK_PUBLISH_TIMEOUT_MS).catch((err: unknown) => [{ status: 'rejected', reason: err }])
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failure !== undefined) {
      done('failed')
      metrics.batch(family, 'unavailable')
      request.log.warn({ err: failure.reason, family, events: events.length }, 'webhook batch not confirmed by the broker; answering 503 so the processor retries')
      return await reply.code(503).header('retry-after', String(config.WEBHOOK_RETRY_AFTER_S)).send(httpError('BROKER_UNAVAILABLE', 'the events could not be durably accepted; retry the whole batch later'))
    }
    done('confirmed')
    metrics.eventsPublished(family, events.length)
    metrics.batch(family, 'accepted')
    return { family, events: events.length, published: events.length }
  })
}
