import t from 'tap'
import { createBasicAuthVerifier, createSignatureVerifier, signBody, basicAuthHeader } from '../src/index.js'

t.test('basic auth accepts the current and previous credentials only', async t => {
  const verify = createBasicAuthVerifier([{ username: 'jit', password: 'p:with:colons' }, { username: 'old', password: 'previous' }, null])
  t.ok(verify(basicAuthHeader('jit', 'p:with:colons')))
  t.ok(verify(basicAuthHeader('old', 'previous')))
  t.notOk(verify(basicAuthHeader('jit', 'wrong')))
  t.notOk(verify(basicAuthHeader('jit', 'p:with:colons ')))
  t.notOk(verify(undefined))
  t.notOk(verify('Bearer abc'))
  t.notOk(verify('Basic !!!'))
  t.throws(() => createBasicAuthVerifier([null]))
})

t.test('signatures: sha256 and sha1, current and previous secret, raw bytes', async t => {
  const verify = createSignatureVerifier(['new-secret', 'old-secret', ''])
  const raw = Buffer.from('{"pings": [ {"token":"marqeta"} ]}')
  t.ok(verify(raw, signBody(raw, 'new-secret')))
  t.ok(verify(raw, signBody(raw, 'new-secret', 'sha1')))
  t.ok(verify(raw, signBody(raw, 'old-secret')))
  t.ok(verify(raw, signBody(raw, 'new-secret').toUpperCase()))
  t.notOk(verify(raw, signBody(raw, 'other')))
  t.notOk(verify(Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), signBody(raw, 'new-secret')), 'a re-serialized body does not match')
  t.notOk(verify(raw, undefined))
  t.notOk(verify(raw, 'zz'))
  t.notOk(verify(raw, 'abcd'))
})
