// `pnpm --filter @jit/bench profile [--workload=W1] [--rate=60] [--seconds=20] [--seed=<db>] [--out=<dir>]`:
// the authorizer alone (ours, as the bench starts it) under a fixed open-loop rate, with a V8
// CPU profile; prints its self time per decision (total and by function) over the measured
// window only. CPU time per decision moves far less with the load of a shared machine than
// throughput does, so this is the figure to compare before and after a change.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runOpenLoop } from '@jit/processor-sim'
import { benchOptions, ensureSeed } from './run.js'
import postgres from 'postgres'
import { adminUrl, createDatabase, dropDatabase } from './database.js'
import { startSide, teardowns } from './phase.js'
import { workloads, type WorkloadName } from './workloads.js'
import { windowSelfTime } from './profile.js'

const args = process.argv.slice(2)
const arg = (name: string, fallback: string): string => args.find(a => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const workloadName = arg('workload', 'W1') as WorkloadName
const rate = Number(arg('rate', '60'))
const seconds = Number(arg('seconds', '20'))
const outDir = arg('out', fileURLToPath(new URL('../results/', import.meta.url)))
const log = (line: string): void => { process.stdout.write(line + '\n') }

const options = benchOptions('quick', log)
const workload = workloads(options.seed).find(w => w.name === workloadName)
if (workload === undefined || workload.lifecycle) throw new Error(`--workload: one of W1, W3 (got ${workloadName})`)
// --seed=<database>: reuse a seed (its name changes with every SQL file; the authorizer applies
// changed function files to the copy at start anyway)
const seed = args.some(a => a.startsWith('--seed=')) ? arg('seed', '') : await ensureSeed(options)
const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-')
const profDir = `${outDir}/profiles-${stamp}-${workloadName}`
mkdirSync(profDir, { recursive: true })
process.env.BENCH_CPU_PROF = profDir
const database = `jit_bench_profile_${Date.now().toString(36)}`
const td = teardowns()
const url = await createDatabase(database, seed)
td.teardown(async () => { await dropDatabase(database) })
let window: { from: bigint, to: bigint }
let answered: number
let transactions: number
try {
  const started = await startSide('ours', workload, database, url, options.timing, td)
  const streams = workload.streams({ side: 'ours', phaseId: `prof-${Date.now().toString(36)}`, seed: options.seed, jitOrigin: started.jit.origin, jitAuthorization: started.jitAuthorization })
  const jit = streams[0]
  if (jit === undefined) throw new Error('no JIT stream')
  // warm at the measured rate (code optimized, start-up done), outside the measured window
  await runOpenLoop({ origin: jit.origin, rate, durationMs: 5000, maxInFlight: 256, request: jit.request, check: jit.check })
  // Transactions of this database per decision (every statement outside a transaction is one):
  // a count, unlike CPU time not stretched by a loaded machine. Statistics reach the view within
  // a second of their transaction, hence the pause before each reading.
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  const commits = async (): Promise<number> => {
    await new Promise(resolve => setTimeout(resolve, 1500))
    const [row] = await admin<Array<{ n: string }>>`select xact_commit::text as n from pg_stat_database where datname = ${database}`
    return Number(row?.n ?? 0)
  }
  const commitsBefore = await commits()
  const from = process.hrtime.bigint()
  const result = await runOpenLoop({ origin: jit.origin, rate, durationMs: seconds * 1000, maxInFlight: 256, request: jit.request, check: jit.check })
  window = { from, to: process.hrtime.bigint() }
  transactions = await commits() - commitsBefore
  await admin.end({ timeout: 5 })
  answered = result.ok + result.errors
  log(`${workloadName} at ${rate}/s for ${seconds} s: ${answered} answered (${result.errors} errors, ${result.unsent} unsent), p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`)
} finally {
  await td.run() // stops the authorizer: it writes its profile
}
const files = readdirSync(profDir).filter(f => f.endsWith('.cpuprofile'))
if (files.length !== 1) throw new Error(`expected one profile in ${profDir}, found ${files.length}`)
const profile = windowSelfTime(JSON.parse(readFileSync(`${profDir}/${files[0] as string}`, 'utf8')), window.from, window.to)
const perDecision = (us: number): number => Math.round(us / Math.max(1, answered) * 1000) / 1_000_000
const report = {
  date: new Date().toISOString(),
  workload: workloadName,
  rate,
  seconds,
  answered,
  // the measured window on the machine's monotonic clock, µs (the profile's own time base)
  windowUs: { from: Number(window.from / 1000n), to: Number(window.to / 1000n) },
  busyMsPerDecision: perDecision(profile.busyUs),
  // includes the relay's polls and the pauses around the window (about 3 s)
  transactionsPerDecision: Math.round(transactions / Math.max(1, answered) * 100) / 100,
  sampledMs: Math.round(profile.sampledUs / 1000),
  top: profile.top.map(f => ({ fn: f.fn, msPerDecision: perDecision(f.selfUs) }))
}
writeFileSync(`${outDir}/profile-${stamp}-${workloadName}.json`, JSON.stringify(report, null, 2) + '\n')
log(`authorizer CPU (profile self time, (idle) excluded) per decision: ${report.busyMsPerDecision} ms over ${report.sampledMs} ms sampled; PostgreSQL transactions per decision: ${report.transactionsPerDecision}`)
for (const f of report.top) log(`  ${f.msPerDecision.toFixed(4).padStart(8)} ms  ${f.fn}`)
log(`written: ${outDir}/profile-${stamp}-${workloadName}.json, profile in ${profDir}`)
