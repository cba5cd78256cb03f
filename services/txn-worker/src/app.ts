import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { parseBasicAuth, type TxnWorkerConfigT } from '@jit/config'
import { opsRoutes, type Connections } from '@jit/connections'
import type { Database } from '@jit/postgres'
import { operatorRoutes } from './routes/operator.js'

/** What {@link buildApp} needs. */
export interface TxnWorkerAppDeps {
  config: Pick<TxnWorkerConfigT, 'OPERATOR_BASIC_AUTH'>
  logger: Logger
  db: Database
  /** The app's own registry (the worker's metrics are on it); served on `/metrics`. */
  registry: Registry
  /** For `/ready`; absent in tests that build the app from bare clients. */
  connections?: Connections
  /** Extra readiness, e.g. false once the worker is stopping. */
  ready?: () => boolean
}

/**
 * The txn-worker's HTTP app: the read-only operator API (Basic auth) and `/health`, `/ready`,
 * `/metrics`. Never listens (server.ts does), so tests build it and inject.
 */
export async function buildApp (deps: TxnWorkerAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    return503OnClosing: true,
    // read-only API: no request bodies worth accepting
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    if (err.validation !== undefined) {
      return await reply.code(400).send({
        error: 'INVALID_REQUEST',
        message: err.message,
        errors: err.validation.map(v => ({ path: `/${err.validationContext ?? 'request'}${v.instancePath}`, message: v.message ?? 'invalid' }))
      })
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) request.log.error({ err }, 'unhandled error')
    return await reply.code(status).send({
      error: status === 500 ? 'INTERNAL' : 'BAD_REQUEST',
      message: status === 500 ? 'internal error' : err.message
    })
  })
  app.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` })
  })

  const opsOptions: Parameters<typeof opsRoutes>[1] = { registry: deps.registry, service: 'txn-worker' }
  if (deps.connections !== undefined) opsOptions.connections = deps.connections
  if (deps.ready !== undefined) opsOptions.ready = deps.ready
  await app.register(opsRoutes, opsOptions)
  await app.register(operatorRoutes, {
    db: deps.db,
    credentials: [parseBasicAuth(deps.config.OPERATOR_BASIC_AUTH)]
  })
  return app
}
