import type { FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import type { Connections } from './connections.js'
import { registerConnectionMetrics } from './metrics.js'

/** Options of {@link opsRoutes}. */
export interface OpsRoutesOptions {
  /** Omitted by a service with no dependencies: `/ready` then reflects `ready()` only. */
  connections?: Connections
  /** The app's own registry, served on `/metrics`; the connection metrics are registered on it. */
  registry: Registry
  /** Extra readiness, e.g. false while shedding load (under-pressure); `/ready` answers 503 then. */
  ready?: () => boolean
  /** Service name echoed by `/health` and `/ready`. */
  service: string
}

const dependencySchema = {
  type: 'object',
  required: ['up', 'latencyMs', 'required'],
  properties: {
    up: { type: 'boolean' },
    latencyMs: { type: ['number', 'null'] },
    required: { type: 'boolean' },
    error: { type: 'string' },
    detail: { type: 'object', additionalProperties: true }
  }
} as const

const readySchema = {
  type: 'object',
  required: ['status', 'ok', 'service', 'dependencies'],
  properties: {
    status: { type: 'string', enum: ['ready', 'unavailable'] },
    ok: { type: 'boolean' },
    service: { type: 'string' },
    /** Why not ready: the required dependencies that are down, or shedding load. */
    reasons: { type: 'array', items: { type: 'string' } },
    dependencies: { type: 'object', additionalProperties: dependencySchema }
  }
} as const

/**
 * `GET /health` (liveness: answers while the event loop runs, touches nothing),
 * `GET /ready` (200 with the dependency report; 503 when a required dependency is down or
 * `ready()` says no) and `GET /metrics` (Prometheus text of `registry`). With `connections`, also
 * registers the connection metrics ({@link registerConnectionMetrics}) on `registry`.
 * Not wrapped in fastify-plugin: it only adds routes.
 */
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, opts) => {
  const { connections, registry, service } = opts
  const extraReady = opts.ready ?? (() => true)
  if (connections !== undefined) registerConnectionMetrics(registry, connections)

  app.get('/health', {
    schema: {
      response: {
        200: {
          type: 'object',
          required: ['status', 'service'],
          properties: { status: { type: 'string', enum: ['ok'] }, service: { type: 'string' } }
        }
      }
    }
  }, async () => ({ status: 'ok', service }))

  app.get('/ready', { schema: { response: { 200: readySchema, 503: readySchema } } }, async (_request, reply) => {
    const report = connections !== undefined ? await connections.health() : { ok: true, dependencies: {} }
    const reasons = Object.entries(report.dependencies)
      .filter(([, h]) => h.required && !h.up)
      .map(([name, h]) => `${name} down${h.error === undefined ? '' : `: ${h.error}`}`)
    if (!extraReady()) reasons.push('not accepting work (overloaded)')
    if (connections?.draining === true) reasons.push('draining: shutting down')
    const ok = report.ok && reasons.length === 0
    reply.code(ok ? 200 : 503)
    return { status: ok ? 'ready' : 'unavailable', ok, service, ...(ok ? {} : { reasons }), dependencies: report.dependencies }
  })

  app.get('/metrics', {
    schema: { response: { 200: { type: 'string', description: 'Prometheus text exposition format 0.0.4' } } }
  }, async (_request, reply) => {
    const text = await registry.metrics()
    // A string with a non-JSON content type is sent as is, not through the response serializer.
    reply.type(registry.contentType)
    return text
  })
}
