import t from 'tap'
import Fastify from 'fastify'
import { HTTP_ERRORS } from '@jit/contracts'
import { httpErrors } from '../src/index.js'
import { logger } from './helper.js'

async function app (refused: string[] = []) {
  const app = Fastify({ loggerInstance: logger, bodyLimit: 64, ajv: { customOptions: { coerceTypes: false } } })
  await app.register(httpErrors, { payloadTooLargeMessage: 'at most 64 bytes', onRefused: code => { refused.push(code) } })
  app.get('/items/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[a-z]+$' } } } } }, async () => ({ ok: true }))
  app.post('/items', { schema: { body: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } } } }, async () => ({ ok: true }))
  app.get('/boom', async () => { throw new Error('secret detail of the failure') })
  // what @fastify/under-pressure does while shedding load: a Retry-After, then a 503 error
  app.get('/busy', async (_request, reply) => {
    reply.header('retry-after', '10')
    throw Object.assign(new Error('Service Unavailable'), { statusCode: 503 })
  })
  return app
}

t.test('every error is {error, message, field?} with a code of the one vocabulary', async t => {
  const refused: string[] = []
  const a = await app(refused)
  t.teardown(async () => { await a.close() })

  const badParam = await a.inject({ method: 'GET', url: '/items/NOT-LOWER' })
  t.equal(badParam.statusCode, 400)
  t.match(badParam.json(), { error: 'INVALID_REQUEST', field: '/params/id', message: String })

  const badBody = await a.inject({ method: 'POST', url: '/items', payload: { amount: '12.50' } })
  t.equal(badBody.statusCode, 400)
  t.match(badBody.json(), { error: 'INVALID_REQUEST', field: '/body/amount' }, 'a string where a number belongs names the field')

  const notJson = await a.inject({ method: 'POST', url: '/items', headers: { 'content-type': 'application/json' }, payload: '{' })
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.json().error, 'INVALID_REQUEST')

  const large = await a.inject({ method: 'POST', url: '/items', payload: { amount: 1, pad: 'x'.repeat(100) } })
  t.equal(large.statusCode, 413)
  t.same(large.json(), { error: 'PAYLOAD_TOO_LARGE', message: 'at most 64 bytes' })

  const media = await a.inject({ method: 'POST', url: '/items', headers: { 'content-type': 'text/csv' }, payload: 'a,b' })
  t.equal(media.statusCode, 415)
  t.equal(media.json().error, 'UNSUPPORTED_MEDIA_TYPE')

  const missing = await a.inject({ method: 'GET', url: '/nothing?x=1' })
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { error: 'NOT_FOUND', message: 'no route GET /nothing' })

  const boom = await a.inject({ method: 'GET', url: '/boom' })
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { error: 'INTERNAL', message: 'internal error' }, 'a 500 tells nothing of its cause')

  const busy = await a.inject({ method: 'GET', url: '/busy' })
  t.equal(busy.statusCode, 503, 'a 503 thrown on purpose stays a 503 (busy, not broken)')
  t.equal(busy.json().error, 'SERVICE_UNAVAILABLE')
  t.equal(busy.headers['retry-after'], '10', 'with the Retry-After set before it')

  for (const res of [badParam, badBody, notJson, large, media, missing, boom, busy]) {
    const body = res.json() as Record<string, unknown>
    t.ok(Object.keys(body).every(k => ['error', 'message', 'field'].includes(k)), `${res.statusCode}: only error, message, field`)
    t.equal(HTTP_ERRORS[body.error as keyof typeof HTTP_ERRORS], res.statusCode, `${String(body.error)} is the vocabulary's code for ${res.statusCode}`)
  }
  t.same(refused, ['INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'], 'each 4xx the handler answered was reported')
})
