import t from 'tap'
import { parseBasicAuth, isPlaceholderSecret, basicAuthPasswordWeakness } from '../src/index.js'

t.test('parseBasicAuth splits at the first colon', async t => {
  t.same(parseBasicAuth('jit:secret'), { username: 'jit', password: 'secret' })
  t.same(parseBasicAuth('jit:pa:ss:word:'), { username: 'jit', password: 'pa:ss:word:' })
  t.same(parseBasicAuth('a::'), { username: 'a', password: ':' })
})

t.test('parseBasicAuth refuses malformed values without echoing them', async t => {
  t.throws(() => parseBasicAuth('nocolonS3cret'), /no colon/)
  t.throws(() => parseBasicAuth(':S3cret'), /user name is empty/)
  t.throws(() => parseBasicAuth('jit:'), /password is empty/)
  t.throws(() => parseBasicAuth(''), /no colon/)
  try {
    parseBasicAuth('nocolonS3cret')
  } catch (err) {
    t.notMatch((err as Error).message, /S3cret/)
  }
})

t.test('isPlaceholderSecret recognises the obvious placeholders only', async t => {
  for (const value of ['change-me', 'CHANGEME', 'jit:example-change-me-Passw0rd-2026', 'Example', 'x-PlaceHolder-y', 'change_me']) {
    t.ok(isPlaceholderSecret(value), value)
  }
  for (const value of ['jit:Str0ng-Secret-Value-9f8e7d', 'exampl', 'change', 'me', '']) {
    t.notOk(isPlaceholderSecret(value), value)
  }
})

t.test('basicAuthPasswordWeakness applies the processor rule', async t => {
  t.equal(basicAuthPasswordWeakness('Str0ng-Secret-Value-9f8e7d'), undefined)
  t.match(basicAuthPasswordWeakness('Aa1!Aa1!Aa1!Aa1!Aa1'), /at least 20 characters \(has 19\)/)
  t.equal(basicAuthPasswordWeakness('Aa1!Aa1!Aa1!Aa1!Aa1!'), undefined, 'exactly 20 is enough')
  t.match(basicAuthPasswordWeakness('ABCDEFGHIJ1234567890!'), /^password must contain a lowercase letter$/)
  t.match(basicAuthPasswordWeakness('abcdefghij1234567890!'), /an uppercase letter/)
  t.match(basicAuthPasswordWeakness('abcdefghijKLMNOPQRST!'), /a digit/)
  t.match(basicAuthPasswordWeakness('abcdefghijKLMNOPQRST1'), /a symbol/)
})
