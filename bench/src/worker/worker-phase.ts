/**
 * The worker phase: webhook-ingest and txn-worker as real processes on a database and vhost of
 * their own. Measures the ingest rate with every event confirmed (200 only after the broker's
 * confirm), the apply rate for one hot account and for events spread over many accounts, the
 * webhook-to-ledger lag at a fixed arrival rate (open loop), and the CPU per event of each
 * process (from /proc/<pid>/stat). The invariant check runs after every phase.
 * Run: `pnpm bench:worker` (BENCH_WORKER_SECONDS, BENCH_WORKER_ACCOUNTS, WORKER_PREFETCH override).
 */
import { createHmac } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { applyTransactionEvent, applyTransactionEventBatch, checkLedgerInvariants, creditAccount, upsertCard, upsertUser, type TransactionEventInput } from '@jit/ledger'
import { purchasesOf, runClosedLoop, runOpenLoop, webhookBatch, type LoadResult } from '@jit/processor-sim'
import { createTestVhost, freePort, sharedRedisUrl } from '@jit/test-support'
import { createDatabase, dropDatabase } from '../database.js'
import { cpuMs, cpuOf, cpuSpent, pidsNamed, startService, stopService, type Service } from '../procs.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const seconds = Number(process.env.BENCH_WORKER_SECONDS ?? 10)
const accounts = Number(process.env.BENCH_WORKER_ACCOUNTS ?? 10_000)
const HOOK_USER = 'marqeta'
const HOOK_PASS = 'bench-change-me-Passw0rd'
const HOOK_SECRET = 'bench-change-me-hmac-secret'
const PER_POST = 10

interface Card { user: string, card: string, account: string }

export interface WorkerPhaseResult {
  name: string
  events: number
  ingest: { eventsPerS: number, okPosts: number, failedPosts: number, p99Ms: number }
  applyEventsPerS: number
  drainS: number
  lagMs?: { p50: number, p99: number, max: number }
  cpuMsPerEvent: Record<string, number>
  invariantViolations: number
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

async function appliedOf (sql: postgres.Sql, tokens: string[]): Promise<Map<string, number>> {
  const rows = await sql<Array<{ key: string, at: Date }>>`select key, applied_at as at from effects where key = any(${tokens})`
  return new Map(rows.map(r => [r.key, r.at.getTime()]))
}

async function phase (name: string, sql: postgres.Sql, procs: Record<string, number[]>, load: (sent: Map<string, number>) => Promise<LoadResult>, log: (s: string) => void): Promise<WorkerPhaseResult> {
  const sent = new Map<string, number>()
  const pids = Object.values(procs).flat()
  const cpu0 = cpuOf(pids)
  const t0 = Date.now()
  const r = await load(sent)
  const tIngest = Date.now()
  const tokens = [...sent.keys()]
  // every confirmed event must reach the ledger; refused posts (non-200) are not expected
  const confirmedPosts = r.statuses['200'] ?? 0
  const expected = confirmedPosts * PER_POST
  let applied = new Map<string, number>()
  const deadline = Date.now() + 300_000
  for (;;) {
    const [{ n } = { n: 0 }] = await sql<Array<{ n: number }>>`select count(*)::int as n from effects where key = any(${tokens})`
    if (n >= expected || Date.now() > deadline) break
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  applied = await appliedOf(sql, tokens)
  const cpu1 = cpuOf(pids)
  const lastApplied = Math.max(...applied.values())
  const lags = [...applied].map(([k, at]) => at - (sent.get(k) ?? at)).sort((a, b) => a - b)
  const cpuPerEvent: Record<string, number> = {}
  for (const [proc, list] of Object.entries(procs)) {
    const before = new Map([...cpu0].filter(([p]) => list.includes(p)))
    cpuPerEvent[proc] = Math.round(cpuSpent(before, cpu1) / Math.max(1, applied.size) * 1000) / 1000
  }
  const violations = await checkLedgerInvariants(sql as never)
  const result: WorkerPhaseResult = {
    name,
    events: applied.size,
    ingest: { eventsPerS: Math.round(confirmedPosts * PER_POST / ((tIngest - t0) / 1000)), okPosts: confirmedPosts, failedPosts: r.sent - confirmedPosts, p99Ms: Math.round(r.latencyMs.p99) },
    applyEventsPerS: Math.round(applied.size / ((lastApplied - t0) / 1000)),
    drainS: Math.round((lastApplied - tIngest) / 100) / 10,
    lagMs: { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags[lags.length - 1] ?? NaN },
    cpuMsPerEvent: cpuPerEvent,
    invariantViolations: violations.length
  }
  if (applied.size < expected) log(`${name}: only ${applied.size} of ${expected} confirmed events reached the ledger in 300 s`)
  log(`${name}: ${JSON.stringify(result)}`)
  return result
}

/** What applying force captures of one account costs without the broker: one transaction per event vs batches. */
export interface ApplyPathResult { mode: string, events: number, eventsPerS: number, postgresCpuMsPerEvent: number }

/**
 * The apply path alone, on one PostgreSQL connection (so its backend's CPU is readable): the same
 * force captures of the hot account applied one transaction each, then in batches of `batch`.
 */
async function applyPathComparison (url: string, hot: Card, events: number, batch: number): Promise<ApplyPathResult[]> {
  const one = postgres(url, { max: 1, onnotice: () => {} })
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
    return out
  } finally {
    await one.end({ timeout: 5 })
  }
}

export async function runWorkerPhases (log: (s: string) => void = s => { console.log(s) }): Promise<WorkerPhaseResult[]> {
  const td: Array<() => unknown> = []
  const dbName = `bench_worker_${Date.now().toString(36)}`
  const url = await createDatabase(dbName)
  const services: Service[] = []
  const sql = postgres(url, { max: 4, onnotice: () => {} })
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
      WORKER_PREFETCH: process.env.WORKER_PREFETCH ?? '200'
    }
    const workerPort = await freePort()
    const worker = await startService('txn-worker', `${root}services/txn-worker/dist/server.js`, { ...env, PORT: String(workerPort) }, workerPort)
    services.push(worker)
    const ingestPort = await freePort()
    const ingest = await startService('webhook-ingest', `${root}services/webhook-ingest/dist/server.js`, { ...env, PORT: String(ingestPort) }, ingestPort)
    services.push(ingest)
    log(`seeding 1 hot account and ${accounts} accounts...`)
    const { hot, spread } = await seed(sql, accounts)
    // the shared server also serves others: only the backends connected to this phase's database
    const backends = (await sql<Array<{ pid: number }>>`select pid from pg_stat_activity where datname = current_database()`).map(r => r.pid)
    const procs = { 'webhook-ingest': [ingest.pid], 'txn-worker': [worker.pid], 'postgres (this database)': backends, rabbitmq: pidsNamed('beam.smp') }
    const durationMs = seconds * 1000
    const results: WorkerPhaseResult[] = []
    for (const r of await applyPathComparison(url, hot, 1000, 100)) log(`apply path, hot account: ${JSON.stringify(r)}`)
    results.push(await phase('hot account, 16 senders', sql, procs, async sent =>
      await runClosedLoop({ origin: ingest.origin, connections: 16, durationMs, request: webhookRequest(() => hot, sent) }), log))
    results.push(await phase(`spread over ${accounts} accounts, 16 senders`, sql, procs, async sent =>
      await runClosedLoop({ origin: ingest.origin, connections: 16, durationMs, request: webhookRequest(seq => spread[(seq * 7919) % spread.length] as Card, sent) }), log))
    results.push(await phase('hot account at 1,000 events/s (100 posts of 10)', sql, procs, async sent =>
      await runOpenLoop({ origin: ingest.origin, rate: 1000 / PER_POST, durationMs, maxInFlight: 64, request: webhookRequest(() => hot, sent) }), log))
    results.push(await phase('spread at 1,000 events/s (100 posts of 10)', sql, procs, async sent =>
      await runOpenLoop({ origin: ingest.origin, rate: 1000 / PER_POST, durationMs, maxInFlight: 64, request: webhookRequest(seq => spread[(seq * 7919) % spread.length] as Card, sent) }), log))
    return results
  } finally {
    for (const s of services.reverse()) await stopService(s).catch(() => {})
    await sql.end({ timeout: 5 })
    for (const fn of td) await fn()
    await dropDatabase(dbName).catch(() => {})
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await runWorkerPhases()
  console.log(JSON.stringify(results, null, 2))
  process.exitCode = results.some(r => r.invariantViolations > 0) ? 1 : 0
}
