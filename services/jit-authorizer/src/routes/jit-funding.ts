import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Counter, type Registry } from 'prom-client'
import { HttpErrorBody, JitProgramResponse, httpError, isUnstorableText, parseJitFundingRequest, type InboundJitFundingT, type JitFundingRequestT } from '@jit/contracts'
import { createBasicAuthVerifier, type BasicCredentials } from '@jit/http-auth'
import { decisionRequest, echoOf, fallbackEchoAmount, invalidRequest, type createJitDecider } from '../decide.js'

export interface JitFundingRouteOptions {
  decider: ReturnType<typeof createJitDecider>
  credentials: Array<BasicCredentials | null>
  /** What an overloaded or failing gateway answers: a fast decline, or 503 for the processor's stand-in. */
  overloadResponse: 'decline' | 'unavailable'
  /** JIT_DECISION_BUDGET_MS: the decision's deadline counts from the request's arrival. */
  budgetMs: number
  /** PROGRAM_TIMEZONE (a recorded shed is a decision like any other). */
  timezone: string
  registry: Registry
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the under-pressure handler: answer without touching the database. */
    shedding?: boolean
  }
}

const IDENTITY_FIELDS = ['token', 'method', 'user_token'] as const

/** A field the decision sends to PostgreSQL holds text it cannot store: declined as malformed. */
function hasUnstorableDecisionField (body: JitFundingRequestT, jf: InboundJitFundingT): boolean {
  return [body.card_token, body.currency_code, body.token, body.card_acceptor?.mcc, jf.original_jit_funding_token, jf.acting_user_token]
    .some(isUnstorableText)
}

/** Distinct accepted header texts remembered (the processor sends one; a rotation two). */
const MAX_ACCEPTED_HEADERS = 8

/**
 * The processor sends the same Authorization header on every request: once a header text has
 * verified (digests compared in constant time), the same text is accepted by a set lookup
 * instead of a digest per request. The credentials are fixed for the process's life, so an
 * accepted text stays right. A lookup compares a guess with a remembered header only when
 * their hashes are equal, so its timing tells nothing of the remembered one's characters;
 * anything not remembered goes through the full check.
 */
function rememberingAccepted (verify: (header: string | undefined) => boolean): (header: string | undefined) => boolean {
  const accepted = new Set<string>()
  return header => {
    if (header !== undefined && accepted.has(header)) return true
    const ok = verify(header)
    if (ok && header !== undefined && accepted.size < MAX_ACCEPTED_HEADERS) accepted.add(header)
    return ok
  }
}

/** Whether an info line would be written (fastify's logger type omits pino's isLevelEnabled). */
function infoEnabled (log: unknown): boolean {
  const l = log as { isLevelEnabled?: (level: string) => boolean }
  return l.isLevelEnabled === undefined || l.isLevelEnabled('info')
}

/** The 401's challenge (the OpenAPI document shows it too). */
export const WWW_AUTHENTICATE = 'Basic realm="jit-funding"'

const FAILURE_MEMO = 'Declined: the gateway could not decide; try again.'

/**
 * `POST /v1/jit-funding`: the processor's Gateway JIT funding request. Once the JIT token, method
 * and user token parse, every refusal is a 402 with a decline reason; only an unreadable body is
 * a 400; wrong credentials are a 401 and record nothing but a counter.
 */
export const jitFundingRoutes: FastifyPluginAsync<JitFundingRouteOptions> = async (app, opts) => {
  const verify = rememberingAccepted(createBasicAuthVerifier(opts.credentials))
  const authFailures = new Counter({ name: 'jit_auth_failures_total', help: 'JIT requests refused for missing or wrong credentials', registers: [opts.registry] })
  const shed = new Counter({ name: 'jit_shed_total', help: 'JIT requests answered without a decision because the gateway was overloaded or failing', labelNames: ['cause'], registers: [opts.registry] })
  // 0 before the first one, so dashboards read 0 rather than "no data"
  shed.inc({ cause: 'overload' }, 0)
  shed.inc({ cause: 'failure' }, 0)

  app.addHook('onRequest', async (req, reply) => {
    if (verify(req.headers.authorization)) return
    authFailures.inc()
    await reply.code(401).header('WWW-Authenticate', WWW_AUTHENTICATE).send(httpError('UNAUTHORIZED', 'missing or wrong credentials'))
  })

  function undecided (jf: Record<string, unknown>, memo: string): { jit_funding: Record<string, unknown> } {
    return { jit_funding: { ...echoOf(jf, fallbackEchoAmount(jf.amount)), decline_reason: 'TRANSACTION_NOT_PERMITTED', memo } }
  }

  app.post('/v1/jit-funding', {
    config: {
      // Under pressure the request still reaches the handler, which answers a well-formed
      // decline (it needs the body's token) without touching the database.
      pressureHandler: (req: { shedding?: boolean }) => { req.shedding = true }
    },
    schema: {
      body: Type.Object({}, { additionalProperties: true }),
      response: {
        200: JitProgramResponse,
        402: JitProgramResponse,
        400: HttpErrorBody,
        401: HttpErrorBody,
        503: HttpErrorBody
      }
    }
  }, async (req, reply) => {
    const parsed = parseJitFundingRequest(req.body)
    if (parsed.kind === 'unreadable') {
      const first = parsed.errors[0]
      return await reply.code(400).send(httpError('INVALID_REQUEST', `${first?.path ?? ''}: ${first?.message ?? 'unreadable request'}`, first?.path))
    }
    const identity = parsed.kind === 'ok' ? parsed.jitFunding as Record<string, unknown> : parsed.identity as Record<string, unknown>
    // PostgreSQL cannot store NUL or lone surrogates: such a token cannot be decided or echoed
    const unstorable = IDENTITY_FIELDS.find(f => isUnstorableText(identity[f]))
    if (unstorable !== undefined) {
      return await reply.code(400).send(httpError('INVALID_REQUEST', `/${parsed.source}/jit_funding/${unstorable}: contains a character that cannot be stored (NUL or a lone surrogate)`, `/${parsed.source}/jit_funding/${unstorable}`))
    }
    // the budget counts from the request's arrival
    const deadlineMs = Date.now() - reply.elapsedTime + opts.budgetMs
    const decidable = parsed.kind === 'ok' && !hasUnstorableDecisionField(parsed.request, parsed.jitFunding)
    const invalidReason = parsed.kind === 'invalid' && parsed.errors.some(e => e.path.endsWith('/amount')) ? 'INVALID_AMOUNT' : 'TRANSACTION_NOT_PERMITTED'
    if (req.shedding === true) {
      shed.inc({ cause: 'overload' })
      // 503: no decision at all (the processor's stand-in decides); nothing to record
      if (opts.overloadResponse === 'unavailable') return await reply.code(503).header('Retry-After', '1').send(httpError('SERVICE_UNAVAILABLE', 'overloaded'))
      // a decline, recorded in bulk off the hot path: a repeat of the token gets the same
      const answer = opts.decider.shed(parsed.kind === 'ok' && decidable
        ? decisionRequest(parsed.request, parsed.jitFunding as InboundJitFundingT, parsed.source, opts.timezone, deadlineMs)
        : invalidRequest(identity, invalidReason, opts.timezone, deadlineMs))
      return await reply.code(answer.status).send(answer.body)
    }
    try {
      const answer = parsed.kind === 'ok' && decidable
        ? await opts.decider.decide(parsed.request, parsed.jitFunding as InboundJitFundingT, parsed.source, deadlineMs)
        : await opts.decider.declineInvalid(identity, invalidReason, deadlineMs)
      // One line per decision: the request id (from Nginx), the JIT token and where the time
      // went; nothing of it is built when the level drops it (e.g. LOG_LEVEL=warn)
      if (infoEnabled(req.log)) req.log.info({ jit_token: identity.token, method: identity.method, outcome: answer.outcome, decline_reason: answer.declineReason ?? undefined, stages_ms: answer.timingsMs?.() }, 'jit decision')
      return await reply.code(answer.status).send(answer.body)
    } catch (err) {
      // The database is unreachable or failing: no decision could be recorded. A decline holds
      // nothing, so it is always safe; the processor may retry the token later.
      req.log.error({ err, jit_token: identity.token }, 'JIT decision failed')
      shed.inc({ cause: 'failure' })
      if (opts.overloadResponse === 'unavailable') return await reply.code(503).header('Retry-After', '1').send(httpError('SERVICE_UNAVAILABLE', 'the gateway could not decide'))
      return await reply.code(402).send(undecided(identity, FAILURE_MEMO))
    }
  })
}
