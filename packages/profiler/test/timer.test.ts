import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createProfiler } from '../src/index.js'
import { fakeClock } from './helpers.js'

t.test('stage() times fn and returns its value', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ stages: ['user', 'card'], now: clock.now })
  const timer = profiler.start()
  const value = await timer.stage('user', async () => {
    clock.advance(12)
    return 'u1'
  })
  t.equal(value, 'u1')
  const sync = await timer.stage('card', () => {
    clock.advance(3)
    return 42
  })
  t.equal(sync, 42, 'a synchronous fn works too')
  const { stages } = profiler.snapshot()
  t.equal(stages.user.count, 1)
  t.ok(Math.abs((stages.user.max as number) - 12) < 0.02)
  t.ok(Math.abs((stages.card.max as number) - 3) < 0.01)
})

t.test('stage() records when fn throws, and rethrows the same error', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ stages: ['decision'], now: clock.now })
  const timer = profiler.start()
  const boom = new Error('database down')
  await t.rejects(timer.stage('decision', async () => {
    clock.advance(120)
    throw boom
  }), boom)
  await t.rejects(timer.stage('decision', () => {
    clock.advance(1)
    throw boom
  }), boom, 'a synchronous throw becomes a rejection')
  const decision = profiler.snapshot().stages.decision
  t.equal(decision.count, 2, 'both failures recorded')
  t.equal(decision.criticals, 1, 'a slow failure still counts as a breach')
})

t.test('stage() with an unknown name rejects before running fn', async (t) => {
  const profiler = createProfiler({ stages: ['user'], now: fakeClock().now })
  let ran = false
  // @ts-expect-error not a declared stage
  await t.rejects(profiler.start().stage('nope', async () => { ran = true }), /unknown profiler stage/)
  t.equal(ran, false)
})

t.test('mark() ends the stage begun at the previous mark or stage', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ stages: ['user', 'card', 'limits', 'decision'], now: clock.now })
  const timer = profiler.start()
  clock.advance(2)
  timer.mark('user')
  clock.advance(3)
  timer.mark('card')
  await timer.stage('limits', async () => { clock.advance(4) })
  clock.advance(5)
  timer.mark('decision')
  t.equal(timer.elapsedMs(), 14)
  const { stages } = profiler.snapshot()
  t.same(
    [stages.user.max, stages.card.max, stages.limits.max, stages.decision.max].map((v) => Math.round(v as number)),
    [2, 3, 4, 5]
  )
})

t.test('end() records the total and outcome once', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ stages: ['user'], now: clock.now })
  const timer = profiler.start()
  clock.advance(30)
  t.equal(timer.end('declined', 'INSUFFICIENT_FUNDS'), 30)
  clock.advance(30)
  t.equal(timer.end('approved'), 30, 'a second end returns the first total')
  const snap = profiler.snapshot()
  t.equal(snap.total.count, 1)
  t.same([snap.approvals.approved, snap.approvals.declined], [0, 1], 'the second outcome is ignored')

  const bare = profiler.start()
  clock.advance(1)
  bare.end()
  t.equal(profiler.snapshot().total.count, 2)
  t.equal(profiler.snapshot().approvals.declined + profiler.snapshot().approvals.approved, 1, 'end() without an outcome counts no decision')
})

t.test('the default clock is real and monotonic', async (t) => {
  const profiler = createProfiler({ stages: ['user'] })
  const timer = profiler.start()
  await timer.stage('user', () => sleep(20))
  const total = timer.end('approved')
  const user = profiler.snapshot().stages.user
  t.ok((user.max as number) >= 19, `slept 20 ms, measured ${user.max}`)
  t.ok(total >= (user.max as number) - 0.01, 'total covers the stage')
})

t.test('timings() gives this request\'s stage durations for its log line, repeated stages summed', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ stages: ['user', 'decision'], now: clock.now })
  const other = profiler.start()
  const timer = profiler.start()
  clock.advance(2)
  timer.mark('user')
  await timer.stage('decision', () => { clock.advance(5) })
  await timer.stage('decision', () => { clock.advance(7) })
  t.same(timer.timings(), { user: 2, decision: 12 }, 'no total before end()')
  clock.advance(1)
  timer.end('approved')
  t.same(timer.timings(), { user: 2, decision: 12, total: 15 })
  t.same(other.timings(), {}, 'another request\'s timer has its own')
})
