import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// `pnpm audit --audit-level high` must be clean, or every high or critical finding must be
// explained in docs/security.md (by its advisory id or the module's name). Where the registry does
// not answer audit requests (some mirrors answer 405), nothing can be concluded: the test says so
// and is skipped, rather than passing as if the audit were clean.
const root = fileURLToPath(new URL('../../../../', import.meta.url))

interface AuditReport {
  error?: { code?: string, message?: string }
  advisories?: Record<string, { id?: number, github_advisory_id?: string, module_name?: string, severity?: string, title?: string }>
  metadata?: { vulnerabilities?: Record<string, number> }
}

const output = await new Promise<string>(resolve => {
  execFile('pnpm', ['audit', '--audit-level', 'high', '--json'], { cwd: root, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout) => resolve(stdout))
})
let report: AuditReport | null = null
try { report = JSON.parse(output) as AuditReport } catch { report = null }
const unanswered = report === null || report.error !== undefined

t.test('pnpm audit --audit-level high: clean, or each finding explained in docs/security.md', { skip: unanswered ? `the registry did not answer the audit (${report?.error?.code ?? 'no JSON'}: ${(report?.error?.message ?? output).slice(0, 200)})` : false }, async t => {
  const doc = readFileSync(join(root, 'docs', 'security.md'), 'utf8')
  const high = Object.values(report?.advisories ?? {}).filter(a => a.severity === 'high' || a.severity === 'critical')
  const unexplained = high.filter(a => ![a.github_advisory_id, a.module_name].some(k => typeof k === 'string' && doc.includes(k)))
  t.same(unexplained.map(a => `${a.module_name ?? '?'} ${a.github_advisory_id ?? a.id ?? ''}: ${a.title ?? ''}`), [], `${high.length} high or critical findings, each explained`)
})
