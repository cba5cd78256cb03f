import t from 'tap'
import { committedDocument, generatedDocument } from '@jit/api-docs'
import { assertOpenApiDocument, assertOpenApiServed, assertOpsRoutesDocumented } from '@jit/test-support'
import { build } from './helper.js'

const { app } = await build(t, { poolMax: 2 })
const generated = await generatedDocument(app) as any

t.test('docs/openapi/jit-authorizer.json is what the route schemas generate (run `pnpm run docs` after a change)', async t => {
  assertOpenApiDocument(t, 'jit-authorizer', generated, committedDocument('jit-authorizer'))
})

t.test('POST /v1/jit-funding is documented with every answer, under Basic auth', async t => {
  const op = generated.paths['/v1/jit-funding']?.post
  t.ok(op, 'the route is in the document')
  t.same(Object.keys(op.responses).sort(), ['200', '400', '401', '402', '503'])
  t.same(op.security, [{ basicAuth: [] }])
  t.same(op.tags, ['jit-funding'])
  t.match(op.responses['402'].description, /decline_reason/)
  t.ok(op.responses['200'].content['application/json'].schema.properties.jit_funding, 'the answer schema is the contract\'s jit_program_response')
  t.ok(op.requestBody.content['application/json'].schema.allOf, 'the documented body is the contract\'s JIT funding request')
  t.ok(op.responses['401'].headers['WWW-Authenticate'], '401 names its WWW-Authenticate header')
})

t.test('the ops routes are documented without auth', async t => {
  assertOpsRoutesDocumented(t, generated)
})

t.test('GET /openapi.json serves the document without credentials', async t => {
  await assertOpenApiServed(t, app, generated, { method: 'POST', url: '/v1/jit-funding', payload: {} })
})
