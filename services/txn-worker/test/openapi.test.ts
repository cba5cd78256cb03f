import t from 'tap'
import { committedDocument, generatedDocument } from '@jit/api-docs'
import { createDatabase } from '@jit/postgres'
import { createMetricsRegistry } from '@jit/profiler'
import { assertOpenApiDocument, assertOpenApiServed, assertOpsRoutesDocumented, createTestDatabase } from '@jit/test-support'
import { buildApp } from '../src/index.js'
import { silentLogger } from './helper.js'

const url = await createTestDatabase(t, 'twdoc')
const db = createDatabase({ url, poolMin: 0, poolMax: 2 })
t.teardown(() => db.close(2))
const password = 'Operator-Password-0123456789'
const app = await buildApp({ config: { OPERATOR_BASIC_AUTH: `ops:${password}` }, logger: silentLogger, db, registry: createMetricsRegistry({ service: 'txn-worker' }) })
t.teardown(() => app.close())
const generated = await generatedDocument(app) as any

t.test('docs/openapi/txn-worker.json is what the route schemas generate (run `pnpm run docs` after a change)', async t => {
  assertOpenApiDocument(t, 'txn-worker', generated, committedDocument('txn-worker'))
})

t.test('the operator API is documented with every answer, under Basic auth', async t => {
  for (const path of ['/v1/accounts/{token}', '/v1/accounts/{token}/journal', '/v1/holds/{token}', '/v1/decisions/{jitToken}']) {
    const op = generated.paths[path]?.get
    t.ok(op, `${path} is in the document`)
    t.same(Object.keys(op?.responses ?? {}).sort(), ['200', '400', '401', '404'], `${path} answers 200, 400, 401, 404`)
    t.same(op?.security, [{ basicAuth: [] }], `${path} needs operator credentials`)
    t.same(op?.tags, ['operator'])
    t.ok(op?.parameters.some((p: { in: string, required: boolean }) => p.in === 'path' && p.required), `${path} documents its path parameter`)
  }
  const account = generated.paths['/v1/accounts/{token}'].get
  t.ok(account.responses['200'].content['application/json'].schema.properties.account.properties.available_minor, 'the 200 schema is the route\'s')
  t.match(account.responses['404'].description, /No account/)
  const journal = generated.paths['/v1/accounts/{token}/journal'].get
  t.match(journal.parameters, [{ in: 'query', name: 'limit', required: false }], 'the journal documents its limit')
})

t.test('the ops routes are documented without auth', async t => {
  assertOpsRoutesDocumented(t, generated)
})

t.test('GET /openapi.json serves the document without credentials', async t => {
  await assertOpenApiServed(t, app, generated, { method: 'GET', url: '/v1/accounts/nobody' })
})
