// The benchmark's machinery and books on a tiny seed (not its speed): every workload, both sides,
// real processes on the real servers, invariants after every phase, the three outputs written.
import t from 'tap'
import { benchOptions, runBench } from '../src/run.js'
import { htmlReport, textSummary } from '../src/report.js'

t.test('pnpm bench --smoke: every phase runs, every request is accounted for, the books hold', async t => {
  const lines: string[] = []
  const results = await runBench(benchOptions('smoke', line => lines.push(line)))
  t.same(results.failures, [], 'no failed phase and no invariant violation')
  const expected = [['W1', 'ours'], ['W1', 'base'], ['W3', 'ours'], ['W3', 'base'], ['W4', 'ours']]
  t.same(results.phases.map(p => [p.workload, p.side]), expected, 'phases in the alternated order')
  for (const p of results.phases) {
    const name = `${p.workload} ${p.side}`
    const runs = [p.closed.jit, ...p.ladder.map(s => s.jit)]
    for (const r of runs) {
      t.equal(r.sent + r.unsent, r.scheduled, `${name}: scheduled = sent + unsent`)
      t.equal(r.ok + r.errors, r.sent, `${name}: sent = ok + errors`)
    }
    t.ok(p.closed.jit.ok > 0 && p.closed.jit.errors === 0, `${name}: closed loop answered without errors`)
    t.ok(p.ladder.length > 0, `${name}: the open-loop ladder ran`)
    const answered = runs.reduce((n, r) => n + r.ok, 0)
    // every answer was recorded (repeats of a token answer from the one recorded decision)
    if (p.workload !== 'W4') t.ok(p.decisionsRecorded >= answered, `${name}: ${p.decisionsRecorded} decisions recorded for ${answered} answers in the measured parts`)
    t.ok(p.cpuMsPerDecision.postgres !== undefined && p.cpuMsPerDecision.postgres > 0, `${name}: PostgreSQL CPU measured`)
    if (p.workload === 'W4') t.ok((p.closed.webhooks?.ok ?? 0) > 0, 'W4: webhooks accepted while the worker runs')
  }
  const summary = textSummary(results)
  t.match(summary, /\| W1 \|/)
  t.match(summary, /books: the invariant check passed/)
  t.ok(results.summary.targets.length >= 5, 'every target evaluated')
  const html = htmlReport(results, summary)
  t.match(html, /<svg[^>]*>[\s\S]*<polyline/, 'the HTML draws the curves as SVG')
})
