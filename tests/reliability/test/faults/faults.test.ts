import t, { type Test } from 'tap'
import { performance } from 'node:perf_hooks'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { signBody } from '@jit/http-auth'
import { transactionEvent, webhookBatch } from '@jit/processor-sim'
import { startFaultStack, type FaultStack } from '../support/fault-stack.js'
import type { ServiceProcess } from '../support/service-process.js'
import { SUITE_SECRETS, WEBHOOK_AUTH } from '../support/in-process.js'
import { writeReport, type FaultReport } from '../support/report.js'

// Faults injected once each into the three services running as real processes, under processor
// load (JIT requests at an open-loop rate, webhooks that clear or reverse each approval, retried
// until answered 200), on private servers so no other test is hit. After each fault the books are
// checked against the answers the processor received, and every event is accounted for.
const started = performance.now()
const JIT_RATE = Number(process.env.RELIABILITY_JIT_RATE ?? '25')
const LOAD_MS = Number(process.env.RELIABILITY_LOAD_MS ?? '8000')
const WEBHOOK_RATE = 20
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

// RELIABILITY_FAULTS=<regex> runs only the matching faults (the baseline always runs)
const only = process.env.RELIABILITY_FAULTS === undefined ? null : new RegExp(process.env.RELIABILITY_FAULTS, 'i')
const fault = (name: string, fn: (t: Test) => Promise<void>): void => {
  if (only === null || only.test(name)) t.test(name, fn)
}
const reports: FaultReport[] = []
let stack: FaultStack

/**
 * One fault: load starts, the fault is injected after `atMs` and returns the seconds the system
 * took to recover; then every webhook is delivered, the worker settles and the books are checked.
 */
async function underLoad (t: Test, name: string, atMs: number, inject: () => Promise<number>, extra: (r: FaultReport) => Promise<void> = async () => {}): Promise<FaultReport> {
  const phaseStart = performance.now()
  const mark = stack.authorizer.outputMark()
  const crashesBefore = stack.services.map(s => s.crashes.length)
  const webhooks = stack.processor.webhooks(WEBHOOK_RATE, LOAD_MS + 2000)
  const jit = stack.processor.jit(name, JIT_RATE, LOAD_MS)
  await sleep(atMs)
  const recoverySeconds = await inject()
  const [jitResult] = await Promise.all([jit, webhooks])
  await stack.settle()
  const problems = await stack.books()
  const counts = stack.processor.phase(name)
  const applied = await stack.appliedEvents(name)
  const report: FaultReport = {
    fault: name,
    requestsSent: counts.sent,
    requestsUnsent: counts.unsent,
    answeredInTime: counts.inTime,
    answeredLate: counts.late,
    serverLateAnswers: stack.authorizer.lateAnswers(mark, 3000),
    serverLate: 0,
    unanswered: counts.unanswered,
    approved: counts.approved,
    latencyP99Ms: jitResult.latencyMs.p99,
    eventsAccepted: counts.eventsAccepted,
    eventsApplied: applied.applied,
    eventsArchived: applied.archived,
    webhook503: counts.webhook503,
    invariantViolations: problems.length,
    recoverySeconds,
    crashes: stack.services.flatMap((s, i) => s.crashes.slice(crashesBefore[i]).map(c => `${s.name} ${c.reason}`)),
    seconds: Math.round((performance.now() - phaseStart) / 100) / 10
  }
  report.serverLate = report.serverLateAnswers.length
  await extra(report)
  reports.push(report)
  t.comment(JSON.stringify(report))
  t.same(problems.slice(0, 10), [], `${name}: the books match the answers received, invariants hold`)
  t.equal(report.eventsApplied, report.eventsAccepted, `${name}: every accepted event was applied by the ledger`)
  t.equal(report.eventsArchived, report.eventsAccepted, `${name}: every accepted event reached the worker (archived once)`)
  // A crash is a bug whatever follows; the one known crash (postgres.js 3.4.9 writing to a socket
  // its connection already closed, porsager/postgres#1154, unfixed upstream) is marked todo so the
  // suite keeps checking everything else until the driver is patched; any other crash fails.
  const known = report.crashes.filter(c => c.includes("reading 'write'"))
  t.same(report.crashes.filter(c => !known.includes(c)), [], `${name}: no service crashed`)
  if (known.length > 0) t.equal(known.length, 0, `${name}: no service crashed on the driver's null-socket write`, { todo: 'postgres.js 3.4.9 nextWrite on a closed socket (porsager/postgres#1154): see docs/reliability.md "Known failures"' })
  t.ok(report.requestsSent > 0 && report.answeredInTime > 0, `${name}: the processor's requests were answered (${report.answeredInTime}/${report.requestsSent} in time)`)
  return report
}

/**
 * The authorizer never answers after the processor's deadline: asserted on its own clock (the
 * time from a request's arrival to its answer), since the processor's view here also holds the
 * delays of a test process starved of CPU on a loaded machine. What the processor saw is
 * reported, and whatever came late is repaired by its timed-out webhook (the books check).
 */
function noLateAnswer (t: Test, r: FaultReport): void {
  // With PostgreSQL unreachable too: every decision, queued behind a batch or riding in one as a
  // TIMEOUT record, is answered by its own deadline plus grace (services/jit-authorizer
  // test/unreachable.test.ts pins the mechanism).
  t.same(r.serverLateAnswers, [], `no answer after the deadline (the processor saw ${r.answeredLate} late, repaired by their timed-out webhooks)`)
}

t.before(async () => {
  stack = await startFaultStack(t)
  t.comment(`private servers and the three services started in ${((performance.now() - started) / 1000).toFixed(1)} s`)
})

/** SIGKILL (a crash, nothing flushed), an immediate restart; seconds until it is ready again. */
async function crashAndRestart (service: ServiceProcess): Promise<number> {
  const at = performance.now()
  await service.kill('SIGKILL')
  await service.start()
  return await stack.recovered(service, '/ready', at)
}

/** A server stopped for `downMs` and started again (then `afterStart`); seconds until the authorizer is ready again. */
async function stoppedFor (server: { stop: () => Promise<unknown>, start: () => Promise<unknown> }, downMs: number, afterStart: () => Promise<unknown> = async () => {}): Promise<number> {
  const at = performance.now()
  await server.stop()
  await sleep(downMs)
  await server.start()
  await afterStart()
  return await stack.recovered(stack.authorizer, '/ready', at)
}

t.test('baseline: no fault', async t => {
  const r = await underLoad(t, 'none', 0, async () => 0)
  noLateAnswer(t, r)
  t.equal(r.unanswered, 0, 'every request answered')
})

fault('jit-authorizer SIGKILLed mid-load and restarted', async t => {
  const r = await underLoad(t, 'authorizer SIGKILL', LOAD_MS / 3, async () => await crashAndRestart(stack.authorizer))
  noLateAnswer(t, r)
  const [unsent] = await stack.sql<Array<{ n: number }>>`select count(*)::int as n from outbox where published_at is null`
  t.equal(unsent?.n, 0, 'no outbox event left behind by the crash')
})

fault('txn-worker SIGKILLed mid-batch and restarted', async t => {
  const r = await underLoad(t, 'worker SIGKILL', LOAD_MS / 2, async () => await crashAndRestart(stack.worker))
  noLateAnswer(t, r)
})

fault('RabbitMQ stopped for several seconds', async t => {
  let during = { status: 0, retryAfter: null as string | null, from: 0, to: 0 }
  const r = await underLoad(t, 'RabbitMQ stopped', LOAD_MS / 4, async () => {
    const at = performance.now()
    await stack.rabbit.stop()
    const from = performance.now()
    // a batch sent while the broker is away: 503 with Retry-After once its publish times out
    const body = JSON.stringify(webhookBatch('transactions', [transactionEvent(stack.cards[0] ?? { user: 'x', card: 'y' }, { type: 'x.probe', state: 'COMPLETION', amount: 1 })]))
    const probe = await fetch(`${stack.ingest.origin}/v1/webhooks/marqeta`, {
      method: 'POST',
      headers: { authorization: WEBHOOK_AUTH, 'content-type': 'application/json', 'x-marqeta-signature': signBody(body, SUITE_SECRETS.WEBHOOK_HMAC_SECRET) },
      body
    })
    during = { status: probe.status, retryAfter: probe.headers.get('retry-after'), from, to: performance.now() }
    await stack.rabbit.start()
    return await stack.recovered(stack.ingest, '/ready', at, 90_000)
  })
  t.equal(during.status, 503, 'webhook-ingest answers 503 while the broker is down')
  t.ok(during.retryAfter !== null && Number(during.retryAfter) > 0, 'with Retry-After')
  t.ok(r.webhook503 > 0 || during.status === 503, 'the processor was told to retry, and its retries went through')
  const decidedMeanwhile = stack.processor.purchases.filter(p => p.phase === 'RabbitMQ stopped' && p.sentAt >= during.from && p.sentAt + (p.latencyMs ?? Infinity) <= during.to && (p.outcome === 'approved' || p.outcome === 'declined'))
  t.ok(decidedMeanwhile.length > 0, `the authorizer kept deciding while the broker was down (${decidedMeanwhile.length} answers in time, their events waiting in the outbox)`)
  noLateAnswer(t, r)
})

fault('Redis stopped, then flushed', async t => {
  const r = await underLoad(t, 'Redis stopped+flushed', LOAD_MS / 4, async () =>
    await stoppedFor(stack.redis, 3000, async () => await promisify(execFile)('redis-cli', ['-p', String(stack.redis.port), 'flushall'])))
  noLateAnswer(t, r)
  const [over] = await stack.sql<Array<{ n: number }>>`
    select count(*)::int as n from decisions where outcome = 'approved' and amount > (select min(per_transaction) from spending_limits)`
  t.equal(over?.n, 0, 'no approval over the per-transaction limit, whatever the cache did')
})

fault('PostgreSQL restarted', async t => {
  const r = await underLoad(t, 'PostgreSQL restarted', LOAD_MS / 3, async () => await stoppedFor(stack.pg, 2000))
  noLateAnswer(t, r)
})

fault('a decision slower than the deadline (authorizer frozen 4 s): late approvals are repaired by the timed-out webhook', async t => {
  const r = await underLoad(t, 'decision slower than the deadline', LOAD_MS / 3, async () => {
    const at = performance.now()
    stack.authorizer.signal('SIGSTOP')
    await sleep(4000)
    stack.authorizer.signal('SIGCONT')
    return await stack.recovered(stack.authorizer, '/health', at)
  })
  t.ok(r.answeredLate > 0, `answers came after the deadline (${r.answeredLate}): the processor treated them as no answer`)
})

t.test('logs of the whole run hold no credential, signature or card number', async t => {
  t.same(stack.scanLogs(), [], `${stack.logs.lines} log lines scanned`)
})

t.teardown(() => {
  const seconds = (performance.now() - started) / 1000
  writeReport('faults', { seconds, jitRate: JIT_RATE, loadMs: LOAD_MS, faults: reports })
  console.log(`# fault suite wall time ${seconds.toFixed(1)} s`)
})
