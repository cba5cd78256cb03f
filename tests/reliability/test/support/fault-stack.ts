import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import postgres from 'postgres'
import { pino } from 'pino'
import { createAmqp, type Amqp } from '@jit/amqp'
import { checkLedgerInvariants, creditAccount, setLimits, upsertCard, upsertUser } from '@jit/ledger'
import { freePort, startPrivateRedis, type PrivateRedis, type Teardownable } from '@jit/test-support'
import type { SimCard } from '@jit/processor-sim'
import { SUITE_SECRETS, JIT_AUTH, WEBHOOK_AUTH, suiteSecretForms } from './in-process.js'
import { LogScanner } from './log-scan.js'
import { TEST_PAN } from './hostile.js'
import { startPrivatePostgres, startPrivateRabbitmq, type PrivateServer } from './private-servers.js'
import { ServiceProcess } from './service-process.js'
import { Processor, type Purchase } from './processor.js'

/** Each funded account starts with this balance (minor units) and this per-transaction limit. */
export const START_BALANCE = 10_000_000
export const PER_TRANSACTION_LIMIT = 20_000

export interface FaultStack {
  pg: PrivateServer
  rabbit: PrivateServer
  redis: PrivateRedis
  authorizer: ServiceProcess
  ingest: ServiceProcess
  worker: ServiceProcess
  services: ServiceProcess[]
  sql: postgres.Sql
  processor: Processor
  logs: LogScanner
  cards: SimCard[]
  /** Waits until the processor's webhooks are all answered 200 and the worker has applied everything. */
  settle: (timeoutMs?: number) => Promise<void>
  /** Every way the books can be wrong after the purchases so far; empty when they are right. */
  books: (credits?: Map<string, number>) => Promise<string[]>
  /** Polls `path` of a service until it answers 200; returns the seconds since `since`. */
  recovered: (service: ServiceProcess, path: string, since: number, timeoutMs?: number) => Promise<number>
  /** How many of a phase's accepted webhook events the ledger applied, and how many the worker archived. */
  appliedEvents: (phase: string) => Promise<{ applied: number, archived: number }>
  /** Scans every service's captured output for secrets, sent signatures and card numbers. */
  scanLogs: () => string[]
}

/**
 * The three services as real processes on private PostgreSQL, RabbitMQ and Redis servers started
 * for this test alone, with `cards` funded accounts and a processor to drive them.
 */
export async function startFaultStack (t: Teardownable, accounts = 20): Promise<FaultStack> {
  const [pg, rabbit, redis] = await Promise.all([startPrivatePostgres(t), startPrivateRabbitmq(t), startPrivateRedis(t)])
  const logDir = mkdtempSync(join(tmpdir(), 'jit-rel-logs-'))
  const env = {
    DEPLOY_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    AMQP_URL: rabbit.url,
    DATABASE_POOL_MIN: '1',
    DATABASE_POOL_MAX: '8',
    OUTBOX_RELAY_INTERVAL_MS: '100',
    PARK_RETRY_INTERVAL_MS: '250',
    SHUTDOWN_TIMEOUT_MS: '3000',
    ...SUITE_SECRETS
  }
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()]
  const authorizer = new ServiceProcess('jit-authorizer', p1, env, join(logDir, 'jit-authorizer.log'))
  const ingest = new ServiceProcess('webhook-ingest', p2, env, join(logDir, 'webhook-ingest.log'))
  const worker = new ServiceProcess('txn-worker', p3, env, join(logDir, 'txn-worker.log'))
  t.teardown(async () => {
    await Promise.all([authorizer.close(), ingest.close(), worker.close()])
    if (process.env.RELIABILITY_KEEP_LOGS === undefined) rmSync(logDir, { recursive: true, force: true })
    else process.stdout.write(`# service logs kept in ${logDir}\n`)
  })
  // the first to start applies the migrations; the others find nothing to do
  await authorizer.start()
  await Promise.all([ingest.start(), worker.start()])

  const sql = postgres(pg.url, { max: 3, onnotice: () => {}, connect_timeout: 5 })
  const amqp: Amqp = createAmqp({ url: rabbit.url, logger: pino({ level: 'silent' }), acquireTimeoutMs: 2000 })
  t.teardown(async () => { await amqp.close(); await sql.end({ timeout: 5 }) })

  const cards: SimCard[] = []
  for (let i = 0; i < accounts; i++) {
    const c = { user: `rel-user-${i}`, card: `rel-card-${i}` }
    await upsertUser(sql, { user_token: c.user, status: 'ACTIVE' })
    await upsertCard(sql, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })
    await creditAccount(sql, { accountToken: c.user, currency: 'USD', amount: START_BALANCE, effectKind: 'test.load', effectKey: `${c.user}-load` })
    await setLimits(sql, { scope: 'user', token: c.user, currency: 'USD', per_transaction: PER_TRANSACTION_LIMIT })
    cards.push(c)
  }

  const logs = new LogScanner(suiteSecretForms(), [TEST_PAN])
  const processor = new Processor({
    authorizer: authorizer.origin,
    ingest: ingest.origin,
    jitAuth: JIT_AUTH,
    webhookAuth: WEBHOOK_AUTH,
    hmacSecret: SUITE_SECRETS.WEBHOOK_HMAC_SECRET,
    cards,
    logs,
    // some requests go over the per-transaction limit: declined, whatever the cache says
    maxAmount: Math.round(PER_TRANSACTION_LIMIT * 1.25)
  })

  async function quiet (): Promise<boolean> {
    try {
      const stats = await amqp.queueStats()
      if (stats.some(s => s.messages > 0 || s.retryMessages > 0)) return false
      const [row] = await sql<Array<{ parked: number, unsent: number }>>`
        select (select count(*) from parked_events)::int as parked, (select count(*) from outbox where published_at is null)::int as unsent`
      return row?.parked === 0 && row.unsent === 0
    } catch {
      return false
    }
  }

  async function settle (timeoutMs = 90_000): Promise<void> {
    const until = performance.now() + timeoutMs
    await processor.deliverAll(timeoutMs)
    if (processor.pendingEvents > 0) throw new Error(`${processor.pendingEvents} webhook events still not accepted after ${timeoutMs} ms`)
    // queue depths do not count unacked messages in flight: several quiet polls in a row
    let calm = 0
    while (performance.now() < until && calm < 5) {
      calm = await quiet() ? calm + 1 : 0
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    // A message requeued after a dependency failure waits out a pause unacknowledged, invisible
    // to queue depths: wait (bounded) until every accepted event shows in the ledger and the
    // archive; the caller's assertions then compare, so a lost event fails there, named.
    while (performance.now() < until) {
      let behind = false
      for (const [phase, tokens] of processor.accepted) {
        const seen = await appliedEvents(phase).catch(() => ({ applied: -1, archived: -1 }))
        if (seen.applied < tokens.size || seen.archived < tokens.size) { behind = true; break }
      }
      if (!behind && await quiet()) return
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }

  /** `credits`: money the caller moved in besides the purchases (refund webhooks), by account. */
  async function books (credits = new Map<string, number>()): Promise<string[]> {
    const problems: string[] = []
    for (const v of await checkLedgerInvariants(sql)) problems.push(`invariant ${v.invariant}: ${JSON.stringify(v.detail)}`)
    const expected = new Map(cards.map(c => [c.user, START_BALANCE + (credits.get(c.user) ?? 0)]))
    const byToken = new Map<string, Purchase>()
    for (const p of processor.purchases) {
      byToken.set(p.p.jitToken, p)
      if (p.outcome === 'approved' && p.settle === 'clear') expected.set(p.card.user, (expected.get(p.card.user) ?? 0) - p.p.amount)
    }
    const accounts = await sql<Array<{ account_token: string, balance: string, held: string }>>`
      select account_token, balance::text, held::text from accounts where account_token like 'rel-user-%'`
    for (const a of accounts) {
      const want = expected.get(a.account_token)
      if (Number(a.balance) !== want || Number(a.held) !== 0) problems.push(`${a.account_token}: balance ${a.balance} held ${a.held}, expected balance ${want} held 0 from the answers received`)
    }
    const holds = await sql<Array<{ hold_token: string, state: string, authorized: string, captured: string, released: string }>>`
      select hold_token, state, authorized::text, captured::text, released::text from holds where account_token like 'rel-user-%'`
    const holdOf = new Map(holds.map(h => [h.hold_token, h]))
    for (const p of processor.purchases) {
      const h = holdOf.get(p.p.jitToken)
      if (p.outcome === 'approved') {
        if (h === undefined) problems.push(`${p.p.jitToken}: approved in time but no hold`)
        else if (h.state !== 'CLOSED' || Number(h.authorized) !== p.p.amount || Number(p.settle === 'clear' ? h.captured : h.released) !== p.p.amount) problems.push(`${p.p.jitToken}: approved and ${p.settle === 'clear' ? 'cleared' : 'reversed'}, hold ${JSON.stringify(h)}`)
        if (p.p.amount > PER_TRANSACTION_LIMIT) problems.push(`${p.p.jitToken}: approved ${p.p.amount} over the per-transaction limit`)
      } else if (h !== undefined && (h.state === 'OPEN' || Number(h.captured) !== 0)) {
        problems.push(`${p.p.jitToken}: ${p.outcome ?? 'unknown'} (status ${p.status ?? 'none'}) yet its hold is ${JSON.stringify(h)}`)
      }
    }
    for (const h of holds) if (!byToken.has(h.hold_token)) problems.push(`${h.hold_token}: a hold no request asked for`)
    const [dup] = await sql<Array<{ n: number }>>`
      select count(*)::int as n from (select effect_key from journal_entries where effect_key is not null group by kind, effect_key having count(*) > 1) d`
    if ((dup?.n ?? 0) > 0) problems.push(`${dup?.n ?? 0} effects posted twice to the journal`)
    return problems
  }

  async function recovered (service: ServiceProcess, path: string, since: number, timeoutMs = 60_000): Promise<number> {
    const until = performance.now() + timeoutMs
    while (performance.now() < until) {
      const status = await fetch(`${service.origin}${path}`, { signal: AbortSignal.timeout(2000) }).then(r => r.status, () => 0)
      if (status === 200) return Math.round((performance.now() - since) / 100) / 10
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`${service.name} ${path} did not answer 200 within ${timeoutMs} ms`)
  }

  async function appliedEvents (phase: string): Promise<{ applied: number, archived: number }> {
    const tokens = [...(processor.accepted.get(phase) ?? [])]
    if (tokens.length === 0) return { applied: 0, archived: 0 }
    const [row] = await sql<Array<{ applied: number, archived: number }>>`
      select
        (select count(distinct message_token) from ledger_messages
          where message_token = any(${tokens}) and (webhook_at is not null or repaired_at is not null))::int as applied,
        (select count(*) from archive_documents where kind = 'webhook' and token = any(${tokens}))::int as archived`
    return { applied: row?.applied ?? 0, archived: row?.archived ?? 0 }
  }

  function scanLogs (): string[] {
    for (const s of [authorizer, ingest, worker]) logs.scan(readFileSync(s.logFile, 'utf8'), s.name)
    return logs.findings
  }

  return { pg, rabbit, redis, authorizer, ingest, worker, services: [authorizer, ingest, worker], sql, processor, logs, cards, settle, books, recovered, appliedEvents, scanLogs }
}
