import t from 'tap'
import { alwaysFailing } from '../src/index.js'

t.test('alwaysFailing throws a fresh failure on every call and counts the calls', async t => {
  const failing = alwaysFailing(() => new RangeError('still down'))
  t.equal(failing.calls(), 0)
  const first = await failing.handler().catch((err: unknown) => err)
  const second = await failing.handler().catch((err: unknown) => err)
  t.type(first, RangeError)
  t.not(first, second, 'a new error each time')
  t.equal(failing.calls(), 2)
})
