#!/usr/bin/env node
// Counts test results from tap's per-file result streams (.tap/test-results/**/*.tap in every
// workspace package) and prints `N passed, N failed`. A test is a top-level test point of a file
// (a t.test block or a top-level assertion). A test file with no results, or whose stream does not
// reach its plan, counts as one failed test, so a crash can never look like success.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
let passed = 0
let failed = 0
let skipped = 0
const failures = []
// wall time of each test file, from the `# time=` line its stream ends with
const fileTimes = []

function walk (dir, match, out = []) {
  if (!existsSync(dir)) return out
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) walk(path, match, out)
    else if (match(path)) out.push(path)
  }
  return out
}

// bench/ is a package at the top level (the benchmark and its smoke test)
for (const group of ['packages', 'services', 'tests', '.']) {
  const groupDir = join(root, group)
  if (!existsSync(groupDir)) continue
  for (const pkg of group === '.' ? ['bench'] : readdirSync(groupDir)) {
    const pkgDir = join(groupDir, pkg)
    const testFiles = walk(join(pkgDir, 'test'), p => p.endsWith('.test.ts'))
    for (const file of testFiles) {
      const rel = relative(pkgDir, file)
      const resultFile = join(pkgDir, '.tap', 'test-results', rel + '.tap')
      if (!existsSync(resultFile)) {
        failed++
        failures.push(`${group}/${pkg}/${rel}: no results (did not run)`)
        continue
      }
      const lines = readFileSync(resultFile, 'utf8').split('\n')
      const timeLine = lines.filter(l => /^# time=/.test(l)).pop()
      if (timeLine !== undefined) fileTimes.push({ suite: `${group}/${pkg}`, file: rel, ms: Number(/time=([\d.]+)ms/.exec(timeLine)?.[1] ?? 0) })
      let points = 0
      let plan = -1
      for (const line of lines) {
        const m = /^(not )?ok \d+( - (.*))?/.exec(line)
        if (m !== null) {
          points++
          if (/# (SKIP|TODO)/i.test(line)) { skipped++; continue }
          if (m[1] !== undefined) { failed++; failures.push(`${group}/${pkg}/${rel}: ${m[3] ?? line}`) } else passed++
          continue
        }
        const p = /^1\.\.(\d+)/.exec(line)
        if (p !== null) plan = Number(p[1])
        if (/^Bail out!/.test(line)) { failed++; failures.push(`${group}/${pkg}/${rel}: bailed out`) }
      }
      if (plan < 0 || points < plan) {
        failed++
        failures.push(`${group}/${pkg}/${rel}: ended early (${points} of ${plan < 0 ? '?' : plan} results)`)
      }
    }
  }
}

// Each suite's time (a package's files run in parallel, so its wall time is at most the sum),
// and the files the CI budget names on their own.
const bySuite = new Map()
for (const f of fileTimes) bySuite.set(f.suite, (bySuite.get(f.suite) ?? 0) + f.ms)
console.log('suite times (sum of file times, s):')
for (const [suite, ms] of [...bySuite].sort((a, b) => b[1] - a[1])) console.log(`  ${suite.padEnd(32)} ${(ms / 1000).toFixed(1).padStart(7)}`)
const named = [
  ['model test', /ledger-model\.test\.ts$/], ['faults', /faults\/faults\.test\.ts$/], ['fuzz', /fuzz\//],
  ['nginx', /nginx\.test\.ts$/], ['prometheus', /^test\/prometheus\.test\.ts$/], ['browser', /browser\.test\.ts$/]
]
for (const [name, re] of named) {
  const ms = fileTimes.filter(f => re.test(f.file) && (name !== 'prometheus' || f.suite === 'tests/infra')).reduce((a, f) => a + f.ms, 0)
  console.log(`  [${name}] ${(ms / 1000).toFixed(1)} s`)
}

for (const f of failures) console.log(`FAILED: ${f}`)
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exitCode = failed > 0 ? 1 : 0
