import t from 'tap'
import { createTestVhost } from '@jit/test-support'
import { basicAuthHeader, signBody } from '@jit/http-auth'
import { bindTestQueue, build, CURRENT, drain, metricValue, PREVIOUS, transaction } from './helper.js'

const SECRET = 'hmac-current-5ecret-value'
const OLD_SECRET = 'hmac-previous-5ecret-value'

t.test('Basic auth', async t => {
  const url = await createTestVhost(t, 'basic')
  const reader = await bindTestQueue(t, url)
  const { app, post } = await build(t, {
    amqpUrl: url,
    env: { WEBHOOK_BASIC_AUTH_PREVIOUS: `${PREVIOUS.username}:${PREVIOUS.password}` }
  })
  const batch = { transactions: [transaction('txn-basic-1')] }

  const cases: Array<[string, string | undefined]> = [
    ['missing', undefined],
    ['wrong password', basicAuthHeader(CURRENT.username, 'Wrong-Password-1234567!')],
    ['wrong user', basicAuthHeader('someone', CURRENT.password)],
    ['not Basic', `Bearer ${CURRENT.password}`]
  ]
  for (const [name, header] of cases) {
    t.test(`${name} credentials: 401, nothing published`, async t => {
      const headers: Record<string, string> = header === undefined ? {} : { authorization: header }
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks/marqeta', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(batch) })
      t.equal(res.statusCode, 401)
      t.equal(res.headers['www-authenticate'], 'Basic realm="webhooks"')
      t.same(res.json(), { error: 'UNAUTHORIZED', message: 'missing or wrong Basic credentials' })
      t.same(await drain(reader), [])
    })
  }

  t.test('bad credentials are refused before the body is even looked at', async t => {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks/marqeta', headers: { 'content-type': 'application/json' }, payload: '{not json' })
    t.equal(res.statusCode, 401)
  })

  t.test('the current and the previous credentials are accepted', async t => {
    t.equal((await post(batch)).statusCode, 200)
    t.equal((await post(batch, { authorization: basicAuthHeader(PREVIOUS.username, PREVIOUS.password) })).statusCode, 200)
    t.equal((await drain(reader)).length, 2)
  })

  t.test('no signature is required without WEBHOOK_HMAC_SECRET', async t => {
    t.equal((await post(batch, { 'x-marqeta-signature': 'garbage' })).statusCode, 200)
    t.equal((await drain(reader)).length, 1)
  })

  t.test('auth failures are counted by kind', async t => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    t.equal(metricValue(text, 'webhook_auth_failures_total', { kind: 'basic_missing' }), 2)
    t.equal(metricValue(text, 'webhook_auth_failures_total', { kind: 'basic_invalid' }), 3)
    t.equal(metricValue(text, 'webhook_batches_total', { outcome: 'unauthorized' }), 5)
  })

  t.test('the ops routes need no credentials', async t => {
    t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
  })
})

t.test('X-Marqeta-Signature (HMAC of the raw body)', async t => {
  const url = await createTestVhost(t, 'hmac')
  const reader = await bindTestQueue(t, url)
  const { app, post } = await build(t, {
    amqpUrl: url,
    env: { WEBHOOK_HMAC_SECRET: SECRET, WEBHOOK_HMAC_SECRET_PREVIOUS: OLD_SECRET }
  })
  const raw = JSON.stringify({ transactions: [transaction('txn-sig-1')] })

  t.test('valid SHA-256 and SHA-1 signatures are accepted', async t => {
    t.equal((await post(raw, { 'x-marqeta-signature': signBody(raw, SECRET, 'sha256') })).statusCode, 200)
    t.equal((await post(raw, { 'x-marqeta-signature': signBody(raw, SECRET, 'sha1') })).statusCode, 200)
    t.equal((await drain(reader)).length, 2)
  })

  t.test('the previous secret is accepted during a rotation', async t => {
    t.equal((await post(raw, { 'x-marqeta-signature': signBody(raw, OLD_SECRET) })).statusCode, 200)
    t.equal((await drain(reader)).length, 1)
  })

  const bad: Array<[string, Record<string, string>]> = [
    ['missing', {}],
    ['signed with another secret', { 'x-marqeta-signature': signBody(raw, 'some-other-secret') }],
    ['of another body', { 'x-marqeta-signature': signBody(raw + ' ', SECRET) }],
    ['not hex', { 'x-marqeta-signature': 'not-a-signature' }]
  ]
  for (const [name, headers] of bad) {
    t.test(`a signature ${name}: 401, nothing published`, async t => {
      const res = await post(raw, headers)
      t.equal(res.statusCode, 401)
      t.equal(res.headers['www-authenticate'], 'Basic realm="webhooks"')
      t.equal(res.json().error, 'INVALID_SIGNATURE')
      t.same(await drain(reader), [])
    })
  }

  t.test('the signature is over the raw bytes, not a re-serialization', async t => {
    // Whitespace, key order and a trailing zero that JSON.parse + JSON.stringify would all change.
    const odd = '{\n  "transactions" : [ { "type":"authorization",  "amount": 12.50, "token" : "txn-raw-1" } ]\n}\n'
    const reserialized = JSON.stringify(JSON.parse(odd))
    t.not(reserialized, odd)
    t.equal((await post(odd, { 'x-marqeta-signature': signBody(reserialized, SECRET) })).statusCode, 401, 'a signature of the re-serialized body does not match')
    t.same(await drain(reader), [])

    const res = await post(odd, { 'x-marqeta-signature': signBody(odd, SECRET) })
    t.equal(res.statusCode, 200)
    const got = await drain(reader)
    t.equal(got.length, 1)
    t.same(got[0]?.body, { type: 'authorization', amount: 12.5, token: 'txn-raw-1' })
    t.equal(got[0]?.routingKey, 'webhook.transactions.authorization')
  })

  t.test('a bad signature on a malformed body is a 401, not a 400 (checked before parsing)', async t => {
    const res = await post('{broken', { 'x-marqeta-signature': signBody('{other', SECRET) })
    t.equal(res.statusCode, 401)
    const signed = await post('{broken', { 'x-marqeta-signature': signBody('{broken', SECRET) })
    t.equal(signed.statusCode, 400)
    t.equal(signed.json().error, 'INVALID_JSON')
  })

  t.test('signature failures are counted by kind', async t => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    t.equal(metricValue(text, 'webhook_auth_failures_total', { kind: 'signature_missing' }), 1)
    t.equal(metricValue(text, 'webhook_auth_failures_total', { kind: 'signature_invalid' }), 5)
  })
})
