import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Registry } from 'prom-client'

export interface OpsRoutesOptions {
  service: string
  registry: Registry
  /** True when every dependency answers (here: the broker). */
  ready: () => Promise<boolean>
}

const Health = Type.Object({ status: Type.Literal('ok'), service: Type.String() }, { additionalProperties: false })
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  service: Type.String(),
  checks: Type.Object({ broker: Type.Boolean() }, { additionalProperties: false })
}, { additionalProperties: false })

/**
 * `GET /health` (liveness: the process answers), `GET /ready` (the broker answers; 503 when not,
 * so a load balancer stops sending webhooks we could not accept), `GET /metrics` (Prometheus).
 * Kept here until @jit/connections' shared `opsRoutes` can replace it.
 */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (app, opts) => {
  app.get('/health', { schema: { response: { 200: Health } } }, async () => ({ status: 'ok' as const, service: opts.service }))

  app.get('/ready', { schema: { response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const broker = await opts.ready().catch(() => false)
    if (!broker) return await reply.code(503).send({ status: 'unavailable', service: opts.service, checks: { broker } })
    return { status: 'ready' as const, service: opts.service, checks: { broker } }
  })

  app.get('/metrics', { schema: { response: { 200: Type.String({ description: 'Prometheus text format' }) } } }, async (_request, reply) => {
    const text = await opts.registry.metrics()
    return await reply.type(opts.registry.contentType).send(text)
  })
}
