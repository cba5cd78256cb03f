import t from 'tap'
import { createProfiler } from '../src/index.js'
import { fakeClock } from './helpers.js'

t.test('percentiles of known values are exact to HDR precision', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ stages: ['user', 'card'], now: clock.now })
  for (let ms = 1; ms <= 100; ms++) profiler.recordStage('user', ms)
  const user = profiler.snapshot().stages.user
  t.equal(user.count, 100)
  // 3 significant digits: within 0.1 % of the true value.
  t.ok(Math.abs((user.p50 as number) - 50) <= 0.05, `p50 ${user.p50}`)
  t.ok(Math.abs((user.p95 as number) - 95) <= 0.1, `p95 ${user.p95}`)
  t.ok(Math.abs((user.p99 as number) - 99) <= 0.1, `p99 ${user.p99}`)
  t.ok(Math.abs((user.max as number) - 100) <= 0.1, `max ${user.max}`)
  t.ok(Math.abs((user.mean as number) - 50.5) <= 0.1, `mean ${user.mean}`)
  const card = profiler.snapshot().stages.card
  t.same(card, { count: 0, p50: null, p95: null, p99: null, max: null, mean: null, warnings: 0, criticals: 0, warnMs: 50, criticalMs: 100 },
    'a stage with nothing recorded reports nulls, not zeros')
})

t.test('sub-millisecond durations keep microsecond resolution', async (t) => {
  const profiler = createProfiler({ stages: ['cache'], now: fakeClock().now })
  for (let i = 0; i < 10; i++) profiler.recordStage('cache', 0.25)
  profiler.recordStage('cache', 0.004)
  const cache = profiler.snapshot().stages.cache
  t.equal(cache.p50, 0.25)
  t.equal(cache.max, 0.25)
  t.ok((cache.mean as number) < 0.25, 'the 4 µs value pulls the mean down')
})

t.test('durations beyond the histogram range are clamped, not thrown', async (t) => {
  const profiler = createProfiler({ stages: ['decision'], now: fakeClock().now })
  profiler.recordStage('decision', 3_600_000)
  const decision = profiler.snapshot().stages.decision
  t.equal(decision.count, 1)
  t.ok((decision.max as number) >= 599_000 && (decision.max as number) <= 601_000, `clamped to ten minutes: ${decision.max}`)
})

t.test('the sliding window forgets old values', async (t) => {
  const clock = fakeClock(0)
  const profiler = createProfiler({ stages: ['user'], now: clock.now, windowMs: 60_000, windowSlices: 6 })
  for (let i = 0; i < 10; i++) profiler.recordStage('user', 80)
  clock.advance(30_000)
  for (let i = 0; i < 10; i++) profiler.recordStage('user', 5)
  let user = profiler.snapshot().stages.user
  t.equal(user.count, 20, 'both batches inside the window')
  t.ok(Math.abs((user.max as number) - 80) < 0.1)

  clock.set(60_000) // the slice of the first batch (0..10 s) has left the window
  user = profiler.snapshot().stages.user
  t.equal(user.count, 10, 'the first batch is forgotten')
  t.ok(Math.abs((user.max as number) - 5) < 0.01, `max is now ${user.max}`)

  // Recording into a reused slot resets it first: 120 s later the 60 s slot is reused by new data.
  clock.set(120_000)
  profiler.recordStage('user', 7)
  user = profiler.snapshot().stages.user
  t.equal(user.count, 1, 'only the new value is left')
  t.ok(Math.abs((user.p50 as number) - 7) < 0.01)

  clock.set(1_000_000)
  t.equal(profiler.snapshot().stages.user.count, 0, 'an idle window is empty')
})

t.test('total latency has its own window', async (t) => {
  const profiler = createProfiler({ stages: ['user'], now: fakeClock().now })
  profiler.recordTotal(12)
  profiler.recordTotal(14)
  const { total, stages } = profiler.snapshot()
  t.equal(total.count, 2)
  t.equal(stages.user.count, 0)
  t.ok(Math.abs((total.max as number) - 14) < 0.02)
})

t.test('bad input is refused loudly', async (t) => {
  const profiler = createProfiler({ stages: ['user'], now: fakeClock().now })
  // @ts-expect-error unknown stage names are a compile error too
  t.throws(() => profiler.recordStage('usr', 1), /unknown profiler stage "usr"/)
  t.throws(() => profiler.recordStage('user', -1), RangeError)
  t.throws(() => profiler.recordStage('user', Number.NaN), RangeError)
  t.throws(() => profiler.recordTotal(Number.POSITIVE_INFINITY), RangeError)
  t.equal(profiler.snapshot().stages.user.count, 0, 'nothing was recorded by the refused calls')
})
