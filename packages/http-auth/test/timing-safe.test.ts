import t from 'tap'
import { createRequire, syncBuiltinESMExports } from 'node:module'

// Every comparison of a credential or a signature must go through crypto.timingSafeEqual, once per
// configured secret whatever the outcome, so neither a wrong value nor which secret matched shows
// in the response time. The builtin is wrapped before the verifiers are loaded: ESM imports of
// node:crypto are live bindings that syncBuiltinESMExports() updates.
const require = createRequire(import.meta.url)
const crypto = require('node:crypto') as typeof import('node:crypto')
const original = crypto.timingSafeEqual
let calls = 0
crypto.timingSafeEqual = (a, b) => { calls++; return original(a, b) }
syncBuiltinESMExports()
t.teardown(() => { crypto.timingSafeEqual = original; syncBuiltinESMExports() })

const { createBasicAuthVerifier, createSignatureVerifier, signBody, basicAuthHeader } = await import('../src/index.js')

function counted (fn: () => boolean): { result: boolean, calls: number } {
  const before = calls
  const result = fn()
  return { result, calls: calls - before }
}

t.test('basic auth: one constant-time comparison per configured credential, match or not', async t => {
  const verify = createBasicAuthVerifier([{ username: 'jit', password: 'Current-Passw0rd-Xyz!' }, { username: 'jit', password: 'Previous-Passw0rd-Xyz!' }])
  const cases: Array<[string, string, boolean]> = [
    ['the current credentials', basicAuthHeader('jit', 'Current-Passw0rd-Xyz!'), true],
    ['the previous credentials', basicAuthHeader('jit', 'Previous-Passw0rd-Xyz!'), true],
    ['a wrong password', basicAuthHeader('jit', 'Current-Passw0rd-Xyz?'), false],
    ['a wrong user', basicAuthHeader('jot', 'Current-Passw0rd-Xyz!'), false],
    ['a password prefix', basicAuthHeader('jit', 'Current'), false],
    ['an empty pair', basicAuthHeader('', ''), false]
  ]
  for (const [name, header, expected] of cases) {
    const { result, calls: n } = counted(() => verify(header))
    t.equal(result, expected, name)
    t.equal(n, 2, `${name}: both credentials compared with timingSafeEqual`)
  }
})

t.test('signatures: one constant-time comparison per configured secret, match or not', async t => {
  const verify = createSignatureVerifier(['current-hmac-secret', 'previous-hmac-secret'])
  const raw = Buffer.from('{"transactions":[{"token":"t-1"}]}')
  const cases: Array<[string, string, boolean]> = [
    ['sha256 with the current secret', signBody(raw, 'current-hmac-secret'), true],
    ['sha1 with the previous secret', signBody(raw, 'previous-hmac-secret', 'sha1'), true],
    ['sha256 with another secret', signBody(raw, 'another-secret'), false],
    ['a signature of a different body', signBody(Buffer.from('{"transactions":[]}'), 'current-hmac-secret'), false],
    ['a single flipped digit', signBody(raw, 'current-hmac-secret').replace(/^./, c => c === '0' ? '1' : '0'), false]
  ]
  for (const [name, signature, expected] of cases) {
    const { result, calls: n } = counted(() => verify(raw, signature))
    t.equal(result, expected, name)
    t.equal(n, 2, `${name}: both secrets compared with timingSafeEqual`)
  }
})
