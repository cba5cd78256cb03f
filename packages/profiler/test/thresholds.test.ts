import t from 'tap'
import { createProfiler } from '../src/index.js'
import { capturedLogger, fakeClock } from './helpers.js'

t.test('every breach is counted, but each level logs once per window per stage', async (t) => {
  const clock = fakeClock(0)
  const { logger, lines } = capturedLogger()
  const profiler = createProfiler({ stages: ['user', 'card'], now: clock.now, logger, windowMs: 10_000 })

  profiler.recordStage('user', 50) // exactly at the threshold is within budget
  t.equal(lines.length, 0)
  for (let i = 0; i < 100; i++) {
    profiler.recordStage('user', 60)
    clock.advance(10)
  }
  let user = profiler.snapshot().stages.user
  t.equal(user.warnings, 100, 'every warning breach counted')
  t.equal(user.criticals, 0)
  t.equal(lines.length, 1, 'one warning log for 100 breaches: no log storm')
  t.match(lines[0], { level: 40, msg: 'latency above warning threshold', profiler: 'jit', stage: 'user', ms: 60, thresholdMs: 50, breaches: 1 })

  // Critical is tracked separately from warning: its first breach logs even inside the warning's window.
  for (let i = 0; i < 5; i++) profiler.recordStage('user', 150)
  user = profiler.snapshot().stages.user
  t.equal(user.criticals, 5)
  t.equal(user.warnings, 100, 'a critical breach is not also a warning')
  t.equal(lines.length, 2)
  t.match(lines[1], { level: 50, msg: 'latency above critical threshold', stage: 'user', ms: 150, thresholdMs: 100 })

  // Another stage has its own suppression window.
  profiler.recordStage('card', 70)
  t.equal(lines.length, 3)
  t.match(lines[2], { stage: 'card', level: 40 })

  // After the window the next breach logs again, reporting how many breaches it stands for.
  clock.advance(10_000)
  profiler.recordStage('user', 60)
  t.equal(lines.length, 4)
  t.match(lines[3], { stage: 'user', level: 40, breaches: 100 }, '99 suppressed + this one')
  profiler.recordStage('user', 60)
  t.equal(lines.length, 4, 'suppressed again inside the new window')
})

t.test('the total has thresholds too, and per-stage overrides apply', async (t) => {
  const clock = fakeClock(0)
  const { logger, lines } = capturedLogger()
  const profiler = createProfiler({
    stages: ['user', 'decision'],
    now: clock.now,
    logger,
    thresholds: { user: { warnMs: 5, criticalMs: 10 }, total: { warnMs: 150, criticalMs: 250 } }
  })
  profiler.recordStage('user', 7)
  profiler.recordStage('decision', 7)
  profiler.recordTotal(120)
  profiler.recordTotal(300)
  const snap = profiler.snapshot()
  t.equal(snap.stages.user.warnings, 1, 'user uses its own 5 ms threshold')
  t.equal(snap.stages.decision.warnings, 0, 'decision keeps the 50 ms default')
  t.same([snap.total.warnings, snap.total.criticals], [0, 1], 'total: 120 ms is within 150, 300 ms is above 250')
  t.same([snap.total.warnMs, snap.total.criticalMs], [150, 250])
  t.same(lines.map((l) => [l.stage, l.level]), [['user', 40], ['total', 50]])
})

t.test('without a logger breaches are still counted', async (t) => {
  const profiler = createProfiler({ stages: ['user'], now: fakeClock().now })
  profiler.recordStage('user', 1000)
  t.equal(profiler.snapshot().stages.user.criticals, 1)
  t.match(await profiler.metrics(), /jit_latency_breaches_total\{stage="user",level="critical"\} 1/)
})
