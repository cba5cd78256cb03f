import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { httpError, type HttpErrorBodyT, type HttpErrorCode } from '@jit/contracts'

/** Options of {@link httpErrors}. */
export interface HttpErrorsOptions {
  /** The message of a 413 (e.g. naming the limit). @default 'the body is too large' */
  payloadTooLargeMessage?: string
  /** Called with the code of every 4xx the handler answers (a metric of refused requests). */
  onRefused?: (code: HttpErrorCode) => void
}

/** The error body and status of an error Fastify or a route threw. */
export function errorAnswer (err: FastifyError, opts: HttpErrorsOptions = {}): { status: number, body: HttpErrorBodyT } {
  // A 503 someone threw on purpose (under-pressure shedding load, a dependency reported down) stays
  // a 503: a 500 would tell a load balancer or an orchestrator the process is broken, not busy.
  if (err.statusCode === 503) return { status: 503, body: httpError('SERVICE_UNAVAILABLE', err.message) }
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
  if (status === 500) return { status, body: httpError('INTERNAL', 'internal error') }
  if (status === 413) return { status, body: httpError('PAYLOAD_TOO_LARGE', opts.payloadTooLargeMessage ?? 'the body is too large') }
  if (status === 415) return { status, body: httpError('UNSUPPORTED_MEDIA_TYPE', err.message) }
  const first = err.validation?.[0]
  if (first !== undefined) {
    // `/params/token`, `/querystring/limit`, `/body/amount`: where the bad value was
    const field = `/${err.validationContext ?? 'body'}${first.instancePath}`
    return { status, body: httpError('INVALID_REQUEST', err.message, field) }
  }
  if (status === 401) return { status, body: httpError('UNAUTHORIZED', err.message) }
  if (status === 404) return { status, body: httpError('NOT_FOUND', err.message) }
  return { status, body: httpError('INVALID_REQUEST', err.message) }
}

/**
 * The error and not-found handlers of every service: `{error, message, field?}` with the codes of
 * `HTTP_ERRORS` (@jit/contracts). A 4xx names the problem and is logged at info; a 503 thrown on
 * purpose (shedding load) stays `SERVICE_UNAVAILABLE`, logged at warn; anything else is a 500
 * `INTERNAL` that says nothing about the cause (logged at error). Wrapped in
 * fastify-plugin so the handlers are the app's own; a scope that needs other answers (an HTML
 * page) sets its own handlers inside.
 */
export const httpErrors: FastifyPluginAsync<HttpErrorsOptions> = fp(async (app: FastifyInstance, opts: HttpErrorsOptions) => {
  app.setErrorHandler<FastifyError>(async (err, request, reply) => {
    const { status, body } = errorAnswer(err, opts)
    if (status === 500) {
      request.log.error({ err }, 'request failed')
    } else if (status === 503) {
      request.log.warn({ err }, 'request not served: unavailable')
    } else {
      opts.onRefused?.(body.error as HttpErrorCode)
      request.log.info({ err, status }, 'request refused')
    }
    return await reply.code(status).send(body)
  })
  app.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send(httpError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`))
  })
}, { name: '@jit/connections/http-errors', fastify: '5.x' })
