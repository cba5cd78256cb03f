import t from 'tap'
import { committedDocument, generatedDocument } from '@jit/api-docs'
import { assertApiOperation, openApiDocumentTests } from '@jit/test-support'
import { build } from './helper.js'

const { app } = await build(t, { poolMax: 2 })
const generated = await generatedDocument(app) as any

openApiDocumentTests(t, {
  service: 'jit-authorizer',
  app,
  generated,
  committed: committedDocument('jit-authorizer'),
  protectedRequest: { method: 'POST', url: '/v1/jit-funding', payload: {} }
})

t.test('POST /v1/jit-funding is documented with every answer, under Basic auth', async t => {
  const op = assertApiOperation(t, generated, 'post', '/v1/jit-funding', { responses: ['200', '400', '401', '402', '503'], tag: 'jit-funding' })
  if (op === undefined) return
  t.match(op.responses['402'].description, /decline_reason/)
  t.ok(op.responses['200'].content['application/json'].schema.properties.jit_funding, 'the answer schema is the contract\'s jit_program_response')
  t.ok(op.requestBody.content['application/json'].schema.allOf, 'the documented body is the contract\'s JIT funding request')
  t.ok(op.responses['401'].headers['WWW-Authenticate'], '401 names its WWW-Authenticate header')
})
