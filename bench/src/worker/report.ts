import type { WorkerBenchResults, WorkerPhaseResult } from './worker-phase.js'

/** One target of the worker phase (issue: apply as fast as the ingest, lag p99 < 50 ms at 1,000/s). */
export interface WorkerTarget {
  target: string
  value: string
  met: boolean | null
}

const byShape = (r: WorkerBenchResults, shape: WorkerPhaseResult['shape'], load: WorkerPhaseResult['load']): WorkerPhaseResult | undefined =>
  r.phases.find(p => p.shape === shape && p.load === load)

export function workerTargets (r: WorkerBenchResults): WorkerTarget[] {
  const targets: WorkerTarget[] = []
  for (const shape of ['hot', 'spread'] as const) {
    const closed = byShape(r, shape, 'closed')
    if (closed !== undefined) {
      targets.push({
        target: `worker, ${shape}: apply rate >= ingest rate (${closed.name})`,
        value: `apply ${closed.applyEventsPerS}/s vs ingest ${closed.ingest.eventsPerS}/s, drained ${closed.drainS} s after the load`,
        met: closed.applyEventsPerS >= closed.ingest.eventsPerS
      })
    }
    const open = byShape(r, shape, 'open')
    if (open?.lagMs != null) {
      targets.push({
        target: `worker, ${shape}: webhook-to-ledger lag p99 < 50 ms (${open.name})`,
        value: `p50 ${open.lagMs.p50} ms, p99 ${open.lagMs.p99} ms (ingest held ${open.ingest.eventsPerS}/s, ${open.ingest.unsentPosts} posts unsent)`,
        met: open.lagMs.p99 < 50 && open.ingest.unsentPosts === 0
      })
    }
  }
  const refused = r.phases.reduce((n, p) => n + p.ingest.failedPosts, 0)
  const lost = r.phases.reduce((n, p) => n + p.confirmed - p.applied, 0)
  targets.push({ target: 'worker: every event confirmed before its 200, nothing refused, every confirmed event applied', value: `${refused} posts refused, ${lost} confirmed events not applied`, met: refused === 0 && lost === 0 })
  return targets
}

const cpu = (p: WorkerPhaseResult): string => Object.entries(p.cpuMsPerEvent).map(([k, v]) => `${k} ${v}`).join(', ')

/** The worker part of the one-screen summary. */
export function workerSummary (r: WorkerBenchResults): string {
  const lines: string[] = ['', `worker phase (webhook-ingest + txn-worker as processes${Object.keys(r.workerEnv).length > 0 ? `, ${JSON.stringify(r.workerEnv)}` : ''}):`, '']
  lines.push('| phase | ingest/s (p99 ms) | apply/s (events per batch) | drain s | lag p50 / p99 ms | CPU ms/event | PG commits / rows per event | books |')
  lines.push('|---|---|---|---|---|---|---|---|')
  for (const p of r.phases) {
    lines.push(`| ${p.name} | ${p.ingest.eventsPerS} (${p.ingest.p99Ms}) | ${p.applyEventsPerS} (${p.meanBatch}) | ${p.drainS} | ${p.lagMs === null ? '-' : `${p.lagMs.p50} / ${p.lagMs.p99}`} | ${cpu(p)} | ${p.postgres.commitsPerEvent} / ${p.postgres.rowsWrittenPerEvent} | ${p.invariantViolations === 0 ? 'ok' : `${p.invariantViolations} violations`} |`)
  }
  for (const a of r.applyPath) lines.push(`- apply path alone, hot account, ${a.mode}: ${a.eventsPerS}/s, PostgreSQL ${a.postgresCpuMsPerEvent} ms/event`)
  lines.push('')
  for (const t of workerTargets(r)) lines.push(`- [${t.met === null ? '?' : t.met ? 'met' : 'NOT met'}] ${t.target}: ${t.value}`)
  return lines.join('\n')
}

const esc = (s: string): string => s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)

/** The worker section of the HTML report. */
export function workerHtml (r: WorkerBenchResults): string {
  const rows = r.phases.map(p => `<tr><td>${esc(p.name)}</td><td>${p.confirmed}</td><td>${p.ingest.eventsPerS}</td><td>${p.ingest.p99Ms}</td><td>${p.applyEventsPerS} (${p.meanBatch} per batch)</td><td>${p.drainS}</td><td>${p.lagMs === null ? '-' : `${p.lagMs.p50} / ${p.lagMs.p99} (apply clock ${p.lagMs.applyClockP50} / ${p.lagMs.applyClockP99})`}</td><td>${esc(cpu(p))}</td><td>${p.postgres.commitsPerEvent} / ${p.postgres.rowsWrittenPerEvent}</td><td>${p.invariantViolations === 0 ? 'ok' : p.invariantViolations}</td></tr>`).join('\n')
  return `<h2>Worker: webhook to ledger</h2>
<p>webhook-ingest and txn-worker as processes; posts of 10 force captures; lag from the send of an event's post until it is seen committed (polled every 10 ms), the apply clock inside its batch in brackets.</p>
<table border="1" cellpadding="3" cellspacing="0"><tr><th>phase</th><th>events</th><th>ingest/s</th><th>ingest p99 ms</th><th>apply/s</th><th>drain s</th><th>lag p50 / p99 ms</th><th>CPU ms per event</th><th>PG commits / rows per event</th><th>books</th></tr>
${rows}</table>
<ul>${workerTargets(r).map(t => `<li>[${t.met === null ? '?' : t.met ? 'met' : 'NOT met'}] ${esc(t.target)}: ${esc(t.value)}</li>`).join('')}</ul>
`
}
