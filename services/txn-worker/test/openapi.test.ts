import t from 'tap'
import { committedDocument, generatedDocument } from '@jit/api-docs'
import { createDatabase } from '@jit/postgres'
import { createMetricsRegistry } from '@jit/profiler'
import { assertApiOperation, createTestDatabase, openApiDocumentTests } from '@jit/test-support'
import { buildApp } from '../src/index.js'
import { silentLogger } from './helper.js'

const url = await createTestDatabase(t, 'twdoc')
const db = createDatabase({ url, poolMin: 0, poolMax: 2 })
t.teardown(() => db.close(2))
const password = 'Operator-Password-0123456789'
const app = await buildApp({ config: { OPERATOR_BASIC_AUTH: `ops:${password}` }, logger: silentLogger, db, registry: createMetricsRegistry({ service: 'txn-worker' }) })
t.teardown(() => app.close())
const generated = await generatedDocument(app) as any

openApiDocumentTests(t, {
  service: 'txn-worker',
  app,
  generated,
  committed: committedDocument('txn-worker'),
  protectedRequest: { method: 'GET', url: '/v1/accounts/nobody' }
})

t.test('the operator API is documented with every answer, under Basic auth', async t => {
  for (const path of ['/v1/accounts/{token}', '/v1/accounts/{token}/journal', '/v1/holds/{token}', '/v1/decisions/{jitToken}']) {
    const op = assertApiOperation(t, generated, 'get', path, { responses: ['200', '400', '401', '404'], tag: 'operator' })
    t.ok(op?.parameters.some((p: { in: string, required: boolean }) => p.in === 'path' && p.required), `${path} documents its path parameter`)
  }
  const account = generated.paths['/v1/accounts/{token}'].get
  t.ok(account.responses['200'].content['application/json'].schema.properties.account.properties.available_minor, 'the 200 schema is the route\'s')
  t.match(account.responses['404'].description, /No account/)
  const journal = generated.paths['/v1/accounts/{token}/journal'].get
  t.match(journal.parameters, [{ in: 'query', name: 'limit', required: false }], 'the journal documents its limit')
})
