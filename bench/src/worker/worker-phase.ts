/**
 * The worker phase: webhook-ingest and txn-worker as real processes on a database and vhost of
 * their own. Measures the ingest rate with every event confirmed (200 only after the broker's
 * confirm), the apply rate for one hot account and for events spread over many accounts, the
 * webhook-to-ledger lag at a fixed arrival rate (open loop), and the CPU per event of each
 * process (from /proc/<pid>/stat), with the PostgreSQL commits and rows written per event. The
 * invariant check runs after every phase.
 * Run alone: `pnpm bench:worker [--quick | --smoke]` (WORKER_PREFETCH, WORKER_BATCH_MAX override the
 * worker's settings); `pnpm bench` runs it after the decision workloads.
 */
import { createHmac } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { applyTransactionEvent, applyTransactionEventBatch, applyTransactionEvents, batchApplyOrder, checkLedgerInvariants, creditAccount, upsertCard, upsertUser, type TransactionEventInput } from '@jit/ledger'
import { purchasesOf, runClosedLoop, runOpenLoop, webhookBatch, type LoadResult } from '@jit/processor-sim'
import { createTestVhost, freePort, sharedRedisUrl } from '@jit/test-support'
import { createDatabase, dropDatabase, waitForOutboxDrained } from '../database.js'
import { cpuMs, cpuOf, cpuSpent, pidsNamed, startService, stopService, type Service } from '../procs.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const HOOK_USER = 'marqeta'
const HOOK_PASS = 'bench-change-me-Passw0rd'
const HOOK_SECRET = 'bench-change-me-hmac-secret'
const PER_POST = 10
// the bench's own connections, left out of the PostgreSQL CPU and commits of the phase
const BENCH_APP = 'jit-bench-worker'
// how often the open-loop phases look for the events that reached the ledger (bounds the lag's resolution)
const LAG_POLL_MS = 10
const LAG_POLL_WINDOW = 200

function * take<T> (items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return
  for (const item of items) {
    yield item
    if (--n === 0) return
  }
}

export interface Card { user: string, card: string, account: string }

/** How the worker phase runs. */
export interface WorkerBenchOptions {
  mode: 'full' | 'quick' | 'smoke'
  /** Length of each load, ms. */
  durationMs: number
  /** Closed-loop senders (each posts its next batch of 10 when the previous is confirmed). */
  senders: number
  /** Accounts of the spread shape. */
  accounts: number
  /** Fixed arrival rate of the lag phases, events/s. */
  rate: number
  /** Worker settings passed to the process (e.g. WORKER_PREFETCH); the defaults otherwise. */
  workerEnv: Record<string, string>
  /** V8 CPU profiles of both processes written there when set. */
  cpuProfDir?: string
  /**
   * A seeded database to copy (the decision workloads' seed, `pnpm bench`): its uniform cards
   * are the spread shape and its hot account the hot one; without it a database is seeded here.
   */
  template?: { name: string, hot: Card, spread: Card[] }
  log: (line: string) => void
}

export function workerBenchOptions (mode: WorkerBenchOptions['mode'], log: (line: string) => void = line => process.stdout.write(line + '\n')): WorkerBenchOptions {
  const workerEnv: Record<string, string> = {}
  for (const k of ['WORKER_PREFETCH', 'WORKER_BATCH_MAX', 'WORKER_CONCURRENCY']) {
    const v = process.env[k]
    if (v !== undefined && v !== '') workerEnv[k] = v
  }
  const cpuProfDir = process.env.BENCH_CPU_PROF
  const common = { mode, workerEnv, log, ...(cpuProfDir === undefined || cpuProfDir === '' ? {} : { cpuProfDir }) }
  if (mode === 'smoke') return { ...common, durationMs: 1000, senders: 4, accounts: 200, rate: 200 }
  if (mode === 'quick') return { ...common, durationMs: 4000, senders: 16, accounts: 10_000, rate: 1000 }
  return { ...common, durationMs: 10_000, senders: 16, accounts: 10_000, rate: 1000 }
}

export interface WorkerPhaseResult {
  name: string
  shape: 'hot' | 'spread'
  load: 'closed' | 'open'
  /** Events confirmed by the ingest (200 answers x 10). */
  confirmed: number
  /** Of them, found applied in the ledger at the end. */
  applied: number
  ingest: { eventsPerS: number, okPosts: number, failedPosts: number, unsentPosts: number, p50Ms: number, p99Ms: number }
  /** Applied events per second, from the first send to the last event applied. */
  applyEventsPerS: number
  /** Seconds from the end of the load until the last event was applied. */
  drainS: number
  /** Transaction events per database transaction of the worker (its txn_worker_batch_size). */
  meanBatch: number
  /**
   * Open loop only: from the send of an event's post to the event seen committed in the ledger
   * (polled every 10 ms, so up to ~10 ms more than the truth), and to the database clock of its
   * apply inside its batch (a lower bound: the batch commits after it).
   */
  lagMs: { p50: number, p99: number, max: number, applyClockP50: number, applyClockP99: number } | null
  cpuMsPerEvent: Record<string, number>
  /** Of this database, per applied event, the bench's own queries left out. */
  postgres: { commitsPerEvent: number, rowsWrittenPerEvent: number }
  invariantViolations: number
}

export interface WorkerBenchResults {
  mode: WorkerBenchOptions['mode']
  workerEnv: Record<string, string>
  /** The apply path alone on one connection (hot account), without the broker. */
  applyPath: ApplyPathResult[]
  phases: WorkerPhaseResult[]
  failures: string[]
}

function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

async function seed (sql: postgres.Sql, n: number): Promise<{ hot: Card, spread: Card[] }> {
  const fund = async (c: Card, balance: number): Promise<void> => {
    await upsertUser(sql as never, { user_token: c.user, status: 'ACTIVE' })
    await upsertCard(sql as never, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })
    await creditAccount(sql as never, { accountToken: c.account, currency: 'USD', amount: balance, effectKind: 'bench.load', effectKey: `load-${c.account}` })
  }
  const hot = { user: 'wb-hot', card: 'wb-hot-card', account: 'wb-hot' }
  await fund(hot, 1_000_000_000_00)
  const spread = Array.from({ length: n }, (_, i) => ({ user: `wb-${i}`, card: `wb-c-${i}`, account: `wb-${i}` }))
  for (let i = 0; i < spread.length; i += 16) await Promise.all(spread.slice(i, i + 16).map(async c => await fund(c, 1_000_000_00)))
  return { hot, spread }
}

/** Posts of PER_POST force captures; `sent` records each event token with its send time. */
function webhookRequest (pick: (seq: number) => Card, sent: Map<string, number>) {
  const auth = 'Basic ' + Buffer.from(`${HOOK_USER}:${HOOK_PASS}`).toString('base64')
  return (seq: number) => {
    const c = pick(seq)
    const sim = purchasesOf(c)
    const events = Array.from({ length: PER_POST }, () => sim.forceCapture(100))
    const body = JSON.stringify(webhookBatch('transactions', events))
    const now = Date.now()
    for (const e of events) sent.set(String(e.token), now)
    return {
      path: '/v1/webhooks/marqeta',
      method: 'POST' as const,
      headers: { authorization: auth, 'content-type': 'application/json', 'x-marqeta-signature': createHmac('sha256', HOOK_SECRET).update(body).digest('hex') },
      body
    }
  }
}

interface WorkerCounts {
  /** Transaction events handled (applied, duplicate, parked or ignored). */
  handled: number
  /** Transaction events in batches, and the batches (database transactions). */
  batched: number
  batches: number
}

/** The worker's counters of the transactions queue, from its /metrics. */
async function workerCounts (origin: string): Promise<WorkerCounts> {
  const text = await (await fetch(`${origin}/metrics`)).text()
  const counts: WorkerCounts = { handled: 0, batched: 0, batches: 0 }
  for (const line of text.split('\n')) {
    const m = /^txn_worker_(messages_applied_total|duplicates_skipped_total|events_ignored_total|events_parked_total|batch_size_sum|batch_size_count)\{([^}]*)\} (\d+)/.exec(line)
    if (m === null || (m[1] !== 'events_parked_total' && !(m[2] ?? '').includes('queue="transactions"'))) continue
    const v = Number(m[3])
    if (m[1] === 'batch_size_sum') counts.batched += v
    else if (m[1] === 'batch_size_count') counts.batches += v
    else counts.handled += v
  }
  return counts
}

interface DbCounters { commits: number, rows: number }

async function dbCounters (sql: postgres.Sql): Promise<DbCounters> {
  // the statistics are flushed by each backend about once a second: read after a pause
  const [row] = await sql<Array<{ commits: string, rows: string }>>`
    select xact_commit as commits, tup_inserted + tup_updated + tup_deleted as rows
    from pg_stat_database where datname = current_database()`
  return { commits: Number(row?.commits ?? 0), rows: Number(row?.rows ?? 0) }
}

/** The PostgreSQL backends serving this database, except the bench's own. */
async function serviceBackends (sql: postgres.Sql): Promise<number[]> {
  const rows = await sql<Array<{ pid: number }>>`
    select pid from pg_stat_activity where datname = current_database() and application_name <> ${BENCH_APP}`
  return rows.map(r => r.pid)
}

interface PhaseContext {
  sql: postgres.Sql
  worker: Service
  ingest: Service
  log: (line: string) => void
}

async function phase (ctx: PhaseContext, name: string, shape: WorkerPhaseResult['shape'], kind: WorkerPhaseResult['load'], load: (sent: Map<string, number>) => Promise<LoadResult>): Promise<WorkerPhaseResult> {
  const { sql, worker, ingest, log } = ctx
  const sent = new Map<string, number>()
  const procs: Record<string, number[]> = {
    'webhook-ingest': [ingest.pid],
    'txn-worker': [worker.pid],
    'postgres (this database)': await serviceBackends(sql),
    rabbitmq: pidsNamed('beam.smp')
  }
  const pids = Object.values(procs).flat()
  await new Promise(resolve => setTimeout(resolve, 1100))
  const db0 = await dbCounters(sql)
  const counts0 = await workerCounts(worker.origin)
  const cpu0 = cpuOf(pids)
  const t0 = Date.now()
  let benchQueries = 0

  // open loop: each event's first sighting in the ledger, polled while the load runs
  const seen = new Map<string, number>()
  const pending = new Set<string>()
  let loading = true
  const watch = kind === 'open'
    ? (async () => {
        const taken = new Set<string>()
        for (;;) {
          for (const k of sent.keys()) if (!taken.has(k)) { taken.add(k); pending.add(k) }
          if (pending.size > 0) {
            // the oldest pending events only (the worker applies them about in order): a query of
            // every pending event each 10 ms would itself load the machine once the worker lags
            const oldest = [...take(pending, LAG_POLL_WINDOW)]
            const rows = await sql<Array<{ key: string }>>`select e.key from ${appliedEffects(sql, oldest)}`
            benchQueries++
            const at = Date.now()
            for (const r of rows) { seen.set(r.key, at); pending.delete(r.key) }
          }
          if (!loading && pending.size === 0 && taken.size === sent.size) return
          if (!loading && Date.now() - t0 > 300_000) return
          await new Promise(resolve => setTimeout(resolve, LAG_POLL_MS))
        }
      })()
    : Promise.resolve()

  const r = await load(sent)
  const tIngest = Date.now()
  const confirmedPosts = r.statuses['200'] ?? 0
  const confirmed = confirmedPosts * PER_POST
  // every confirmed event must reach the ledger (the worker's counters say when, without a query per poll)
  let lastApplied = tIngest
  let counts1 = counts0
  const deadline = Date.now() + 300_000
  for (;;) {
    counts1 = await workerCounts(worker.origin)
    lastApplied = Date.now()
    if (counts1.handled - counts0.handled >= confirmed || Date.now() > deadline) break
    // each scrape costs the worker CPU: every 100 ms is a tenth of a second of resolution on a drain of seconds
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  loading = false
  await watch
  const cpu1 = cpuOf(pids)
  const tokens = [...sent.keys()]
  const rows = await sql<Array<{ key: string, at: Date }>>`select e.key, e.applied_at as at from ${appliedEffects(sql, tokens)}`
  benchQueries++
  const appliedAt = new Map(rows.map(row => [row.key, row.at.getTime()]))
  await new Promise(resolve => setTimeout(resolve, 1100))
  const db1 = await dbCounters(sql)
  const applied = appliedAt.size
  const perEvent = (v: number): number => Math.round(v / Math.max(1, applied) * 1000) / 1000
  const cpuPerEvent: Record<string, number> = {}
  for (const [proc, list] of Object.entries(procs)) {
    const before = new Map([...cpu0].filter(([p]) => list.includes(p)))
    cpuPerEvent[proc] = perEvent(cpuSpent(before, cpu1))
  }
  let lagMs: WorkerPhaseResult['lagMs'] = null
  if (kind === 'open') {
    const lags = [...seen].map(([k, at]) => at - (sent.get(k) ?? at)).sort((a, b) => a - b)
    const clock = [...appliedAt].map(([k, at]) => at - (sent.get(k) ?? at)).sort((a, b) => a - b)
    lagMs = { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags[lags.length - 1] ?? NaN, applyClockP50: quantile(clock, 0.5), applyClockP99: quantile(clock, 0.99) }
  }
  const violations = await checkLedgerInvariants(sql as never)
  const result: WorkerPhaseResult = {
    name,
    shape,
    load: kind,
    confirmed,
    applied,
    ingest: {
      eventsPerS: Math.round(confirmed / ((tIngest - t0) / 1000)),
      okPosts: confirmedPosts,
      failedPosts: r.sent - confirmedPosts,
      unsentPosts: r.unsent,
      p50Ms: Math.round(r.latencyMs.p50 * 10) / 10,
      p99Ms: Math.round(r.latencyMs.p99 * 10) / 10
    },
    applyEventsPerS: Math.round(applied / ((lastApplied - t0) / 1000)),
    drainS: Math.round((lastApplied - tIngest) / 100) / 10,
    meanBatch: Math.round((counts1.batched - counts0.batched) / Math.max(1, counts1.batches - counts0.batches) * 10) / 10,
    lagMs,
    cpuMsPerEvent: cpuPerEvent,
    // the dbCounters reads themselves are one commit each
    postgres: { commitsPerEvent: perEvent(db1.commits - db0.commits - benchQueries - 2), rowsWrittenPerEvent: perEvent(db1.rows - db0.rows) },
    invariantViolations: violations.length
  }
  if (applied < confirmed) log(`  ${name}: only ${applied} of ${confirmed} confirmed events reached the ledger`)
  log(`  ${name}: ingest ${result.ingest.eventsPerS}/s, apply ${result.applyEventsPerS}/s (${result.meanBatch} per batch), drain ${result.drainS} s${lagMs === null ? '' : `, lag p50 ${lagMs.p50} p99 ${lagMs.p99} ms`}, CPU ms/event ${JSON.stringify(cpuPerEvent)}, PG ${JSON.stringify(result.postgres)}, violations ${violations.length}`)
  return result
}

/**
 * The force-capture effects of these keys, one index probe per key (`e`). With `key = any(...)`
 * and statistics where the seed's effects are all credits, the planner took the index on the
 * kind alone and filtered every force capture, on each 10 ms poll: a scan that grew with the
 * phase and was most of the lag measured on a copy of the seed (p99 268 ms against 39 ms on a
 * fresh seed, the same minute).
 */
function appliedEffects (sql: postgres.Sql, keys: string[]): postgres.Fragment {
  return sql`unnest(${keys}::text[]) as k (key) cross join lateral (select x.key, x.applied_at from effects x where x.kind = 'force_capture' and x.key = k.key offset 0) e`
}

/** What applying force captures of one account costs without the broker: one transaction per event vs batches. */
export interface ApplyPathResult { mode: string, events: number, eventsPerS: number, postgresCpuMsPerEvent: number }

/**
 * The apply path alone, on one PostgreSQL connection (so its backend's CPU is readable): the same
 * force captures of the hot account applied one transaction each, then in batches of `batch`.
 */
async function applyPathComparison (url: string, hot: Card, events: number, batch: number): Promise<ApplyPathResult[]> {
  const one = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: BENCH_APP } })
  try {
    const [{ pid } = { pid: 0 }] = await one<Array<{ pid: number }>>`select pg_backend_pid() as pid`
    const sim = purchasesOf(hot)
    const make = (): TransactionEventInput[] => Array.from({ length: events }, () => sim.forceCapture(100) as TransactionEventInput)
    const out: ApplyPathResult[] = []
    const measure = async (mode: string, run: (evs: TransactionEventInput[]) => Promise<void>): Promise<void> => {
      const evs = make()
      const c0 = cpuMs(pid) ?? 0
      const t0 = performance.now()
      await run(evs)
      const wall = performance.now() - t0
      out.push({ mode, events, eventsPerS: Math.round(events / (wall / 1000)), postgresCpuMsPerEvent: Math.round(((cpuMs(pid) ?? 0) - c0) / events * 1000) / 1000 })
    }
    await measure('one transaction per event', async evs => {
      for (const e of evs) await one.begin(async tx => await applyTransactionEvent(tx as never, e))
    })
    await measure(`batches of ${batch} (savepoint each)`, async evs => {
      for (let i = 0; i < evs.length; i += batch) await one.begin(async tx => await applyTransactionEventBatch(tx as never, evs.slice(i, i + batch)))
    })
    // one statement per event, pipelined: one round trip, but a socket write and a parse/bind/execute each
    await measure(`batches of ${batch} (pipelined, a statement each)`, async evs => {
      for (let i = 0; i < evs.length; i += batch) {
        const part = evs.slice(i, i + batch)
        await one.begin(async tx => await Promise.all(batchApplyOrder(part).map(async k => await applyTransactionEvent(tx as never, part[k] as TransactionEventInput))))
      }
    })
    // as txn-worker applies a batch that has no failing event: the whole batch in one statement
    await measure(`batches of ${batch} (one statement, as the worker)`, async evs => {
      for (let i = 0; i < evs.length; i += batch) await one.begin(async tx => await applyTransactionEvents(tx as never, evs.slice(i, i + batch)))
    })
    return out
  } finally {
    await one.end({ timeout: 5 })
  }
}

/** Runs the worker phases and returns their results; an invariant violation or a lost event is a failure. */
export async function runWorkerPhases (opts: WorkerBenchOptions): Promise<WorkerBenchResults> {
  const { log } = opts
  const td: Array<() => unknown> = []
  const dbName = `bench_worker_${Date.now().toString(36)}`
  const url = await createDatabase(dbName, opts.template?.name)
  const services: Service[] = []
  const sql = postgres(url, { max: 4, onnotice: () => {}, connection: { application_name: BENCH_APP } })
  const failures: string[] = []
  try {
    const amqpUrl = await createTestVhost({ teardown: fn => { td.push(fn) } }, 'bench-worker')
    const env = {
      DEPLOY_ENV: 'local',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      AMQP_URL: amqpUrl,
      REDIS_URL: sharedRedisUrl,
      REDIS_KEY_PREFIX: `${dbName}:`,
      OPERATOR_BASIC_AUTH: 'ops:change-me',
      WEBHOOK_BASIC_AUTH: `${HOOK_USER}:${HOOK_PASS}`,
      WEBHOOK_HMAC_SECRET: HOOK_SECRET,
      ...opts.workerEnv
    }
    const prof = (name: string): { nodeArgs?: string[] } => {
      if (opts.cpuProfDir === undefined) return {}
      mkdirSync(`${opts.cpuProfDir}/${name}`, { recursive: true })
      return { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}/${name}`] }
    }
    const workerPort = await freePort()
    const worker = await startService('txn-worker', `${root}services/txn-worker/dist/server.js`, { ...env, PORT: String(workerPort) }, workerPort, prof('txn-worker'))
    services.push(worker)
    const ingestPort = await freePort()
    const ingest = await startService('webhook-ingest', `${root}services/webhook-ingest/dist/server.js`, { ...env, PORT: String(ingestPort) }, ingestPort, prof('webhook-ingest'))
    services.push(ingest)
    let cards: { hot: Card, spread: Card[] }
    if (opts.template !== undefined) {
      cards = { hot: opts.template.hot, spread: opts.template.spread.slice(0, opts.accounts) }
    } else {
      log(`  seeding 1 hot account and ${opts.accounts} accounts...`)
      cards = await seed(sql, opts.accounts)
    }
    const { hot, spread } = cards
    // the seed's own outbox events (none left in the decision workloads' seed): the worker's relay publishes them before anything is measured
    await waitForOutboxDrained(sql, 120_000)
    const applyPath = await applyPathComparison(url, hot, opts.mode === 'smoke' ? 100 : 1000, 100)
    for (const r of applyPath) log(`  apply path alone, hot account: ${JSON.stringify(r)}`)
    const ctx: PhaseContext = { sql, worker, ingest, log }
    const { durationMs, senders, rate } = opts
    const spreadPick = (seq: number): Card => spread[(seq * 7919) % spread.length] as Card
    const phases: WorkerPhaseResult[] = []
    phases.push(await phase(ctx, `hot account, ${senders} senders`, 'hot', 'closed', async sent =>
      await runClosedLoop({ origin: ingest.origin, connections: senders, durationMs, request: webhookRequest(() => hot, sent) })))
    phases.push(await phase(ctx, `spread over ${spread.length} accounts, ${senders} senders`, 'spread', 'closed', async sent =>
      await runClosedLoop({ origin: ingest.origin, connections: senders, durationMs, request: webhookRequest(spreadPick, sent) })))
    phases.push(await phase(ctx, `hot account at ${rate} events/s`, 'hot', 'open', async sent =>
      await runOpenLoop({ origin: ingest.origin, rate: rate / PER_POST, durationMs, maxInFlight: 64, request: webhookRequest(() => hot, sent) })))
    phases.push(await phase(ctx, `spread at ${rate} events/s`, 'spread', 'open', async sent =>
      await runOpenLoop({ origin: ingest.origin, rate: rate / PER_POST, durationMs, maxInFlight: 64, request: webhookRequest(spreadPick, sent) })))
    for (const p of phases) {
      if (p.invariantViolations > 0) failures.push(`worker ${p.name}: ${p.invariantViolations} invariant violation(s)`)
      if (p.applied < p.confirmed) failures.push(`worker ${p.name}: ${p.confirmed - p.applied} of ${p.confirmed} confirmed events not applied`)
      if (p.ingest.failedPosts > 0) failures.push(`worker ${p.name}: ${p.ingest.failedPosts} webhook posts not confirmed`)
    }
    return { mode: opts.mode, workerEnv: opts.workerEnv, applyPath, phases, failures }
  } finally {
    for (const s of services.reverse()) await stopService(s).catch(() => {})
    await sql.end({ timeout: 5 })
    for (const fn of td) await fn()
    await dropDatabase(dbName).catch(() => {})
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  const results = await runWorkerPhases(workerBenchOptions(args.includes('--smoke') ? 'smoke' : args.includes('--quick') ? 'quick' : 'full'))
  console.log(JSON.stringify(results, null, 2))
  process.exitCode = results.failures.length > 0 ? 1 : 0
}
