// `pnpm bench [--quick | --smoke] [--workloads W1,W3,worker]`: runs the side-by-side benchmark and writes
// bench/results/<date>.json, the HTML report beside it and the one-screen summary (also printed).
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { benchOptions, runBench, type BenchOptions } from './run.js'
import { htmlReport, textSummary } from './report.js'
import { topSelfTime } from './profile.js'
import { workerHtml, workerSummary } from './worker/report.js'
import type { WorkloadName } from './workloads.js'

const args = process.argv.slice(2)
const mode: BenchOptions['mode'] = args.includes('--smoke') ? 'smoke' : args.includes('--quick') ? 'quick' : 'full'
const options = benchOptions(mode)
const only = args.find(a => a.startsWith('--workloads='))?.split('=')[1]
if (only !== undefined) {
  // `worker` names the worker phase
  options.workloads = only.split(',').filter(w => w !== 'worker') as WorkloadName[]
  options.worker = only.split(',').includes('worker')
}
const outDir = args.find(a => a.startsWith('--out='))?.split('=')[1] ?? fileURLToPath(new URL('../results/', import.meta.url))
// --cpu-prof: each authorizer process (and the worker phase's txn-worker and webhook-ingest) writes a V8 CPU profile; the top functions are printed
const profDir = args.includes('--cpu-prof') ? `${outDir}/profiles-${Date.now()}` : undefined
if (profDir !== undefined) process.env.BENCH_CPU_PROF = profDir

const results = await runBench(options)
const summary = textSummary(results) + (results.worker === undefined ? '' : '\n' + workerSummary(results.worker))
mkdirSync(outDir, { recursive: true })
const stamp = results.date.slice(0, 19).replace(/:/g, '-')
const base = `${outDir}/${stamp}${mode === 'full' ? '' : `-${mode}`}`
writeFileSync(`${base}.json`, JSON.stringify({ ...results, summaryText: summary }, null, 2) + '\n')
writeFileSync(`${base}.html`, results.worker === undefined ? htmlReport(results, summary) : htmlReport(results, summary).replace('</body>', workerHtml(results.worker) + '</body>'))
writeFileSync(`${base}.summary.md`, summary + '\n')
process.stdout.write(`\n${summary}\n\nwritten: ${base}.json, .html, .summary.md\n`)
if (profDir !== undefined) {
  process.stdout.write(`\nauthorizer CPU profile (${profDir}), self time:\n`)
  for (const { fn, share } of topSelfTime(profDir)) process.stdout.write(`  ${share.toFixed(1).padStart(5)} %  ${fn}\n`)
  if (results.worker !== undefined) {
    process.stdout.write(`\ntxn-worker CPU profile (${profDir}/txn-worker), self time:\n`)
    for (const { fn, share } of topSelfTime(`${profDir}/txn-worker`)) process.stdout.write(`  ${share.toFixed(1).padStart(5)} %  ${fn}\n`)
  }
}
process.exitCode = results.failures.length > 0 ? 1 : 0
