import { createHash } from 'node:crypto'
import fastifyCookie from '@fastify/cookie'
import fastifyCsrf from '@fastify/csrf-protection'
import fastifyFormbody from '@fastify/formbody'
import fastifyRateLimit from '@fastify/rate-limit'
import fastifySession from '@fastify/session'
import { RedisStore } from 'connect-redis'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { createClient } from 'redis'
import type { Amqp, Publisher } from '@jit/amqp'
import type { DocumentArchive } from '@jit/archive'
import type { HealthReport } from '@jit/connections'
import type { Database } from '@jit/postgres'
import { consolePages, operatorOf } from './pages.js'
import { createOperatorDirectory, type OperatorDirectory } from './operators.js'
import { BASE, CONSOLE_CSS, FAVICON_SVG, notice, page } from './html.js'

declare module 'fastify' {
  interface Session {
    operator?: string
    /** Sign-in time, epoch ms: the absolute timeout counts from it. */
    signedInAt?: number
  }
}

/** Settings of the console (from `TxnWorkerConfig`). */
export interface ConsoleSettings {
  OPERATOR_BASIC_AUTH: string
  OPERATOR_BASIC_AUTH_PREVIOUS?: string | undefined
  CONSOLE_OPERATORS?: string | undefined
  CONSOLE_SESSION_SECRET?: string | undefined
  CONSOLE_SESSION_IDLE_S: number
  CONSOLE_SESSION_ABSOLUTE_S: number
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
  /** Longest wait between attempts to reconnect to Redis, ms (the sessions' client backs off up to it). */
  REDIS_RECONNECT_MAX_MS: number
  /** Longest wait for Redis when the sessions' client connects, ms (at start, and each reconnection's socket). */
  REDIS_CONNECT_TIMEOUT_MS: number
  CONSOLE_PROMETHEUS_URL?: string | undefined
  /** Longest wait for Prometheus's answer, ms. @default 2000 */
  CONSOLE_PROMETHEUS_TIMEOUT_MS?: number | undefined
}

/** What the console reads and writes through. */
export interface ConsoleOptions {
  settings: ConsoleSettings
  db: Database
  archive?: DocumentArchive | undefined
  /** Dead letters and hold releases need the broker; without it those pages say so. */
  amqp?: Amqp | undefined
  publisher?: Publisher | undefined
  health?: (() => Promise<HealthReport>) | undefined
  /** Login attempts per address per minute. @default 10 */
  loginAttemptsPerMinute?: number
}

/** The Redis key prefix of console sessions. */
export function sessionKeyPrefix (settings: Pick<ConsoleSettings, 'REDIS_KEY_PREFIX'>): string {
  return `${settings.REDIS_KEY_PREFIX}console:session:`
}

/**
 * No new required variable: without `CONSOLE_SESSION_SECRET` the cookie-signing secret is derived
 * from `OPERATOR_BASIC_AUTH`, so rotating that password also ends every console session.
 */
export function sessionSecret (settings: Pick<ConsoleSettings, 'CONSOLE_SESSION_SECRET' | 'OPERATOR_BASIC_AUTH'>): string {
  if (settings.CONSOLE_SESSION_SECRET !== undefined && settings.CONSOLE_SESSION_SECRET !== '') return settings.CONSOLE_SESSION_SECRET
  return createHash('sha256').update(`jit-operator-console-session\0${settings.OPERATOR_BASIC_AUTH}`).digest('hex')
}

/**
 * The operator console under `/console/`: a login page (operators of `CONSOLE_OPERATORS`, else the
 * `OPERATOR_BASIC_AUTH` operator), sessions in Redis with an idle timeout (the cookie's max age,
 * renewed on every request, is also the Redis TTL) and an absolute one (from sign-in), `HttpOnly`
 * `SameSite` cookies that are `Secure` when the request came over TLS (the app trusts the
 * proxy's `X-Forwarded-Proto` from private addresses), a CSRF token on every write and
 * rate-limited sign-in. Registered with a prefix in its own scope, so none of this touches the
 * JSON operator API (Basic auth) or the ops routes.
 */
export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const { settings } = opts
  const operators: OperatorDirectory = createOperatorDirectory(settings)
  // The console's own client: sessions must fail fast while Redis is down (no offline queue),
  // and reconnect by themselves when it is back.
  const redis = createClient({
    url: settings.REDIS_URL,
    disableOfflineQueue: true,
    socket: { connectTimeout: settings.REDIS_CONNECT_TIMEOUT_MS, reconnectStrategy: retries => Math.min(100 * 2 ** Math.min(retries, 10), settings.REDIS_RECONNECT_MAX_MS) }
  })
  redis.on('error', () => { /* reported by the console pages ("Redis is unavailable"); reconnects itself */ })
  // a Redis that is down does not hold the start: the console says so until it is back
  await Promise.race([redis.connect().catch(() => {}), new Promise(resolve => setTimeout(resolve, settings.REDIS_CONNECT_TIMEOUT_MS))])
  app.addHook('onClose', async () => {
    try {
      if (redis.isOpen) await redis.close()
    } catch {
      redis.destroy()
    }
  })

  await app.register(fastifyFormbody, { bodyLimit: 8 * 1024 })
  await app.register(fastifyRateLimit, { global: false })

  app.get('/assets/console.css', async (_request, reply) => {
    return await reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS)
  })

  app.get('/assets/favicon.svg', async (_request, reply) => {
    return await reply.header('content-type', 'image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON_SVG)
  })

  // Every page: no script, nothing from elsewhere, never framed, never cached.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    if (reply.getHeader('cache-control') === undefined) reply.header('cache-control', 'no-store')
    return payload
  })

  // Before the session plugin's hooks: with Redis down no session can be read or written, so
  // the console says so instead of failing (decisions do not depend on it).
  app.addHook('onRequest', async (request, reply) => {
    if (redis.isReady || request.url.startsWith(`${BASE}/assets/`)) return
    await reply.code(503).type('text/html; charset=utf-8').send(page('Console unavailable', { operator: null, csrf: null },
      notice('error', 'Redis, which keeps console sessions, is unavailable: sign-in is refused until it is back. Card decisions are not affected.')))
  })

  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: sessionSecret(settings),
    cookieName: 'jit_console',
    saveUninitialized: false,
    rolling: true,
    store: new RedisStore({ client: redis, prefix: sessionKeyPrefix(settings) }),
    cookie: {
      path: BASE,
      httpOnly: true,
      // 'auto': Secure (and SameSite=Strict) over TLS, SameSite=Lax over plain HTTP on a laptop
      secure: 'auto',
      sameSite: 'strict',
      maxAge: settings.CONSOLE_SESSION_IDLE_S * 1000
    }
  })
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/session', csrfOpts: { hmacKey: sessionSecret(settings) } })

  // The absolute timeout: a session older than CONSOLE_SESSION_ABSOLUTE_S ends whatever its use.
  app.addHook('preHandler', async request => {
    const at = request.session.signedInAt
    if (request.session.operator !== undefined && (at === undefined || Date.now() - at > settings.CONSOLE_SESSION_ABSOLUTE_S * 1000)) {
      await request.session.destroy()
    }
  })

  const requireOperator = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (operatorOf(request) !== null) return
    const next = request.method === 'GET' ? request.url : BASE + '/'
    await reply.redirect(`${BASE}/login?next=${encodeURIComponent(next)}`, 303)
  }

  await app.register(consolePages, {
    db: opts.db,
    archive: opts.archive,
    amqp: opts.amqp,
    publisher: opts.publisher,
    health: opts.health,
    prometheusUrl: settings.CONSOLE_PROMETHEUS_URL,
    prometheusTimeoutMs: settings.CONSOLE_PROMETHEUS_TIMEOUT_MS,
    operators,
    requireOperator,
    loginAttemptsPerMinute: opts.loginAttemptsPerMinute ?? 10
  })
}
