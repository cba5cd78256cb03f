import t from 'tap'
import { committedDocument, generatedDocument } from '@jit/api-docs'
import { assertOpenApiDocument, assertOpenApiServed, assertOpsRoutesDocumented } from '@jit/test-support'
import { build } from './helper.js'

const { app } = await build(t)
const generated = await generatedDocument(app) as any

t.test('docs/openapi/webhook-ingest.json is what the route schemas generate (run `pnpm run docs` after a change)', async t => {
  assertOpenApiDocument(t, 'webhook-ingest', generated, committedDocument('webhook-ingest'))
})

t.test('POST /v1/webhooks/marqeta is documented with every answer, under Basic auth', async t => {
  const op = generated.paths['/v1/webhooks/marqeta']?.post
  t.ok(op, 'the route is in the document')
  t.same(Object.keys(op.responses).sort(), ['200', '400', '401', '413', '415', '500', '503'])
  t.same(op.security, [{ basicAuth: [] }])
  t.same(op.tags, ['webhooks'])
  t.same(op.parameters.map((p: { in: string, name: string }) => `${p.in}:${p.name}`), ['header:x-marqeta-signature'],
    'the signature header is a parameter; Authorization is the security scheme')
  t.same(op.responses['200'].content['application/json'].schema.required, ['family', 'events', 'published'])
  t.equal(op.requestBody.content['application/json'].schema.additionalProperties.maxItems, 10, 'the documented batch holds 1 to 10 events')
  t.ok(op.responses['401'].headers['WWW-Authenticate'], '401 names its WWW-Authenticate header')
  t.ok(op.responses['503'].headers['Retry-After'], '503 names its Retry-After header')
})

t.test('the ops routes are documented without auth', async t => {
  assertOpsRoutesDocumented(t, generated)
})

t.test('GET /openapi.json serves the document without credentials', async t => {
  await assertOpenApiServed(t, app, generated, { method: 'POST', url: '/v1/webhooks/marqeta', payload: { pings: [{ token: 'p' }] } })
})
