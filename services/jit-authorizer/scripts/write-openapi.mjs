// `pnpm run docs` at the root (or `pnpm openapi` here, which builds first): writes
// docs/openapi/jit-authorizer.json from the route schemas; test/openapi.test.ts fails when the
// committed file differs from what the app generates.
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { writeOpenApiDocument } from '@jit/api-docs'
import { JitAuthorizerConfig, loadConfig } from '@jit/config'
import { createDatabase } from '@jit/postgres'
import { createCache } from '@jit/redis'
import { buildApp } from '../dist/app.js'

// An explicit environment (not the process's): the document must not depend on who runs this.
const config = loadConfig(JitAuthorizerConfig, { DEPLOY_ENV: 'local', LOG_LEVEL: 'silent', JIT_BASIC_AUTH: 'docs:placeholder' })
// Clients that connect lazily: building the app registers routes and runs no query.
const db = createDatabase({ url: config.DATABASE_URL, poolMin: 0, poolMax: 1 })
const cache = createCache({ url: config.REDIS_URL })
const app = await buildApp({ config, logger: pino({ level: 'silent' }), db, cache, registry: new Registry() })
console.log(`wrote ${await writeOpenApiDocument(app, 'jit-authorizer', async () => { await cache.close(); await db.close(1) })}`)
