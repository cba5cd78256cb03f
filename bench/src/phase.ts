import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { runClosedLoop, runOpenLoop, isHeld, type LoadResult } from '@jit/processor-sim'
import { createTestRedisPrefix, createTestVhost } from '@jit/test-support'
import type { InvariantViolation } from '@jit/ledger'
import { adminUrl, createDatabase, dropDatabase, checkBaseInvariants, checkOurInvariants, waitForOutboxDrained, type SeedSpec } from './database.js'
import { cpuOf, cpuSpent, freePort, pidsNamed, startService, stopService, type Service } from './procs.js'
import type { Side, Stream, Workload } from './workloads.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** How long each part of a phase runs, and the ladder of open-loop rates. */
export interface PhaseTiming {
  warmupMs: number
  closedMs: number
  /** Closed-loop connections (split across a workload's streams by share). */
  connections: number
  stepMs: number
  ladderStart: number
  ladderFactor: number
  /** The ladder stops at the first step that does not hold, or above this rate. */
  ladderMax: number
  /** Open-loop in-flight cap per 1.0 of share. */
  maxInFlight: number
  /** DATABASE_POOL_MAX of both sides. */
  poolMax: number
}

export interface LadderStep {
  rate: number
  held: boolean
  /** The JIT stream (what the processor waits for). */
  jit: LoadResult
  webhooks?: LoadResult
}

export interface PhaseResult {
  workload: Workload['name']
  side: Side
  order: number
  closed: { jit: LoadResult, webhooks?: LoadResult }
  ladder: LadderStep[]
  heldRate: number
  /** CPU ms per answered JIT request over the closed-loop measurement, by process. */
  cpuMsPerDecision: Record<string, number>
  invariants: InvariantViolation[]
  /** Decisions recorded in the phase's database (both sides record every decision). */
  decisionsRecorded: number
  errors: string[]
}

function strongPassword (): string {
  return 'Bq7!' + randomBytes(18).toString('base64url')
}

function basic (user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64')
}

export interface Teardowns { teardown: (fn: () => unknown) => void, run: () => Promise<void> }
export function teardowns (): Teardowns {
  const fns: Array<() => unknown> = []
  return {
    teardown: fn => { fns.push(fn) },
    run: async () => { for (const fn of fns.reverse()) await Promise.resolve(fn()).catch(() => {}) }
  }
}

async function backendPids (database: string): Promise<number[]> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    const rows = await sql<Array<{ pid: number }>>`select pid from pg_stat_activity where datname = ${database}`
    return rows.map(r => r.pid)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

export async function startSide (side: Side, workload: Workload, database: string, url: string, timing: PhaseTiming, td: Teardowns): Promise<{ services: Service[], jitAuthorization: string, webhookAuthorization?: string, jit: Service, webhooks?: Service }> {
  const jitPassword = strongPassword()
  if (side === 'base') {
    const port = await freePort()
    const base = await startService('base', `${root}bench/base/server.mjs`, {
      BASE_PORT: String(port), BASE_DATABASE_URL: url, BASE_POOL_MAX: String(timing.poolMax), BASE_BASIC_AUTH: `bench:${jitPassword}`
    }, port)
    td.teardown(async () => { await stopService(base) })
    return { services: [base], jitAuthorization: basic('bench', jitPassword), jit: base }
  }
  const prefix = createTestRedisPrefix(td, database)
  const amqpUrl = await createTestVhost(td, database)
  const common = {
    NODE_ENV: 'production',
    DEPLOY_ENV: 'local',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    DATABASE_POOL_MIN: String(Math.min(5, timing.poolMax)),
    DATABASE_POOL_MAX: String(timing.poolMax),
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: prefix,
    AMQP_URL: amqpUrl
  }
  const services: Service[] = []
  const port = await freePort()
  // BENCH_CPU_PROF=<dir>: the authorizer writes a V8 CPU profile there when it stops (see `pnpm bench --cpu-prof`)
  const profDir = process.env.BENCH_CPU_PROF
  // JIT_BATCH_MAX and JIT_BATCH_CONCURRENCY set for the bench are the authorizer's (its batching under test)
  const batching = Object.fromEntries(['JIT_BATCH_MAX', 'JIT_BATCH_CONCURRENCY'].flatMap(k => { const v = process.env[k]; return v === undefined || v === '' ? [] : [[k, v]] }))
  const jit = await startService('authorizer', `${root}services/jit-authorizer/dist/server.js`, { ...common, ...batching, PORT: String(port), JIT_BASIC_AUTH: `bench:${jitPassword}` }, port,
    profDir === undefined || profDir === '' ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] })
  td.teardown(async () => { await stopService(jit) })
  services.push(jit)
  if (!workload.lifecycle) return { services, jitAuthorization: basic('bench', jitPassword), jit }
  const hookPassword = strongPassword()
  const workerPort = await freePort()
  const worker = await startService('worker', `${root}services/txn-worker/dist/server.js`, { ...common, PORT: String(workerPort), OPERATOR_BASIC_AUTH: `ops:${strongPassword()}` }, workerPort)
  td.teardown(async () => { await stopService(worker) })
  const hookPort = await freePort()
  const webhooks = await startService('webhook-ingest', `${root}services/webhook-ingest/dist/server.js`, { ...common, PORT: String(hookPort), WEBHOOK_BASIC_AUTH: `hooks:${hookPassword}` }, hookPort)
  td.teardown(async () => { await stopService(webhooks) })
  services.push(worker, webhooks)
  return { services, jitAuthorization: basic('bench', jitPassword), webhookAuthorization: basic('hooks', hookPassword), jit, webhooks }
}

async function closedLoop (streams: Stream[], durationMs: number, connections: number): Promise<Record<string, LoadResult>> {
  const results = await Promise.all(streams.map(async s => await runClosedLoop({
    origin: s.origin, connections: Math.max(1, Math.round(connections * s.share)), durationMs, request: s.request, check: s.check
  })))
  return Object.fromEntries(streams.map((s, i) => [s.name, results[i] as LoadResult]))
}

async function openLoop (streams: Stream[], rate: number, durationMs: number, maxInFlight: number): Promise<Record<string, LoadResult>> {
  const results = await Promise.all(streams.map(async s => await runOpenLoop({
    origin: s.origin, rate: rate * s.share, durationMs, maxInFlight: Math.max(4, Math.round(maxInFlight * s.share)), request: s.request, check: s.check
  })))
  return Object.fromEntries(streams.map((s, i) => [s.name, results[i] as LoadResult]))
}

/** A phase: a fresh copy of the seed, one side's processes, warm-up, closed loop, ladder, books. */
export async function runPhase (opts: { workload: Workload, side: Side, order: number, runId: string, seedDatabase: string, seed: SeedSpec, timing: PhaseTiming, log: (line: string) => void }): Promise<PhaseResult> {
  const { workload, side, timing } = opts
  const database = `jit_bench_${opts.runId}_${opts.order}`
  const td = teardowns()
  const errors: string[] = []
  const url = await createDatabase(database, opts.seedDatabase)
  td.teardown(async () => { await dropDatabase(database) })
  try {
    const started = await startSide(side, workload, database, url, timing, td)
    // the seed's outbox was published when it was made; if anything is still pending, the relay
    // publishes it now, outside the measurement (BASE has no outbox)
    if (side === 'ours') await withSql(url, async sql => await waitForOutboxDrained(sql, 120_000))
    const ctx = {
      side,
      phaseId: `${opts.runId}-${opts.order}`,
      seed: opts.seed,
      jitOrigin: started.jit.origin,
      jitAuthorization: started.jitAuthorization,
      ...(started.webhooks === undefined ? {} : { webhookOrigin: started.webhooks.origin, webhookAuthorization: started.webhookAuthorization })
    }
    const streams = workload.streams(ctx)
    await closedLoop(streams, timing.warmupMs, timing.connections)

    // CPU over the closed-loop measurement: our services, this database's backends, the shared brokers
    const backends = await backendPids(database)
    const groups: Record<string, number[]> = { postgres: backends }
    for (const s of started.services) groups[s.name] = [s.pid]
    if (side === 'ours') {
      groups.redis = pidsNamed('redis-server')
      groups.rabbitmq = pidsNamed('beam.smp')
    }
    const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, cpuOf(pids)]))
    const generatorBefore = process.cpuUsage()
    const closed = await closedLoop(streams, timing.closedMs, timing.connections)
    const generatorUs = process.cpuUsage(generatorBefore)
    const jitClosed = closed.jit as LoadResult
    const answered = Math.max(1, jitClosed.ok)
    const cpuMsPerDecision: Record<string, number> = {}
    for (const [k, pids] of Object.entries(groups)) cpuMsPerDecision[k] = round3(cpuSpent(before[k] as Map<number, number>, cpuOf(pids)) / answered)
    cpuMsPerDecision.generator = round3((generatorUs.user + generatorUs.system) / 1000 / answered)
    opts.log(`  closed loop ${timing.connections} connections: ${jitClosed.throughput}/s, p50 ${jitClosed.latencyMs.p50} ms, p99 ${jitClosed.latencyMs.p99} ms, errors ${jitClosed.errors}; CPU ms/decision ${JSON.stringify(cpuMsPerDecision)}`)

    const ladder: LadderStep[] = []
    const ceiling = Math.min(timing.ladderMax, Math.max(timing.ladderStart, jitClosed.throughput * 1.6))
    for (let rate = timing.ladderStart; rate <= ceiling; rate = Math.round(rate * timing.ladderFactor)) {
      const step = await openLoop(streams, rate, timing.stepMs, timing.maxInFlight)
      const jit = step.jit as LoadResult
      const held = isHeld(jit) && (step.webhooks === undefined || step.webhooks.errors + step.webhooks.unsent === 0)
      ladder.push({ rate, held, jit, ...(step.webhooks === undefined ? {} : { webhooks: step.webhooks }) })
      opts.log(`  ${rate}/s: p50 ${jit.latencyMs.p50} p99 ${jit.latencyMs.p99} p99.9 ${jit.latencyMs.p999} ms, unsent ${jit.unsent}, errors ${jit.errors}${held ? '' : ' (not held)'}`)
      if (!held) break
    }
    const heldRate = ladder.filter(s => s.held).reduce((m, s) => Math.max(m, s.rate), 0)

    for (const s of started.services) if (s.child.exitCode !== null) errors.push(`${s.name} exited during the phase:\n${s.output()}`)
    if (workload.lifecycle) await new Promise(resolve => setTimeout(resolve, 1500)) // let the worker drain
    const { invariants, decisionsRecorded } = await withSql(url, async sql => {
      const invariants = side === 'ours' ? await checkOurInvariants(sql) : await checkBaseInvariants(sql)
      const [row] = side === 'ours'
        ? await sql<Array<{ n: number }>>`select count(*)::int as n from decisions`
        : await sql<Array<{ n: number }>>`select count(*)::int as n from base.decisions`
      return { invariants, decisionsRecorded: row?.n ?? 0 }
    })
    return {
      workload: workload.name,
      side,
      order: opts.order,
      closed: { jit: jitClosed, ...(closed.webhooks === undefined ? {} : { webhooks: closed.webhooks }) },
      ladder,
      heldRate,
      cpuMsPerDecision,
      invariants,
      decisionsRecorded,
      errors
    }
  } finally {
    await td.run()
  }
}

async function withSql<T> (url: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    return await run(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

function round3 (v: number): number {
  return Math.round(v * 1000) / 1000
}
