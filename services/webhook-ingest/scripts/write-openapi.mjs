// `pnpm run docs` at the root (or `pnpm openapi` here, which builds first): writes
// docs/openapi/webhook-ingest.json from the route schemas; test/openapi.test.ts fails when the
// committed file differs from what the app generates.
import { pino } from 'pino'
import { writeOpenApiDocument } from '@jit/api-docs'
import { WebhookIngestConfig, loadConfig } from '@jit/config'
import { createMetricsRegistry } from '@jit/profiler'
import { buildApp } from '../dist/app.js'

// An explicit environment (not the process's): the document must not depend on who runs this.
const config = loadConfig(WebhookIngestConfig, { DEPLOY_ENV: 'local', LOG_LEVEL: 'silent', WEBHOOK_BASIC_AUTH: 'docs:placeholder' })
const app = buildApp({
  config,
  logger: pino({ level: 'silent' }),
  // Building the app publishes nothing, so no broker connection is needed to read its routes.
  publisher: { publish: async () => { throw new Error('not connected: this app only writes its OpenAPI document') } },
  registry: createMetricsRegistry({ service: 'webhook-ingest' })
})
console.log(`wrote ${await writeOpenApiDocument(app, 'webhook-ingest')}`)
