// JIT decision latency and throughput through the authorizer app (Fastify inject: routing,
// validation, cache, one ledger statement; no socket), against the real PostgreSQL and Redis of
// the machine. Not a test: `pnpm --filter @jit/e2e run bench`. Prints percentiles per scenario:
// one cardholder per request stream, and one hot funding account behind many cards.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { upsertUser, upsertCard, creditAccount, checkLedgerInvariants } from '@jit/ledger'
import { jitFundingRequest, simToken } from '@jit/processor-sim'
import { startStack } from '../test/harness.js'

const stack = await startStack(t)
const db = stack.workerConnections.db

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
}

async function run (name: string, total: number, concurrency: number, next: () => Record<string, unknown>): Promise<void> {
  const latencies: number[] = []
  const statuses = new Map<number, number>()
  let sent = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent < total) {
      sent++
      const body = next()
      const t0 = performance.now()
      const res = await stack.jit(body)
      latencies.push(performance.now() - t0)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    }
  }))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const ms = (v: number): string => v.toFixed(2)
  t.comment(`${name}: ${total} requests, ${concurrency} in flight, ${(total / seconds).toFixed(0)} req/s, ` +
    `p50 ${ms(percentile(latencies, 0.5))} ms, p95 ${ms(percentile(latencies, 0.95))} ms, ` +
    `p99 ${ms(percentile(latencies, 0.99))} ms, max ${ms(latencies[latencies.length - 1] ?? NaN)} ms, ` +
    `statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
}

t.test('JIT decision latency', async t => {
  // many cardholders, each with their own account
  const cards: Array<{ user: string, card: string }> = []
  for (let i = 0; i < 50; i++) {
    const c = { user: simToken('bu'), card: simToken('bc') }
    await upsertUser(db.sql, { user_token: c.user, status: 'ACTIVE' })
    await upsertCard(db.sql, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12' })
    await creditAccount(db.sql, { accountToken: c.user, currency: 'USD', amount: 100_000_000, effectKind: 'bench.load', effectKey: c.user })
    cards.push(c)
  }
  // one hot funding account behind 200 cards (a company program)
  const hot = 'bench-hot-account'
  await creditAccount(db.sql, { accountToken: hot, currency: 'USD', amount: 1_000_000_000, effectKind: 'bench.load', effectKey: hot })
  const hotCards: Array<{ user: string, card: string }> = []
  for (let i = 0; i < 200; i++) {
    const c = { user: simToken('hu'), card: simToken('hc') }
    await upsertUser(db.sql, { user_token: c.user, status: 'ACTIVE' })
    await upsertCard(db.sql, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12', account_token: hot })
    hotCards.push(c)
  }
  let i = 0
  const spread = (): Record<string, unknown> => jitFundingRequest(cards[i++ % cards.length] as { user: string, card: string }, { amount: 100 })
  const onHot = (): Record<string, unknown> => jitFundingRequest(hotCards[i++ % hotCards.length] as { user: string, card: string }, { amount: 100 })

  await run('warm-up', 300, 8, spread)
  await run('sequential, many accounts', 1000, 1, spread)
  await run('16 in flight, many accounts', 3000, 16, spread)
  await run('16 in flight, one hot account behind 200 cards', 3000, 16, onHot)
  // where the time goes, from the authorizer's own profiler (last 60 s window)
  const snapshot = (stack.authorizer as unknown as { profiler: { snapshot: () => { stages: Record<string, { p50: number | null, p99: number | null }> } } }).profiler.snapshot()
  for (const [stage, s] of Object.entries(snapshot.stages)) t.comment(`stage ${stage}: p50 ${s.p50?.toFixed(2)} ms, p99 ${s.p99?.toFixed(2)} ms`)
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold after the run')
})
