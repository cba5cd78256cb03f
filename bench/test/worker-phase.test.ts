// The worker phase's machinery and books on a tiny seed (not its speed): webhook-ingest and
// txn-worker as processes, every confirmed event found applied, the lag measured, the invariant
// check after every phase, the summary and HTML sections written. Needs the services built.
import t from 'tap'
import { runWorkerPhases, workerBenchOptions } from '../src/worker/worker-phase.js'
import { workerHtml, workerSummary, workerTargets } from '../src/worker/report.js'

t.test('worker phase --smoke: every confirmed event reaches the ledger once, the books hold', async t => {
  const lines: string[] = []
  const r = await runWorkerPhases(workerBenchOptions('smoke', line => lines.push(line)))
  t.same(r.failures, [], 'no lost event, no refused post, no invariant violation')
  t.same(r.phases.map(p => [p.shape, p.load]), [['hot', 'closed'], ['spread', 'closed'], ['hot', 'open'], ['spread', 'open']])
  for (const p of r.phases) {
    t.ok(p.confirmed > 0, `${p.name}: ${p.confirmed} events confirmed`)
    t.equal(p.applied, p.confirmed, `${p.name}: every confirmed event applied`)
    t.equal(p.invariantViolations, 0, `${p.name}: invariants`)
    t.ok(p.applyEventsPerS > 0 && p.ingest.eventsPerS > 0, `${p.name}: rates measured`)
    t.ok(p.meanBatch >= 1, `${p.name}: ${p.meanBatch} events per batch`)
    t.ok((p.cpuMsPerEvent['txn-worker'] ?? 0) > 0 && (p.cpuMsPerEvent['postgres (this database)'] ?? 0) > 0, `${p.name}: CPU of the worker and of its PostgreSQL backends measured`)
    t.ok(p.postgres.commitsPerEvent > 0 && p.postgres.rowsWrittenPerEvent > 0, `${p.name}: PostgreSQL work per event measured`)
    if (p.load === 'open') t.ok(p.lagMs !== null && p.lagMs.p99 >= p.lagMs.p50 && p.lagMs.p50 >= 0, `${p.name}: lag measured`)
    else t.equal(p.lagMs, null, `${p.name}: no lag in a closed loop`)
  }
  t.equal(r.applyPath.length, 4, 'the apply path alone: per event, batched with savepoints, batched pipelined, batched in one statement')
  t.equal(workerTargets(r).length, 5, 'every worker target evaluated')
  t.match(workerSummary(r), /\| hot account, 4 senders \|/)
  t.match(workerHtml(r), /<table[\s\S]*spread at 200 events\/s/)
})
