import t from 'tap'
import { createProfiler, type ProfilerSnapshot } from '../src/index.js'
import { fakeClock } from './helpers.js'

t.test('invalid options are refused at construction', async (t) => {
  t.throws(() => createProfiler({ stages: [] }), /at least one stage/)
  t.throws(() => createProfiler({ stages: ['a', 'a'] }), /unique/)
  t.throws(() => createProfiler({ stages: ['total'] }), /reserved/)
  t.throws(() => createProfiler({ name: 'jit-auth', stages: ['a'] }), /metric prefix/)
  t.throws(() => createProfiler({ stages: ['a'], windowMs: 0 }), /windowMs/)
  t.throws(() => createProfiler({ stages: ['a'], windowSlices: 1.5 }), /windowSlices/)
  t.throws(() => createProfiler({ stages: ['a'], warnMs: -1 }), /warnMs/)
  t.throws(() => createProfiler({ stages: ['a'], warnMs: 200 }), /criticalMs \(100\) is below warnMs \(200\)/)
  t.throws(() => createProfiler({ stages: ['a'], thresholds: { a: { criticalMs: 10 } } }), /a: criticalMs/)
})

t.test('the snapshot is plain JSON of the documented shape', async (t) => {
  const clock = fakeClock()
  const profiler = createProfiler({ name: 'jit', stages: ['user', 'card', 'limits', 'decision'], now: clock.now, windowMs: 30_000 })
  const timer = profiler.start()
  for (const stage of profiler.stages) {
    clock.advance(2)
    timer.mark(stage)
  }
  timer.end('approved')
  const snapshot = profiler.snapshot()
  const parsed = JSON.parse(JSON.stringify(snapshot)) as ProfilerSnapshot
  t.same(parsed, snapshot, 'nothing is lost in JSON')
  t.same(Object.keys(snapshot).sort(), ['approvals', 'name', 'stages', 'total', 'windowMs'])
  t.same(Object.keys(snapshot.stages), ['user', 'card', 'limits', 'decision'], 'stages in declared order')
  t.same(Object.keys(snapshot.stages.user).sort(), ['count', 'criticalMs', 'criticals', 'max', 'mean', 'p50', 'p95', 'p99', 'warnMs', 'warnings'])
  t.same(Object.keys(snapshot.approvals).sort(), ['answered', 'approved', 'declined', 'rate', 'reasons', 'window'])
  t.equal(snapshot.windowMs, 30_000)
  t.equal(snapshot.total.count, 1)
  t.equal(snapshot.total.max, 8)
  t.equal(snapshot.approvals.rate, 1)
})
