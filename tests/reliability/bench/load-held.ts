import t from 'tap'
import { performance } from 'node:perf_hooks'
import { signBody } from '@jit/http-auth'
import { highestHeldRate, isHeld, purchasesOf, runOpenLoop, webhookBatch, type LoadResult } from '@jit/processor-sim'
import { startFaultStack, START_BALANCE } from '../test/support/fault-stack.js'
import { SUITE_SECRETS, WEBHOOK_AUTH } from '../test/support/in-process.js'
import { writeReport } from '../test/support/report.js'

// Load held, measured (not asserted as a speed) on the three services as real processes over
// private servers, with the project's one open-loop generator:
// 1. the highest webhook rate at which every batch is confirmed (200) by webhook-ingest;
// 2. the worker's apply rate, draining a backlog it did not see arrive;
// 3. the authorizer offered more than it can decide: it must shed (fast 402), never answer after
//    the processor's deadline, and leave the books intact.
// Run: pnpm --filter @jit/reliability bench (figures go to docs/reliability.md).
const started = performance.now()
const stack = await startFaultStack(t)
const figures: Record<string, unknown> = {}
const summary = (r: LoadResult): Record<string, unknown> => ({ targetRate: r.targetRate, scheduled: r.scheduled, ok: r.ok, errors: r.errors, unsent: r.unsent, statuses: r.statuses, throughput: r.throughput, p50: r.latencyMs.p50, p99: r.latencyMs.p99, max: r.latencyMs.max })

let refundSeq = 0
const sims = stack.cards.map(c => purchasesOf(c))
/** A signed batch of 10 refunds of 0.01 (credits: applied at once, never parked). */
function refundBatch (): { body: string, signature: string } {
  const events = Array.from({ length: 10 }, () => (sims[refundSeq++ % sims.length] as ReturnType<typeof purchasesOf>).refund(null, 1))
  const body = JSON.stringify(webhookBatch('transactions', events))
  return { body, signature: signBody(body, SUITE_SECRETS.WEBHOOK_HMAC_SECRET) }
}
async function webhookPhase (rate: number, durationMs: number): Promise<LoadResult> {
  return await runOpenLoop({
    origin: stack.ingest.origin,
    rate,
    durationMs,
    maxInFlight: 64,
    timeoutMs: 15_000,
    request: () => {
      const b = refundBatch()
      return { path: '/v1/webhooks/marqeta', method: 'POST', headers: { authorization: WEBHOOK_AUTH, 'content-type': 'application/json', 'x-marqeta-signature': b.signature }, body: b.body }
    },
    check: (status) => status === 200
  })
}
async function credited (): Promise<number> {
  const [row] = await stack.sql<Array<{ n: number }>>`select count(*)::int as n from journal_entries where kind like '%refund%'`
  return row?.n ?? 0
}

t.test('webhook-ingest: the highest rate with every event confirmed', async t => {
  const ladder: LoadResult[] = []
  for (const rate of [25, 50, 100, 200, 400]) {
    const r = await webhookPhase(rate, 5000)
    ladder.push(r)
    t.comment(`webhooks ${rate} batches/s (${rate * 10} events/s): ${JSON.stringify(summary(r))}`)
    if (!isHeld(r, { p99Ms: 2000, maxFailureRatio: 1e-9 })) break
  }
  const held = highestHeldRate(ladder, { p99Ms: 2000, maxFailureRatio: 1e-9 })
  figures.webhooks = { heldBatchesPerSecond: held, heldEventsPerSecond: held * 10, ladder: ladder.map(summary) }
  t.ok(held > 0, `held ${held} batches/s = ${held * 10} events/s, each answered 200 only once confirmed`)
  await stack.settle(180_000)
  t.equal(await credited(), refundSeq, 'every confirmed refund was applied once')
})

t.test('txn-worker: apply rate on a backlog', async t => {
  await stack.worker.kill('SIGTERM')
  const before = await credited()
  const backlog = await webhookPhase(50, 6000)
  t.equal(backlog.errors + backlog.unsent, 0, 'the backlog was confirmed while the worker was stopped')
  const events = backlog.ok * 10
  const from = performance.now()
  await stack.worker.start()
  while (await credited() < before + events && performance.now() - from < 180_000) await new Promise(resolve => setTimeout(resolve, 100))
  const seconds = (performance.now() - from) / 1000
  figures.worker = { events, seconds: Math.round(seconds * 10) / 10, eventsPerSecond: Math.round(events / seconds) }
  t.comment(`worker applied ${events} events in ${seconds.toFixed(1)} s (${Math.round(events / seconds)}/s, including its start)`)
  t.equal(await credited(), before + events, 'all applied, once')
})

t.test('jit-authorizer offered more than it can decide: sheds, never late, books intact', async t => {
  // the sustainable rate: an open-loop ladder, every purchase followed by its webhooks
  const ladder: Array<{ rate: number, result: LoadResult, shed: number, late: number }> = []
  for (const rate of [50, 100, 200, 400, 800]) {
    const result = await stack.processor.jit(`jit ${rate}/s`, rate, 4000, 256)
    const c = stack.processor.phase(`jit ${rate}/s`)
    ladder.push({ rate, result, shed: c.shed, late: c.late })
    t.comment(`JIT ${rate}/s: ${JSON.stringify(summary(result))}, shed ${c.shed}, late ${c.late}`)
    await stack.settle(180_000)
    if (c.shed > 0 || c.late > 0 || c.unanswered > 0 || result.unsent > 0 || result.latencyMs.p99 > 1000) break
  }
  const sustainable = ladder.filter(l => l.shed === 0 && l.late === 0 && l.result.unsent === 0 && l.result.errors === 0 && l.result.latencyMs.p99 <= 1000).reduce((m, l) => Math.max(m, l.rate), 0)
  const offered = Math.max(2 * sustainable, ladder[ladder.length - 1]?.rate ?? 100)
  const r = await stack.processor.jit('overload', offered, 6000, 512)
  const counts = stack.processor.phase('overload')
  t.comment(`overload, open loop at ${offered}/s: ${JSON.stringify(summary(r))}, shed ${counts.shed}, late ${counts.late}, unanswered ${counts.unanswered}`)
  await stack.settle(240_000)
  const problems = await stack.books()
  figures.authorizer = { sustainablePerSecond: sustainable, ladder: ladder.map(l => ({ ...summary(l.result), shed: l.shed, late: l.late })), offeredPerSecond: offered, overload: { ...summary(r), ...counts } }
  t.equal(counts.late, 0, 'no answer after the deadline')
  t.ok(counts.shed > 0 || r.unsent > 0 || r.latencyMs.p99 > 1000, `overload showed: ${counts.shed} shed, ${r.unsent} not sent (connections all busy)`)
  t.same(problems.slice(0, 10), [], 'the books match the answers received, invariants hold')
})

t.teardown(() => {
  const seconds = (performance.now() - started) / 1000
  figures.seconds = Math.round(seconds)
  figures.startBalance = START_BALANCE
  console.log(`# load-held figures written to ${writeReport('load-held', figures)}`)
  console.log(`# load-held wall time ${seconds.toFixed(1)} s`)
})
