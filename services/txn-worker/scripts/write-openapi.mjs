// `pnpm run docs` at the root (or `pnpm openapi` here, which builds first): writes
// docs/openapi/txn-worker.json from the route schemas; test/openapi.test.ts fails when the
// committed file differs from what the app generates.
import { pino } from 'pino'
import { writeOpenApiDocument } from '@jit/api-docs'
import { TxnWorkerConfig, loadConfig } from '@jit/config'
import { createDatabase } from '@jit/postgres'
import { createMetricsRegistry } from '@jit/profiler'
import { buildApp } from '../dist/app.js'

// An explicit environment (not the process's): the document must not depend on who runs this.
const config = loadConfig(TxnWorkerConfig, { DEPLOY_ENV: 'local', LOG_LEVEL: 'silent', OPERATOR_BASIC_AUTH: 'docs:placeholder' })
// A pool that connects lazily: building the app registers routes and runs no query.
const db = createDatabase({ url: config.DATABASE_URL, poolMin: 0, poolMax: 1 })
const app = await buildApp({ config, logger: pino({ level: 'silent' }), db, registry: createMetricsRegistry({ service: 'txn-worker' }) })
console.log(`wrote ${await writeOpenApiDocument(app, 'txn-worker', async () => { await db.close(1) })}`)
