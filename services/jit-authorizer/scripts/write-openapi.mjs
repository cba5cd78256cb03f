// Writes docs/openapi/jit-authorizer.json, the OpenAPI document generated from the route schemas:
// `pnpm run docs` at the root (not `pnpm run docs`, which is pnpm's own command), or `pnpm openapi`
// here, which builds first. test/openapi.test.ts fails when the committed file differs from
// what the app generates, so the document cannot drift.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { JitAuthorizerConfig, loadConfig } from '@jit/config'
import { createDatabase } from '@jit/postgres'
import { createCache } from '@jit/redis'
import { buildApp } from '../dist/app.js'

const target = new URL('../../../docs/openapi/jit-authorizer.json', import.meta.url)

// An explicit environment (not the process's): the document must not depend on who runs this.
const config = loadConfig(JitAuthorizerConfig, { DEPLOY_ENV: 'local', LOG_LEVEL: 'silent', JIT_BASIC_AUTH: 'docs:placeholder' })
// Real clients that connect lazily: building the app registers routes and runs no query, so
// nothing is reached (porsager connects on the first query, the cache on connect()).
const db = createDatabase({ url: config.DATABASE_URL, poolMin: 0, poolMax: 1 })
const cache = createCache({ url: config.REDIS_URL })
const app = await buildApp({ config, logger: pino({ level: 'silent' }), db, cache, registry: new Registry() })
try {
  await app.ready()
  mkdirSync(new URL('.', target), { recursive: true })
  writeFileSync(target, JSON.stringify(app.swagger(), null, 2) + '\n')
  console.log(`wrote ${fileURLToPath(target)}`)
} finally {
  await app.close()
  await cache.close()
  await db.close(1)
}
