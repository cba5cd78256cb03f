import t from 'tap'
import { createProfiler } from '../src/index.js'
import { fakeClock } from './helpers.js'

t.test('approval rate and decline reasons', async (t) => {
  const clock = fakeClock(0)
  const profiler = createProfiler({ stages: ['decision'], now: clock.now, windowMs: 60_000 })
  t.equal(profiler.snapshot().approvals.rate, null, 'no decisions yet: no rate, not NaN')
  t.equal(profiler.snapshot().approvals.window.rate, null)

  for (let i = 0; i < 6; i++) profiler.recordOutcome('approved')
  profiler.recordOutcome('declined', 'INSUFFICIENT_FUNDS')
  profiler.recordOutcome('declined', 'INSUFFICIENT_FUNDS')
  profiler.recordOutcome('declined', 'CARD_NOT_ACTIVE')
  profiler.recordOutcome('declined')
  profiler.recordOutcome('answered')
  let approvals = profiler.snapshot().approvals
  t.same({ approved: approvals.approved, declined: approvals.declined, answered: approvals.answered }, { approved: 6, declined: 4, answered: 1 })
  t.equal(approvals.rate, 0.6, 'informative answers are not decisions: 6 / (6 + 4)')
  t.same(approvals.reasons, { INSUFFICIENT_FUNDS: 2, CARD_NOT_ACTIVE: 1, none: 1 })
  t.same(approvals.window, { approved: 6, declined: 4, answered: 1, rate: 0.6 })
  t.same(JSON.parse(JSON.stringify(approvals)), approvals, 'JSON round-trips')

  // The window forgets; the totals do not.
  clock.set(70_000)
  profiler.recordOutcome('declined', 'INSUFFICIENT_FUNDS')
  approvals = profiler.snapshot().approvals
  t.same(approvals.window, { approved: 0, declined: 1, answered: 0, rate: 0 })
  t.equal(approvals.declined, 5)
  t.equal(approvals.rate, 6 / 11)

  const text = await profiler.metrics()
  t.match(text, /jit_decisions_total\{outcome="approved",reason="none"\} 6/)
  t.match(text, /jit_decisions_total\{outcome="declined",reason="INSUFFICIENT_FUNDS"\} 3/)
  t.match(text, /jit_decisions_total\{outcome="declined",reason="CARD_NOT_ACTIVE"\} 1/)
  t.notMatch(text, /approval_rate/, 'no rate gauge: PromQL divides the counters')
})

t.test('decline reasons cannot grow without bound', async (t) => {
  const profiler = createProfiler({ stages: ['decision'], now: fakeClock().now })
  for (let i = 0; i < 100; i++) profiler.recordOutcome('declined', `REASON_${i}`)
  const reasons = profiler.snapshot().approvals.reasons
  t.equal(Object.keys(reasons).length, 65, '64 distinct reasons plus other')
  t.equal(reasons.other, 36)
  t.equal(reasons.REASON_0, 1, 'known reasons keep counting')
})

t.test('an unknown outcome is refused', async (t) => {
  const profiler = createProfiler({ stages: ['decision'], now: fakeClock().now })
  // @ts-expect-error not an outcome
  t.throws(() => profiler.recordOutcome('maybe'), /unknown outcome/)
  t.equal(profiler.snapshot().approvals.approved + profiler.snapshot().approvals.declined, 0)
})
