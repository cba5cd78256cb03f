import t from 'tap'
import { committedDocument, generatedDocument } from '@jit/api-docs'
import { assertApiOperation, openApiDocumentTests } from '@jit/test-support'
import { build } from './helper.js'

const { app } = await build(t)
const generated = await generatedDocument(app) as any

openApiDocumentTests(t, {
  service: 'webhook-ingest',
  app,
  generated,
  committed: committedDocument('webhook-ingest'),
  protectedRequest: { method: 'POST', url: '/v1/webhooks/marqeta', payload: { pings: [{ token: 'p' }] } }
})

t.test('POST /v1/webhooks/marqeta is documented with every answer, under Basic auth', async t => {
  const op = assertApiOperation(t, generated, 'post', '/v1/webhooks/marqeta', { responses: ['200', '400', '401', '413', '415', '500', '503'], tag: 'webhooks' })
  if (op === undefined) return
  t.same(op.parameters.map((p: { in: string, name: string }) => `${p.in}:${p.name}`), ['header:x-marqeta-signature'],
    'the signature header is a parameter; Authorization is the security scheme')
  t.same(op.responses['200'].content['application/json'].schema.required, ['family', 'events', 'published'])
  t.equal(op.requestBody.content['application/json'].schema.additionalProperties.maxItems, 10, 'the documented batch holds 1 to 10 events')
  t.ok(op.responses['401'].headers['WWW-Authenticate'], '401 names its WWW-Authenticate header')
  t.ok(op.responses['503'].headers['Retry-After'], '503 names its Retry-After header')
})
