import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'

/** The header Nginx sets (generated, or the caller's) and every service echoes. */
export const REQUEST_ID_HEADER = 'x-request-id'

// A caller's id is kept only when it is short and plain: it goes into every log line of the
// request, so it must not carry a log injection or a megabyte.
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Fastify server options: the request id is `X-Request-Id` when it is acceptable (Nginx always
 * sets one), else a fresh UUID; every log line of the request carries it as Fastify's `reqId`.
 *
 * @example
 * ```ts
 * const app = Fastify({ loggerInstance, ...requestIdOptions })
 * await app.register(requestIdEcho)
 * ```
 */
export const requestIdOptions = {
  // Fastify's own header support would take any value verbatim; genReqId checks it first.
  requestIdHeader: false as const,
  genReqId (req: IncomingMessage): string {
    const offered = req.headers[REQUEST_ID_HEADER]
    return typeof offered === 'string' && ACCEPTABLE_ID.test(offered) ? offered : randomUUID()
  }
}

/** Echoes the request id on every response (`X-Request-Id`), so a caller can quote it to support. */
export const requestIdEcho: FastifyPluginAsync = fp(async (app: FastifyInstance) => {
  app.addHook('onRequest', async (req, reply) => { reply.header(REQUEST_ID_HEADER, req.id) })
}, { name: '@jit/connections/request-id', fastify: '5.x' })
