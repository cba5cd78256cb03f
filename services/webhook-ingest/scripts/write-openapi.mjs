// Writes docs/openapi/webhook-ingest.json, the OpenAPI document generated from the route schemas:
// `pnpm run docs` at the root (not `pnpm run docs`, which is pnpm's own command), or `pnpm openapi`
// here, which builds first. test/openapi.test.ts fails when the committed file differs from
// what the app generates, so the document cannot drift.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { WebhookIngestConfig, loadConfig } from '@jit/config'
import { createMetricsRegistry } from '@jit/profiler'
import { buildApp } from '../dist/app.js'

const target = new URL('../../../docs/openapi/webhook-ingest.json', import.meta.url)

// An explicit environment (not the process's): the document must not depend on who runs this.
const config = loadConfig(WebhookIngestConfig, { DEPLOY_ENV: 'local', LOG_LEVEL: 'silent', WEBHOOK_BASIC_AUTH: 'docs:placeholder' })
const app = buildApp({
  config,
  logger: pino({ level: 'silent' }),
  // Building the app publishes nothing, so no broker connection is needed to read its routes.
  publisher: { publish: async () => { throw new Error('not connected: this app only writes its OpenAPI document') } },
  registry: createMetricsRegistry({ service: 'webhook-ingest' })
})
try {
  await app.ready()
  mkdirSync(new URL('.', target), { recursive: true })
  writeFileSync(target, JSON.stringify(app.swagger(), null, 2) + '\n')
  console.log(`wrote ${fileURLToPath(target)}`)
} finally {
  await app.close()
}
