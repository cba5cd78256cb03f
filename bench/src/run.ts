import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { HOT_ACCOUNT, databaseExists, createDatabase, dropDatabase, dropOldSeeds, hotCards, seedDatabase, seedName, uniformCards, type SeedSpec } from './database.js'
import { readFileSync } from 'node:fs'
import { createTestVhost } from '@jit/test-support'
import { runPhase, type PhaseResult, type PhaseTiming } from './phase.js'
import { freePort, startService, stopService } from './procs.js'
import { summarize, type Summary } from './report.js'
import { workloads, type Side, type WorkloadName } from './workloads.js'
import { runWorkerPhases, workerBenchOptions, type WorkerBenchResults } from './worker/worker-phase.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

export interface BenchOptions {
  mode: 'full' | 'quick' | 'smoke'
  seed: SeedSpec
  timing: PhaseTiming
  workloads: WorkloadName[]
  /** Phases per workload, in this order (the alternation cancels drift on a shared machine). */
  order: Side[]
  /** The worker phase (webhook to ledger) after the decision workloads. */
  worker: boolean
  log: (line: string) => void
}

export function benchOptions (mode: BenchOptions['mode'], log: (line: string) => void = line => process.stdout.write(line + '\n')): BenchOptions {
  const order: Side[] = ['ours', 'base', 'base', 'ours']
  const all: WorkloadName[] = ['W1', 'W3', 'W4']
  if (mode === 'smoke') {
    return {
      mode,
      seed: { accounts: 300, balance: 100_000_000, hotCards: 20, hotBalance: 1_000_000_000_000 },
      timing: { warmupMs: 300, closedMs: 800, connections: 8, stepMs: 600, ladderStart: 40, ladderFactor: 2, ladderMax: 80, maxInFlight: 32, poolMax: 5 },
      workloads: all,
      order: ['ours', 'base'],
      worker: true,
      log
    }
  }
  const seed: SeedSpec = { accounts: 20_000, balance: 100_000_000, hotCards: 200, hotBalance: 1_000_000_000_000 }
  return {
    mode,
    seed,
    timing: TIMING[mode],
    workloads: all,
    order,
    worker: true,
    log
  }
}

/** Phase timing of the quick and full runs: same seed, workloads and order, shorter phases and a coarser ladder for quick. */
const TIMING: Record<'quick' | 'full', PhaseTiming> = {
  quick: { warmupMs: 1500, closedMs: 3000, connections: 32, stepMs: 1500, ladderStart: 60, ladderFactor: 1.6, ladderMax: 12_000, maxInFlight: 256, poolMax: 20 },
  full: { warmupMs: 5000, closedMs: 10_000, connections: 32, stepMs: 5000, ladderStart: 50, ladderFactor: 1.25, ladderMax: 12_000, maxInFlight: 256, poolMax: 20 }
}

export interface BenchResults {
  date: string
  mode: BenchOptions['mode']
  commit: string
  machine: { cpus: number, model: string, loadavgBefore: number[], loadavgAfter: number[], note: string }
  options: { seed: SeedSpec, timing: PhaseTiming, order: Side[] }
  phases: PhaseResult[]
  summary: Summary
  /** The worker phase, when it ran. */
  worker?: WorkerBenchResults
  /** Invariant violations or failed phases: the run fails. */
  failures: string[]
  elapsedS: number
}

function gitCommit (): string {
  try {
    const head = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head}+uncommitted` : head
  } catch {
    return 'unknown'
  }
}

/** The services' environment on the seed being built, with a vhost of its own. */
async function withSeedEnv (url: string, run: (env: Record<string, string>) => Promise<void>): Promise<void> {
  const td: Array<() => unknown> = []
  try {
    const amqpUrl = await createTestVhost({ teardown: fn => { td.push(fn) } }, 'bench-migrate')
    await run({ DEPLOY_ENV: 'local', LOG_LEVEL: 'warn', HOST: '127.0.0.1', DATABASE_URL: url, REDIS_KEY_PREFIX: 'jit-bench-migrate:', AMQP_URL: amqpUrl })
  } finally {
    for (const fn of td) await fn()
  }
}

/** Starts the authorizer on the seed being built and stops it once `whileRunning` has resolved. */
async function withAuthorizer (url: string, whileRunning: () => Promise<void>): Promise<void> {
  await withSeedEnv(url, async env => {
    const jitPort = await freePort()
    const jit = await startService('authorizer (seed)', `${root}services/jit-authorizer/dist/server.js`, { ...env, PORT: String(jitPort), JIT_BASIC_AUTH: 'jit:change-me' }, jitPort)
    try {
      await whileRunning()
    } finally {
      await stopService(jit)
    }
  })
}

/** Starts the authorizer and the worker once on the new seed: both apply their migrations. */
async function migrate (url: string): Promise<void> {
  await withSeedEnv(url, async env => {
    const port = await freePort()
    const worker = await startService('worker (migrations)', `${root}services/txn-worker/dist/server.js`, { ...env, PORT: String(port), OPERATOR_BASIC_AUTH: 'ops:change-me' }, port)
    await stopService(worker)
  })
  await withAuthorizer(url, async () => {})
}

export async function ensureSeed (opts: BenchOptions): Promise<string> {
  const name = seedName(root, opts.seed)
  if (await databaseExists(name)) return name
  if (opts.mode !== 'smoke') await dropOldSeeds(name)
  opts.log(`seeding ${name} (${opts.seed.accounts} accounts, ${opts.seed.hotCards} cards on one hot account) through the ledger's API...`)
  const building = `${name}_building`
  await dropDatabase(building)
  const url = await createDatabase(building)
  await migrate(url)
  await seedDatabase(url, opts.seed, readFileSync(`${root}bench/base/schema.sql`, 'utf8'), withAuthorizer)
  await createDatabase(name, building)
  await dropDatabase(building)
  return name
}

/** Runs every phase and returns the results (writing them is the caller's business). */
export async function runBench (opts: BenchOptions): Promise<BenchResults> {
  const t0 = Date.now()
  const loadBefore = loadavg()
  const seedDatabase = await ensureSeed(opts)
  const runId = Date.now().toString(36)
  const phases: PhaseResult[] = []
  const failures: string[] = []
  let order = 0
  for (const w of workloads(opts.seed).filter(w => opts.workloads.includes(w.name))) {
    const sides = w.sides.length === 1 ? opts.order.map(() => w.sides[0] as Side).slice(0, Math.max(1, opts.order.length / 2)) : opts.order
    for (const side of sides) {
      order++
      opts.log(`${w.name} ${side} (phase ${order}): ${w.description}`)
      try {
        const r = await runPhase({ workload: w, side, order, runId, seedDatabase, seed: opts.seed, timing: opts.timing, log: opts.log })
        phases.push(r)
        if (r.invariants.length > 0) failures.push(`${w.name} ${side} phase ${order}: ${r.invariants.length} invariant violation(s): ${JSON.stringify(r.invariants.slice(0, 3))}`)
        for (const e of r.errors) failures.push(`${w.name} ${side} phase ${order}: ${e}`)
      } catch (err) {
        failures.push(`${w.name} ${side} phase ${order} failed: ${(err as Error).message}`)
        opts.log(`  failed: ${(err as Error).message}`)
      }
    }
  }
  let worker: WorkerBenchResults | undefined
  if (opts.worker) {
    opts.log('worker: webhook-ingest and txn-worker as processes, on a copy of the seed')
    try {
      const template = { name: seedDatabase, hot: hotCards(opts.seed)[0] ?? { user: 'hu-0', card: 'hc-0', account: HOT_ACCOUNT }, spread: uniformCards(opts.seed) }
      worker = await runWorkerPhases({ ...workerBenchOptions(opts.mode, opts.log), template })
      failures.push(...worker.failures)
    } catch (err) {
      failures.push(`worker phase failed: ${(err as Error).message}`)
      opts.log(`  failed: ${(err as Error).message}`)
    }
  }
  const cpuInfo = cpus()
  return {
    date: new Date().toISOString(),
    mode: opts.mode,
    commit: gitCommit(),
    machine: {
      cpus: cpuInfo.length,
      model: cpuInfo[0]?.model ?? 'unknown',
      loadavgBefore: loadBefore.map(v => Math.round(v * 100) / 100),
      loadavgAfter: loadavg().map(v => Math.round(v * 100) / 100),
      note: 'The machine is shared with other engineers\' builds and tests: absolute figures are noisy; the ratios come from alternated phases (ours, BASE, BASE, ours) of one run. Redis and RabbitMQ CPU is of the shared servers.'
    },
    options: { seed: opts.seed, timing: opts.timing, order: opts.order },
    phases,
    summary: summarize(phases, opts.timing),
    ...(worker === undefined ? {} : { worker }),
    failures,
    elapsedS: Math.round((Date.now() - t0) / 1000)
  }
}
