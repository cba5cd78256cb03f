import type { PhaseResult, PhaseTiming } from './phase.js'
import type { Side, WorkloadName } from './workloads.js'

export interface SideFigures {
  phases: number
  /** Closed-loop JIT answers per second, one per phase. */
  throughput: number[]
  /** Highest open-loop rate held (p99 <= 50 ms, < 0.1 % errors and unsent), one per phase. */
  heldRate: number[]
  /** Closed-loop p99, ms, one per phase. */
  p99: number[]
  /** CPU ms per decision by process, averaged over the phases. */
  cpuMsPerDecision: Record<string, number>
}

export interface WorkloadSummary {
  workload: WorkloadName
  ours?: SideFigures
  base?: SideFigures
  /** ours / BASE, of the mean closed-loop throughput. */
  throughputRatio: number | null
  /** ours / BASE, of the mean highest held rate. */
  heldRatio: number | null
}

export interface Target {
  target: string
  value: string
  met: boolean | null
}

export interface Summary {
  workloads: WorkloadSummary[]
  targets: Target[]
}

const mean = (xs: number[]): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
const r2 = (v: number): number => Math.round(v * 100) / 100

function figures (phases: PhaseResult[]): SideFigures | undefined {
  if (phases.length === 0) return undefined
  const keys = new Set(phases.flatMap(p => Object.keys(p.cpuMsPerDecision)))
  const cpu: Record<string, number> = {}
  for (const k of keys) cpu[k] = Math.round(mean(phases.map(p => p.cpuMsPerDecision[k] ?? 0)) * 1000) / 1000
  return {
    phases: phases.length,
    throughput: phases.map(p => p.closed.jit.throughput),
    heldRate: phases.map(p => p.heldRate),
    p99: phases.map(p => p.closed.jit.latencyMs.p99),
    cpuMsPerDecision: cpu
  }
}

/** The p99 of each phase of a side at the ladder step closest to `rate` from below, ms. */
function p99Near (phases: PhaseResult[], rate: number): { rate: number, p99: number, held: boolean } | null {
  let best: { rate: number, p99: number, held: boolean } | null = null
  for (const p of phases) {
    for (const s of p.ladder) {
      if (s.rate > rate) continue
      if (best === null || s.rate > best.rate || (s.rate === best.rate && s.jit.latencyMs.p99 > best.p99)) best = { rate: s.rate, p99: s.jit.latencyMs.p99, held: s.held }
    }
  }
  return best
}

export function summarize (phases: PhaseResult[], _timing: PhaseTiming): Summary {
  const by = (w: WorkloadName, side: Side): PhaseResult[] => phases.filter(p => p.workload === w && p.side === side)
  const names = [...new Set(phases.map(p => p.workload))]
  const workloads: WorkloadSummary[] = names.map(w => {
    const ours = figures(by(w, 'ours'))
    const base = figures(by(w, 'base'))
    return {
      workload: w,
      ...(ours === undefined ? {} : { ours }),
      ...(base === undefined ? {} : { base }),
      throughputRatio: ours !== undefined && base !== undefined && mean(base.throughput) > 0 ? r2(mean(ours.throughput) / mean(base.throughput)) : null,
      heldRatio: ours !== undefined && base !== undefined && mean(base.heldRate) > 0 ? r2(mean(ours.heldRate) / mean(base.heldRate)) : null
    }
  })
  const get = (w: WorkloadName): WorkloadSummary | undefined => workloads.find(x => x.workload === w)
  const targets: Target[] = []
  const w1 = get('W1')
  const w3 = get('W3')
  const w4 = get('W4')
  if (w1 !== undefined) {
    targets.push({ target: 'W1 >= 0.5x BASE (closed-loop throughput; held rate in brackets)', value: `${w1.throughputRatio ?? '-'}x [${w1.heldRatio ?? '-'}x]`, met: w1.throughputRatio === null ? null : w1.throughputRatio >= 0.5 })
    const baseHeld = mean(w1.base?.heldRate ?? [])
    if (baseHeld > 0) {
      const at = 0.7 * baseHeld
      const ours = p99Near(by('W1', 'ours'), at)
      const base = p99Near(by('W1', 'base'), at)
      const comparable = ours !== null && base !== null && ours.rate === base.rate
      targets.push({
        target: `W1 p99 at 70 % of BASE's held rate (${Math.round(at)}/s) <= 1.5x BASE's`,
        value: comparable ? `${ours.p99} ms vs ${base.p99} ms at ${ours.rate}/s` : `ours reached ${ours?.rate ?? 0}/s only (p99 ${ours?.p99 ?? '-'} ms); BASE ${base?.p99 ?? '-'} ms at ${base?.rate ?? 0}/s`,
        met: comparable ? ours.p99 <= 1.5 * base.p99 : false
      })
    }
    const pgOurs = w1.ours?.cpuMsPerDecision.postgres
    const pgBase = w1.base?.cpuMsPerDecision.postgres
    if (pgOurs !== undefined && pgBase !== undefined && pgBase > 0) targets.push({ target: 'W1 PostgreSQL CPU per decision <= 2x BASE', value: `${pgOurs} vs ${pgBase} ms (${r2(pgOurs / pgBase)}x)`, met: pgOurs <= 2 * pgBase })
  }
  if (w3 !== undefined) {
    targets.push({ target: 'W3 >= 1.5x BASE', value: `${w3.throughputRatio ?? '-'}x [${w3.heldRatio ?? '-'}x]`, met: w3.throughputRatio === null ? null : w3.throughputRatio >= 1.5 })
    if (w1?.ours !== undefined && w3.ours !== undefined) {
      const ratio = r2(mean(w3.ours.throughput) / Math.max(1, mean(w1.ours.throughput)))
      targets.push({ target: 'W3 >= 0.85x our own W1', value: `${ratio}x`, met: ratio >= 0.85 })
    }
    const pgOurs = w3.ours?.cpuMsPerDecision.postgres
    const pgBase = w3.base?.cpuMsPerDecision.postgres
    if (pgOurs !== undefined && pgBase !== undefined && pgBase > 0) targets.push({ target: 'W3 PostgreSQL CPU per decision <= 2x BASE', value: `${pgOurs} vs ${pgBase} ms (${r2(pgOurs / pgBase)}x)`, met: pgOurs <= 2 * pgBase })
  }
  if (w4?.ours !== undefined && w1?.ours !== undefined) {
    // the highest rate both W4 and our W1 ran in their ladders
    const w4Phases = by('W4', 'ours')
    const w1Phases = by('W1', 'ours')
    const rates = w4Phases.flatMap(p => p.ladder.map(s => s.rate)).filter(r => w1Phases.some(p => p.ladder.some(s => s.rate === r)))
    const rate = rates.length === 0 ? null : Math.max(...rates)
    if (rate === null) targets.push({ target: 'W4 p99 <= 1.5x W1\'s at the same rate', value: 'no common rate', met: null })
    else {
      const p4 = Math.max(...w4Phases.flatMap(p => p.ladder.filter(s => s.rate === rate).map(s => s.jit.latencyMs.p99)))
      const p1 = Math.max(...w1Phases.flatMap(p => p.ladder.filter(s => s.rate === rate).map(s => s.jit.latencyMs.p99)))
      targets.push({ target: 'W4 p99 <= 1.5x W1\'s at the same rate', value: `${p4} vs ${p1} ms at ${rate}/s`, met: p4 <= 1.5 * p1 })
    }
  }
  return { workloads, targets }
}

const range = (xs: number[]): string => {
  if (xs.length === 0) return '-'
  const lo = Math.min(...xs)
  const hi = Math.max(...xs)
  return lo === hi ? String(lo) : `${lo}-${hi}`
}

/** The one-screen summary printed at the end and pasted into the README. */
export function textSummary (r: { date: string, mode: string, commit: string, machine: { cpus: number, loadavgBefore: number[], loadavgAfter: number[] }, summary: Summary, failures: string[], elapsedS: number }): string {
  const lines: string[] = []
  lines.push(`pnpm bench${r.mode === 'full' ? '' : ` --${r.mode}`}: ${r.date.slice(0, 16)}Z, commit ${r.commit}, ${r.machine.cpus} cores shared with other work (load ${r.machine.loadavgBefore[0]} -> ${r.machine.loadavgAfter[0]}), ${r.elapsedS} s`)
  lines.push('')
  lines.push('| workload | ours/s | BASE/s | ratio | held ours / BASE | p99 ours / BASE (32 conns) | PG CPU ms/decision ours / BASE | authorizer CPU ms/decision |')
  lines.push('|---|---|---|---|---|---|---|---|')
  for (const w of r.summary.workloads) {
    lines.push(`| ${w.workload} | ${range(w.ours?.throughput ?? [])} | ${range(w.base?.throughput ?? [])} | ${w.throughputRatio ?? '-'} | ${range(w.ours?.heldRate ?? [])} / ${range(w.base?.heldRate ?? [])} | ${range(w.ours?.p99 ?? [])} / ${range(w.base?.p99 ?? [])} ms | ${w.ours?.cpuMsPerDecision.postgres ?? '-'} / ${w.base?.cpuMsPerDecision.postgres ?? '-'} | ${w.ours?.cpuMsPerDecision.authorizer ?? '-'} (BASE ${w.base?.cpuMsPerDecision.base ?? '-'}) |`)
  }
  lines.push('')
  for (const t of r.summary.targets) lines.push(`- [${t.met === null ? '?' : t.met ? 'met' : 'NOT met'}] ${t.target}: ${t.value}`)
  if (r.failures.length > 0) {
    lines.push('')
    lines.push(`FAILED: ${r.failures.length} problem(s)`)
    for (const f of r.failures) lines.push(`- ${f.split('\n')[0] ?? ''}`)
  } else {
    lines.push('- books: the invariant check passed after every phase')
  }
  return lines.join('\n')
}

const esc = (s: string): string => s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)

/** Latency (log scale) against the open-loop rate: p50, p99 and p99.9 of every phase. */
function svgCurves (phases: PhaseResult[], title: string): string {
  const W = 640
  const H = 320
  const M = { l: 56, r: 16, t: 28, b: 40 }
  const steps = phases.flatMap(p => p.ladder)
  const maxRate = Math.max(100, ...steps.map(s => s.rate))
  const maxLat = Math.max(10, ...steps.map(s => s.jit.latencyMs.p999))
  const minLat = 0.5
  const x = (rate: number): number => M.l + rate / maxRate * (W - M.l - M.r)
  const y = (ms: number): number => {
    const v = Math.log10(Math.max(minLat, ms))
    return H - M.b - (v - Math.log10(minLat)) / (Math.log10(maxLat * 1.2) - Math.log10(minLat)) * (H - M.t - M.b)
  }
  const color: Record<Side, string> = { ours: '#1f77b4', base: '#ff7f0e' }
  const dash = { p50: '', p99: '6 3', p999: '2 3' } as const
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${M.l}" y="16" font-size="13">${esc(title)}</text>`,
    `<line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" stroke="#999"/>`,
    `<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" stroke="#999"/>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">open-loop rate, requests/s</text>`]
  for (const ms of [1, 10, 50, 100, 1000, 10000]) {
    if (ms > maxLat * 1.2) continue
    parts.push(`<line x1="${M.l}" y1="${y(ms)}" x2="${W - M.r}" y2="${y(ms)}" stroke="${ms === 50 ? '#c00' : '#eee'}"/><text x="${M.l - 4}" y="${y(ms) + 4}" text-anchor="end">${ms} ms</text>`)
  }
  for (let i = 0; i <= 4; i++) {
    const rate = Math.round(maxRate * i / 4)
    parts.push(`<text x="${x(rate)}" y="${H - M.b + 14}" text-anchor="middle">${rate}</text>`)
  }
  for (const p of phases) {
    for (const q of ['p50', 'p99', 'p999'] as const) {
      const pts = p.ladder.map(s => `${x(s.rate).toFixed(1)},${y(s.jit.latencyMs[q]).toFixed(1)}`).join(' ')
      if (pts !== '') parts.push(`<polyline fill="none" stroke="${color[p.side]}" stroke-width="1.5" stroke-dasharray="${dash[q]}" points="${pts}"><title>${p.side} phase ${p.order} ${q}</title></polyline>`)
    }
  }
  parts.push(`<text x="${W - M.r - 200}" y="${M.t + 4}" fill="${color.ours}">ours</text><text x="${W - M.r - 160}" y="${M.t + 4}" fill="${color.base}">BASE</text><text x="${W - M.r - 120}" y="${M.t + 4}">solid p50, dashed p99, dotted p99.9</text>`)
  parts.push('</svg>')
  return parts.join('\n')
}

export function htmlReport (r: { date: string, phases: PhaseResult[], summary: Summary, machine: { note: string } }, summaryText: string): string {
  const sections = [...new Set(r.phases.map(p => p.workload))].map(w => {
    const ps = r.phases.filter(p => p.workload === w)
    const rows = ps.map(p => `<tr><td>${p.order}</td><td>${p.side}</td><td>${p.closed.jit.throughput}</td><td>${p.closed.jit.latencyMs.p50}</td><td>${p.closed.jit.latencyMs.p99}</td><td>${p.heldRate}</td><td>${esc(JSON.stringify(p.cpuMsPerDecision))}</td><td>${p.invariants.length === 0 ? 'ok' : esc(JSON.stringify(p.invariants.slice(0, 3)))}</td></tr>`).join('\n')
    return `<h2>${w}</h2>\n${svgCurves(ps, `${w}: latency from the scheduled time against the arrival rate`)}\n<table border="1" cellpadding="3" cellspacing="0"><tr><th>phase</th><th>side</th><th>closed-loop/s</th><th>p50 ms</th><th>p99 ms</th><th>held rate</th><th>CPU ms per decision</th><th>books</th></tr>\n${rows}</table>`
  })
  return `<!doctype html><html><head><meta charset="utf-8"><title>JIT benchmark ${esc(r.date)}</title></head><body style="font-family:sans-serif;max-width:1000px">
<h1>JIT decisions: ours against BASE</h1>
<pre>${esc(summaryText)}</pre>
<p>${esc(r.machine.note)}</p>
${sections.join('\n')}
</body></html>\n`
}
