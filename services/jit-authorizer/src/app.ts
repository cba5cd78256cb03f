import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import underPressure from '@fastify/under-pressure'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { parseBasicAuth, type JitAuthorizerConfigT } from '@jit/config'
import type { Database } from '@jit/postgres'
import type { Cache } from '@jit/redis'
import { createProfiler } from '@jit/profiler'
import { opsRoutes, type Connections } from '@jit/connections'
import { createJitDecider, DECISION_STAGES } from './decide.js'
import { jitFundingRoutes } from './routes/jit-funding.js'

export interface JitAuthorizerDeps {
  config: JitAuthorizerConfigT
  logger: Logger
  db: Database
  cache: Cache
  registry: Registry
  /** For /ready; absent in tests that build the app from bare clients. */
  connections?: Connections
}

/**
 * The jit-authorizer app: the JIT funding route, under-pressure protection and the ops routes.
 * Never listens (server.ts does), so tests build it and inject.
 */
export async function buildApp (deps: JitAuthorizerDeps): Promise<FastifyInstance> {
  const { config, logger, registry } = deps
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    return503OnClosing: true,
    bodyLimit: 256 * 1024,
    // a string where a number belongs is a bad request, not a guess
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })

  app.setErrorHandler(async (err: { statusCode?: number, message: string }, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) req.log.error({ err }, 'unhandled error')
    return await reply.code(status).send({ error: status === 500 ? 'Internal Server Error' : 'Bad Request', message: status === 500 ? 'internal error' : err.message })
  })

  await app.register(underPressure, {
    maxEventLoopDelay: config.JIT_MAX_EVENT_LOOP_DELAY_MS,
    exposeStatusRoute: false
  })

  const profiler = createProfiler({
    name: 'jit',
    stages: DECISION_STAGES,
    warnMs: config.PROFILER_WARN_MS,
    criticalMs: config.PROFILER_CRITICAL_MS,
    logger,
    registry
  })
  const budgetTimeouts = new Counter({ name: 'jit_budget_timeouts_total', help: 'Decisions declined because they ran out of their budget inside PostgreSQL', registers: [registry] })
  const decider = createJitDecider({
    db: deps.db,
    cache: deps.cache,
    profiler,
    logger,
    timezone: config.PROGRAM_TIMEZONE,
    onBudgetExceeded: () => budgetTimeouts.inc()
  })

  await app.register(opsRoutes, {
    connections: deps.connections,
    registry,
    service: 'jit-authorizer',
    ready: () => !app.isUnderPressure()
  })
  await app.register(jitFundingRoutes, {
    decider,
    credentials: [parseBasicAuth(config.JIT_BASIC_AUTH), config.JIT_BASIC_AUTH_PREVIOUS === undefined ? null : parseBasicAuth(config.JIT_BASIC_AUTH_PREVIOUS)],
    overloadResponse: config.JIT_OVERLOAD_RESPONSE,
    registry
  })
  app.decorate('profiler', profiler)
  return app
}
