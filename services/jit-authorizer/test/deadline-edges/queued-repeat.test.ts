// Two decisions behind a connection busy past their deadline: the first's batch waits for the
// connection, the second waits in the batcher's queue and is answered the TIMEOUT decline, which
// the shed recorder writes at its next flush (every 250 ms). A repeat of the second, at once or
// just after the connection frees (before that flush), must get the answer the first got, and
// each answer must be its record.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { sleep, compare, ONE_CONNECTION, warmCards, busyConnection, availableMatchesRecord } from './support.js'

const shapes = [
  { busyS: 1.5, repeatAfterFreeMs: null },
  { busyS: 0.75, repeatAfterFreeMs: null },
  ...[20, 60, 100, 150].map(ms => ({ busyS: 0.75, repeatAfterFreeMs: ms }))
]
for (const [i, { busyS, repeatAfterFreeMs }] of shapes.entries()) {
  t.test(`connection busy ${busyS} s, the queued one repeated ${repeatAfterFreeMs === null ? 'at once' : `${repeatAfterFreeMs} ms after it frees`}`, async t => {
    const h = await build(t, ONE_CONNECTION)
    const [a, b] = await warmCards(t, h, `q${i}`)
    const busy = busyConnection(h, busyS)
    await sleep(30)
    const first = jitBody(a, 10)
    const second = jitBody(b, 10)
    const pending = h.jit(first)
    const answer = await h.jit(second)
    let repeat
    if (repeatAfterFreeMs === null) repeat = await h.jit(second) // the processor retries at once
    else {
      await busy
      await sleep(repeatAfterFreeMs)
      repeat = await h.jit(second)
    }
    const firstAnswer = await pending
    await busy
    await sleep(1500)
    for (const [what, body, res] of [['the first', first, firstAnswer], ['the queued one', second, answer], ['its repeat', second, repeat]] as const) {
      const cmp = await compare(h, body, res)
      t.ok(cmp.ok, `${what}: the answer is the record (${cmp.detail})`)
    }
    await availableMatchesRecord(t, h, a, first)
    await availableMatchesRecord(t, h, b, second)
    t.same(await h.invariants(), [])
  })
}
