import t from 'tap'
import { createMetricsRegistry, createProfiler } from '../src/index.js'

// The profiler sits on the JIT decision path, so its own cost per stage matters. This measures it
// with the real clock and prints it; the assertion is deliberately loose because unit tests run in
// parallel on a small shared machine. `pnpm bench` runs this file alone for a quieter number.
const ITERATIONS = 200_000
const STAGES = ['user', 'card', 'limits', 'decision'] as const

t.test('overhead per stage timing', async (t) => {
  const profiler = createProfiler({ stages: STAGES, registry: createMetricsRegistry({ service: 'bench' }) })

  const measure = (label: string, run: (i: number) => void): number => {
    for (let i = 0; i < 20_000; i++) run(i) // warm up so the JIT compiler has done its work
    const began = process.hrtime.bigint()
    for (let i = 0; i < ITERATIONS; i++) run(i)
    const perCallUs = Number(process.hrtime.bigint() - began) / ITERATIONS / 1000
    t.comment(`${label}: ${perCallUs.toFixed(3)} µs per call over ${ITERATIONS} calls`)
    return perCallUs
  }

  const markUs = measure('timer.mark(stage)', (i) => {
    profiler.start().mark(STAGES[i & 3] as typeof STAGES[number])
  })
  const recordUs = measure('profiler.recordStage(stage, ms)', (i) => {
    profiler.recordStage(STAGES[i & 3] as typeof STAGES[number], (i % 100) / 10)
  })
  const requestUs = measure('a whole request: start, 4 marks, end(outcome)', (i) => {
    const timer = profiler.start()
    for (const stage of STAGES) timer.mark(stage)
    timer.end(i % 10 === 0 ? 'declined' : 'approved', i % 10 === 0 ? 'INSUFFICIENT_FUNDS' : undefined)
  })
  // stage() is async, so its cost is compared with awaiting the same function bare.
  const fn = async (): Promise<number> => 1
  const timeAsync = async (run: () => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < 20_000; i++) await run()
    const began = process.hrtime.bigint()
    for (let i = 0; i < ITERATIONS; i++) await run()
    return Number(process.hrtime.bigint() - began) / ITERATIONS / 1000
  }
  const timer = profiler.start()
  const bareUs = await timeAsync(fn)
  const stagedUs = await timeAsync(() => timer.stage('user', fn))
  const asyncUs = Math.max(0, stagedUs - bareUs)
  t.comment(`await timer.stage(stage, asyncFn): ${stagedUs.toFixed(3)} µs per call, ${asyncUs.toFixed(3)} µs above a bare await (${bareUs.toFixed(3)} µs)`)

  // Everything was recorded: the loop was not optimised away.
  t.ok(profiler.snapshot().stages.user.count > ITERATIONS, 'all timings recorded')
  for (const [label, us] of [['mark', markUs], ['recordStage', recordUs], ['stage', asyncUs]] as const) {
    t.ok(us < 50, `${label} overhead ${us.toFixed(3)} µs is below the loose 50 µs bound`)
  }
  t.ok(requestUs < 250, `whole-request overhead ${requestUs.toFixed(3)} µs`)
})
