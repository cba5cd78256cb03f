import t from 'tap'
import { eventually, waitFor } from '../src/index.js'

t.test('waitFor resolves to the first value that is not false, null or undefined', async t => {
  let calls = 0
  const value = await waitFor(() => ++calls >= 3 ? { calls } : null, 2000, 'three calls')
  t.same(value, { calls: 3 })
  t.equal(await waitFor(() => 0, 2000), 0, '0 is a value, not a miss')
})

t.test('waitFor throws naming what it waited for', async t => {
  await t.rejects(waitFor(() => false, 60, 'the impossible'), /timed out after 60 ms waiting for the impossible/)
})

t.test('eventually answers instead of throwing', async t => {
  let calls = 0
  t.equal(await eventually(() => ++calls === 2, 2000), true)
  t.equal(await eventually(() => false, 60), false)
})
