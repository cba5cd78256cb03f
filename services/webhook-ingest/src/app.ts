import Fastify, { type FastifyInstance } from 'fastify'

/** Builds the webhook-ingest app; never listens (server.ts does), so tests build it and inject. */
export function buildApp (): FastifyInstance {
  const app = Fastify()
  app.get('/health', async () => ({ status: 'ok', service: 'webhook-ingest' }))
  return app
}
