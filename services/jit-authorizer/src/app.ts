import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import underPressure from '@fastify/under-pressure'
import { apiDocs, opsRouteDocs, type RouteDoc } from '@jit/api-docs'
import type { Logger } from 'pino'
import { Counter, Histogram, type Registry } from 'prom-client'
import { parseBasicAuth, type JitAuthorizerConfigT } from '@jit/config'
import type { Database } from '@jit/postgres'
import type { Cache } from '@jit/redis'
import { createProfiler } from '@jit/profiler'
import { httpErrors, opsRoutes, requestIdEcho, requestIdOptions, type Connections } from '@jit/connections'
import { JitFundingRequest } from '@jit/contracts'
import { createJitDecider, DECISION_STAGES } from './decide.js'
import { WWW_AUTHENTICATE, jitFundingRoutes } from './routes/jit-funding.js'

export interface JitAuthorizerDeps {
  config: JitAuthorizerConfigT
  logger: Logger
  db: Database
  cache: Cache
  registry: Registry
  /** For /ready; absent in tests that build the app from bare clients. */
  connections?: Connections
}

const ROUTE_DOCS: Record<string, RouteDoc> = {
  'POST /v1/jit-funding': {
    summary: 'Decide a Gateway JIT funding request',
    description: 'The processor\'s JIT funding call (Basic auth). The route reads the body itself rather than rejecting on the schema: ' +
      'once `jit_funding` token, method and user_token parse, every refusal is a 402 with a `decline_reason` (a bad amount is INVALID_AMOUNT, ' +
      'a token reused with a different body DUPLICATE_TRANSACTION); only a body that cannot be read at all is a 400. ' +
      'Overloaded or failing, it answers a fast 402 (`JIT_OVERLOAD_RESPONSE=decline`) or a 503 (`unavailable`).',
    body: JitFundingRequest,
    responses: {
      200: 'Approved: the amount is held on the account',
      402: 'Declined: `jit_funding.decline_reason` says why; nothing is held',
      400: 'The body cannot be read: not JSON, no `jit_funding`, or no usable token, method or user_token',
      401: 'Missing or wrong Basic credentials',
      503: 'Overloaded or failing with `JIT_OVERLOAD_RESPONSE=unavailable`: the processor\'s stand-in decides'
    }
  },
  ...opsRouteDocs({ up: 'Every required dependency answers', down: 'A required dependency is down, or the gateway is shedding load' })
}

/**
 * The jit-authorizer app: the JIT funding route, under-pressure protection and the ops routes.
 * Never listens (server.ts does), so tests build it and inject.
 */
export async function buildApp (deps: JitAuthorizerDeps): Promise<FastifyInstance> {
  const { config, logger, registry } = deps
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // X-Request-Id from Nginx (or a fresh one) on every log line, echoed on the response
    ...requestIdOptions,
    return503OnClosing: true,
    bodyLimit: 256 * 1024,
    // a string where a number belongs is a bad request, not a guess
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })

  // {error, message, field?} for every error, as in the other services
  await app.register(httpErrors)

  // Before any route, so every route is in the document (served on /openapi.json and written
  // to docs/openapi/jit-authorizer.json by `pnpm run docs`).
  await app.register(apiDocs, {
    title: 'jit-authorizer',
    description: 'Answers the processor\'s Gateway JIT funding requests: approve (200) or decline with a reason (402), recording every decision in the ledger.',
    apiTag: { name: 'jit-funding', description: 'The processor-facing Gateway JIT funding endpoint (Basic auth)' },
    basicAuthDescription: '`JIT_BASIC_AUTH`, or `JIT_BASIC_AUTH_PREVIOUS` during a rotation',
    wwwAuthenticate: WWW_AUTHENTICATE,
    routes: ROUTE_DOCS
  })

  await app.register(requestIdEcho)
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
  const shedsRecorded = new Counter({ name: 'jit_shed_recorded_total', help: 'TIMEOUT declines answered without the database (overload sheds, decisions that could not be sent) written to the ledger later (recorded), found decided otherwise there (superseded), or given up unrecorded (dropped)', labelNames: ['result'], registers: [registry] })
  const lateCommits = new Counter({ name: 'jit_late_commits_total', help: 'Decisions answered undecided (no outcome by the deadline plus grace) whose batch committed after all, by what it committed', labelNames: ['outcome'], registers: [registry] })
  // 0 before the first one, so the alert's operand has a series to read
  for (const outcome of ['approved', 'declined']) lateCommits.inc({ outcome }, 0)
  const batchSizes = new Histogram({ name: 'jit_decision_batch_size', help: 'Decisions per ledger batch (one statement, one commit)', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] })
  const decider = createJitDecider({
    db: deps.db,
    cache: deps.cache,
    profiler,
    logger,
    timezone: config.PROGRAM_TIMEZONE,
    budgetMs: config.JIT_DECISION_BUDGET_MS,
    graceMs: config.JIT_DECISION_GRACE_MS,
    maxBatch: config.JIT_BATCH_MAX,
    maxConcurrentBatches: config.JIT_BATCH_CONCURRENCY,
    localCacheTtlMs: config.JIT_LOCAL_CACHE_TTL_MS,
    shedRecorder: { retryMs: config.JIT_SHED_RETRY_MS, recordBudgetMs: config.JIT_SHED_RECORD_BUDGET_MS, closeWaitMs: config.JIT_SHED_CLOSE_WAIT_MS, flushMs: config.JIT_SHED_FLUSH_MS, maxQueued: config.JIT_SHED_QUEUE_MAX },
    onBudgetExceeded: () => budgetTimeouts.inc(),
    onBatch: size => batchSizes.observe(size),
    onShedRecorded: (count, result) => shedsRecorded.inc({ result }, count),
    onLateCommit: (decided, approved) => {
      lateCommits.inc({ outcome: 'approved' }, approved)
      lateCommits.inc({ outcome: 'declined' }, decided - approved)
    }
  })
  app.addHook('onClose', async () => { await decider.close() })

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
    budgetMs: config.JIT_DECISION_BUDGET_MS,
    timezone: config.PROGRAM_TIMEZONE,
    registry
  })
  app.decorate('profiler', profiler)
  return app
}
