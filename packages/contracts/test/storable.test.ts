import t from 'tap'
import { isUnstorableText, toStorableJson } from '../src/index.js'

t.test('NUL and lone surrogates are unstorable; pairs and ordinary text are fine', async t => {
  t.ok(isUnstorableText('a\u0000b'))
  t.ok(isUnstorableText('x\ud800'))
  t.ok(isUnstorableText('\udc00y'))
  t.notOk(isUnstorableText('emoji \ud83d\ude00 ok'))
  t.notOk(isUnstorableText('GROCERY #12'))
  t.notOk(isUnstorableText(42))
})

t.test('toStorableJson replaces them deeply, keys included, and keeps clean values as they are', async t => {
  const clean = { a: [1, 'two', { three: true }] }
  t.equal(toStorableJson(clean), clean, 'same reference when nothing to replace')
  const dirty = { name: 'GROCERY\u0000', nested: [{ 'k\u0000': 'v\ud800' }], n: 1.5 }
  const fixed = toStorableJson(dirty)
  t.same(fixed, { name: 'GROCERY\ufffd', nested: [{ 'k\ufffd': 'v\ufffd' }], n: 1.5 })
  t.equal(dirty.name, 'GROCERY\u0000', 'the input is not changed')
})
